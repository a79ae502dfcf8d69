/**
 * Runs Code Mode programs (JavaScript or TypeScript) in a fresh V8 isolate per run,
 * outside the server process: isolates live in worker processes (isolate-worker.ts),
 * each in its own cgroup with a memory and pids cap when the host has cgroups.
 * Invariants: values cross as JSON text only; every frame from a worker is
 * size-bounded and schema-checked, and a bad one kills that worker only; sizes are
 * measured by the host after the copy; at most `maxConcurrentRuns` run at once.
 * Never throws for user code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import { z } from 'zod';
import { errorMessage, isAppError } from '../errors.js';
import {
  CgroupPool,
  detectCgroups,
  removeLayout,
  type CgroupLayout,
  type RunCgroups,
} from '../sandbox/process/cgroups.js';
import type { ToolCallRecord, ToolHost } from './contract.js';
import {
  FrameReader,
  OUTCOME_SLACK_CHARS,
  encodeFrame,
  parseWorkerMessage,
  type DoneMessage,
  type HostMessage,
  type IsolateSetup,
  type WorkerMessage,
} from './isolate-protocol.js';

export type CodeModeLanguage = 'javascript' | 'typescript';

/** `killed`: the worker process running the isolate died (crash, protocol violation, watchdog). */
export type CodeModeStatus = 'ok' | 'error' | 'timeout' | 'memory' | 'killed' | 'cancelled' | 'not_started';

export interface CodeModeError {
  /** e.g. "TypeError", "SyntaxError", "ToolError". */
  type: string;
  message: string;
  /** 1-based line in the user's code, when known. */
  line?: number;
  column?: number;
  /** Stack frames in the user's code only. */
  traceback?: string;
}

export interface CodeModeLimits {
  /** Wall-clock limit of the whole run, enforced by a host watchdog. Default 30 s. */
  timeoutMs: number;
  /** Time the program may spend running in its isolate, summed over its start and every resumption after a tool call (the isolate's own timeout). Default = timeoutMs. */
  cpuMs: number;
  /** Isolate heap limit in MiB. Default 64. */
  memoryMb: number;
  /** Largest tool-argument JSON, in characters. Default 1 MiB. */
  maxArgBytes: number;
  /** Largest tool result or return value JSON, in characters. Default 4 MiB. */
  maxResultBytes: number;
  /** Log text kept; the rest is dropped with a marker. Default 64 KiB. */
  maxLogBytes: number;
  /** Tool calls of one run in flight at once; more wait in the isolate. Default 8. */
  maxToolCallsInFlight: number;
}

export const DEFAULT_CODEMODE_LIMITS: CodeModeLimits = {
  timeoutMs: 30_000,
  cpuMs: 30_000,
  memoryMb: 64,
  maxArgBytes: 1024 * 1024,
  maxResultBytes: 4 * 1024 * 1024,
  maxLogBytes: 64 * 1024,
  maxToolCallsInFlight: 8,
};

/** Which identifiers exist on `codemode` (server → tool functions). */
export interface CodeModeApiShape {
  /**
   * `unavailable` servers (failed to start) still get a namespace: any call on it
   * reaches the host, which reports why (with the server's stderr).
   */
  servers: { identifier: string; tools: string[]; unavailable?: boolean }[];
}

export interface CodeModeRequest {
  language: CodeModeLanguage;
  code: string;
  host: ToolHost;
  api: CodeModeApiShape;
  limits?: Partial<CodeModeLimits>;
  signal?: AbortSignal;
}

export interface CodeModeResult {
  status: CodeModeStatus;
  /** The program's `return` value (JSON-safe), or null. */
  value: unknown;
  /** console output, `[warn]`/`[error]` prefixed for those levels. */
  logs: string[];
  toolCalls: ToolCallRecord[];
  /** Whether any upstream tool call started: if true, a retry repeats side effects. */
  toolCallsMade: boolean;
  /** The most tool calls (search included) this run had in flight at once (<= maxToolCallsInFlight). */
  toolCallsPeakInFlight: number;
  error?: CodeModeError;
  durationMs: number;
  limits: CodeModeLimits;
  /** One line saying why, when status is not ok/error. */
  reason?: string;
}

const USER_FILE = 'user-code.js';

/** Map generated (1-based) lines to original lines using a source map's `mappings`. */
function lineMapFromSourceMap(mappings: string): Map<number, number> {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const out = new Map<number, number>();
  let origLine = 0;
  let genLine = 0;
  for (const line of mappings.split(';')) {
    genLine++;
    let first = true;
    for (const seg of line.split(',')) {
      if (seg === '') continue;
      const values: number[] = [];
      let shift = 0;
      let acc = 0;
      for (const ch of seg) {
        const d = chars.indexOf(ch);
        acc += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          values.push(acc & 1 ? -(acc >> 1) : acc >> 1);
          acc = 0;
          shift = 0;
        }
      }
      if (values.length >= 4) {
        origLine += values[2] as number;
        if (first) out.set(genLine, origLine + 1);
        first = false;
      }
    }
  }
  return out;
}

interface Prepared {
  source: string;
  /** Script line (1-based) → user line (1-based). */
  toUserLine: (line: number) => number | undefined;
  userLines: number;
}

