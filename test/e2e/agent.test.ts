/**
 * The agent end to end: real provider adapters and HTTP clients against a
 * scripted model server on loopback (OpenAI Chat Completions and Anthropic
 * Messages over SSE), and a real SessionManager on the real sandbox.
 *
 * With AGENT_E2E_MODEL set (e.g. anthropic:claude-sonnet-4-5) and its key in
 * the environment, the last suite runs a small task against the real provider;
 * otherwise it is skipped with the reason shown.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AgentEvent } from '../../src/agent/contract.js';
import { runAgent } from '../../src/agent/loop.js';
import { startScriptedServer, type ScriptedServer } from '../../src/agent/scripted-server.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { SessionManager } from '../../src/sessions/session-manager.js';

let manager: SessionManager;
let server: ScriptedServer;
let root: string;
const KEY = 'sk-planted-e2e-0123456789abcdef';
const env = () => ({
  OPENAI_API_KEY: KEY,
  ANTHROPIC_API_KEY: KEY,
  OPENAI_BASE_URL: server.openaiBaseURL,
  ANTHROPIC_BASE_URL: server.anthropicBaseURL,
});

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-agent-'));
  chmodSync(root, 0o755);
  manager = new SessionManager({
    sandbox: await createProcessSandbox(),
    store: null,
    workspaceRoot: path.join(root, 'ws'),
    pool: false,
  });
  server = await startScriptedServer();
});

after(async () => {
  await manager.shutdown();
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const call = (name: string, input: unknown) => ({ tools: [{ name, input }] });
/** The text of the last tool result or user message the model was sent. */
function lastFeedback(req: { body: Record<string, unknown> }): string {
  const msgs = (req.body.messages ?? []) as { role: string; content: unknown }[];
  return JSON.stringify(msgs[msgs.length - 1]?.content ?? '');
}

