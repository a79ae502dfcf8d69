/**
 * Code Mode in the agent, end to end: the reference memory MCP server spawned
 * over stdio as an upstream, programs run in real isolates by the same
 * CodeModeRuntime the MCP server uses, and the scripted model calling
 * run_code_mode and search_tools. requireApproval follows the agent's policy:
 * an approved run may call the tool once, a denied or unattended one may not.
 * Also `codemode agent --mcp-config FILE`.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { AgentEvent, ApprovalRequest } from '../../src/agent/contract.js';
import { runAgent } from '../../src/agent/loop.js';
import { startScriptedServer, type ScriptedServer } from '../../src/agent/scripted-server.js';
import { CodeModeRuntime } from '../../src/codemode/codemode.js';
import { parseCodeModeConfig } from '../../src/codemode/config.js';
import { codeModeAgentTools } from '../../src/mcp/tools/agent.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { SessionManager } from '../../src/sessions/session-manager.js';

const MEMORY = path.resolve(
  import.meta.dirname,
  '../../node_modules/@modelcontextprotocol/server-memory/dist/index.js',
);
const KEY = 'sk-planted-agent-codemode-0123456789';

let root: string;
let model: ScriptedServer;
let sessions: SessionManager;
let runtime: CodeModeRuntime;
let configFile: string;

const env = () => ({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: model.openaiBaseURL });
const call = (name: string, input: unknown) => ({ tools: [{ name, input }] });
/** The last message the model was sent, as text. */
function lastFeedback(req: { body: Record<string, unknown> } | undefined): string {
  const msgs = (req?.body.messages ?? []) as { content: unknown }[];
  return JSON.stringify(msgs[msgs.length - 1]?.content ?? '');
}

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-agent-cm-'));
  chmodSync(root, 0o711);
  const mcpServers = {
    memory: {
      command: process.execPath,
      args: [MEMORY],
      env: { MEMORY_FILE_PATH: path.join(root, 'memory.jsonl') },
      requireApproval: ['delete_entities'],
    },
  };
  configFile = path.join(root, 'mcp.json');
  writeFileSync(configFile, JSON.stringify({ mcpServers }));
  const parsed = parseCodeModeConfig({ mcpServers });
  assert.deepEqual(parsed.errors, []);
  runtime = new CodeModeRuntime(parsed.config, { limits: { timeoutMs: 15_000 } });
  model = await startScriptedServer();
  sessions = new SessionManager({
    sandbox: await createProcessSandbox(),
    store: null,
    workspaceRoot: path.join(root, 'ws'),
    pool: false,
  });
});

after(async () => {
  await sessions.shutdown();
  await runtime.close();
  await model.close();
  rmSync(root, { recursive: true, force: true });
});

const CREATE = `await codemode.memory.create_entities({ entities: [
  { name: "ada", entityType: "person", observations: ["wrote the first program"] },
  { name: "bob", entityType: "person", observations: [] } ] });
const g = await codemode.memory.read_graph();
return g.entities.map((e) => e.name).sort();`;
const DELETE = `await codemode.memory.delete_entities({ entityNames: ["bob"] });
return (await codemode.memory.read_graph()).entities.map((e) => e.name);`;

