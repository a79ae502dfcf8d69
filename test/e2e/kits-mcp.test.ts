// Kits and network policies through `codemode serve` over stdio with the real
// SDK client: the settings file's kits and policies reach list_kits and
// create_session, as a model would use them.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

const ROOT = path.resolve(import.meta.dirname, '../..');
let root: string;
let client: Client;
let origin: http.Server;
let port: number;

type ToolResult = { content: { type: string; text?: string }[]; structuredContent?: unknown; isError?: boolean };
const call = async (name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })) as ToolResult;
const textOf = (r: ToolResult) => r.content.map((c) => c.text ?? '').join('\n');

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-kits-mcp-'));
  chmodSync(root, 0o755);
  origin = http.createServer((_req, res) => res.end('origin over mcp'));
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  port = (origin.address() as AddressInfo).port;
  const home = path.join(root, 'home');
  mkdirSync(home);
  const settings = path.join(root, 'settings.json');
  writeFileSync(
    settings,
    JSON.stringify({
      kits: { absent: { version: '1', description: 'Never installed.', debian: ['python3-codemode-no-such-package'] } },
      network: { policies: { web: { allow: [`localhost:${port}`], maxBytes: 100000, maxRequests: 5 } } },
    }),
  );
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      '--no-node-snapshot',
      '--import',
      path.join(ROOT, 'node_modules/tsx/dist/loader.mjs'),
      path.join(ROOT, 'src/cli/main.ts'),
      'serve',
      '--no-store',
    ],
    env: { ...(process.env as Record<string, string>), CODEMODE_HOME: home, CODEMODE_SETTINGS: settings },
    cwd: root,
    stderr: 'pipe',
  });
  client = new Client({ name: 'kits-e2e', version: '1.0.0' });
  await client.connect(transport, { timeout: 120_000 });
});

after(async () => {
  await client?.close();
  origin?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('kits and network over MCP (codemode serve, stdio)', () => {
  it('list_kits shows each kit with its status, and the network policies', async () => {
    const r = await call('list_kits', {});
    const data = r.structuredContent as {
      kits: { name: string; installed: boolean; install: string }[];
      networks: string[];
    };
    assert.deepEqual(data.networks, ['web']);
    assert.equal(data.kits.find((k) => k.name === 'plot')?.installed, true);
    const absent = data.kits.find((k) => k.name === 'absent')!;
    assert.equal(absent.installed, false);
    assert.match(
      textOf(r),
      /absent@1 \[python\] NOT INSTALLED \(operator: sudo apt-get install -y --no-install-recommends python3-codemode-no-such-package\)/,
    );
  });

  it('create_session with an installed kit and a network policy; a missing kit is refused with the reason', async () => {
    const created = await call('create_session', { language: 'python', kits: ['plot'], network: 'web' });
    assert.equal(created.isError ?? false, false, textOf(created));
    assert.match(textOf(created), /kits: plot@1 \(python3-matplotlib \d/);
    assert.match(textOf(created), /network: policy "web"/);
    const id = (created.structuredContent as { session: { id: string } }).session.id;
    const run = await call('execute_code', {
      session_id: id,
      code: `import urllib.request\nprint(urllib.request.urlopen("http://localhost:${port}/", timeout=10).read().decode())`,
    });
    assert.match(textOf(run), /origin over mcp/);

    const refused = await call('create_session', { language: 'python', kits: ['absent'] });
    assert.equal(refused.isError, true);
    assert.match(textOf(refused), /kit "absent" is not installed on this host/);
    await call('close_session', { session_id: id });
  });
});
