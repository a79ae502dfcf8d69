/**
 * run_agent over a real MCP client (v2 SDK, Streamable HTTP) against the real
 * sandbox, with the model played by the scripted loopback server: offered
 * only when enabled, progress per step, the session owned by the caller, the
 * model allow rule, and cancellation killing the running code.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client as ModernClient } from '@modelcontextprotocol/client';
import { startScriptedServer, type ScriptedServer } from '../../src/agent/scripted-server.js';
import { startHttpServer, type RunningHttpServer } from '../../src/mcp/http-server.js';
import { createCodemodeServer } from '../../src/mcp/server.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { ProcessExecutor } from '../../src/sandbox/process/process-executor.js';
import { SessionManager } from '../../src/sessions/session-manager.js';
import { connectModernHttpClient, firstText } from './mcp-harness.js';

const KEY = 'sk-planted-agent-mcp-0123456789';
const TOKEN = 'agent-mcp-token-0123456789abcdef';
let model: ScriptedServer;
let sessions: SessionManager;
let executor: ProcessExecutor;
let root: string;
let enabled: RunningHttpServer;
let disabled: RunningHttpServer;
let client: ModernClient;

type Structured = Record<string, unknown>;

before(async () => {
  model = await startScriptedServer();
  const sandbox = await createProcessSandbox();
  executor = new ProcessExecutor(sandbox);
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-agent-mcp-'));
  chmodSync(root, 0o711);
  sessions = new SessionManager({ sandbox, store: null, workspaceRoot: root, pool: false });
  const hostEnv = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: model.openaiBaseURL };
  const start = (agent: boolean) =>
    startHttpServer({
      port: 0,
      tokens: [TOKEN],
      createServer: (principal) =>
        createCodemodeServer({
          executor,
          sessions,
          principal,
          progressIntervalMs: 50,
          ...(agent ? { agent: { models: [], env: hostEnv } } : {}),
        }),
    });
  enabled = await start(true);
  disabled = await start(false);
  client = await connectModernHttpClient(enabled.url, { token: TOKEN });
});

after(async () => {
  await client.close();
  await enabled.close();
  await disabled.close();
  await sessions.shutdown();
  await executor.close();
  await model.close();
  rmSync(root, { recursive: true, force: true });
});

const call = (name: string, input: unknown) => ({ tools: [{ name, input }] });

function processAlive(marker: string): boolean {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === marker) return true;
    } catch {
      // exited meanwhile
    }
  }
  return false;
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('run_agent over MCP', () => {
  it('is offered only by a server that enables it', async () => {
    const other = await connectModernHttpClient(disabled.url, { token: TOKEN });
    try {
      const names = (await other.listTools()).tools.map((t) => t.name);
      assert.ok(names.includes('execute_code'));
      assert.ok(!names.includes('run_agent'), 'not offered without agent.enabled');
    } finally {
      await other.close();
    }
    const tools = (await client.listTools()).tools;
    const tool = tools.find((t) => t.name === 'run_agent');
    assert.ok(tool, 'offered when enabled');
    const approval = (tool.inputSchema.properties?.['approval'] ?? {}) as { enum?: string[] };
    assert.deepEqual(approval.enum, ['auto', 'deny-network-tools'], '"ask" has nobody to answer over MCP');
  });

  it('runs the loop in a session of the caller, with a progress notification per step', async () => {
    model.script([
      call('run_code', { code: 'import time\ntime.sleep(0.3)\nprint(6 * 7)' }),
      call('final_answer', { answer: '42' }),
    ]);
    const from = model.requests.length;
    const progress: string[] = [];
    const result = await client.callTool(
      { name: 'run_agent', arguments: { task: 'six times seven', model: 'openai:gpt-4.1', max_steps: 5 } },
      { onprogress: (p) => progress.push(p.message ?? '') },
    );
    const s = result.structuredContent as Structured;
    assert.equal(result.isError, undefined, firstText(result));
    assert.equal(s['ok'], true);
    assert.equal(s['stop_reason'], 'final_answer');
    assert.equal(s['answer'], '42');
    assert.equal(s['steps'], 2);
    assert.equal(s['input_tokens'], 240);
    assert.equal(typeof s['cost_usd'], 'number');
    assert.match(firstText(result), /^42\n/);
    assert.ok(
      progress.some((m) => /step 1: ran python, ok/.test(m)),
      `a step's progress arrives: ${JSON.stringify(progress)}`,
    );
    // The key went to the model server only; the model saw the code's output.
    const reqs = model.requests.slice(from);
    assert.equal(reqs[0]?.headers.authorization, `Bearer ${KEY}`);
    assert.match(JSON.stringify(reqs[1]?.body.messages), /42/);
    assert.ok(!JSON.stringify(result).includes(KEY));
    // The session belongs to this caller and stays open for inspection.
    const listed = await client.callTool({ name: 'list_sessions', arguments: {} });
    assert.match(JSON.stringify(listed.structuredContent), new RegExp(String(s['session_id'])));
    await client.callTool({ name: 'close_session', arguments: { session_id: s['session_id'] } });
  });

  it('refuses a caller-chosen URL or key variable without an allow list (a host key could leave)', async () => {
    const from = model.requests.length;
    for (const m of ['openai-compatible:http://127.0.0.1:9/v1#x@OPENAI_API_KEY', 'openai:gpt-4.1@HOME']) {
      const result = await client.callTool({ name: 'run_agent', arguments: { task: 't', model: m } });
      assert.equal(result.isError, true);
      assert.match(firstText(result), /FORBIDDEN|not allowed|only anthropic:MODEL and openai:MODEL/);
    }
    assert.equal(model.requests.length, from, 'no model request was made');
  });

  it('cancelling the request kills the running code and leaves no process behind', async () => {
    const marker = `agent-cancel-${Date.now()}`;
    model.script([
      call('run_code', {
        code: `import subprocess\nprint('started', flush=True)\nsubprocess.run(['bash', '-c', 'exec -a ${marker} sleep 30'])`,
      }),
      call('final_answer', { answer: 'should not get here' }),
    ]);
    const controller = new AbortController();
    const pending = client.callTool(
      { name: 'run_agent', arguments: { task: 'sleep', model: 'openai:gpt-4.1' } },
      { signal: controller.signal, onprogress: () => {}, resetTimeoutOnProgress: true },
    );
    pending.catch(() => {});
    assert.ok(await waitFor(() => processAlive(marker), 15_000), 'the code is running');
    controller.abort('user cancelled');
    await assert.rejects(pending);
    assert.ok(await waitFor(() => !processAlive(marker), 5000), 'the cancelled run left no process behind');
  });
});
