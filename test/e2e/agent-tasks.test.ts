/**
 * The agent task suite end to end: the scripted model server replays each
 * task's known-good solution through the real provider adapter, the code runs
 * in real sandboxed sessions, and every checker accepts the result; a model
 * that answers wrongly without working fails every task. With
 * AGENT_SUITE_MODEL (e.g. anthropic:claude-sonnet-4-5) and its key set, the
 * suite also runs against that real provider; otherwise that test is skipped
 * and says why.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startScriptedServer, type ScriptedServer } from '../../src/agent/scripted-server.js';
import { runTaskSuite, scriptedSolution } from '../../src/agent/tasks/runner.js';
import { AGENT_TASKS } from '../../src/agent/tasks/tasks.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { SessionManager } from '../../src/sessions/session-manager.js';

let root: string;
let model: ScriptedServer;
let sessions: SessionManager;
const env = () => ({ OPENAI_API_KEY: 'sk-suite-0123456789', OPENAI_BASE_URL: model.openaiBaseURL });

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-agent-tasks-'));
  chmodSync(root, 0o711);
  model = await startScriptedServer();
  sessions = new SessionManager({
    sandbox: await createProcessSandbox(),
    store: null,
    workspaceRoot: root,
    pool: false,
  });
});

after(async () => {
  await sessions.shutdown();
  await model.close();
  rmSync(root, { recursive: true, force: true });
});

describe('agent task suite', () => {
  it('every checker accepts the scripted correct solution, run in the sandbox', async () => {
    const r = await runTaskSuite({
      model: 'openai:gpt-4.1',
      env: env(),
      sessions,
      beforeTask: (task) => model.script(scriptedSolution(task)),
    });
    const failed = r.outcomes.filter((o) => !o.passed).map((o) => `${o.id}: ${o.reason}`);
    assert.deepEqual(failed, []);
    assert.equal(r.passed, AGENT_TASKS.length);
    assert.ok(
      r.outcomes.every(
        (o) => o.steps === 2 || o.steps === 1 + (AGENT_TASKS.find((t) => t.id === o.id)?.solution.code.length ?? 0),
      ),
    );
    assert.equal(sessions.list().length, 0, 'every task session was closed');
  });

  it('a model that answers wrongly without working fails the task (a sample of four)', async () => {
    const r = await runTaskSuite({
      model: 'openai:gpt-4.1',
      env: env(),
      sessions,
      tasks: [AGENT_TASKS[0]!, AGENT_TASKS[1]!, AGENT_TASKS[8]!, AGENT_TASKS[10]!],
      beforeTask: (task) =>
        model.script([
          { tools: [{ name: 'final_answer', input: { answer: task.wrongAnswer ?? 'I could not do it' } }] },
        ]),
    });
    assert.equal(
      r.passed,
      0,
      r.outcomes
        .filter((o) => o.passed)
        .map((o) => o.id)
        .join(', '),
    );
  });

  const real = process.env['AGENT_SUITE_MODEL'];
  it(
    'against a real provider',
    {
      skip: real
        ? false
        : 'set AGENT_SUITE_MODEL (e.g. anthropic:claude-sonnet-4-5) and its API key to run the suite against a real model',
    },
    async () => {
      const r = await runTaskSuite({
        model: real!,
        sessions,
        onOutcome: (o) =>
          console.log(`${o.passed ? 'PASS' : 'FAIL'} ${o.id} (${o.steps} steps)${o.reason ? `: ${o.reason}` : ''}`),
      });
      console.log(`${r.passed}/${r.total} tasks passed`);
      assert.ok(r.passed >= Math.ceil(r.total * 0.8), `${r.passed}/${r.total}`);
    },
  );
});
