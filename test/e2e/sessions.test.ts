import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAppError } from '../../src/errors.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { SessionManager } from '../../src/sessions/session-manager.js';
import { SqliteSessionStore } from '../../src/store/session-store.js';

let sandbox: Sandbox;
let root: string;

function server(): { manager: SessionManager; store: SqliteSessionStore } {
  // A fresh store and manager on the same files stand in for a restarted server process.
  const store = new SqliteSessionStore(path.join(root, 'codemode.db'));
  const manager = new SessionManager({ sandbox, store, workspaceRoot: path.join(root, 'ws'), pool: false });
  return { manager, store };
}

async function stop(s: { manager: SessionManager; store: SqliteSessionStore }): Promise<void> {
  await s.manager.shutdown();
  s.store.close();
}

before(async () => {
  sandbox = await createProcessSandbox();
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-sessions-'));
  chmodSync(root, 0o755);
});

after(() => rmSync(root, { recursive: true, force: true }));

describe('sessions across a server restart', () => {
  it('history and workspace survive a restart; replayHistory rebuilds the variables', async () => {
    const first = server();
    const s = await first.manager.create({ language: 'python', owner: 'alice' });
    await first.manager.execute(s.id, 'x = 6 * 7\nopen("notes.txt", "w").write("saved")', { owner: 'alice' });
    await first.manager.execute(s.id, 'undefined_name', { owner: 'alice' });
    await first.manager.execute(s.id, 'y = x + 1\ny', { owner: 'alice' });
    await stop(first);

    const second = server();
    try {
      assert.deepEqual(
        second.manager.listResumable('alice').map((r) => r.id),
        [s.id],
      );
      const hist = second.manager.history(s.id, 'alice');
      assert.deepEqual(
        hist.map((h) => h.status),
        ['ok', 'error', 'ok'],
      );
      assert.equal(hist[1]?.error?.type, 'NameError');
      await assert.rejects(second.manager.create({ language: 'python', owner: 'mallory', resumeId: s.id }), (e) =>
        isAppError(e, 'NOT_FOUND'),
      );
      const resumed = await second.manager.create({
        language: 'python',
        owner: 'alice',
        resumeId: s.id,
        replayHistory: true,
      });
      assert.equal(resumed.id, s.id);
      assert.match(resumed.note ?? '', /Replayed 2 successful executions/);
      const r = await second.manager.execute(s.id, 'print(open("notes.txt").read())\n(x, y)', { owner: 'alice' });
      assert.equal(r.stdout, 'saved\n');
      assert.equal(r.outputs?.[0]?.data['text/plain'], '(42, 43)');
      assert.equal(r.executionCount, 4, 'the execution counter continues after the restart');
    } finally {
      await stop(second);
    }

    const third = server();
    try {
      const plain = await third.manager.create({ language: 'python', owner: 'alice', resumeId: s.id });
      assert.match(plain.note ?? '', /variables start empty/);
      const r = await third.manager.execute(s.id, '"x" in globals()', { owner: 'alice' });
      assert.equal(r.outputs?.[0]?.data['text/plain'], 'False');
      await third.manager.close(s.id, 'alice');
      await assert.rejects(third.manager.create({ language: 'python', owner: 'alice', resumeId: s.id }), (e) =>
        isAppError(e, 'SESSION_CLOSED'),
      );
    } finally {
      await stop(third);
    }
  });

  it('exports the history as a notebook that parses as nbformat v4.5 with an image output', async () => {
    const srv = server();
    try {
      const s = await srv.manager.create({ language: 'python' });
      await srv.manager.execute(s.id, 'print("hello")\n1 + 1');
      await srv.manager.execute(s.id, 'import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()');
      await srv.manager.execute(s.id, 'raise ValueError("bad")');
      const text = srv.manager.exportNotebook(s.id);
      const nb = JSON.parse(text);
      assert.equal(nb.nbformat, 4);
      assert.equal(nb.nbformat_minor, 5);
      assert.equal(nb.metadata.kernelspec.language, 'python');
      assert.equal(nb.cells.length, 3);
      for (const [i, cell] of nb.cells.entries()) {
        assert.equal(cell.cell_type, 'code');
        assert.equal(typeof cell.id, 'string');
        assert.equal(cell.execution_count, i + 1);
        assert.ok(Array.isArray(cell.source) && Array.isArray(cell.outputs));
      }
      assert.deepEqual(
        nb.cells[0].outputs.map((o: { output_type: string }) => o.output_type),
        ['stream', 'execute_result'],
      );
      const png = nb.cells[1].outputs.find((o: { output_type: string }) => o.output_type === 'display_data');
      assert.equal(Buffer.from(png.data['image/png'], 'base64').subarray(1, 4).toString('latin1'), 'PNG');
      const err = nb.cells[2].outputs.find((o: { output_type: string }) => o.output_type === 'error');
      assert.equal(err.ename, 'ValueError');
      assert.equal(err.evalue, 'bad');
      // Validate with the reference implementation when the host has it (it is optional).
      const probe = spawnSync('/usr/bin/python3', ['-c', 'import nbformat'], { stdio: 'ignore' });
      if (probe.status === 0) {
        const file = path.join(root, 'export.ipynb');
        writeFileSync(file, text);
        const v = spawnSync('/usr/bin/python3', [
          '-c',
          'import nbformat,sys; nbformat.validate(nbformat.read(sys.argv[1], as_version=4))',
          file,
        ]);
        assert.equal(v.status, 0, v.stderr.toString());
      }
    } finally {
      await stop(srv);
    }
  });
});
