import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAppError } from '../../src/errors.js';
import { KitHost } from '../../src/projects/kits-host.js';
import { KitsSessionProvider } from '../../src/projects/kits-session.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { SessionManager } from '../../src/sessions/session-manager.js';
import { MemorySessionStore } from '../../src/store/memory-session-store.js';

const owner = 'kit-user';
let root: string;
let home: string;
let tarball: string;
let settingsFile: string;
let sandbox: Sandbox;
const managers: SessionManager[] = [];

/** The CLI, as the operator runs it, against this test's state dir and settings. */
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'src/cli/main.ts', 'kits', ...args], {
    encoding: 'utf8',
    env: { ...process.env, CODEMODE_HOME: home, CODEMODE_SETTINGS: settingsFile },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function kitSettings() {
  return {
    greet: {
      version: '1',
      description: 'A tiny greeting library (test fixture).',
      npm: [tarball],
      startup: { javascript: 'globalThis.kitLoaded = "greet"' },
    },
    // A Debian kit whose package is surely missing.
    absent: { version: '1', description: 'A kit that is not installed.', debian: ['python3-codemode-no-such-package'] },
  };
}

function manager(): SessionManager {
  const kits = new KitHost({ stateDir: home, kits: kitSettings() });
  const m = new SessionManager({
    sandbox,
    store: new MemorySessionStore(),
    workspaceRoot: path.join(root, 'ws'),
    pool: false,
    environments: new KitsSessionProvider({ kits, dir: path.join(home, 'session-env') }),
  });
  managers.push(m);
  return m;
}

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-kits-'));
  chmodSync(root, 0o755);
  home = path.join(root, 'home');
  mkdirSync(home);
  // A local package, packed: no registry and no network needed.
  const pkg = path.join(root, 'pkg');
  mkdirSync(pkg);
  writeFileSync(
    path.join(pkg, 'package.json'),
    JSON.stringify({ name: 'codemode-kit-fixture', version: '1.2.3', main: 'index.js' }),
  );
  writeFileSync(path.join(pkg, 'index.js'), 'exports.greet = (n) => `hello ${n}`;\n');
  const packed = spawnSync('npm', ['pack', '--silent', '--pack-destination', root], { cwd: pkg, encoding: 'utf8' });
  assert.equal(packed.status, 0, packed.stderr);
  tarball = path.join(root, packed.stdout.trim());
  settingsFile = path.join(root, 'settings.json');
  writeFileSync(settingsFile, JSON.stringify({ kits: kitSettings() }));
  sandbox = await createProcessSandbox();
});

after(async () => {
  for (const m of managers) await m.shutdown();
  rmSync(root, { recursive: true, force: true });
});

describe('kits', () => {
  it('an npm kit installed by the operator is used from a session, read-only, and recorded with it; removed, it is refused', async () => {
    const before = JSON.parse(cli('list', '--json').stdout) as { kits: { name: string; installed: boolean }[] };
    assert.equal(before.kits.find((k) => k.name === 'greet')?.installed, false);

    const install = cli('install', 'greet');
    assert.equal(install.code, 0, install.stderr + install.stdout);
    assert.match(install.stdout, /greet@1 \[javascript\] installed \(codemode-kit-fixture 1\.2\.3\)/);

    const m = manager();
    const s = await m.create({ language: 'javascript', owner, kits: ['greet'] });
    assert.deepEqual(s.kits, [
      { name: 'greet', version: '1', packages: [{ manager: 'npm', name: 'codemode-kit-fixture', version: '1.2.3' }] },
    ]);
    const r = await m.execute(s.id, 'console.log(require("codemode-kit-fixture").greet("kit"), globalThis.kitLoaded)', {
      owner,
    });
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.equal(r.stdout.trim(), 'hello kit greet', 'the package loads and the start-up code ran');
    const write = await m.execute(
      s.id,
      'try { require("fs").writeFileSync("/opt/codemode/kits/greet/node_modules/codemode-kit-fixture/index.js", "x"); console.log("written") } catch (e) { console.log(e.code) }',
      { owner },
    );
    assert.equal(write.stdout.trim(), 'EROFS', 'sandboxed code cannot change a kit');

    // A session without the kit: the import error names the kit that provides the module.
    const plain = await m.create({ language: 'javascript', owner });
    const miss = await m.execute(plain.id, 'require("codemode-kit-fixture")', { owner });
    assert.equal(miss.status, 'error');
    assert.match(
      miss.note ?? '',
      /'codemode-kit-fixture' is provided by kit "greet": create a session with kits: \["greet"\]/,
    );

    const removed = cli('remove', 'greet');
    assert.equal(removed.code, 0);
    assert.match(removed.stdout, /removed kit greet's folder/);
    await assert.rejects(
      m.create({ language: 'javascript', owner, kits: ['greet'] }),
      (e) => isAppError(e, 'INVALID_ARGUMENT') && /kit "greet" is not installed on this host/.test(e.message),
    );
  });

  it('a Debian kit whose packages are installed is available; one with a missing package shows how to install it', async () => {
    const list = JSON.parse(cli('list', '--json').stdout) as {
      kits: {
        name: string;
        installed: boolean;
        install: string;
        packages: { name: string; version: string | null }[];
      }[];
    };
    const plot = list.kits.find((k) => k.name === 'plot')!;
    assert.equal(plot.installed, true, 'python3-matplotlib is installed here (scripts/setup.sh)');
    assert.match(plot.packages[0]!.version ?? '', /^\d/);
    const absent = list.kits.find((k) => k.name === 'absent')!;
    assert.equal(absent.installed, false);
    assert.equal(absent.install, 'sudo apt-get install -y --no-install-recommends python3-codemode-no-such-package');

    const m = manager();
    const s = await m.create({ language: 'python', owner, kits: ['plot'] });
    assert.equal(s.kits?.[0]?.packages[0]?.name, 'python3-matplotlib');
    const r = await m.execute(s.id, 'import matplotlib\nprint(matplotlib.get_backend())', { owner });
    assert.equal(r.stdout.trim().toLowerCase(), 'agg');
    await assert.rejects(
      m.create({ language: 'python', owner, kits: ['absent'] }),
      (e) =>
        isAppError(e, 'INVALID_ARGUMENT') &&
        /kit "absent" is not installed on this host \(missing: python3-codemode-no-such-package\)/.test(e.message),
    );
    const unknown = m.execute(s.id, 'import pypdf', { owner });
    const u = await unknown;
    if (u.status === 'error') assert.match(u.note ?? '', /kit "docs", which is not installed on this host/);
  });
  it('a resumed session gets the kits it was created with back (recorded on the host, not in the workspace)', async () => {
    const store = new MemorySessionStore();
    const make = () =>
      new SessionManager({
        sandbox,
        store,
        workspaceRoot: path.join(root, 'ws-resume'),
        pool: false,
        environments: new KitsSessionProvider({
          kits: new KitHost({ stateDir: home, kits: kitSettings() }),
          dir: path.join(home, 'session-env'),
        }),
      });
    const first = make();
    const s = await first.create({ language: 'python', owner, kits: ['plot'] });
    await first.shutdown(); // suspended: resumable
    const second = make();
    managers.push(second);
    const resumed = await second.create({ language: 'python', owner, resumeId: s.id });
    assert.deepEqual(resumed.kits, s.kits);
    const r = await second.execute(s.id, 'import matplotlib\nprint(matplotlib.get_backend())', { owner });
    assert.equal(r.stdout.trim().toLowerCase(), 'agg', 'the start-up code ran again');
  });
});
