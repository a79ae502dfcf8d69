import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isAppError } from '../../src/errors.js';
import { SessionGit } from '../../src/projects/git.js';
import type { SessionManager } from '../../src/sessions/session-manager.js';
import { startSessionManager, type SessionHarness } from './session-harness.js';

let harness: SessionHarness;
let manager: SessionManager;
const owner = 'alice';
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

before(async () => {
  harness = await startSessionManager('git');
  manager = harness.manager;
});

after(async () => {
  await harness?.close();
});

describe('git in a session workspace', () => {
  it('commit, diff, log, and restore a checkpoint: files and variables come back', async () => {
    const s = await manager.create({ language: 'python', owner });
    const git = new SessionGit(manager, s.id, { owner });
    assert.deepEqual(await git.log(), [], 'no commits in a fresh workspace');
    await manager.execute(s.id, 'x = 1\nopen("data.txt", "w").write("one\\n")', { owner });
    const first = await git.commit('first');
    assert.ok(first, 'a commit was made');
    assert.equal(first.executionCount, 1);
    assert.match(first.author, /alice/);

    await manager.execute(s.id, 'x = 2\nopen("data.txt", "w").write("two\\n")\nopen("new.txt", "w").write("n")', {
      owner,
    });
    assert.deepEqual(
      (await git.status()).map((f) => [f.code, f.path]),
      [
        [' M', 'data.txt'],
        ['??', 'new.txt'],
      ],
    );
    assert.match(await git.diff(), /-one\n\+two/);
    const second = await git.commit('second');
    assert.equal(second?.executionCount, 2);
    assert.equal(await git.commit('nothing changed'), null);
    assert.deepEqual(
      (await git.log()).map((c) => c.subject),
      ['second', 'first'],
    );

    const restored = await git.restore(first.hash.slice(0, 10));
    assert.equal(restored.hash, first.hash);
    assert.equal(dec(await manager.readFile(s.id, 'data.txt', owner)), 'one\n');
    await assert.rejects(manager.readFile(s.id, 'new.txt', owner), (e) => isAppError(e, 'NOT_FOUND'));
    const info = await manager.restart(s.id, owner, { replayUpTo: restored.executionCount! });
    assert.match(info.note ?? '', /Replayed 1 successful/);
    const r = await manager.execute(s.id, 'x', { owner });
    assert.equal(r.outputs?.find((o) => o.kind === 'result')?.data['text/plain'], '1');
    // The restore is a new state, not a rewrite: the later commit can be restored again.
    await git.restore(second!.hash);
    assert.equal(dec(await manager.readFile(s.id, 'new.txt', owner)), 'n');
  });

  it('hooks and fsmonitor planted by sandboxed code never run; bad revisions are refused', async () => {
    const s = await manager.create({ language: 'bash', owner });
    const git = new SessionGit(manager, s.id, { owner });
    await git.init();
    await manager.execute(
      s.id,
      'mkdir -p .git/hooks && printf "#!/bin/sh\\ntouch /workspace/HOOK_RAN\\n" > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit\n' +
        'git config core.fsmonitor "touch /workspace/FSMONITOR_RAN; false"\necho hi > a.txt',
      { owner },
    );
    assert.ok(await git.commit('with a planted hook'));
    const names = (await manager.listFiles(s.id, '', owner)).map((e) => e.path);
    assert.ok(!names.includes('HOOK_RAN') && !names.includes('FSMONITOR_RAN'), names.join(','));
    await assert.rejects(git.restore('--upload-pack=touch x'), (e) => isAppError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(git.restore('deadbeef'), (e) => isAppError(e, 'NOT_FOUND'));
  });

  it('a repository travels as a bundle into another session; commits export as patches', async () => {
    const a = await manager.create({ language: 'bash', owner });
    const ga = new SessionGit(manager, a.id, { owner });
    await manager.execute(a.id, 'echo one > f.txt', { owner });
    const one = await ga.commit('one');
    await manager.execute(a.id, 'echo two >> f.txt', { owner });
    await ga.commit('two');
    assert.match(await ga.patch(one!.hash), /Subject: \[PATCH\] two[\s\S]*\+two/);
    await ga.bundle('repo.bundle');
    const bundle = await manager.readFile(a.id, 'repo.bundle', owner);

    const b = await manager.create({ language: 'bash', owner });
    await manager.writeFile(b.id, 'in.bundle', bundle, owner);
    const gb = new SessionGit(manager, b.id, { owner });
    const head = await gb.importBundle('in.bundle');
    assert.equal(head.subject, 'two');
    assert.equal(dec(await manager.readFile(b.id, 'f.txt', owner)), 'one\ntwo\n');
    assert.deepEqual(
      (await gb.log()).map((c) => c.subject),
      ['two', 'one'],
    );
    await manager.writeFile(b.id, 'junk.bundle', new TextEncoder().encode('not a bundle'), owner);
    await assert.rejects(gb.importBundle('junk.bundle'), (e) => isAppError(e, 'INVALID_ARGUMENT'));
  });

  it('a restart is recorded: replay and the dataflow graph start after it, the notebook says so', async () => {
    const s = await manager.create({ language: 'python', owner });
    await manager.execute(s.id, 'a = 1', { owner });
    await manager.restart(s.id, owner);
    await manager.execute(s.id, 'b = 2', { owner });
    await manager.execute(s.id, 'c = b + 1', { owner });
    const kinds = manager.history(s.id, owner).map((r) => r.kind ?? 'execute');
    assert.deepEqual(kinds, ['execute', 'restart', 'execute', 'execute']);
    // Replaying everything rebuilds b and c, but not a: it was gone before b ran.
    const info = await manager.restart(s.id, owner, { replayUpTo: Infinity });
    assert.match(info.note ?? '', /Replayed 2 successful/);
    const r = await manager.execute(s.id, 'print("a" in globals(), b, c)', { owner });
    assert.equal(r.stdout.trim(), 'False 2 3');
    const nb = JSON.parse(manager.exportNotebook(s.id, owner)) as { cells: { cell_type: string; source: string[] }[] };
    assert.ok(nb.cells.some((c) => c.cell_type === 'markdown' && c.source.join('').includes('Kernel restarted')));
  });
});