describe('Code Mode in the agent', () => {
  it('the model searches the upstream API and runs a program against it', async () => {
    model.script([
      call('search_tools', { query: 'create entities' }),
      call('run_code_mode', { code: CREATE }),
      call('final_answer', { answer: 'ada, bob' }),
    ]);
    const from = model.requests.length;
    const events: AgentEvent[] = [];
    const r = await runAgent({
      task: 'store two people in memory',
      model: 'openai:gpt-4.1',
      env: env(),
      sessionService: sessions,
      codeMode: codeModeAgentTools(runtime),
      onEvent: (e) => events.push(e),
    });
    assert.equal(r.ok, true, r.message);
    const reqs = model.requests.slice(from);
    const offered = ((reqs[0]?.body.tools ?? []) as { function: { name: string } }[]).map((t) => t.function.name);
    assert.ok(offered.includes('run_code_mode') && offered.includes('search_tools'), offered.join(','));
    assert.match(lastFeedback(reqs[1]), /create_entities/, 'search_tools answered with the signature');
    assert.match(lastFeedback(reqs[2]), /status: ok[^]*ada[^]*bob/, 'the program ran against the real server');
    assert.ok(events.some((e) => e.type === 'result' && e.tool === 'run_code_mode' && e.ok));
  });

  it('a tool under requireApproval runs only when the approver allows it, for that run', async () => {
    const requests: ApprovalRequest[] = [];
    model.script([call('run_code_mode', { code: DELETE }), call('final_answer', { answer: 'done' })]);
    let from = model.requests.length;
    const denied = await runAgent({
      task: 'delete bob',
      model: 'openai:gpt-4.1',
      env: env(),
      sessionService: sessions,
      codeMode: codeModeAgentTools(runtime),
      approve: (req) => {
        requests.push(req);
        return false;
      },
    });
    assert.equal(denied.ok, true);
    assert.equal(requests[0]?.reason, 'require-approval');
    assert.match(requests[0]?.summary ?? '', /needs approval: memory\.delete_entities/);
    assert.match(lastFeedback(model.requests[from + 1]), /did not approve/);

    // Unattended (as over MCP): no approver, so the tool is refused without asking.
    model.script([call('run_code_mode', { code: DELETE }), call('final_answer', { answer: 'done' })]);
    from = model.requests.length;
    await runAgent({
      task: 'delete bob',
      model: 'openai:gpt-4.1',
      env: env(),
      sessionService: sessions,
      codeMode: codeModeAgentTools(runtime),
    });
    assert.match(lastFeedback(model.requests[from + 1]), /did not approve/);
    const still = await runtime.run({
      language: 'javascript',
      code: 'return (await codemode.memory.read_graph()).entities.map((e) => e.name).sort();',
    });
    assert.deepEqual(still.value, ['ada', 'bob'], 'nothing was deleted');

    // Approved: the same program deletes, in that run only.
    model.script([call('run_code_mode', { code: DELETE }), call('final_answer', { answer: 'done' })]);
    from = model.requests.length;
    await runAgent({
      task: 'delete bob',
      model: 'openai:gpt-4.1',
      env: env(),
      sessionService: sessions,
      codeMode: codeModeAgentTools(runtime),
      approve: () => true,
    });
    assert.match(lastFeedback(model.requests[from + 1]), /status: ok[^]*ada/);
    const later = await runtime.run({ language: 'javascript', code: DELETE });
    assert.equal(later.status, 'error', 'the approval did not outlive its run');
    assert.match(later.error?.message ?? '', /needs approval/);
  });

  it('deny-network-tools refuses run_code_mode altogether', async () => {
    model.script([call('run_code_mode', { code: 'return 1;' }), call('final_answer', { answer: 'x' })]);
    const from = model.requests.length;
    await runAgent({
      task: 't',
      model: 'openai:gpt-4.1',
      env: env(),
      sessionService: sessions,
      codeMode: codeModeAgentTools(runtime),
      approval: 'deny-network-tools',
    });
    assert.match(lastFeedback(model.requests[from + 1]), /did not approve/);
  });

  it('codemode agent --mcp-config FILE gives the model the upstream servers', async () => {
    const { agentCommandWith } = await import('../../src/cli/commands/agent.js');
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    stderr.resume();
    model.script([
      call('run_code_mode', {
        code: 'return (await codemode.memory.search_nodes({ query: "program" })).entities.map((e) => e.name);',
      }),
      call('final_answer', { answer: 'ada' }),
    ]);
    const code = await agentCommandWith(
      ['who wrote a program?', '--model', 'openai:gpt-4.1', '--mcp-config', configFile, '--json', '--no-store'],
      { stdin: new PassThrough(), stdout, stderr, env: env(), cwd: root, stdinIsTTY: false },
      { sessions },
    );
    assert.equal(code, 0, out);
    assert.equal((JSON.parse(out) as { answer: string }).answer, 'ada');
    assert.match(lastFeedback(model.requests[model.requests.length - 1]), /status: ok[^]*ada/);
  });
});
