import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { MockLanguageModelV3, convertArrayToReadableStream } from 'ai/test';
import type { ExecResult } from '../sandbox/executor.js';
import type { SessionExecResult, SessionService } from '../sessions/contract.js';
import type { AgentEvent } from './contract.js';
import { runAgent } from './loop.js';

type Turn = { text?: string; tools?: { name: string; input: unknown }[] } | { error: unknown };

const usage = {
  inputTokens: { total: 100, noCache: 100, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 20, text: 20, reasoning: 0 },
};

/** A scripted model: each call replays the next turn; records the prompts it was given. */
function scripted(turns: Turn[]) {
  let i = 0;
  const model = new MockLanguageModelV3({
    doStream: async () => {
      const turn = turns[i++];
      if (!turn) throw new Error('script exhausted');
      if ('error' in turn) throw turn.error;
      const parts: LanguageModelV3StreamPart[] = [{ type: 'stream-start', warnings: [] }];
      if (turn.text) {
        parts.push({ type: 'text-start', id: 't' });
        for (const chunk of turn.text.match(/[\s\S]{1,7}/g) ?? [])
          parts.push({ type: 'text-delta', id: 't', delta: chunk });
        parts.push({ type: 'text-end', id: 't' });
      }
      for (const [k, t] of (turn.tools ?? []).entries())
        parts.push({
          type: 'tool-call',
          toolCallId: `call-${i}-${k}`,
          toolName: t.name,
          input: JSON.stringify(t.input),
        });
      parts.push({
        type: 'finish',
        usage,
        finishReason: { unified: turn.tools?.length ? 'tool-calls' : 'stop', raw: undefined },
      });
      return { stream: convertArrayToReadableStream(parts) };
    },
  });
  return model;
}

/** A session service whose "kernel" is a function of the code. */
function fakeSessions(run: (code: string, signal?: AbortSignal) => Promise<Partial<ExecResult>> | Partial<ExecResult>) {
  const files = new Map<string, Uint8Array>();
  const executed: string[] = [];
  let closed = false;
  const service = {
    async create() {
      return { id: 's1' };
    },
    get() {
      return { id: 's1', language: 'python' };
    },
    async execute(
      _id: string,
      code: string,
      o?: { signal?: AbortSignal; onOutput?: (c: { stream: 'stdout'; text: string }) => void },
    ) {
      executed.push(code);
      const r = await run(code, o?.signal);
      if (r.stdout) o?.onOutput?.({ stream: 'stdout', text: r.stdout });
      return {
        status: 'ok',
        exitCode: 0,
        signal: null,
        stdout: '',
        stderr: '',
        stdoutDroppedBytes: 0,
        stderrDroppedBytes: 0,
        durationMs: 1,
        executionId: 'e',
        sessionId: 's1',
        executionCount: executed.length,
        ...r,
      } as SessionExecResult;
    },
    async writeFile(_id: string, path: string, content: Uint8Array) {
      files.set(path, content);
      return { path, size: content.length };
    },
    async readFile(_id: string, path: string) {
      const f = files.get(path);
      if (!f) throw new Error(`no such file: ${path}`);
      return f;
    },
    async listFiles() {
      return [...files].map(([path, c]) => ({ path, size: c.length }));
    },
    async close() {
      closed = true;
    },
  } as unknown as SessionService;
  return { service, executed, files, isClosed: () => closed };
}

const nameError = {
  status: 'error' as const,
  exitCode: 1,
  error: { type: 'NameError', message: "name 'y' is not defined", line: 1 },
};

