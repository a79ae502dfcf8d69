import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AgentEvent, AgentResult } from './contract.js';
import { transcriptMarkdown } from './transcript-markdown.js';
import { compareRuns } from './transcript-replay.js';
import { MemoryAgentRunStore, TranscriptRecorder, redactRecord, secretsFromEnv } from './transcript.js';

const usage = (i: number, o: number) => ({ inputTokens: i, outputTokens: o, costUsd: (i + o) / 1e6 });

/** The events of a two-step run: an error fixed, then a final answer. */
function events(): AgentEvent[] {
  return [
    { type: 'run_start', model: 'openai:gpt-4.1', mode: 'auto', sessionId: 'sess1', language: 'python' },
    { type: 'step_start', step: 1 },
    { type: 'text_delta', step: 1, text: 'broken ' },
    { type: 'retry', step: 1, attempt: 1, delayMs: 10, error: '429' },
    { type: 'text_delta', step: 1, text: 'Let me ' },
    { type: 'text_delta', step: 1, text: 'compute.' },
    { type: 'tool_call', step: 1, tool: 'run_code', input: { code: 'print(1/0)' } },
    { type: 'code', step: 1, tool: 'run_code', language: 'python', code: 'print(1/0)' },
    { type: 'output_delta', step: 1, stream: 'stderr', text: 'ZeroDivisionError' },
    { type: 'result', step: 1, tool: 'run_code', ok: false, status: 'error', observation: 'Status: error' },
    { type: 'step_end', step: 1, usage: usage(100, 20), durationMs: 5 },
    { type: 'step_start', step: 2 },
    { type: 'tool_call', step: 2, tool: 'write_file', input: { path: 'a.py', content: 'x = 1\n' } },
    { type: 'result', step: 2, tool: 'write_file', ok: true, status: 'ok', observation: 'Wrote a.py (6 bytes).' },
    { type: 'tool_call', step: 2, tool: 'final_answer', input: { answer: '42' } },
    { type: 'result', step: 2, tool: 'final_answer', ok: true, status: 'accepted', observation: '42' },
    { type: 'step_end', step: 2, usage: usage(250, 50), durationMs: 7 },
  ];
}

const result: AgentResult = {
  ok: true,
  stopReason: 'final_answer',
  answer: '42',
  message: 'the agent gave its final answer',
  steps: 2,
  usage: usage(250, 50),
  durationMs: 20,
  sessionId: 'sess1',
  actions: [],
};

function record(owner = 'local') {
  const store = new MemoryAgentRunStore();
  const rec = new TranscriptRecorder({ task: 'divide', owner, files: [{ path: 'in.txt', content: 'data' }] }, store);
  for (const e of events()) rec.onEvent(e);
  return { store, run: rec.finish(result), id: rec.id };
}