const PREFIX = '__cm_run(async () => {\n';
const SUFFIX = '\n})';

async function prepare(language: CodeModeLanguage, code: string): Promise<Prepared | CodeModeError> {
  const userLines = code.split('\n').length;
  const wrapped = `${PREFIX}${code}${SUFFIX}`;
  if (language === 'javascript') {
    return { source: wrapped, toUserLine: (l) => (l >= 2 && l <= userLines + 1 ? l - 1 : undefined), userLines };
  }
  try {
    const out = await transform(wrapped, {
      loader: 'ts',
      sourcemap: 'external',
      sourcefile: USER_FILE,
      target: 'es2022',
      logLevel: 'silent',
    });
    const map = JSON.parse(out.map) as { mappings: string };
    const lines = lineMapFromSourceMap(map.mappings);
    return {
      source: out.code,
      toUserLine: (l) => {
        for (let g = l; g >= 1; g--) {
          const o = lines.get(g);
          if (o !== undefined) return o >= 2 && o <= userLines + 1 ? o - 1 : undefined;
        }
        return undefined;
      },
      userLines,
    };
  } catch (e) {
    const first = (e as { errors?: { text: string; location?: { line: number; column: number } | null }[] })
      .errors?.[0];
    if (first) {
      const line = first.location ? first.location.line - 1 : undefined;
      return {
        type: 'SyntaxError',
        message: first.text,
        ...(line !== undefined && line >= 1 ? { line, column: (first.location?.column ?? 0) + 1 } : {}),
      };
    }
    return { type: 'SyntaxError', message: errorMessage(e) };
  }
}

function locate(stack: string, prepared: Prepared): Pick<CodeModeError, 'line' | 'column' | 'traceback'> {
  const frames: string[] = [];
  let line: number | undefined;
  let column: number | undefined;
  const re = new RegExp(`${USER_FILE.replace('.', '\\.')}:(\\d+):(\\d+)`);
  for (const raw of stack.split('\n').slice(1)) {
    const m = re.exec(raw);
    if (!m) continue;
    const userLine = prepared.toUserLine(Number(m[1]));
    if (userLine === undefined) continue;
    if (line === undefined) {
      line = userLine;
      column = Number(m[2]);
    }
    frames.push(raw.replace(re, `line ${userLine}`).trim());
  }
  return {
    ...(line !== undefined ? { line } : {}),
    ...(column !== undefined ? { column } : {}),
    ...(frames.length > 0 ? { traceback: frames.join('\n') } : {}),
  };
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}... [clipped]` : text;
}

const OutcomeSchema = z.union([
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({
    ok: z.literal(false),
    error: z.object({ type: z.string(), message: z.string(), stack: z.string() }),
  }),
]);

type Partial2 = Omit<
  CodeModeResult,
  'logs' | 'toolCalls' | 'toolCallsMade' | 'toolCallsPeakInFlight' | 'durationMs' | 'limits'
>;

function tooLarge(chars: number, limits: CodeModeLimits): Partial2 {
  return {
    status: 'error',
    value: null,
    error: {
      type: 'RangeError',
      message: `the return value is ${chars} characters of JSON, over the ${limits.maxResultBytes} limit; return a smaller summary`,
    },
  };
}

/**
 * What the program's outcome says, read by the host from its own copy: the size is
 * measured here whatever the program did inside the isolate, and the shape is checked.
 */
export function readOutcome(text: string, limits: CodeModeLimits, prepared?: Prepared): Partial2 {
  const internal = (message: string): Partial2 => ({
    status: 'error',
    value: null,
    error: { type: 'InternalError', message },
  });
  if (text.length > limits.maxResultBytes + OUTCOME_SLACK_CHARS) return tooLarge(text.length, limits);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return internal('the program ended with an outcome that is not JSON');
  }
  const parsed = OutcomeSchema.safeParse(raw);
  if (!parsed.success) return internal('the program ended with a malformed outcome');
  if (parsed.data.ok) {
    const value = parsed.data.value ?? null;
    const json = JSON.stringify(value);
    if (json.length > limits.maxResultBytes) return tooLarge(json.length, limits);
    return { status: 'ok', value };
  }
  const err = parsed.data.error;
  return {
    status: 'error',
    value: null,
    error: {
      type: clip(err.type, 200),
      message: clip(err.message, 16 * 1024),
      ...(prepared ? locate(clip(err.stack, 64 * 1024), prepared) : {}),
    },
  };
}

// ---------------------------------------------------------------------------
// Worker processes

/** How a worker process is started (tests swap in a misbehaving worker). */
export interface WorkerEntry {
  /** Node flags before the script, e.g. a loader. */
  execArgv: string[];
  script: string;
}

/** The worker beside this module: compiled .js in dist/, or the .ts source through tsx. */
export function defaultWorkerEntry(): WorkerEntry {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.ts')) {
    return {
      execArgv: ['--import', import.meta.resolve('tsx')],
      script: fileURLToPath(new URL('./isolate-worker.ts', here)),
    };
  }
  return { execArgv: [], script: fileURLToPath(new URL('./isolate-worker.js', here)) };
}

interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The worker's cgroup recorded an OOM kill. */
  oomKilled: boolean;
  /** Why the host killed it, if it did. */
  why: string | null;
  stderr: string;
}

/** The host side of one run on a worker: gets that worker's messages and its death. */
interface RunSink {
  readonly id: number;
  maxFrameBytes(): number;
  /** Returns what is wrong when the message breaks the protocol (the worker is then killed). */
  onMessage(message: Exclude<WorkerMessage, { t: 'ready' }>): string | undefined;
  onExit(exit: WorkerExit): void;
}

interface WorkerSpec {
  entry: WorkerEntry;
  heapMb: number;
  cgroups: RunCgroups | null;
  memoryCapMb: number | null;
  pidsCap: number | null;
  uid: number | null;
  initialMemoryMb: number;
  startTimeoutMs: number;
  onGone: (worker: WorkerProcess, cgroups: RunCgroups | null) => void;
}

const STDERR_TAIL_CHARS = 2048;
/** Frames a worker may send when no run is attached (only `ready` is expected). */
const IDLE_FRAME_BYTES = 4096;

function describeExit(exit: WorkerExit): string {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${String(exit.code)}`;
  const tail = exit.stderr.trim().split('\n').at(-1);
  return tail ? `${how} (${clip(tail, 300)})` : how;
}

