import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { KitHost, type Runner } from './kits-host.js';

/** dpkg and apt-get as seen from outside: installed packages are a set the fake apt-get adds to. */
function fakeSystem(installed: Set<string>) {
  const calls: string[] = [];
  const run: Runner = (command, args) => {
    calls.push([command, ...args].join(' '));
    if (command === 'dpkg-query') {
      const pkgs = args.slice(2);
      const stdout = pkgs
        .filter((p) => installed.has(p))
        .map((p) => `${p}\t1.0-1\tii \n`)
        .join('');
      return { status: pkgs.every((p) => installed.has(p)) ? 0 : 1, stdout, stderr: '' };
    }
    if (command === 'apt-get') {
      for (const p of args.filter((a) => !a.startsWith('-') && a !== 'install')) installed.add(p);
      return { status: 0, stdout: '', stderr: '' };
    }
    return { status: 127, stdout: '', stderr: `${command}: not found` };
  };
  return { run, calls };
}

describe('KitHost (Debian kits)', () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'codemode-kits-host-'));
  const kits = { tools: { version: '1', description: 'd', debian: ['python3-a', 'python3-b'] } };

  it('not root: install runs nothing and gives the exact command', () => {
    const sys = fakeSystem(new Set(['python3-a']));
    const host = new KitHost({ stateDir, kits, run: sys.run, isRoot: false });
    const [before] = host.status(['tools']);
    assert.deepEqual(before!.missing, ['python3-b']);
    assert.equal(before!.install, 'sudo apt-get install -y --no-install-recommends python3-b');
    const r = host.install('tools');
    assert.equal(r.ran, false);
    assert.equal(r.command, 'sudo apt-get install -y --no-install-recommends python3-b');
    assert.ok(!sys.calls.some((c) => c.startsWith('apt-get')), 'apt-get never ran');
  });

  it('root: install runs apt-get for the missing packages only, and the kit is then installed', () => {
    const sys = fakeSystem(new Set(['python3-a']));
    const host = new KitHost({ stateDir, kits, run: sys.run, isRoot: true });
    const r = host.install('tools');
    assert.equal(r.ran, true);
    assert.ok(sys.calls.includes('apt-get install -y --no-install-recommends python3-b'));
    assert.equal(r.status.installed, true);
    assert.deepEqual(
      host.records(['tools'])[0]!.packages.map((p) => `${p.name}=${p.version}`),
      ['python3-a=1.0-1', 'python3-b=1.0-1'],
    );
    assert.deepEqual(host.remove('tools'), { removed: false, command: 'sudo apt-get remove python3-a python3-b' });
  });

  it('an unknown kit is an argument error naming the known ones', () => {
    const host = new KitHost({ stateDir, kits, run: fakeSystem(new Set()).run, isRoot: false });
    assert.throws(() => host.records(['nope']), /no kit named "nope"; known kits: data, docs, plot, tools/);
    rmSync(stateDir, { recursive: true, force: true });
  });
});
