/**
 * MCP overhead benchmark: `execute_code` in a warm code session through the
 * whole MCP stack, beside its floor: a minimal echo tool on the same SDK
 * (`@modelcontextprotocol/server`), reached by the same client over the same
 * transport, measured interleaved in this process. Four paths: stdio and
 * Streamable HTTP, each with 2025-11-25 (v1 SDK client, the 2025 handshake)
 * and 2026-07-28 (v2 SDK client, pinned). Both servers run as child processes
 * (`codemode serve`, and a tiny echo server), so neither side shares the
 * client's event loop. Target (issue 10): within +0.4 ms of the floor.
 * `CODEMODE_BENCH_ROOT` points the subject at another checkout (e.g. the
 * commit before a change) to measure before and after with one harness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernHttpTransport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport as ModernStdioTransport } from '@modelcontextprotocol/client/stdio';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Language } from '../sandbox/executor.js';
import { formatTable, interleave, makeRow, type ReportRow, type SubjectFilter } from './report.js';

export const MCP_TARGET_PLUS_MS = 0.4;

export interface McpBenchOptions {
  /** Samples of each subject and of its floor (p99 needs 200+). Default 300. */
  rounds?: number;
  language?: Language;
  code?: string;
  /** The checkout whose CLI serves the subject (default: this one). */
  root?: string;
  print?: (line: string) => void;
  /** Which subjects to measure (`--only`). Default: all. */
  only?: SubjectFilter;
}

export interface McpBenchResult {
  language: Language;
  code: string;
  rows: ReportRow[];
}

const HERE = fileURLToPath(import.meta.url);
const THIS_ROOT = path.resolve(path.dirname(HERE), '../..');

/** How to start `codemode serve` from a checkout: tsx on the sources, or the compiled dist. */
function serveCommand(root: string, extra: string[]): { command: string; args: string[] } {
  const src = path.join(root, 'src/cli/main.ts');
  if (HERE.endsWith('.ts') || !existsSync(path.join(root, 'dist/cli/main.js'))) {
    return { command: process.execPath, args: ['--no-node-snapshot', '--import', 'tsx', src, 'serve', ...extra] };
  }
  return {
    command: process.execPath,
    args: ['--no-node-snapshot', path.join(root, 'dist/cli/main.js'), 'serve', ...extra],
  };
}

/** The floor: one echo tool on the v2 SDK, over stdio (serveStdio) or HTTP (both eras, as codemode routes them). */
const ECHO_SERVER = `
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { McpServer, createMcpHandler, isLegacyRequest } from '@modelcontextprotocol/server';
import { NodeStreamableHTTPServerTransport, toNodeHandler, toWebRequest } from '@modelcontextprotocol/node';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';
const input = z.object({ text: z.string() });
const make = () => {
  const s = new McpServer({ name: 'echo', version: '1' }, { capabilities: { tools: {} } });
  s.registerTool('echo', { description: 'echo', inputSchema: input }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
  return s;
};
if (process.argv[1] === 'http') {
  const modern = toNodeHandler(createMcpHandler(make, { legacy: 'reject' }));
  const sessions = new Map();
  const http = createServer(async (req, res) => {
    let body;
    if (req.method === 'POST') { const c = []; for await (const x of req) c.push(x); body = JSON.parse(Buffer.concat(c).toString()); }
    if (!(await isLegacyRequest(await toWebRequest(req, body), body))) return modern(req, res, body);
    const id = req.headers['mcp-session-id'];
    let t = id && sessions.get(id);
    if (!t) {
      t = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (sid) => sessions.set(sid, t) });
      await make().connect(t);
    }
    await t.handleRequest(req, res, body);
  });
  http.listen(0, '127.0.0.1', () => console.log('LISTEN ' + http.address().port));
} else serveStdio(make);
`;

function echoCommand(mode: 'stdio' | 'http'): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--input-type=module', '-e', ECHO_SERVER, mode] };
}

