import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { MockLanguageModelV3, convertArrayToReadableStream } from 'ai/test';
import { runAgent } from '../../src/agent/loop.js';
import { SessionGit } from '../../src/projects/git.js';
import type { SessionManager } from '../../src/sessions/session-manager.js';
import { startSessionManager, type SessionHarness } from './session-harness.js';

type Turn = { tools: { name: string; input: unknown }[] };

/** A scripted model: each call replays the next turn. */
function scripted(turns: Turn[]) {
  let i = 0;
  return new MockLanguageModelV3({
    modelId: 'scripted',
    doStream: async () => {
      const turn = turns[i++];
      if (!turn) throw new Error('script exhausted');
      const parts: LanguageModelV3StreamPart[] = [{ type: 'stream-start', warnings: [] }];
      for (const [k, t] of turn.tools.entries())
        parts.push({ type: 'tool-call', toolCallId: `c${i}-${k}`, toolName: t.name, input: JSON.stringify(t.input) });
      parts.push({
        type: 'finish',
        usage: {
          inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 },
          outputTokens: { total: 5, text: 5, reasoning: 0 },
        },
        finishReason: { unified: 'tool-calls', raw: undefined },
      });
      return { stream: convertArrayToReadableStream(parts) };
    },
  });
}

const owner = 'agent-owner';
let harness: SessionHarness;
let manager: SessionManager;

before(async () => {
  harness = await startSessionManager('agent-git');
  manager = harness.manager;
});

after(async () => {
  await harness?.close();
});

const write = (p: string, content: string) => ({ name: 'write_file', input: { path: p, content } });
const final = { name: 'final_answer', input: { answer: 'done' } };

describe('the agent on a real session', () => {
  it('commits after each successful step (author: the principal, Agent trailer), so a step can be undone', async () => {
    const model = scripted([
      { tools: [write('sol.py', 'def solve():\n    return 1\n')] },
      { tools: [{ name: 'run_code', input: { code: 'raise ValueError("boom")' } }] },
      { tools: [write('sol.py', 'def solve():\n    return 2\n')] },
      { tools: [final] },
    ]);
    const r = await runAgent({ task: 't', model, sessionService: manager, owner, keepSession: true });
    assert.equal(r.ok, true, r.message);
    const git = new SessionGit(manager, r.sessionId, { owner });
    const log = await git.log();
    assert.deepEqual(
      log.map((c) => c.subject),
      ['agent step 3: write_file', 'agent step 1: write_file'],
      'the failed step 2 made no commit',
    );
    assert.match(log[0]!.author, /agent-owner/);
    const body = await manager.runProgram(r.sessionId, 'git', ['-C', '/workspace', 'log', '-1', '--format=%B'], {
      owner,
      record: false,
    });
    assert.match(body.stdout, /^Agent: codemode-agent mock-provider:scripted$/m);
    // Undo step 3: the file is step 1's again.
    await manager.runProgram(r.sessionId, 'git', ['-C', '/workspace', 'checkout', '-q', log[1]!.hash, '--', 'sol.py'], {
      owner,
      record: false,
    });
    assert.equal(
      new TextDecoder().decode(await manager.readFile(r.sessionId, 'sol.py', owner)),
      'def solve():\n    return 1\n',
    );
    await manager.close(r.sessionId, owner);
  });

  it('--verify with run_tests: a test that passes every run and raises coverage counts; one that adds no coverage does not', async () => {
    const sol = 'def solve(x):\n    if x > 0:\n        return 1\n    return -1\n';
    const good = 'from sol import solve\n\ndef test_pos():\n    assert solve(3) == 1\n';
    const dup = 'from sol import solve\n\ndef test_pos_again():\n    assert solve(5) == 1\n';
    const model = scripted([
      { tools: [write('sol.py', sol), write('test_good.py', good), write('test_dup.py', dup)] },
      { tools: [final] },
      { tools: [{ name: 'run_code', input: { code: 'import os; os.remove("test_dup.py")' } }] },
      { tools: [final] },
    ]);
    const r = await runAgent({ task: 't', model, sessionService: manager, owner, verify: true, checkpoints: false });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.verification?.ok, true);
    assert.deepEqual(
      r.verification?.tests.map((t) => [t.path, t.counted]),
      [['test_good.py', true]],
    );
    assert.match(r.verification?.command ?? '', /run_tests pytest test_good\.py x3/);
    const rejected = JSON.stringify(model.doStreamCalls[2]?.prompt);
    assert.match(rejected, /does not raise coverage/, 'the duplicate test was refused with the reason');
  });
});
