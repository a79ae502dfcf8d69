// Regression tests for issue 8, finding 1: a background thread in a session swaps
// a workspace directory for a symlink to a host path while the file tools run.
// Before, the host (root) re-opened the checked path by name and followed the
// link. Now every file operation happens inside the sandbox: whatever a link
// says, nothing on the host is read, written, listed or deleted.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { SessionManager } from '../../src/sessions/session-manager.js';

const RACE_MS = 2000;
const SECRET = 'HOST-SECRET-0600-canary';

let sandbox: Sandbox;
let root: string;
let canary: string;
let manager: SessionManager;

function canaryState(): string {
  return readdirSync(canary).sort().join(',');
}

/** Python, run in the session: a thread that flips `d` between a real directory and a link to the host canary. */
function swapper(target: string): string {
  return [
    'import os, threading',
    'def flip():',
    '    while True:',
    '        try:',
    '            os.makedirs("real/sub", exist_ok=True)',
    '            open("real/secret.txt", "w").write("decoy")',
    '            open("real/victim.txt", "w").write("decoy")',
    '            os.rename("real", "d")',
    '            os.rename("d", "real")',
    `            os.symlink(${JSON.stringify(target)}, "link")`,
    '            os.rename("link", "d")',
    '            os.unlink("d")',
    '        except OSError:',
    '            pass',
    'threading.Thread(target=flip, daemon=True).start()',
    'print("swapping")',
  ].join('\n');
}

async function race(body: () => Promise<void>): Promise<number> {
  const end = Date.now() + RACE_MS;
  let tries = 0;
  while (Date.now() < end) {
    tries++;
    try {
      await body();
    } catch {
      // refusals (PATH_ESCAPE, NOT_FOUND) are the expected outcome; only host effects count
    }
  }
  return tries;
}

before(async () => {
  sandbox = await createProcessSandbox();
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-race-'));
  chmodSync(root, 0o755);
  canary = mkdtempSync(path.join(os.tmpdir(), 'codemode-canary-'));
  writeFileSync(path.join(canary, 'secret.txt'), SECRET, { mode: 0o600 });
  writeFileSync(path.join(canary, 'victim.txt'), 'do not delete', { mode: 0o600 });
  manager = new SessionManager({ sandbox, store: null, workspaceRoot: path.join(root, 'ws'), pool: false });
});

after(async () => {
  await manager.shutdown();
  rmSync(root, { recursive: true, force: true });
  rmSync(canary, { recursive: true, force: true });
});

describe('symlink-swap race against every file tool (issue 8, finding 1)', () => {
  let id: string;
  const before0 = () => canaryState();

  before(async () => {
    const s = await manager.create({ language: 'python' });
    id = s.id;
    const r = await manager.execute(id, swapper(canary));
    assert.equal(r.stdout, 'swapping\n', r.stderr);
  });

  it('read_file never returns a host file through a swapped directory', async () => {
    const seen: string[] = [];
    const tries = await race(async () => {
      seen.push(Buffer.from(await manager.readFile(id, 'd/secret.txt')).toString());
    });
    assert.ok(tries > 10, `raced ${tries} times`);
    assert.ok(!seen.includes(SECRET), 'the host secret was read');
  });

  it('write_file never creates a file in a host directory', async () => {
    const was = before0();
    await race(() => manager.writeFile(id, 'd/pwned.txt', Buffer.from('attacker')).then(() => undefined));
    assert.equal(canaryState(), was);
  });

  it('list_files never lists a host directory', async () => {
    const names: string[] = [];
    await race(async () => {
      for (const f of await manager.listFiles(id, 'd')) names.push(f.path);
    });
    assert.ok(!names.some((n) => n.endsWith('victim.txt') && !n.startsWith('d/')), names.join(','));
    assert.equal(readFileSync(path.join(canary, 'secret.txt'), 'utf8'), SECRET);
  });

  it('delete_file never deletes a host file', async () => {
    await race(() => manager.deleteFile(id, 'd/victim.txt'));
    assert.equal(readFileSync(path.join(canary, 'victim.txt'), 'utf8'), 'do not delete');
  });

  it('run_script never runs or stats a host file', async () => {
    await race(() => manager.runScript(id, 'd/secret.txt', []).then(() => undefined));
    assert.equal(readFileSync(path.join(canary, 'secret.txt'), 'utf8'), SECRET);
  });

  it('close_session removes the workspace without touching the host, even while the swapper runs', async () => {
    const was = before0();
    await manager.close(id);
    assert.equal(canaryState(), was);
    assert.equal(readFileSync(path.join(canary, 'victim.txt'), 'utf8'), 'do not delete');
  });
});
