/**
 * `codemode serve` over stdio as MCP hosts run it: a spawned CLI process with
 * the real sandbox and session manager, driven by the official SDK client and
 * by the MCP Inspector CLI. Checks the process exits when the client leaves.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { firstText } from './mcp-harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVE = ['--no-node-snapshot', '--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve', '--no-store'];
// The current Inspector (2.x) in --cli mode. It declares Node >= 22 but its CLI runs on our Node 20.
const INSPECTOR = path.join(ROOT, 'node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js');

type Structured = Record<string, unknown>;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function inspector(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Inspector options first, then `--` and the server's command line.
  const child = spawn(process.execPath, [INSPECTOR, '--cli', ...args, '--', process.execPath, ...SERVE], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

describe('codemode serve over stdio', () => {
  let client: Client;
  let transport: StdioClientTransport;
  let stderr = '';

  before(async () => {
    transport = new StdioClientTransport({ command: process.execPath, args: SERVE, cwd: ROOT, stderr: 'pipe' });
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    client = new Client({ name: 'codemode-stdio-e2e', version: '1.0.0' });
    await client.connect(transport);
  });
  after(async () => {
    await client.close();
  });

  it('runs a one-shot program through the spawned server', async () => {
    const r = await client.callTool({ name: 'execute_code', arguments: { language: 'python', code: 'print(2**10)' } });
    assert.equal((r.structuredContent as Structured)['stdout'], '1024\n');
    assert.equal((r.structuredContent as Structured)['isolation'] !== undefined, true);
    assert.match(stderr, /serving MCP on stdio/, 'logs go to stderr');
  });

  it('keeps variables in a session and returns a matplotlib plot as image content', async () => {
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'python' } });
    const id = (created.structuredContent as { session: Structured }).session['id'] as string;
    await client.callTool({ name: 'execute_code', arguments: { language: 'python', code: 'n = 41', session_id: id } });
    const next = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'print(n + 1)', session_id: id },
    });
    assert.equal((next.structuredContent as Structured)['stdout'], '42\n');

    const plot = await client.callTool({
      name: 'execute_code',
      arguments: {
        language: 'python',
        session_id: id,
        code: 'import matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()',
      },
    });
    assert.equal(plot.isError, false, firstText(plot));
    const image = (plot.content as { type: string; data?: string; mimeType?: string }[]).find(
      (c) => c.type === 'image',
    );
    assert.equal(image?.mimeType, 'image/png');
    assert.equal(
      Buffer.from(image?.data ?? '', 'base64')
        .subarray(1, 4)
        .toString(),
      'PNG',
    );
    await client.callTool({ name: 'close_session', arguments: { session_id: id } });
  });

  it('exits when the client closes stdin', async () => {
    const probe = new StdioClientTransport({ command: process.execPath, args: SERVE, cwd: ROOT, stderr: 'pipe' });
    let probeErr = '';
    probe.stderr?.on('data', (c: Buffer) => (probeErr += c.toString()));
    const c = new Client({ name: 'probe', version: '1' });
    await c.connect(probe);
    const pid = probe.pid;
    assert.ok(pid !== null && alive(pid));
    await c.close();
    const deadline = Date.now() + 10_000;
    while (pid !== null && alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(pid ?? 0), false, 'server process is gone');
    assert.match(probeErr, /shutting down/);
  });

  it('with --config, serves the Code Mode tools and their programs call the upstream server', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-config-'));
    const config = path.join(dir, 'mcp.json');
    const memoryServer = path.join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');
    writeFileSync(
      config,
      JSON.stringify({
        mcpServers: {
          memory: {
            command: process.execPath,
            args: [memoryServer],
            env: { MEMORY_FILE_PATH: path.join(dir, 'm.jsonl') },
          },
        },
      }),
    );
    const t = new StdioClientTransport({
      command: process.execPath,
      args: [...SERVE, '--config', config],
      cwd: ROOT,
      stderr: 'pipe',
    });
    const c = new Client({ name: 'codemode-config-e2e', version: '1' });
    try {
      await c.connect(t);
      const names = (await c.listTools()).tools.map((tool) => tool.name);
      assert.ok(names.includes('run_code_mode') && names.includes('execute_code'), names.join(','));
      const r = await c.callTool({
        name: 'run_code_mode',
        arguments: { code: 'const g = await codemode.memory.read_graph({}); return Object.keys(g).sort();' },
      });
      assert.deepEqual((r.structuredContent as Structured)['value'], ['entities', 'relations']);
    } finally {
      await c.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the MCP Inspector CLI lists the tools', async () => {
    const r = await inspector(['--method', 'tools/list']);
    assert.equal(r.code, 0, r.stderr);
    const names = (JSON.parse(r.stdout) as { tools: { name: string }[] }).tools.map((t) => t.name);
    assert.ok(names.includes('execute_code') && names.includes('read_file') && names.includes('create_session'));
  });

  it('the MCP Inspector CLI calls execute_code', async () => {
    const r = await inspector([
      '--method',
      'tools/call',
      '--tool-name',
      'execute_code',
      '--tool-arg',
      'language=bash',
      'code=echo inspected',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { structuredContent: Structured };
    assert.equal(result.structuredContent['stdout'], 'inspected\n');
  });
});