describe('TranscriptRecorder', () => {
  it('builds steps, actions, per-step tokens and messages from the events, and saves the record', () => {
    const { store, run, id } = record();
    assert.match(id, /^run_[0-9a-f]{16}$/);
    assert.equal(run.model, 'openai:gpt-4.1');
    assert.equal(run.sessionId, 'sess1');
    assert.equal(run.transcript.length, 2);
    const [s1, s2] = run.transcript;
    assert.equal(s1?.text, 'Let me compute.', 'the failed attempt before the retry is dropped');
    assert.equal(s1?.retries, 1);
    assert.deepEqual(s1?.actions, [
      {
        tool: 'run_code',
        input: { code: 'print(1/0)' },
        language: 'python',
        code: 'print(1/0)',
        output: 'ZeroDivisionError',
        ok: false,
        status: 'error',
        observation: 'Status: error',
      },
    ]);
    assert.deepEqual([s2?.inputTokens, s2?.outputTokens], [150, 30], 'tokens per step, not cumulative');
    assert.deepEqual(
      s2?.actions.map((a) => [a.tool, a.status]),
      [
        ['write_file', 'ok'],
        ['final_answer', 'accepted'],
      ],
    );
    assert.deepEqual(
      run.messages.map((m) => m.role),
      ['user', 'assistant', 'tool', 'assistant', 'tool', 'tool'],
    );
    assert.deepEqual(run.files, [{ path: 'in.txt', content: 'data' }]);
    assert.deepEqual(store.get(id.slice(0, 8)), run, 'found by a prefix');
    assert.equal(store.get(id, 'someone-else'), undefined, "another owner's run does not exist");
    assert.throws(() => store.save(run), /already recorded/);
  });

  it('codeact code without a tool call becomes its own action', () => {
    const rec = new TranscriptRecorder({ task: 't', owner: 'o' });
    rec.onEvent({ type: 'step_start', step: 1 });
    rec.onEvent({ type: 'text_delta', step: 1, text: '```python\nprint(2)\n```' });
    rec.onEvent({ type: 'code', step: 1, tool: 'code', language: 'python', code: 'print(2)' });
    rec.onEvent({ type: 'result', step: 1, tool: 'code', ok: true, status: 'ok', observation: '2' });
    rec.onEvent({ type: 'step_end', step: 1, usage: usage(1, 1), durationMs: 1 });
    const run = rec.finish({ ...result, steps: 1 });
    assert.deepEqual(
      run.transcript[0]?.actions.map((a) => [a.tool, a.code, a.status]),
      [['code', 'print(2)', 'ok']],
    );
    assert.deepEqual(run.messages[2], { role: 'user', content: 'Observation:\n2' });
  });

  it('redacts the secrets it was given anywhere in the record (task, code, output, answer)', () => {
    const key = 'sk-live-"quoted"\\key-123';
    const rec = new TranscriptRecorder({ task: `use ${key}`, owner: 'o', secrets: [key] });
    rec.onEvent({ type: 'step_start', step: 1 });
    rec.onEvent({ type: 'code', step: 1, tool: 'code', language: 'python', code: `k = "${key}"` });
    rec.onEvent({ type: 'output_delta', step: 1, stream: 'stdout', text: key });
    const run = rec.finish({ ...result, answer: key });
    assert.ok(!JSON.stringify(run).includes('sk-live'), JSON.stringify(run));
    assert.equal(run.answer, '[redacted]');
    assert.equal(run.task, 'use [redacted]');
  });

  it('a run that threw is recorded as an error', () => {
    const rec = new TranscriptRecorder({ task: 't', owner: 'o' });
    const run = rec.fail('no session', 3);
    assert.equal(run.stopReason, 'error');
    assert.equal(run.ok, false);
    assert.equal(run.message, 'no session');
  });
});

describe('secretsFromEnv / redactRecord', () => {
  it('takes key-like variables only, and leaves short values alone', () => {
    assert.deepEqual(
      secretsFromEnv({ OPENAI_API_KEY: 'sk-abcdefgh', GH_TOKEN: 'ghp_12345678', HOME: '/root', X_KEY: 'short' }),
      ['sk-abcdefgh', 'ghp_12345678'],
    );
    assert.deepEqual(redactRecord({ a: ['xx-secret-xx'] }, ['secret']), { a: ['xx-[redacted]-xx'] });
  });
});

describe('transcriptMarkdown', () => {
  it('shows the task, each step with fenced code, output and result, and a summary', () => {
    const md = transcriptMarkdown(record().run);
    assert.match(md, /^# Agent run run_/);
    assert.match(md, /## Task\n\ndivide\n/);
    assert.match(md, /## Step 1\n\n_\(the model request was retried 1 time\)_\n\nLet me compute\.\n/);
    assert.match(
      md,
      /### `run_code` → error\n\n```python\nprint\(1\/0\)\n```\n\nOutput:\n\n```text\nZeroDivisionError\n```/,
    );
    assert.match(md, /### `write_file` → ok\n\n`a\.py`:\n\n```\nx = 1\n```/);
    assert.match(md, /## Result\n\n42\n\n- outcome: done \(final_answer\)/);
    assert.match(md, /- steps: 2\n- tokens: 250 in \/ 50 out\n- cost: \$0\.0003\n- time: 0\.0 s/);
  });

  it('a fence is longer than any backtick run in the recorded text', () => {
    const { run } = record();
    run.transcript[0]!.actions[0]!.code = 'print("```")';
    assert.match(transcriptMarkdown(run), /````python\nprint\("```"\)\n````/);
  });
});

describe('compareRuns', () => {
  it('is empty for the same run and names each difference', () => {
    const a = record().run;
    assert.deepEqual(compareRuns(a, a), []);
    const b = structuredClone(a);
    b.transcript[0]!.actions[0]!.status = 'ok';
    b.stopReason = 'max_steps';
    b.transcript.pop();
    assert.deepEqual(compareRuns(a, b), [
      'outcome: recorded final_answer, replayed max_steps',
      'step 1, run_code: recorded error, replayed ok',
      'step 2: only in the recorded run',
    ]);
  });
});