describe('runAgent with a scripted model', () => {
  it('fixes an error on the second try and finishes with final_answer; events are typed and ordered', async () => {
    const model = scripted([
      { text: 'Computing.', tools: [{ name: 'run_code', input: { code: 'print(y)' } }] },
      { tools: [{ name: 'run_code', input: { code: 'y = 6 * 7\nprint(y)' } }] },
      { tools: [{ name: 'final_answer', input: { answer: '42' } }] },
    ]);
    const s = fakeSessions((code) => (code === 'print(y)' ? nameError : { stdout: '42\n' }));
    const events: AgentEvent[] = [];
    const r = await runAgent({ task: 'compute', model, sessionService: s.service, onEvent: (e) => events.push(e) });
    assert.equal(r.ok, true);
    assert.equal(r.answer, '42');
    assert.equal(r.steps, 3);
    assert.equal(r.usage.inputTokens, 300);
    assert.equal(r.usage.outputTokens, 60);
    assert.equal(s.isClosed(), true, 'a session the agent created is closed at the end');
    const kinds = events.map((e) => e.type);
    assert.equal(kinds[0], 'run_start');
    assert.equal(kinds.at(-1), 'final');
    assert.equal(events.filter((e) => e.type === 'final').length, 1);
    assert.ok(kinds.includes('text_delta') && kinds.includes('code') && kinds.includes('output_delta'));
    // The model saw the error with its own line quoted in the second call.
    const second = JSON.stringify(model.doStreamCalls[1]?.prompt);
    assert.match(second, /NameError: name 'y' is not defined/);
    assert.match(second, /At line 1 of your code/);
  });

  it('runs fenced code from a text-only model (CodeAct) and takes "Final answer:"', async () => {
    const model = scripted([{ text: 'Sure:\n~~~~Python\nprint(2 + 2)\n~~~~\n' }, { text: 'Final answer: 4' }]);
    const s = fakeSessions(() => ({ stdout: '4\n' }));
    const r = await runAgent({ task: 'add', model, sessionService: s.service, mode: 'codeact' });
    assert.equal(r.answer, '4');
    assert.deepEqual(s.executed, ['print(2 + 2)']);
    assert.equal(model.doStreamCalls[0]?.tools, undefined, 'no tools are offered in CodeAct mode');
  });

  it('stops at the step budget with a clear reason', async () => {
    const model = scripted(
      Array.from({ length: 5 }, (_, i) => ({ tools: [{ name: 'run_code', input: { code: `print(${i})` } }] })),
    );
    const s = fakeSessions((code) => ({ stdout: code }));
    const r = await runAgent({ task: 't', model, sessionService: s.service, budgets: { maxSteps: 3 } });
    assert.equal(r.stopReason, 'max_steps');
    assert.equal(r.steps, 3);
    assert.match(r.message, /step budget is 3/);
  });

  it('asks to re-plan after a repeated failure, then stops as stuck', async () => {
    const model = scripted(
      Array.from({ length: 6 }, () => ({ tools: [{ name: 'run_code', input: { code: 'print(y)' } }] })),
    );
    const s = fakeSessions(() => nameError);
    const events: AgentEvent[] = [];
    const r = await runAgent({ task: 't', model, sessionService: s.service, onEvent: (e) => events.push(e) });
    assert.equal(r.stopReason, 'stuck');
    assert.equal(r.steps, 3);
    assert.ok(events.some((e) => e.type === 'notice' && /seem stuck/.test(e.message)));
    assert.match(JSON.stringify(model.doStreamCalls[2]?.prompt), /try a different approach/);
  });

  it('retries a 429 after the server delay, and reports a 500 storm clearly', async () => {
    const apiError = (statusCode: number, headers: Record<string, string> = {}) =>
      Object.assign(new Error(`HTTP ${statusCode}`), {
        name: 'AI_APICallError',
        statusCode,
        responseHeaders: headers,
        responseBody: 'busy',
      });
    const slept: number[] = [];
    const sleep = async (ms: number) => void slept.push(ms);
    const ok = await runAgent({
      task: 't',
      model: scripted([
        { error: apiError(429, { 'retry-after': '3' }) },
        { tools: [{ name: 'final_answer', input: { answer: 'done' } }] },
      ]),
      sessionService: fakeSessions(() => ({})).service,
      sleep,
    });
    assert.equal(ok.answer, 'done');
    assert.deepEqual(slept, [3000]);
    const storm = await runAgent({
      task: 't',
      model: scripted(Array.from({ length: 10 }, () => ({ error: apiError(500) }))),
      sessionService: fakeSessions(() => ({})).service,
      sleep,
      retry: { retries: 2 },
    });
    assert.equal(storm.stopReason, 'provider_error');
    assert.match(storm.message, /server error \(500\): busy \(after 3 attempts\)/);
  });

  it('asks for approval under "ask" and tells the model when it is refused', async () => {
    const model = scripted([
      { tools: [{ name: 'run_code', input: { code: 'import shutil; shutil.rmtree("/")' } }] },
      { tools: [{ name: 'final_answer', input: { answer: 'refused' } }] },
    ]);
    const s = fakeSessions(() => ({}));
    const asked: string[] = [];
    const r = await runAgent({
      task: 't',
      model,
      sessionService: s.service,
      approval: 'ask',
      approve: (req) => {
        asked.push(req.summary);
        return false;
      },
    });
    assert.equal(r.answer, 'refused');
    assert.deepEqual(asked, ['import shutil; shutil.rmtree("/")']);
    assert.deepEqual(s.executed, []);
    assert.match(JSON.stringify(model.doStreamCalls[1]?.prompt), /did not approve/);
  });

  it('runs validators on the final answer and lets the model try again', async () => {
    const model = scripted([
      { tools: [{ name: 'final_answer', input: { answer: 'about 40' } }] },
      { tools: [{ name: 'final_answer', input: { answer: '42' } }] },
    ]);
    const r = await runAgent({
      task: 't',
      model,
      sessionService: fakeSessions(() => ({})).service,
      validators: [(a) => (/^\d+$/.test(a) ? undefined : 'answer with a number only')],
    });
    assert.equal(r.answer, '42');
    assert.match(JSON.stringify(model.doStreamCalls[1]?.prompt), /answer with a number only/);
  });

  it('--verify: an assertion-free test is rejected, a real one is run', async () => {
    const model = scripted([
      { tools: [{ name: 'write_file', input: { path: 'test_sol.py', content: 'def test_it():\n    solve()\n' } }] },
      { tools: [{ name: 'final_answer', input: { answer: 'done' } }] },
      {
        tools: [
          { name: 'write_file', input: { path: 'test_sol.py', content: 'def test_it():\n    assert solve() == 1\n' } },
        ],
      },
      { tools: [{ name: 'final_answer', input: { answer: 'done' } }] },
    ]);
    const s = fakeSessions(() => ({ stdout: '1 passed' }));
    const r = await runAgent({ task: 't', model, sessionService: s.service, verify: true });
    assert.equal(r.ok, true);
    assert.equal(r.verification?.ok, true);
    assert.match(JSON.stringify(model.doStreamCalls[2]?.prompt), /a test that cannot fail proves nothing/);
    assert.equal(s.executed.length, 1, 'only the counted test was run');
    assert.match(s.executed[0] ?? '', /pytest/);
  });

  it('cancellation stops the running code and ends with one final event', async () => {
    const model = scripted([{ tools: [{ name: 'run_code', input: { code: 'import time; time.sleep(60)' } }] }]);
    const ac = new AbortController();
    const s = fakeSessions(
      (_code, signal) =>
        new Promise((resolve) => {
          signal?.addEventListener('abort', () =>
            resolve({ status: 'cancelled', exitCode: null, reason: 'cancelled' }),
          );
          setTimeout(() => ac.abort(), 10);
        }),
    );
    const events: AgentEvent[] = [];
    const r = await runAgent({
      task: 't',
      model,
      sessionService: s.service,
      signal: ac.signal,
      onEvent: (e) => events.push(e),
    });
    assert.equal(r.stopReason, 'cancelled');
    assert.equal(events.filter((e) => e.type === 'final').length, 1);
  });

  it('redacts secrets from events and observations', async () => {
    const model = scripted([
      { tools: [{ name: 'run_code', input: { code: 'print(key)' } }] },
      { tools: [{ name: 'final_answer', input: { answer: 'ok' } }] },
    ]);
    const events: AgentEvent[] = [];
    await runAgent({
      task: 't',
      model,
      sessionService: fakeSessions(() => ({ stdout: 'sk-secret-123\n' })).service,
      secrets: ['sk-secret-123'],
      onEvent: (e) => events.push(e),
    });
    assert.doesNotMatch(JSON.stringify(events), /sk-secret-123/);
    assert.doesNotMatch(JSON.stringify(model.doStreamCalls[1]?.prompt), /sk-secret-123/);
  });
});
