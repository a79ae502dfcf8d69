/**
 * MCP overhead benchmark: the round trip of a trivial execute_code in a warm
 * session through the whole MCP stack, over stdio (a spawned `codemode serve`)
 * and over Streamable HTTP (in process), for both protocol eras (a v1 client
 * on 2025-11-25, a v2 client on 2026-07-28, whose HTTP requests are stateless
 * and build a server each), beside the engine's own round trip
 * (SessionService.execute directly) measured in the same run.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  Client as ModernClient,
  StreamableHTTPClientTransport as ModernHttpTransport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport as ModernStdioTransport } from '@modelcontextprotocol/client/stdio';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { defaultRuntime, parseServeArgs, type ServeRuntime } from '../cli/commands/serve.js';
import { processIO } from '../cli/io.js';
import { createCodemodeServer } from '../mcp/server.js';
import { startHttpServer } from '../mcp/http-server.js';
import type { Executor, Language } from '../sandbox/executor.js';
import { DEFAULT_LIMITS } from '../sandbox/limits.js';
import type { SessionExecResult, SessionService } from '../sessions/contract.js';

export interface LatencyStats {
  n: number;
  medianMs: number;
  p99Ms: number;
  minMs: number;
}

export interface McpBenchResult {
  language: Language;
  code: string;
  engine: LatencyStats;
  /** 2025-11-25 (v1 client) over stdio. */
  stdio: LatencyStats | null;
  /** 2025-11-25 (v1 client) over sessionful HTTP. */
  http: LatencyStats;
  /** 2026-07-28 (v2 client) over stdio. */
  stdioModern: LatencyStats | null;
  /** 2026-07-28 (v2 client) over stateless HTTP. */
  httpModern: LatencyStats;
  /** The MCP stack alone: in-memory transport, an engine that answers at once. */
  stackOnly: LatencyStats;
  /** Median MCP round trip minus the engine's median. */
  overheadMs: { stdio: number | null; http: number; stdioModern: number | null; httpModern: number };
  /** Target: MCP overhead on stdio (2025-11-25) below 1 ms. */
  stdioTargetMet: boolean | null;
  notes: string[];
}

export interface McpBenchOptions {
  iterations?: number;
  warmup?: number;
  language?: Language;
  code?: string;
  /** The engine to measure; default: the real runtime (OS sandbox + session manager). */
  runtime?: ServeRuntime;
  /** Spawn `codemode serve` for the stdio measurement (default true). */
  stdio?: boolean;
  print?: (line: string) => void;
}

export function latencyStats(samples: number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return { n: sorted.length, medianMs: round(at(0.5)), p99Ms: round(at(0.99)), minMs: round(sorted[0] ?? NaN) };
}

async function measure(fn: () => Promise<void>, iterations: number, warmup: number): Promise<LatencyStats> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return latencyStats(samples);
}

/** How to start the CLI from this module: tsx on the sources, or the compiled dist. */
function cliCommand(): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const root = path.resolve(path.dirname(here), '../..');
    return {
      command: process.execPath,
      args: ['--no-node-snapshot', '--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'serve', '--no-store'],
    };
  }
  const main = path.resolve(path.dirname(here), '../cli/main.js');
  if (!existsSync(main)) throw new Error(`cannot find the CLI at ${main}`);
  return { command: process.execPath, args: ['--no-node-snapshot', main, 'serve', '--no-store'] };
}

/** What the round trip needs of a client: the v1 and v2 clients alike. */
interface BenchClient {
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
}

type ToolReply = { structuredContent?: unknown; isError?: boolean; content?: unknown };