/** Starts an HTTP server process and resolves with its URL once it prints where it listens. */
async function spawnHttp(
  command: string,
  args: string[],
  pattern: RegExp,
  cwd: string,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const onData = (c: Buffer) => {
      seen += c.toString();
      const m = pattern.exec(seen);
      if (m) resolve(m[1]!);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}): ${seen}`)));
  });
  return { url, child };
}

interface Caller {
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  close(): Promise<void>;
}
type ToolReply = { structuredContent?: unknown; isError?: boolean; content?: unknown };

function v1Client(): Client {
  return new Client({ name: 'mcp-bench', version: '1' });
}
function v2Client(): ModernClient {
  return new ModernClient({ name: 'mcp-bench', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
}

/** A warm session on `client` and a function that runs `code` in it once. */
async function warmExecute(client: Caller, language: Language, code: string): Promise<() => Promise<void>> {
  const created = (await client.callTool({ name: 'create_session', arguments: { language } })) as ToolReply;
  const id = (created.structuredContent as { session?: { id?: string } } | undefined)?.session?.id;
  if (id === undefined) throw new Error(`create_session failed: ${JSON.stringify(created.content)}`);
  return async () => {
    const r = (await client.callTool({
      name: 'execute_code',
      arguments: { language, code, session_id: id },
    })) as ToolReply;
    if (r.isError) throw new Error(`execute_code failed: ${JSON.stringify(r.content)}`);
  };
}

function echo(client: Caller): () => Promise<void> {
  return async () => {
    const r = (await client.callTool({ name: 'echo', arguments: { text: 'x' } })) as ToolReply;
    if (r.isError) throw new Error(`echo failed: ${JSON.stringify(r.content)}`);
  };
}

export async function runMcpBench(options: McpBenchOptions = {}): Promise<McpBenchResult> {
  const rounds = options.rounds ?? 300;
  const language = options.language ?? 'python';
  const code = options.code ?? 'x = 1';
  const root = options.root ?? process.env['CODEMODE_BENCH_ROOT'] ?? THIS_ROOT;
  const print = options.print ?? ((line: string) => console.log(line));
  const rows: ReportRow[] = [];
  const target = { kind: 'plus', ms: MCP_TARGET_PLUS_MS } as const;
  const closers: (() => Promise<unknown> | void)[] = [];
  const want = options.only ?? (() => true);
  const subject = (transport: string, era: string) => `execute_code, ${transport} ${era}`;
  try {
    // stdio: `codemode serve` and the echo server, each a child process of its client.
    for (const era of ['2025-11-25', '2026-07-28'] as const) {
      if (!want(subject('stdio', era))) continue;
      const serve = serveCommand(root, ['--no-store']);
      const floor = echoCommand('stdio');
      const [subjectClient, floorClient] = era === '2025-11-25' ? [v1Client(), v1Client()] : [v2Client(), v2Client()];
      if (era === '2025-11-25') {
        await (subjectClient as Client).connect(new StdioClientTransport({ ...serve, cwd: root, stderr: 'ignore' }));
        await (floorClient as Client).connect(new StdioClientTransport({ ...floor, cwd: THIS_ROOT, stderr: 'ignore' }));
      } else {
        await (subjectClient as ModernClient).connect(
          new ModernStdioTransport({ ...serve, cwd: root, stderr: 'ignore' }),
        );
        await (floorClient as ModernClient).connect(
          new ModernStdioTransport({ ...floor, cwd: THIS_ROOT, stderr: 'ignore' }),
        );
      }
      closers.push(
        () => subjectClient.close(),
        () => floorClient.close(),
      );
      const run = await warmExecute(subjectClient, language, code);
      const s = await interleave(run, echo(floorClient), rounds);
      rows.push(
        makeRow(subject('stdio', era), s.subject, s.floor, target, { floor: 'echo tool, v2 SDK, same client' }),
      );
    }

    // HTTP: `codemode serve --http --no-auth` and the echo server on loopback.
    const httpEras = (['2025-11-25', '2026-07-28'] as const).filter((era) => want(subject('HTTP', era)));
    if (httpEras.length === 0) return done();
    const served = await spawnHttp(
      serveCommand(root, ['--http', '--no-auth', '--no-store', '--port', '0']).command,
      serveCommand(root, ['--http', '--no-auth', '--no-store', '--port', '0']).args,
      /serving MCP on (http:\/\/\S+\/mcp)/,
      root,
    );
    closers.push(() => void served.child.kill('SIGTERM'));
    const floorHttp = await spawnHttp(echoCommand('http').command, echoCommand('http').args, /LISTEN (\d+)/, THIS_ROOT);
    closers.push(() => void floorHttp.child.kill('SIGTERM'));
    const floorUrl = new URL(`http://127.0.0.1:${floorHttp.url}/mcp`);
    const subjectUrl = new URL(served.url);
    for (const era of httpEras) {
      let subjectClient: Caller;
      let floorClient: Caller;
      if (era === '2025-11-25') {
        const a = v1Client();
        await a.connect(new StreamableHTTPClientTransport(subjectUrl));
        const b = v1Client();
        await b.connect(new StreamableHTTPClientTransport(floorUrl));
        [subjectClient, floorClient] = [a, b];
      } else {
        const a = v2Client();
        await a.connect(new ModernHttpTransport(subjectUrl));
        const b = v2Client();
        await b.connect(new ModernHttpTransport(floorUrl));
        [subjectClient, floorClient] = [a, b];
      }
      closers.push(
        () => subjectClient.close(),
        () => floorClient.close(),
      );
      const run = await warmExecute(subjectClient, language, code);
      const s = await interleave(run, echo(floorClient), rounds);
      rows.push(makeRow(subject('HTTP', era), s.subject, s.floor, target, { floor: 'echo tool, v2 SDK, same client' }));
    }
  } finally {
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
  }
  return done();

  function done(): McpBenchResult {
    print(
      `MCP: execute_code (${language}: ${JSON.stringify(code)}) in a warm session vs a minimal echo tool, ${rounds} interleaved rounds`,
    );
    print(formatTable(rows));
    return { language, code, rows };
  }
}

if (process.argv[1] === HERE) {
  const rounds = Number(process.env['MCP_BENCH_ROUNDS'] ?? 300);
  runMcpBench({ rounds }).then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
