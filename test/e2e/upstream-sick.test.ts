/**
 * One sick upstream does not stall Code Mode: `codemode serve --config` with
 * the real @modelcontextprotocol/server-memory beside a fake server that never
 * answers initialize. The MCP handshake, the tool list and calls to memory
 * answer without waiting for it; its own timeoutMs bounds its start-up (not
 * a fixed 30 s); it is reported in the tool description and in results, and
 * retried in the background. Each test's timeout is far below the 30 s a
 * stalled start-up would take, so a stall fails it.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MEMORY = path.join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js');
const SERVE = ['--no-node-snapshot', '--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve', '--no-store'];
/** Reads stdin forever and never answers: a server hung before initialize. */
const HUNG = 'process.stdin.resume(); setInterval(() => {}, 1000);';

type Structured = { status: string; value: unknown; logs: string[]; error?: { message: string } };

describe('a hung upstream beside a healthy one', { timeout: 25_000 }, () => {
  let dir: string;
  let client: Client;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-sick-'));
    chmodSync(dir, 0o711);
    const config = path.join(dir, 'mcp.json');
    writeFileSync(
      config,
      JSON.stringify({
        mcpServers: {
          memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: path.join(dir, 'm.jsonl') } },
          hung: { command: process.execPath, args: ['-e', HUNG], timeoutMs: 1500 },
        },
      }),
    );
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [...SERVE, '--config', config],
      cwd: ROOT,
      env: { ...process.env, CODEMODE_HOME: dir } as Record<string, string>,
      stderr: 'pipe',
    });
    client = new Client({ name: 'sick-upstream-e2e', version: '1' });
    await client.connect(transport);
  });
  after(async () => {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the tools and names the sick server in run_code_mode’s description', async () => {
    const tools = (await client.listTools()).tools;
    const run = tools.find((t) => t.name === 'run_code_mode');
    assert.match(
      run?.description ?? '',
      /hung: unavailable \(upstream server "hung" (failed to start|is still starting)/,
    );
  });

  it('calls the healthy server at once, and reports the sick one in the result', async () => {
    const r = await client.callTool({
      name: 'run_code_mode',
      arguments: {
        code:
          'const g = await codemode.memory.read_graph({});\n' +
          'try { await codemode.hung.anything({}); } catch {}\n' +
          'return Object.keys(g).sort();',
      },
    });
    const s = r.structuredContent as Structured;
    assert.deepEqual(s.value, ['entities', 'relations']);
    assert.ok(
      s.logs.some((l) => /^\[codemode\] upstream server hung is unavailable/.test(l)),
      s.logs.join('\n'),
    );
  });

  it('honours the sick server’s timeoutMs at start-up and says it retries in the background', async () => {
    const r = await client.callTool({
      name: 'run_code_mode',
      arguments: { code: 'return await codemode.hung.anything({});' },
    });
    const s = r.structuredContent as Structured;
    assert.equal(s.status, 'error');
    assert.match(s.error?.message ?? '', /upstream server "hung" failed to start: .*(timed out|timeout)/i);
    assert.match(s.error?.message ?? '', /retrying in the background/);
  });
});