/** A v2 client that negotiates 2026-07-28 (server/discover) and fails otherwise. */
function modernClient(): ModernClient {
  return new ModernClient({ name: 'mcp-bench', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
}

async function mcpRoundTrip(client: BenchClient, language: Language, code: string, iterations: number, warmup: number) {
  const created = (await client.callTool({ name: 'create_session', arguments: { language } })) as ToolReply;
  const id = (created.structuredContent as { session?: { id?: string } } | undefined)?.session?.id;
  if (id === undefined) throw new Error(`create_session failed: ${JSON.stringify(created.content)}`);
  const stats = await measure(
    async () => {
      const r = (await client.callTool({
        name: 'execute_code',
        arguments: { language, code, session_id: id },
      })) as ToolReply;
      if (r.isError) throw new Error(`execute_code failed: ${JSON.stringify(r.content)}`);
    },
    iterations,
    warmup,
  );
  await client.callTool({ name: 'close_session', arguments: { session_id: id } });
  return stats;
}

/** A session service that answers instantly, to time the MCP layer by itself. */
function instantSessions(language: Language): SessionService {
  const info = {
    id: 'instant',
    language,
    owner: 'bench',
    state: 'idle' as const,
    createdAt: new Date().toISOString(),
    lastUsedAt: new Date().toISOString(),
    executionCount: 0,
    limits: { ...DEFAULT_LIMITS },
    pooled: false,
  };
  const result: SessionExecResult = {
    status: 'ok',
    exitCode: 0,
    signal: null,
    stdout: '',
    stderr: '',
    stdoutDroppedBytes: 0,
    stderrDroppedBytes: 0,
    durationMs: 0,
    limits: { ...DEFAULT_LIMITS },
    isolation: { backend: 'bwrap', cgroup: 'v2', seccomp: true, uid: 65534 },
    executionId: 'e',
    sessionId: 'instant',
    executionCount: 1,
  };
  const stub: Partial<SessionService> = {
    create: async () => info,
    get: () => info,
    list: () => [info],
    execute: async () => result,
    close: async () => {},
  };
  return stub as SessionService;
}

async function stackOnlyRoundTrip(language: Language, code: string, iterations: number, warmup: number) {
  const executor: Executor = { run: () => Promise.reject(new Error('not used')), close: async () => {} };
  const server = await createCodemodeServer({ executor, sessions: instantSessions(language), principal: 'bench' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'mcp-bench', version: '1' });
  await client.connect(clientSide);
  try {
    return await mcpRoundTrip(client, language, code, iterations, warmup);
  } finally {
    await client.close();
    await server.close();
  }
}

function row(name: string, s: LatencyStats | null, overhead: number | null): string {
  if (s === null) return `${name.padEnd(24)} ${'(skipped)'.padStart(10)}`;
  const f = (x: number) => x.toFixed(3).padStart(10);
  return `${name.padEnd(24)} ${f(s.medianMs)} ${f(s.p99Ms)} ${f(s.minMs)} ${overhead === null ? '' : f(overhead)}`;
}

export async function runMcpBench(options: McpBenchOptions = {}): Promise<McpBenchResult> {
  const iterations = options.iterations ?? 200;
  const warmup = options.warmup ?? 20;
  const language = options.language ?? 'python';
  const code = options.code ?? 'x = 1';
  const print = options.print ?? ((line: string) => console.log(line));
  const notes: string[] = [];
  const log = () => {};
  const runtime = options.runtime ?? (await defaultRuntime(parseServeArgs(['--no-store'], {}), processIO(), log));
  try {
    // Engine: SessionService.execute directly.
    const session = await runtime.sessions.create({ language, owner: 'bench' });
    const engine = await measure(
      async () => {
        const r = await runtime.sessions.execute(session.id, code, { owner: 'bench' });
        if (r.status !== 'ok') throw new Error(`engine run failed: ${r.status} ${r.stderr}`);
      },
      iterations,
      warmup,
    );
    await runtime.sessions.close(session.id, 'bench');

    const stackOnly = await stackOnlyRoundTrip(language, code, iterations, warmup);

    // HTTP: the full stack in process, over a real socket, both eras on one endpoint.
    const serverOptions = (principal: string) => ({
      executor: runtime.executor,
      sessions: runtime.sessions,
      principal,
    });
    // As `codemode serve --http` does, on loopback too: every request carries the bearer token.
    const token = randomBytes(32).toString('base64url');
    const auth = { requestInit: { headers: { authorization: `Bearer ${token}` } } };
    const http = await startHttpServer({
      port: 0,
      tokens: [token],
      createServer: (principal) => createCodemodeServer(serverOptions(principal)),
    });
    let httpStats: LatencyStats;
    let httpModernStats: LatencyStats;
    try {
      const client = new Client({ name: 'mcp-bench', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(http.url), auth));
      httpStats = await mcpRoundTrip(client, language, code, iterations, warmup);
      await client.close();
      const modern = modernClient();
      await modern.connect(new ModernHttpTransport(new URL(http.url), auth));
      httpModernStats = await mcpRoundTrip(modern, language, code, iterations, warmup);
      await modern.close();
    } finally {
      await http.close();
    }

    // stdio: a separate `codemode serve` process, as an MCP host runs it.
    let stdioStats: LatencyStats | null = null;
    let stdioModernStats: LatencyStats | null = null;
    if (options.stdio !== false) {
      const { command, args } = cliCommand();
      const client = new Client({ name: 'mcp-bench', version: '1' });
      await client.connect(new StdioClientTransport({ command, args, stderr: 'ignore' }));
      try {
        stdioStats = await mcpRoundTrip(client, language, code, iterations, warmup);
      } finally {
        await client.close();
      }
      const modern = modernClient();
      await modern.connect(new ModernStdioTransport({ command, args, stderr: 'ignore' }));
      try {
        stdioModernStats = await mcpRoundTrip(modern, language, code, iterations, warmup);
      } finally {
        await modern.close();
      }
      notes.push('stdio runs its own engine in the spawned server; overhead compares medians of equal warm sessions');
    }
    notes.push('2026-07-28 over HTTP is stateless: every request builds a fresh server for its principal');

    const overhead = (s: LatencyStats) => Math.round((s.medianMs - engine.medianMs) * 1000) / 1000;
    const overheadStdio = stdioStats === null ? null : overhead(stdioStats);
    const overheadHttp = overhead(httpStats);
    const overheadStdioModern = stdioModernStats === null ? null : overhead(stdioModernStats);
    const overheadHttpModern = overhead(httpModernStats);
    print(
      `MCP round trip of execute_code (${language}: ${JSON.stringify(code)}) in a warm session, ${iterations} runs`,
    );
    print(
      `${''.padEnd(24)} ${'median ms'.padStart(10)} ${'p99 ms'.padStart(10)} ${'min ms'.padStart(10)} ${'overhead'.padStart(10)}`,
    );
    print(row('engine (direct)', engine, null));
    print(row('stdio 2025-11-25', stdioStats, overheadStdio));
    print(row('stdio 2026-07-28', stdioModernStats, overheadStdioModern));
    print(row('HTTP 2025-11-25', httpStats, overheadHttp));
    print(row('HTTP 2026-07-28', httpModernStats, overheadHttpModern));
    print(row('MCP stack only (memory)', stackOnly, stackOnly.medianMs));
    return {
      language,
      code,
      engine,
      stdio: stdioStats,
      http: httpStats,
      stdioModern: stdioModernStats,
      httpModern: httpModernStats,
      stackOnly,
      overheadMs: {
        stdio: overheadStdio,
        http: overheadHttp,
        stdioModern: overheadStdioModern,
        httpModern: overheadHttpModern,
      },
      stdioTargetMet: overheadStdio === null ? null : overheadStdio < 1,
      notes,
    };
  } finally {
    if (options.runtime === undefined) await runtime.close();
  }
}