/** One worker process: spawned, placed in its cgroup, framed, killed. */
class WorkerProcess {
  readonly child: ChildProcess;
  /** Resolves with null once the worker is ready, or with why it could not start. */
  readonly ready: Promise<string | null>;
  readonly exited: Promise<WorkerExit>;
  readonly memoryCapMb: number | null;
  runs = 0;
  dead = false;
  idleTimer: NodeJS.Timeout | null = null;
  readonly #spec: WorkerSpec;
  readonly #channel: Socket;
  readonly #reader: FrameReader;
  #sink: RunSink | null = null;
  #why: string | null = null;
  #stderr = '';
  #readyResolve: ((why: string | null) => void) | null = null;
  #exitResolve!: (exit: WorkerExit) => void;

  constructor(spec: WorkerSpec) {
    this.#spec = spec;
    this.memoryCapMb = spec.memoryCapMb;
    this.ready = new Promise((resolve) => (this.#readyResolve = resolve));
    this.exited = new Promise((resolve) => (this.#exitResolve = resolve));
    this.child = spawn(
      process.execPath,
      [...spec.entry.execArgv, '--no-node-snapshot', `--max-old-space-size=${spec.heapMb}`, spec.entry.script],
      {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
        // No server environment (it may hold credentials): the worker needs none of it.
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CODEMODE_ISOLATE_MEMORY_MB: String(spec.initialMemoryMb) },
        ...(spec.uid !== null ? { uid: spec.uid, gid: spec.uid } : {}),
      },
    );
    this.#channel = this.child.stdio[3] as Socket;
    this.#reader = new FrameReader(
      () => this.#sink?.maxFrameBytes() ?? IDLE_FRAME_BYTES,
      (body) => this.#onFrame(body),
      (why) => this.kill(`broke the protocol: it sent ${why}`),
    );
    this.#channel.on('data', (chunk: Buffer) => this.#reader.push(chunk));
    this.#channel.on('error', (e) => this.kill(`closed its channel: ${errorMessage(e)}`));
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
    });
    this.child.on('error', (e) => {
      this.#why ??= `could not be started: ${errorMessage(e)}`;
      this.#gone(null, null);
    });
    this.child.on('close', (code, signal) => this.#gone(code, signal));
    // Idle workers must not keep the server (or a test) alive; busy ones do (see attach).
    this.#releaseLoop();
    const startTimer = setTimeout(
      () => this.kill(`did not start within ${spec.startTimeoutMs} ms`),
      spec.startTimeoutMs,
    );
    void this.ready.then(() => clearTimeout(startTimer));
    if (spec.cgroups && this.child.pid !== undefined) {
      // The worker runs no program before it is in its cgroup: the host sends none
      // until `ready`, and this happens first.
      try {
        for (const file of spec.cgroups.joinFiles(false)) writeFileSync(file, String(this.child.pid));
      } catch (e) {
        this.kill(`could not be placed in its cgroup: ${errorMessage(e)}`);
      }
    }
  }

  get busy(): boolean {
    return this.#sink !== null;
  }

  /** A run starts: the worker keeps the event loop alive until the run ends or the worker is gone. */
  attach(sink: RunSink): void {
    this.#sink = sink;
    this.holdLoop();
  }

  detach(): void {
    this.#sink = null;
    if (!this.dead) this.#releaseLoop();
  }

  send(message: HostMessage): void {
    if (this.dead) return;
    this.#channel.write(encodeFrame(message));
  }

  kill(why: string): void {
    this.#why ??= why;
    if (this.dead) return;
    this.holdLoop(); // until its exit is seen, so whoever waits on it hears of it
    this.child.kill('SIGKILL');
  }

  /** Keep the event loop alive until the worker is gone (for someone awaiting `exited`). */
  holdLoop(): void {
    if (this.dead) return;
    this.child.ref();
    this.#channel.ref();
    (this.child.stderr as Socket | null)?.ref();
  }

  #releaseLoop(): void {
    this.child.unref();
    this.#channel.unref();
    (this.child.stderr as Socket | null)?.unref();
  }

