/**
 * Replay by the dataflow graph: a saved session resumed after a server
 * restart rebuilds only what the chosen cells need (create_session's
 * replay_cells), in the real sandbox with the real store.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ToolEnv } from '../../src/mcp/tools/env.js';
import { replayForCells } from '../../src/mcp/tools/sessions.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { SessionManager } from '../../src/sessions/session-manager.js';
import { SqliteSessionStore } from '../../src/store/session-store.js';

let sandbox: Sandbox;
let root: string;
const owner = 'alice';

function server() {
  const store = new SqliteSessionStore(path.join(root, 'codemode.db'));
  const manager = new SessionManager({ sandbox, store, workspaceRoot: path.join(root, 'ws'), pool: false });
  return {
    manager,
    async stop() {
      await manager.shutdown();
      store.close();
    },
  };
}

before(async () => {
  sandbox = await createProcessSandbox();
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-replay-'));
  chmodSync(root, 0o755);
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('replay by the graph', () => {
  it('rebuilds only the cells a chosen cell reads from', async () => {
    const first = server();
    const s = await first.manager.create({ language: 'python', owner });
    for (const code of ['a = 1', 'b = a + 1', 'slow = 10', 'c = b * 3', 'open("ran.txt", "a").write("x")'])
      assert.equal((await first.manager.execute(s.id, code, { owner })).status, 'ok');
    await first.stop();

    const second = server();
    try {
      await second.manager.create({ language: 'python', owner, resumeId: s.id });
      const env = { sessions: second.manager, owner } as unknown as ToolEnv;
      const info = await replayForCells(env, s.id, [4]);
      assert.match(info.note ?? '', /Replayed by the graph: cells \[1\] \[2\] \[4\] for \[4\]/);
      const r = await second.manager.execute(s.id, 'print(a, b, c, "slow" in globals())', { owner });
      assert.equal(r.stdout.trim(), '1 2 6 False');
      // The side-effecting cell 5 was not needed, so it did not run again.
      const ran = new TextDecoder().decode(await second.manager.readFile(s.id, 'ran.txt', owner));
      assert.equal(ran, 'x');
    } finally {
      await second.stop();
    }
  });
});