describe('agent e2e against a scripted model server', () => {
  it('OpenAI wire: an error is fixed on the second try (tool-call fragments over SSE)', async () => {
    server.script([
      { text: 'Let me compute.', ...call('run_code', { code: 'total = sum(range(10))\nprint(totl)' }) },
      call('run_code', { code: 'print(total)' }),
      call('final_answer', { answer: '45' }),
    ]);
    const from = server.requests.length;
    const events: AgentEvent[] = [];
    const r = await runAgent({
      task: 'sum 0..9',
      model: 'openai:gpt-4.1',
      env: env(),
      sessionService: manager,
      onEvent: (e) => events.push(e),
    });
    assert.equal(r.ok, true, r.message);
    assert.equal(r.answer, '45');
    assert.equal(r.steps, 3);
    assert.equal(r.usage.inputTokens, 360);
    assert.ok(r.usage.costUsd !== undefined && r.usage.costUsd > 0, 'gpt-4.1 has a price');
    const reqs = server.requests.slice(from);
    assert.equal(reqs[0]?.path, '/v1/chat/completions');
    assert.equal(reqs[0]?.headers.authorization, `Bearer ${KEY}`, 'the key went to the provider, and only there');
    const fb = lastFeedback(reqs[1] ?? { body: {} });
    assert.match(fb, /NameError/);
    assert.match(fb, /print\(totl\)/, 'the failing line of the model code is quoted');
    assert.ok(events.some((e) => e.type === 'output_delta' && e.text.includes('45')));
  });

  it('Anthropic wire: CodeAct text mode with odd fences', async () => {
    server.script([
      {
        text: 'Plan:\n  ~~~~ Python title="calc"\n  xs = [3, 1, 2]\n  print(sorted(xs))\n  ~~~~\n```output\n[1, 2, 3]\n```',
      },
      { text: 'Then:\n```\nprint(max(xs) * 10)```' },
      { text: '**Final Answer:** 30' },
    ]);
    const from = server.requests.length;
    const r = await runAgent({
      task: 't',
      model: 'anthropic:claude-sonnet-4-5',
      env: env(),
      sessionService: manager,
      mode: 'codeact',
    });
    assert.equal(r.answer, '30', r.message);
    const reqs = server.requests.slice(from);
    assert.equal(reqs[0]?.path, '/v1/messages');
    assert.equal(reqs[0]?.headers['x-api-key'], KEY);
    assert.equal(reqs[0]?.body.tools, undefined);
    assert.match(lastFeedback(reqs[1] ?? { body: {} }), /\[1, 2, 3\]/);
    assert.match(lastFeedback(reqs[2] ?? { body: {} }), /30/);
  });

  it('stops at the step budget', async () => {
    server.script(Array.from({ length: 5 }, (_, i) => call('run_code', { code: `print(${i})` })));
    const r = await runAgent({
      task: 't',
      model: 'openai:gpt-4.1',
      env: env(),
      sessionService: manager,
      budgets: { maxSteps: 2 },
    });
    assert.equal(r.stopReason, 'max_steps');
    assert.equal(r.steps, 2);
  });

  it('the stuck detector asks to re-plan, then stops', async () => {
    server.script(Array.from({ length: 5 }, () => call('run_code', { code: 'import nosuchmodule' })));
    const from = server.requests.length;
    const r = await runAgent({ task: 't', model: 'anthropic:claude-sonnet-4-5', env: env(), sessionService: manager });
    assert.equal(r.stopReason, 'stuck', r.message);
    assert.equal(r.steps, 3);
    const fb = lastFeedback(server.requests[from + 2] ?? { body: {} });
    assert.match(fb, /different approach/);
    assert.match(fb, /\\"nosuchmodule\\" is not installed.*Available: .*numpy/, 'the hint lists available packages');
  });

  it('a 429 with retry-after, then success', async () => {
    server.script([
      {
        status: 429,
        headers: { 'retry-after-ms': '150' },
        body: '{"error":{"message":"slow down","type":"rate_limit"}}',
      },
      call('final_answer', { answer: 'ok' }),
    ]);
    const from = server.requests.length;
    const events: AgentEvent[] = [];
    const r = await runAgent({
      task: 't',
      model: 'openai:gpt-4.1',
      env: env(),
      sessionService: manager,
      onEvent: (e) => events.push(e),
    });
    assert.equal(r.answer, 'ok', r.message);
    const [a, b] = server.requests.slice(from);
    assert.ok(a && b && b.at - a.at >= 140, 'the retry waited for the server');
    assert.ok(events.some((e) => e.type === 'retry' && /429/.test(e.error)));
  });

  it('a 500 storm ends in a clear error', async () => {
    server.script(
      Array.from({ length: 4 }, () => ({
        status: 500,
        body: '{"error":{"message":"overloaded","type":"server_error"}}',
      })),
    );
    const r = await runAgent({
      task: 't',
      model: 'anthropic:claude-sonnet-4-5',
      env: env(),
      sessionService: manager,
      retry: { retries: 3, baseDelayMs: 10 },
    });
    assert.equal(r.stopReason, 'provider_error');
    assert.match(r.message, /server error \(500\).*overloaded.*after 4 attempts/);
  });

  it('cancel during a long execution leaves no process behind', async () => {
    server.script([
      call('run_code', {
        code: 'import subprocess\nprint("started", flush=True)\nsubprocess.run(["sleep", "31.4159"])',
      }),
    ]);
    const ac = new AbortController();
    const t0 = Date.now();
    const r = await runAgent({
      task: 't',
      model: 'openai:gpt-4.1',
      env: env(),
      sessionService: manager,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'output_delta' && e.text.includes('started')) setTimeout(() => ac.abort(), 200);
      },
    });
    assert.equal(r.stopReason, 'cancelled');
    assert.ok(Date.now() - t0 < 15_000);
    await waitFor(() => !sleepers().length, 5000);
    assert.deepEqual(sleepers(), [], 'no sleep process left');
  });

  it('an API key planted in the environment is invisible to the code', async () => {
    process.env.OPENAI_API_KEY = KEY;
    try {
      server.script([
        call('run_code', {
          code: 'import os\nprint(sorted(os.environ.items()))\nprint(open("/proc/self/environ").read())\nprint(open("/proc/1/environ").read())',
        }),
        call('final_answer', { answer: 'looked' }),
      ]);
      const r = await runAgent({
        task: 't',
        model: 'openai:gpt-4.1',
        env: env(),
        sessionService: manager,
        keepSession: true,
      });
      assert.equal(r.answer, 'looked', r.message);
      const hist = manager.history(r.sessionId);
      assert.ok(hist[0]?.stdout.includes('PATH') || hist[0]?.stdout.includes('HOME'), 'the code saw its environment');
      assert.ok(!JSON.stringify(hist).includes(KEY), 'the key is not in what the code saw');
      assert.ok(!JSON.stringify(hist).includes('sk-planted'));
      await manager.close(r.sessionId);
    } finally {
      delete process.env.OPENAI_API_KEY;
    }
  });

  it('--verify rejects an assertion-free test and accepts a real one', async () => {
    server.script([
      call('write_file', { path: 'sol.py', content: 'def double(x):\n    return 2 * x\n' }),
      call('write_file', {
        path: 'test_sol.py',
        content: 'from sol import double\n\ndef test_double():\n    double(2)\n',
      }),
      call('final_answer', { answer: 'double() written' }),
      call('write_file', {
        path: 'test_sol.py',
        content: 'from sol import double\n\ndef test_double():\n    assert double(2) == 4\n',
      }),
      call('final_answer', { answer: 'double() written and tested' }),
    ]);
    const from = server.requests.length;
    const r = await runAgent({ task: 't', model: 'openai:gpt-4.1', env: env(), sessionService: manager, verify: true });
    assert.equal(r.ok, true, `${r.message} ${JSON.stringify(r.verification)}`);
    assert.equal(r.answer, 'double() written and tested');
    assert.equal(r.verification?.ok, true, JSON.stringify(r.verification));
    assert.deepEqual(
      r.verification?.tests.map((t) => [t.path, t.counted]),
      [['test_sol.py', true]],
    );
    assert.match(lastFeedback(server.requests[from + 3] ?? { body: {} }), /cannot fail/);
  });
});