  /** Raise the memory cap of the worker's cgroup (for a run with a larger isolate). */
  raiseMemoryCap(mb: number): boolean {
    const cg = this.#spec.cgroups;
    if (!cg || this.#spec.pidsCap === null) return false;
    try {
      cg.applyLimits({ memoryBytes: mb * 1024 * 1024, processes: this.#spec.pidsCap });
      (this as { memoryCapMb: number | null }).memoryCapMb = mb;
      return true;
    } catch {
      return false;
    }
  }

  #onFrame(body: Buffer): void {
    const message = parseWorkerMessage(body);
    if (typeof message === 'string') return this.#reader.fail(message);
    if (message.t === 'ready') {
      if (!this.#readyResolve || message.pid !== this.child.pid)
        return this.#reader.fail('an unexpected ready message');
      this.#readyResolve(null);
      this.#readyResolve = null;
      return;
    }
    const sink = this.#sink;
    if (this.#readyResolve || !sink) return this.#reader.fail(`a ${message.t} message while no program runs`);
    if (message.run !== sink.id) return this.#reader.fail(`a message for run ${message.run}, not the one running`);
    const wrong = sink.onMessage(message);
    if (wrong !== undefined) this.#reader.fail(wrong);
  }

  #gone(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.dead) return;
    this.dead = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    let oomKilled = false;
    try {
      oomKilled = this.#spec.cgroups?.stats().oomKilled ?? false;
    } catch {
      // the cgroup is unreadable: report the death as a plain kill
    }
    const exit: WorkerExit = { code, signal, oomKilled, why: this.#why, stderr: this.#stderr };
    this.#readyResolve?.(this.#why ?? describeExit(exit));
    this.#readyResolve = null;
    const sink = this.#sink;
    this.#sink = null;
    this.#spec.onGone(this, this.#spec.cgroups);
    sink?.onExit(exit);
    this.#exitResolve(exit);
  }
}

// ---------------------------------------------------------------------------
// The executor

export interface IsolateExecutorOptions {
  /** Runs at once (one worker process each). Default 4. */
  maxConcurrentRuns?: number;
  /** Runs waiting for a free slot; more fail at once with LIMIT_EXCEEDED. Default 32. */
  maxQueuedRuns?: number;
  /**
   * Memory cap of each worker's cgroup, in MiB. Default: 256 + 2 × the run's
   * memoryMb (the isolate's heap limit), raised per run when needed.
   */
  workerMemoryMb?: number;
  /** The worker's own V8 heap (--max-old-space-size), in MiB. Default 192. */
  workerHeapMb?: number;
  /** Tasks (processes and threads) in a worker's cgroup. Default 64. */
  workerPids?: number;
  /** Put workers in cgroups when the host has them. Default true. */
  cgroups?: boolean;
  /** Start one worker now, so the first run does not wait for it. Default true. */
  warm?: boolean;
  /** A worker is replaced after this many runs. Default 100. */
  maxRunsPerWorker?: number;
  /** Idle workers beyond the first stop after this long. Default 30 s. */
  idleWorkerMs?: number;
  /** After asking a worker to stop a run, kill it if it has not within this long. Default 1000 ms. */
  stopGraceMs?: number;
  workerStartTimeoutMs?: number;
  /** Run workers as this uid (and gid). Default 65534 (nobody) when the server runs as root, else unchanged. */
  workerUid?: number | null;
  workerEntry?: WorkerEntry;
  now?: () => number;
}

/** What isolates run inside, for `doctor` and logs. */
export interface IsolateIsolationInfo {
  backend: 'worker-process';
  cgroup: 'v1' | 'v2' | 'none';
  /** "256 + 2 × memoryMb MiB", a fixed "512 MiB", or null without a memory cgroup. */
  memoryCap: string | null;
  pidsCap: number | null;
  uid: number | null;
  /** What is missing, e.g. no memory cgroup: the worker then runs without a memory cap. */
  problems: string[];
}

const BASE_WORKER_MEMORY_MB = 256;

let sharedLayout: CgroupLayout | undefined;

/** One cgroup subtree per server process for every executor's workers, removed at exit. */
function isolateCgroupLayout(): CgroupLayout {
  if (sharedLayout) return sharedLayout;
  const layout = detectCgroups(`codemode-iso-${process.pid}`);
  sharedLayout = layout;
  process.once('exit', () => removeLayout(layout));
  return layout;
}

interface Waiter {
  grant(): void;
  close(): void;
}

type SlotOutcome = 'ok' | 'full' | 'waited' | 'cancelled' | 'closed';

export class IsolateExecutor {
  readonly isolation: IsolateIsolationInfo;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  readonly #options: IsolateExecutorOptions;
  readonly #entry: WorkerEntry;
  readonly #uid: number | null;
  readonly #cgroupPool: CgroupPool | null;
  readonly #pidsCap: number | null;
  readonly #now: () => number;
  readonly #workers = new Set<WorkerProcess>();
  readonly #idle: WorkerProcess[] = [];
  readonly #queue: Waiter[] = [];
  #warming: WorkerProcess | null = null;
  #running = 0;
  #nextRun = 0;
  #closed = false;
  #lastMemoryMb = DEFAULT_CODEMODE_LIMITS.memoryMb;

  constructor(options: IsolateExecutorOptions = {}) {
    this.#options = options;
    this.#maxConcurrent = Math.max(1, options.maxConcurrentRuns ?? 4);
    this.#maxQueued = Math.max(0, options.maxQueuedRuns ?? 32);
    this.#entry = options.workerEntry ?? defaultWorkerEntry();
    this.#now = options.now ?? performance.now.bind(performance);
    this.#uid = options.workerUid !== undefined ? options.workerUid : process.getuid?.() === 0 ? 65534 : null;
    const problems: string[] = [];
    let cgroup: IsolateIsolationInfo['cgroup'] = 'none';
    let pool: CgroupPool | null = null;
    let pidsCap: number | null = null;
    if (options.cgroups !== false) {
      const layout = isolateCgroupLayout();
      problems.push(
        ...layout.problems.map((p) => `${p}: isolate workers run without that cap (still outside the server)`),
      );
      const mem = layout.controllers.memory;
      const pids = layout.controllers.pids;
      if (mem || pids) {
        cgroup = (mem ?? pids)?.version ?? 'none';
        pool = new CgroupPool(layout, 2);
        pidsCap = options.workerPids ?? 64;
      }
    } else
      problems.push('cgroups are off: isolate workers run without a memory or pids cap (still outside the server)');
    this.#cgroupPool = pool;
    this.#pidsCap = pidsCap;
    this.isolation = {
      backend: 'worker-process',
      cgroup,
      memoryCap:
        pool === null
          ? null
          : options.workerMemoryMb !== undefined
            ? `${options.workerMemoryMb} MiB`
            : `${BASE_WORKER_MEMORY_MB} + 2 × memoryMb MiB`,
      pidsCap,
      uid: this.#uid,
      problems,
    };
    if (options.warm !== false) this.#warm();
  }

  /** Runs in progress and waiting, and the worker processes (for tests and status). */
  stats(): { running: number; queued: number; workers: { pid: number; busy: boolean }[] } {
    return {
      running: this.#running,
      queued: this.#queue.length,
      workers: [...this.#workers].map((w) => ({ pid: w.child.pid ?? -1, busy: w.busy })),
    };
  }

  /** Run one program in a fresh isolate. Resolves (never rejects) with what happened. */
  async run(request: CodeModeRequest): Promise<CodeModeResult> {
    const now = this.#now;
    const limits: CodeModeLimits = { ...DEFAULT_CODEMODE_LIMITS, ...request.limits };
    if (request.limits?.timeoutMs !== undefined && request.limits.cpuMs === undefined) limits.cpuMs = limits.timeoutMs;
    limits.maxToolCallsInFlight = Math.max(1, Math.floor(limits.maxToolCallsInFlight));
    const started = now();
    const early = (partial: Partial2): CodeModeResult => ({
      ...partial,
      logs: [],
      toolCalls: [],
      toolCallsMade: false,
      toolCallsPeakInFlight: 0,
      durationMs: Math.round(now() - started),
      limits,
    });
    const refused = (message: string): CodeModeResult =>
      early({ status: 'not_started', value: null, reason: message, error: { type: 'LIMIT_EXCEEDED', message } });

    if (request.signal?.aborted) return early({ status: 'not_started', value: null, reason: 'cancelled before start' });
    const prepared = await prepare(request.language, request.code);
    if (!('source' in prepared)) return early({ status: 'error', value: null, error: prepared });

    const slot = await this.#acquire(request.signal, limits.timeoutMs);
    if (slot === 'full') {
      return refused(
        `LIMIT_EXCEEDED: ${this.#maxConcurrent} programs are running and ${this.#maxQueued} are waiting; try again shortly`,
      );
    }
    if (slot === 'waited') {
      return refused(
        `LIMIT_EXCEEDED: no isolate became free within ${limits.timeoutMs} ms (${this.#maxConcurrent} programs run at once)`,
      );
    }
    if (slot === 'cancelled') return early({ status: 'not_started', value: null, reason: 'cancelled before start' });
    if (slot === 'closed')
      return early({ status: 'not_started', value: null, reason: 'the isolate executor is closed' });

    const worker = await this.#takeWorker(limits.memoryMb);
    if (typeof worker === 'string') {
      this.#releaseSlot();
      return early({ status: 'not_started', value: null, reason: `could not start an isolate worker: ${worker}` });
    }
    return this.#supervise(worker, request, prepared, limits, started);
  }

  /** Stop every worker (runs in progress end as killed) and refuse new runs. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#queue.splice(0)) waiter.close();
    const all = [...this.#workers];
    for (const w of all) {
      w.holdLoop();
      w.kill('stopped: the executor closed');
    }
    await Promise.all(all.map((w) => w.exited));
    this.#cgroupPool?.close();
  }

  #acquire(signal: AbortSignal | undefined, waitMs: number): Promise<SlotOutcome> | SlotOutcome {
    if (this.#closed) return 'closed';
    if (this.#running < this.#maxConcurrent) {
      this.#running++;
      return 'ok';
    }
    if (this.#queue.length >= this.#maxQueued) return 'full';
    return new Promise<SlotOutcome>((resolve) => {
      const settle = (outcome: SlotOutcome) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.#queue.indexOf(waiter);
        if (i >= 0) this.#queue.splice(i, 1);
        resolve(outcome);
      };
      const waiter: Waiter = { grant: () => settle('ok'), close: () => settle('closed') };
      const timer = setTimeout(() => settle('waited'), waitMs);
      const onAbort = () => settle('cancelled');
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  #releaseSlot(): void {
    const next = this.#queue.shift();
    if (next) next.grant();
    else this.#running--;
  }

  #spawn(): WorkerProcess {
    const memoryMb = this.#lastMemoryMb;
    const capMb = this.#options.workerMemoryMb ?? BASE_WORKER_MEMORY_MB + 2 * memoryMb;
    let cgroups: RunCgroups | null = null;
    let why: string | null = null;
    if (this.#cgroupPool && this.#pidsCap !== null) {
      try {
        cgroups = this.#cgroupPool.take({ memoryBytes: capMb * 1024 * 1024, processes: this.#pidsCap });
      } catch (e) {
        why = `could not make its cgroup: ${errorMessage(e)}`;
      }
    }
    const worker = new WorkerProcess({
      entry: this.#entry,
      heapMb: this.#options.workerHeapMb ?? 192,
      cgroups,
      memoryCapMb: cgroups ? capMb : null,
      pidsCap: cgroups ? this.#pidsCap : null,
      uid: this.#uid,
      initialMemoryMb: memoryMb,
      startTimeoutMs: this.#options.workerStartTimeoutMs ?? 20_000,
      onGone: (w, cg) => {
        this.#workers.delete(w);
        const i = this.#idle.indexOf(w);
        if (i >= 0) this.#idle.splice(i, 1);
        if (this.#warming === w) this.#warming = null;
        if (cg) this.#cgroupPool?.release(cg);
      },
    });
    // A cgroup was expected and could not be made: never run a program uncapped by surprise.
    if (why) worker.kill(why);
    this.#workers.add(worker);
    return worker;
  }

  /** Keep one worker started and idle, off the path of the next run. */
  /** `replacing`: an idle worker is about to be retired, so start one even beside it. */
  #warm(replacing = false): void {
    if (
      this.#closed ||
      (!replacing && this.#idle.length > 0) ||
      this.#warming ||
      this.#workers.size >= this.#maxConcurrent
    )
      return;
    const worker = this.#spawn();
    this.#warming = worker;
    void worker.ready.then((why) => {
      if (this.#warming !== worker) return; // taken by a run meanwhile
      this.#warming = null;
      if (why === null && !worker.dead && !this.#closed) this.#toIdle(worker);
    });
  }

  #toIdle(worker: WorkerProcess): void {
    this.#idle.push(worker);
    worker.idleTimer = setTimeout(() => {
      worker.idleTimer = null;
      const i = this.#idle.indexOf(worker);
      if (i >= 0 && this.#idle.length > 1) {
        this.#idle.splice(i, 1);
        worker.kill('stopped: idle');
      }
    }, this.#options.idleWorkerMs ?? 30_000);
    worker.idleTimer.unref();
  }

  async #takeWorker(memoryMb: number): Promise<WorkerProcess | string> {
    this.#lastMemoryMb = memoryMb;
    let worker: WorkerProcess | undefined;
    while ((worker = this.#idle.pop()) && worker.dead);
    if (worker && worker.idleTimer) {
      clearTimeout(worker.idleTimer);
      worker.idleTimer = null;
    }
    if (!worker && this.#warming) {
      worker = this.#warming;
      this.#warming = null;
    }
    worker ??= this.#spawn();
    const why = await worker.ready;
    if (why !== null) return why;
    if (worker.dead) return 'it died before the run started';
    const need = BASE_WORKER_MEMORY_MB + 2 * memoryMb;
    if (this.#options.workerMemoryMb === undefined && worker.memoryCapMb !== null && need > worker.memoryCapMb) {
      if (!worker.raiseMemoryCap(need)) {
        worker.kill('stopped: its memory cap could not be raised');
        return `its cgroup memory cap could not be raised to ${need} MiB`;
      }
    }
    return worker;
  }

  /** A run ended on `worker`: keep the worker for the next run, or replace it. */
  #after(worker: WorkerProcess, reusable: boolean): void {
    const maxRuns = this.#options.maxRunsPerWorker ?? 100;
    const keep = reusable && !worker.dead && !this.#closed && worker.runs < maxRuns;
    if (keep) this.#toIdle(worker);
    else worker.kill('stopped: replaced after its run');
    this.#releaseSlot();
    // Spawning a worker blocks this thread for a while: not before the caller sees its result.
    if (!keep) setImmediate(() => this.#warm());
    // Its last run is next: start the replacement now, so the run after that does not wait for one to start.
    else if (worker.runs === maxRuns - 1) setImmediate(() => this.#warm(true));
  }

  #supervise(
    worker: WorkerProcess,
    request: CodeModeRequest,
    prepared: Prepared,
    limits: CodeModeLimits,
    started: number,
  ): Promise<CodeModeResult> {
    const now = this.#now;
    const stopGraceMs = this.#options.stopGraceMs ?? 1000;
    const id = ++this.#nextRun;
    worker.runs++;
    const logs: string[] = [];
    let logChars = 0;
    let logsDropped = 0;
    const toolCalls: ToolCallRecord[] = [];
    /** Upstream calls in progress, by call id (search_tools is not recorded). */
    const pending = new Map<number, { name: string; started: number } | null>();
    const abort = new AbortController();
    let peak = 0;
    let ended: 'timeout' | 'cancelled' | null = null;
    let settled = false;
    let grace: NodeJS.Timeout | undefined;
    // The largest frame an honest worker sends for this run: JSON escaping at most
    // sextuples a character (\u0000), and every text is measured by the worker first.
    const frameCap =
      6 * (Math.max(limits.maxResultBytes, limits.maxArgBytes) + limits.maxLogBytes + OUTCOME_SLACK_CHARS) + 65_536;

    return new Promise<CodeModeResult>((resolve) => {
      const finish = (partial: Partial2, reusable: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        clearTimeout(grace);
        request.signal?.removeEventListener('abort', onAbort);
        worker.detach();
        abort.abort();
        for (const p of pending.values()) {
          if (!p) continue;
          toolCalls.push({
            name: p.name,
            durationMs: Math.round(now() - p.started),
            ok: false,
            error: 'still running when the program ended; cancelled',
          });
        }
        pending.clear();
        if (logsDropped > 0)
          logs.push(`[codemode] ${logsDropped} bytes of log output dropped (limit ${limits.maxLogBytes})`);
        resolve({
          ...partial,
          logs,
          toolCalls,
          toolCallsMade: toolCalls.length > 0,
          toolCallsPeakInFlight: peak,
          durationMs: Math.round(now() - started),
          limits,
        });
        this.#after(worker, reusable);
      };

      const endedResult = (): Partial2 =>
        ended === 'timeout'
          ? {
              status: 'timeout',
              value: null,
              reason: `wall-clock limit of ${limits.timeoutMs} ms reached; the isolate was stopped`,
            }
          : { status: 'cancelled', value: null, reason: 'the run was cancelled' };

      // The host's watchdog: ask the worker to stop the isolate; if it does not, kill the worker.
      const stop = (why: 'timeout' | 'cancelled') => {
        if (settled || ended) return;
        ended = why;
        worker.send({ t: 'stop', run: id });
        grace = setTimeout(
          () => worker.kill(`did not stop the program within ${stopGraceMs} ms and was killed`),
          stopGraceMs,
        );
      };
      const onAbort = () => stop('cancelled');
      const watchdog = setTimeout(() => stop('timeout'), limits.timeoutMs);
      request.signal?.addEventListener('abort', onAbort, { once: true });

      const reply = (call: number, json: string) => {
        if (!settled) worker.send({ t: 'reply', run: id, call, json });
      };

      const onCall = (m: Extract<WorkerMessage, { t: 'call' }>): string | undefined => {
        // Measured here, after the copy: the worker and the isolate checked too, but are not trusted.
        if (pending.has(m.call)) return `a second tool call with id ${m.call}`;
        if (pending.size >= limits.maxToolCallsInFlight)
          return `more than ${limits.maxToolCallsInFlight} tool calls in flight`;
        if (m.args.length > limits.maxArgBytes)
          return `tool-call arguments of ${m.args.length} characters, over the ${limits.maxArgBytes} limit`;
        const isSearch = m.server === '' && m.tool === 'search_tools';
        const name = m.server === '' ? m.tool : `${m.server}.${m.tool}`;
        const record = isSearch ? null : { name, started: now() };
        pending.set(m.call, record);
        peak = Math.max(peak, pending.size);
        void this.#callHost(request.host, m.server, m.tool, name, m.args, limits, abort.signal).then((r) => {
          if (settled || !pending.has(m.call)) return;
          pending.delete(m.call);
          if (record) {
            toolCalls.push({
              name,
              durationMs: Math.round(now() - record.started),
              ok: r.ok,
              ...(r.ok ? {} : { error: r.error }),
            });
          }
          reply(m.call, r.json);
        });
        return undefined;
      };

      const onDone = (m: DoneMessage): string | undefined => {
        if (ended) {
          // The worker stopped the isolate when asked: it is healthy and can serve the next run.
          finish(endedResult(), true);
          return undefined;
        }
        switch (m.kind) {
          case 'outcome':
            finish(readOutcome(m.outcome, limits, prepared), true);
            return undefined;
          case 'too_large':
            finish(tooLarge(m.chars, limits), true);
            return undefined;
          case 'compile': {
            const match = /^(?:SyntaxError: )?(.*?) \[user-code\.js:(\d+):(\d+)\]$/.exec(m.message);
            const line = match ? prepared.toUserLine(Number(match[2])) : undefined;
            finish(
              {
                status: 'error',
                value: null,
                error: {
                  type: 'SyntaxError',
                  message: match ? (match[1] as string) : m.message,
                  ...(line !== undefined ? { line, column: Number(match?.[3]) + 1 } : {}),
                },
              },
              true,
            );
            return undefined;
          }
          case 'memory':
            finish(
              {
                status: 'memory',
                value: null,
                reason: `memory limit of ${limits.memoryMb} MiB exceeded; the isolate was stopped`,
              },
              true,
            );
            return undefined;
          case 'cpu':
            finish(
              {
                status: 'timeout',
                value: null,
                reason: `CPU limit of ${limits.cpuMs} ms reached; the isolate was stopped`,
              },
              true,
            );
            return undefined;
          case 'internal':
            finish({ status: 'error', value: null, error: { type: 'InternalError', message: m.message } }, false);
            return undefined;
          case 'stopped':
            return 'a stopped run that the host did not stop';
        }
      };

      worker.attach({
        id,
        maxFrameBytes: () => frameCap,
        onMessage: (m) => {
          if (settled) return `a ${m.t} message after its run ended`;
          switch (m.t) {
            case 'log':
              for (const line of m.lines) {
                if (logChars + line.length > limits.maxLogBytes) logsDropped += line.length;
                else {
                  logChars += line.length;
                  logs.push(line);
                }
              }
              logsDropped += m.dropped;
              return undefined;
            case 'call':
              return onCall(m);
            case 'done':
              return onDone(m);
          }
        },
        onExit: (exit) => {
          if (ended) finish(endedResult(), false);
          else if (exit.oomKilled) {
            finish(
              {
                status: 'memory',
                value: null,
                reason: `the isolate worker went over its memory cap (${String(worker.memoryCapMb)} MiB, enforced by its cgroup) and was killed`,
              },
              false,
            );
          } else {
            finish(
              {
                status: 'killed',
                value: null,
                reason: `the isolate worker ${exit.why ?? describeExit(exit)}; the run was stopped and the next run gets a fresh worker`,
              },
              false,
            );
          }
        },
      });

      const setup: IsolateSetup = {
        api: request.api,
        maxArg: limits.maxArgBytes,
        maxResult: limits.maxResultBytes,
        maxLog: limits.maxLogBytes,
        maxInFlight: limits.maxToolCallsInFlight,
      };
      worker.send({
        t: 'run',
        run: id,
        source: prepared.source,
        setup: JSON.stringify(setup),
        memoryMb: limits.memoryMb,
        cpuMs: limits.cpuMs,
        wallMs: limits.timeoutMs,
        maxResultBytes: limits.maxResultBytes,
        maxArgBytes: limits.maxArgBytes,
        maxLogBytes: limits.maxLogBytes,
        maxInFlight: limits.maxToolCallsInFlight,
      });
    });
  }

  /** One tool call from a program, made by the host (credentials and connections stay here). */
  async #callHost(
    host: ToolHost,
    server: string,
    tool: string,
    name: string,
    argsJson: string,
    limits: CodeModeLimits,
    signal: AbortSignal,
  ): Promise<{ ok: true; json: string } | { ok: false; json: string; error: string }> {
    const fail = (message: string, code: string) => ({
      ok: false as const,
      error: message,
      json: JSON.stringify({ ok: false, message, code }),
    });
    let args: unknown;
    try {
      args = JSON.parse(argsJson);
    } catch {
      return fail(`codemode.${name}: arguments are not valid JSON`, 'INVALID_ARGUMENT');
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      return fail(`codemode.${name}: arguments must be an object`, 'INVALID_ARGUMENT');
    }
    const record = args as Record<string, unknown>;
    if (server === '' && tool === 'search_tools') {
      try {
        const detail = record.detail === 'names' || record.detail === 'full' ? record.detail : 'signatures';
        const text = await host.searchTools(String(record.query ?? ''), detail);
        return { ok: true, json: JSON.stringify({ ok: true, value: text }) };
      } catch (e) {
        return fail(`codemode.search_tools failed: ${errorMessage(e)}`, 'INTERNAL');
      }
    }
    try {
      const value = await host.callTool(server, tool, record, signal);
      const json = JSON.stringify(value ?? null);
      if (json.length > limits.maxResultBytes) {
        throw new Error(
          `codemode.${name} returned ${json.length} characters of JSON, over the ${limits.maxResultBytes} limit`,
        );
      }
      return { ok: true, json: `{"ok":true,"value":${json}}` };
    } catch (e) {
      const message = errorMessage(e);
      const named = message.includes(name) ? message : `codemode.${name}: ${message}`;
      return {
        ok: false,
        error: message,
        json: JSON.stringify({ ok: false, message: named, code: isAppError(e) ? e.code : 'UPSTREAM_ERROR' }),
      };
    }
  }
}

let sharedExecutor: IsolateExecutor | null = null;

/**
 * Run one program on the process-wide executor (made on first use, default options).
 * Fresh isolate each time; resolves (never rejects) with what happened.
 */
export function runInIsolate(request: CodeModeRequest): Promise<CodeModeResult> {
  sharedExecutor ??= new IsolateExecutor();
  return sharedExecutor.run(request);
}