const realModel = process.env.AGENT_E2E_MODEL;
describe('agent e2e against a real provider', () => {
  it(
    'computes a small result with the real model',
    {
      skip: realModel
        ? false
        : 'set AGENT_E2E_MODEL (e.g. anthropic:claude-sonnet-4-5) and its API key to run against a real provider',
    },
    async () => {
      const r = await runAgent({
        task: 'What is the sum of the squares of the integers from 1 to 100? Compute it with code.',
        model: realModel ?? '',
        sessionService: manager,
        budgets: { maxSteps: 8, maxCostUsd: 0.2 },
      });
      assert.equal(r.ok, true, r.message);
      assert.match(r.answer ?? '', /338350/);
    },
  );
});

function sleepers(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').includes('sleep 31.4159'))
        out.push(Number(d));
    } catch {
      // The process ended while we looked: exactly what we want.
    }
  }
  return out;
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

describe('codemode agent (CLI) against the scripted server', () => {
  it('streams the steps live and prints a summary; --json prints the result', async () => {
    const { agentCommandWith } = await import('../../src/cli/commands/agent.js');
    const { PassThrough } = await import('node:stream');
    const io = () => {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => (out += c.toString()));
      stderr.resume();
      return {
        // The run is recorded in a state dir of the test's own, never the machine's /var/lib/codemode.
        io: {
          stdin: new PassThrough(),
          stdout,
          stderr,
          env: { ...env(), CODEMODE_HOME: path.join(root, 'state') },
          cwd: root,
          stdinIsTTY: false,
        },
        text: () => out,
      };
    };
    server.script([
      { text: 'Computing.', ...call('run_code', { code: 'print(6 * 7)' }) },
      call('final_answer', { answer: '42' }),
    ]);
    const live = io();
    const code = await agentCommandWith(['what is 6*7', '--model', 'openai:gpt-4.1', '--max-steps', '4'], live.io, {
      sessions: manager,
    });
    assert.equal(code, 0);
    const t = live.text();
    assert.match(t, /── step 1 ──\nComputing\.\n▶ run_code \(python\)\n {2}│ print\(6 \* 7\)\n42\n✔ run_code: ok/);
    assert.match(t, /== final answer ==\n42\n2 steps · 240 tokens in \/ 60 out · \$0\.\d+ · [\d.]+ s · session /);
    assert.ok(!t.includes(KEY));

    server.script([call('run_code', { code: 'print(1)' }), call('run_code', { code: 'print(2)' })]);
    const json = io();
    const code2 = await agentCommandWith(['t', '--model', 'openai:gpt-4.1', '--max-steps', '1', '--json'], json.io, {
      sessions: manager,
    });
    assert.equal(code2, 1, 'stopped by the budget');
    const r = JSON.parse(json.text()) as { stopReason: string; steps: number };
    assert.equal(r.stopReason, 'max_steps');
    assert.equal(r.steps, 1);
    assert.ok(existsSync(path.join(root, 'state', 'codemode.db')), 'the runs went to the test state dir');
  });
});
