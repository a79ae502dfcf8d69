/**
 * One session kernel: a long-lived interpreter inside the sandbox, driven over
 * a newline-delimited JSON control channel on fd 3. Runs one execution at a
 * time and always settles it with a status (never throws for user failures).
 * Each execution is a window of the one supervisor (src/sandbox/supervisor.ts):
 * wall time (SIGINT, then kill), CPU from the cgroup counter, and an output
 * budget that counts every byte from stdout, stderr and the control channel.
 * The channel is untrusted: a malformed, oversized or unexpected frame kills
 * this kernel (status protocol_error), never the server. Between executions the
 * kernel's cgroup keeps a low hard CPU quota (KERNEL_IDLE_CPU_QUOTA).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import { AppError, errorMessage } from '../errors.js';
import type { ToolHost } from '../codemode/contract.js';
import type { DisplayOutput, ExecError, ExecStatus, Language, OutputChunk } from '../sandbox/executor.js';
import type { Limits } from '../sandbox/limits.js';
import type { Sandbox, SandboxProcess, SandboxStats } from '../sandbox/sandbox.js';
import { Supervision, type Forced } from '../sandbox/supervisor.js';
import { FrameReader, type KernelFrame } from './control-channel.js';
import { StreamCapture } from './stream-capture.js';

export type KernelFamily = 'python' | 'node' | 'bash';

export function kernelFamily(language: Language): KernelFamily {
  if (language === 'python') return 'python';
  if (language === 'bash') return 'bash';
  return 'node';
}

const KERNEL_FILES: Record<KernelFamily, string> = {
  python: 'python-kernel.py',
  node: 'node-kernel.mjs',
  bash: 'bash-kernel.sh',
};

/** Host path of a kernel script; falls back to the source tree when running from dist/. */
export function kernelScriptPath(family: KernelFamily): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const name = KERNEL_FILES[family];
  const candidates = [
    path.join(here, 'kernels', name),
    path.resolve(here, '..', '..', 'src', 'sessions', 'kernels', name),
  ];
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

export interface Interpreters {
  python: string;
  node: string;
  bash: string;
}

export const DEFAULT_INTERPRETERS: Readonly<Interpreters> = Object.freeze({
  python: '/usr/bin/python3',
  node: '/usr/bin/node',
  bash: '/usr/bin/bash',
});

const KERNEL_DIR = '/run/codemode';

function kernelArgv(family: KernelFamily, interpreters: Interpreters): string[] {
  const script = `${KERNEL_DIR}/${KERNEL_FILES[family]}`;
  if (family === 'python') return [interpreters.python, '-X', 'utf8', script];
  if (family === 'node') return [interpreters.node, '--no-warnings', script];
  return [interpreters.bash, '--noprofile', '--norc', script];
}

export interface KernelOptions {
  sandbox: Sandbox;
  language: Language;
  workspaceDir: string;
  /** Host uid of the session (Sandbox.acquireUid); default: one of the kernel's own. */
  uid?: number;
  /** memoryBytes, processes, tmpBytes, openFiles and diskBytes apply for the kernel's lifetime. */
  limits: Limits;
  toolHost?: ToolHost | undefined;
  interpreters?: Interpreters;
  /** How long the kernel may take to say it is ready. Default 20 s. */
  startTimeoutMs?: number;
  /** After SIGINT, how long to wait before killing the kernel. Default 2 s. */
  interruptGraceMs?: number;
  /** Hard CPU cap (cores) while an execution runs. Default KERNEL_RUN_CPU_QUOTA. */
  runCpuQuota?: number;
  /** Hard CPU cap (cores) between executions, for background processes. Default KERNEL_IDLE_CPU_QUOTA. */
  idleCpuQuota?: number;
  /** Tool calls (rpc frames) in flight at most; more are answered with an error at once. Default 8. */
  maxToolCallsInFlight?: number;
  /** Statfs of the workspace's capped volume (true when full). Absent: unknown. */
  diskFull?: () => boolean;
}

/** One core while an execution runs. */
export const KERNEL_RUN_CPU_QUOTA = 1;
/** A tenth of one core between executions: background processes may run, but cannot spin a core. */
export const KERNEL_IDLE_CPU_QUOTA = 0.1;
/**
 * How long after an execution the idle CPU quota takes hold. Background
 * processes get at most this much time at the run quota; a caller running
 * executions back to back pays no cgroup writes.
 */
export const IDLE_QUOTA_DELAY_MS = 50;
/** Replies the kernel has not read yet, at most (bytes); past it the kernel is not reading its channel. */
const MAX_UNREAD_REPLY_BYTES = 16 * 1024 * 1024;

export interface KernelRunRequest {
  code: string;
  /** Jupyter-style execution counter, used for the cell's file name (`<cell 3>`). */
  cell: number;
  /** wallMs, cpuMs, outputBytes and outputTotalBytes apply per execution. */
  limits: Limits;
  signal?: AbortSignal | undefined;
  onOutput?: ((chunk: OutputChunk) => void) | undefined;
}

export interface KernelRunResult {
  status: ExecStatus;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdoutDroppedBytes: number;
  stderrDroppedBytes: number;
  outputs: DisplayOutput[];
  error?: ExecError;
  durationMs: number;
  /** CPU used by the kernel tree during this execution (null without cgroup accounting). */
  cpuMs: number | null;
  /** CPU the kernel's tree used between the previous execution and this one (background processes). */
  idleCpuMs?: number;
  /** Tool calls (rpc frames) the execution made. */
  toolCalls?: number;
  reason?: string;
  /** The kernel process is gone: its variables are lost. */
  kernelDied: boolean;
}

/** One execution in progress: its supervised window and what arrives for it. */
interface Running {
  id: string;
  watch: Supervision;
  onFrame(frame: KernelFrame): void;
  onExit(): void;
  interrupt(): void;
}

export class Kernel {
  readonly language: Language;
  readonly family: KernelFamily;
  readonly workspaceDir: string;
  readonly limits: Limits;
  readonly startedAt = Date.now();
  private proc!: SandboxProcess;
  private control!: Readable & Writable;
  private reader!: FrameReader;
  private exited = false;
  private closing = false;
  private booted = false;
  private onReady: (() => void) | null = null;
  private running: Running | null = null;
  private stdoutSink: ((chunk: Buffer) => void) | null = null;
  private stderrSink: ((chunk: Buffer) => void) | null = null;
  private readonly startupStderr: Buffer[] = [];
  private readonly exitListeners = new Set<() => void>();
  private toolHost: ToolHost | undefined;
  private diskFull: (() => boolean) | undefined;
  private readonly graceMs: number;
  private readonly runQuota: number;
  private readonly idleQuota: number;
  private readonly maxRpc: number;
  private rpcInFlight = 0;
  /** CPU counter and cgroup event counters when the last execution ended (idle accounting, window deltas). */
  private idleSince: { cpuMs: number | null; oomKills: number; pidsMaxEvents: number } = {
    cpuMs: null,
    oomKills: 0,
    pidsMaxEvents: 0,
  };
  /** Why the kernel was stopped while idle (a protocol violation), for the next caller. */
  private idleDeath: Forced | null = null;
  /** The idle CPU quota is in force (the run quota must be restored before user code runs). */
  private quotaIsIdle = false;
  private readonly markerBase = randomBytes(9).toString('base64url');
  private markerSeq = 0;
  private idleQuotaTimer: NodeJS.Timeout | null = null;

  private constructor(private readonly options: KernelOptions) {
    this.language = options.language;
    this.family = kernelFamily(options.language);
    this.workspaceDir = options.workspaceDir;
    this.limits = options.limits;
    this.toolHost = options.toolHost;
    this.diskFull = options.diskFull;
    this.graceMs = options.interruptGraceMs ?? 2000;
    this.runQuota = options.runCpuQuota ?? KERNEL_RUN_CPU_QUOTA;
    this.idleQuota = options.idleCpuQuota ?? KERNEL_IDLE_CPU_QUOTA;
    this.maxRpc = options.maxToolCallsInFlight ?? 8;
  }

  /** Start a kernel and wait until it is ready. Throws SANDBOX_UNAVAILABLE when it cannot start. */
  static async start(options: KernelOptions): Promise<Kernel> {
    const kernel = new Kernel(options);
    await kernel.boot();
    return kernel;
  }

  get alive(): boolean {
    return !this.exited && !this.closing;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Why the kernel was stopped between executions, if it was (e.g. protocol_error). */
  get stoppedWhileIdle(): Forced | null {
    return this.idleDeath;
  }

  setToolHost(toolHost: ToolHost | undefined): void {
    this.toolHost = toolHost;
  }

  /** Statfs of the workspace's capped volume (true when full), for the disk_limit status. */
  setDiskFull(diskFull: (() => boolean) | undefined): void {
    this.diskFull = diskFull;
  }

  /** Called once when the kernel process goes away (crash, kill or close). */
  onExit(listener: () => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  private async boot(): Promise<void> {
    const o = this.options;
    const interpreters = o.interpreters ?? DEFAULT_INTERPRETERS;
    const script = kernelScriptPath(this.family);
    this.proc = await o.sandbox.spawn({
      argv: kernelArgv(this.family, interpreters),
      workspaceDir: o.workspaceDir,
      limits: o.limits,
      env: { CODEMODE_CONTROL_FD: '3', PYTHONDONTWRITEBYTECODE: '1' },
      roBinds: [{ host: script, sandbox: `${KERNEL_DIR}/${KERNEL_FILES[this.family]}` }],
      extraPipes: 1,
      cpuRlimit: false,
      cpuQuota: this.runQuota,
      ...(o.uid !== undefined ? { uid: o.uid } : {}),
    });
    const control = this.proc.extra[0];
    if (!control) {
      this.proc.kill();
      throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox did not provide the kernel control pipe');
    }
    this.control = control;
    // Kernels never read stdin: closing it makes input() fail fast instead of hanging.
    this.proc.stdin.on('error', () => {}); // the kernel may exit before its stdin closes
    this.proc.stdin.end();
    control.on('error', () => {}); // the pipe breaks when the kernel dies; exited reports that
    this.proc.stdout.on('data', (c: Buffer) => this.stdoutSink?.(c));
    this.proc.stderr.on('data', (c: Buffer) => {
      if (this.stderrSink) this.stderrSink(c);
      else if (!this.booted && this.startupStderr.length < 64) this.startupStderr.push(c);
    });
    this.proc.stdout.on('error', () => {}); // as above
    this.proc.stderr.on('error', () => {}); // as above

    const readyPromise = new Promise<void>((resolve) => (this.onReady = resolve));
    this.reader = new FrameReader({
      onBytes: (n) => this.running?.watch.count(n),
      onFrame: (frame) => this.dispatch(frame),
      onViolation: (reason) => this.protocolError(reason),
    });
    control.on('data', (chunk: Buffer) => this.reader.push(chunk));
    void this.proc.exited.then((exit) => {
      this.exitInfo = { exitCode: exit.exitCode, signal: exit.signal };
      this.exited = true;
      this.running?.onExit();
      for (const l of this.exitListeners) l();
      this.exitListeners.clear();
      void this.proc.dispose();
    });

    const timeoutMs = o.startTimeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      readyPromise.then(() => 'ready' as const),
      this.proc.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome !== 'ready') {
      this.proc.kill();
      await this.proc.exited;
      const stderr = Buffer.concat(this.startupStderr).toString('utf8').slice(0, 2000);
      const why = this.idleDeath ? `: ${this.idleDeath.reason}` : stderr ? `: ${stderr.trim()}` : '';
      throw new AppError(
        'SANDBOX_UNAVAILABLE',
        `the ${this.language} kernel ${outcome === 'timeout' ? `did not start within ${timeoutMs} ms` : 'exited while starting'}${why}`,
        { language: this.language },
      );
    }
    this.booted = true;
    this.startupStderr.length = 0;
    this.enterIdle();
  }

  /** A frame from the kernel: ready while booting, the running execution's frames, nothing while idle. */
  private dispatch(frame: KernelFrame): void {
    if (!this.booted) {
      if (frame.type === 'ready' && this.onReady) {
        this.onReady();
        this.onReady = null;
      } else this.protocolError(`a ${frame.type} frame arrived before the kernel said it was ready`);
      return;
    }
    if (!this.running) {
      this.protocolError(`a ${frame.type} frame arrived while no execution was running`);
      return;
    }
    this.running.onFrame(frame);
  }

  /** The kernel broke the protocol: it is stopped at once (the server is not affected). */
  private protocolError(reason: string): void {
    const forced: Forced = {
      status: 'protocol_error',
      reason: `the kernel broke the control protocol (${reason}); it was stopped and its variables are lost`,
    };
    if (this.running) {
      this.running.watch.kill(forced);
      return;
    }
    this.idleDeath ??= forced;
    this.proc.kill();
  }

  /**
   * Between executions: counters to take the next window's deltas from (the
   * finished window's own reading, when there is one), and the low CPU quota,
   * applied IDLE_QUOTA_DELAY_MS later unless another execution starts first
   * (back-to-back executions write no cgroup file for it).
   */
  private enterIdle(stats: SandboxStats = this.proc.stats()): void {
    if (this.idleQuotaTimer) clearTimeout(this.idleQuotaTimer);
    this.idleQuotaTimer = setTimeout(() => {
      this.idleQuotaTimer = null;
      if (this.running || this.exited || this.closing) return;
      this.quotaIsIdle = this.proc.setCpuQuota(this.idleQuota);
    }, IDLE_QUOTA_DELAY_MS);
    this.idleQuotaTimer.unref();
    this.idleSince = {
      cpuMs: stats.cpuMs,
      oomKills: stats.oomKills ?? 0,
      pidsMaxEvents: stats.pidsMaxEvents ?? 0,
    };
  }

  /** Interrupt the running execution (SIGINT; killed after the grace period). No-op when idle. */
  interrupt(): void {
    this.running?.interrupt();
  }

  /** Resident memory of the kernel's process tree, from /proc (bytes). */
  rssBytes(): number {
    return treeRss(this.proc.pid);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.idleQuotaTimer) clearTimeout(this.idleQuotaTimer);
    if (!this.exited) {
      try {
        this.control.write(JSON.stringify({ type: 'shutdown' }) + '\n');
      } catch {
        // already gone
      }
      this.proc.kill();
    }
    await this.proc.exited;
    await this.proc.dispose();
  }

  /** Run code; resolves with a result whatever the code does. */
  run(req: KernelRunRequest): Promise<KernelRunResult> {
    if (this.running) throw new AppError('SESSION_BUSY', 'the kernel is already running an execution');
    if (!this.alive) {
      return Promise.resolve(deadResult(this.idleDeath?.reason ?? 'the kernel is not running'));
    }
    return new Promise<KernelRunResult>((resolve) => this.startRun(req, resolve));
  }

  /** Write a frame to the kernel, unless it stopped reading its channel (then it is stopped). */
  private send(frame: Record<string, unknown>): void {
    if (this.exited) return;
    if (this.control.writableLength > MAX_UNREAD_REPLY_BYTES) {
      this.protocolError(`it left more than ${MAX_UNREAD_REPLY_BYTES} bytes of replies unread`);
      return;
    }
    try {
      this.control.write(JSON.stringify(frame) + '\n');
    } catch {
      // the kernel is gone; exited reports it
    }
  }

  private startRun(req: KernelRunRequest, resolve: (r: KernelRunResult) => void): void {
    const id = randomUUID();
    // Unique per execution (a random per-kernel base and a counter); never a secret from the kernel itself.
    const marker = `\u0001codemode-end-${this.markerBase}-${++this.markerSeq}\u0001`;
    const started = performance.now();
    const limits = req.limits;
    if (this.idleQuotaTimer) {
      clearTimeout(this.idleQuotaTimer);
      this.idleQuotaTimer = null;
    }
    if (this.quotaIsIdle) {
      this.proc.setCpuQuota(this.runQuota);
      this.quotaIsIdle = false;
    }
    const cpuStart = this.proc.cpuMs();
    const idleCpuMs =
      cpuStart !== null && this.idleSince.cpuMs !== null ? Math.max(0, cpuStart - this.idleSince.cpuMs) : undefined;
    const watch = new Supervision(this.proc, {
      kind: 'kernel',
      limits,
      signal: req.signal,
      interruptGraceMs: this.graceMs,
      diskFull: this.diskFull,
      cpuBaselineMs: cpuStart,
      eventsBaseline: { oomKills: this.idleSince.oomKills, pidsMaxEvents: this.idleSince.pidsMaxEvents },
      pollMs: 100,
    });
    const outputs: DisplayOutput[] = [];
    let doneFrame: Extract<KernelFrame, { type: 'done' }> | null = null;
    let settled = false;
    let died = false;
    let toolCalls = 0;
    const timers: NodeJS.Timeout[] = [];
    const rpcAborts = new Set<AbortController>();

    const live = (stream: 'stdout' | 'stderr') =>
      req.onOutput
        ? (text: string) => {
            try {
              req.onOutput?.({ stream, text });
            } catch {
              // a listener's failure never breaks the execution
            }
          }
        : undefined;
    // Bytes are counted as they arrive (watch.count below), markers included.
    const out = new StreamCapture(marker, limits.outputBytes, () => {}, live('stdout'));
    const err = new StreamCapture(marker, limits.outputBytes, () => {}, live('stderr'));
    this.stdoutSink = (c) => {
      watch.count(c.length);
      if (out.push(c)) maybeFinish();
    };
    this.stderrSink = (c) => {
      watch.count(c.length);
      if (err.push(c)) maybeFinish();
    };

    const flushAndFinish = () => {
      out.flush();
      err.flush();
      finish();
    };
    /** The done frame's own text follows the pipes' bytes; it was counted as control-channel bytes. */
    const appendCaptured = () => {
      const done = doneFrame;
      if (!done || watch.forced) return;
      if (done.stdout) out.append(done.stdout);
      if (done.stderr) err.append(done.stderr);
    };

    const finish = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      for (const a of rpcAborts) a.abort();
      this.stdoutSink = null;
      this.stderrSink = null;
      this.running = null;
      appendCaptured();
      const done = doneFrame;
      const bash = this.family === 'bash';
      const bashCode = bash && typeof done?.exitCode === 'number' ? done.exitCode : bash ? 1 : null;
      const programFailed = bash ? bashCode !== 0 : done?.status !== 'ok';
      const exit = died ? this.lastExit : null;
      const end = watch.finish({
        ended: died,
        started: true,
        exitCode: exit ? exit.exitCode : null,
        signal: exit ? exit.signal : null,
        programFailed,
      });
      const result: KernelRunResult = {
        status: end.status,
        exitCode: null,
        signal: end.signal,
        stdout: out.text,
        stderr: err.text,
        stdoutDroppedBytes: out.droppedBytes,
        stderrDroppedBytes: err.droppedBytes,
        outputs,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        cpuMs: end.cpuMs,
        kernelDied: died,
        toolCalls,
      };
      if (idleCpuMs !== undefined) result.idleCpuMs = Math.round(idleCpuMs * 100) / 100;
      if (end.reason) result.reason = end.reason;
      if (died) {
        result.exitCode = exit?.exitCode ?? null;
        // A kernel that exited with a status of its own (bash `exit 3`) was not killed.
        result.signal = end.signal ?? (end.status === 'error' ? null : 'SIGKILL');
      } else if (bash) {
        result.exitCode = bashCode;
      } else if (done) {
        result.exitCode = done.status === 'ok' ? 0 : 1;
      }
      if (done?.error) result.error = toExecError(done.error);
      else if (died && end.status === 'error') {
        const what = bash ? 'the shell exited (exit, or a failing command under set -e)' : 'the kernel process exited';
        result.error = {
          type: 'KernelExited',
          message: `${what} with status ${result.exitCode}; variables are lost, workspace files are kept, and the next execution starts a fresh kernel`,
        };
      } else if (bash && bashCode !== 0 && result.status === 'error') {
        result.error = { type: 'ExitStatus', message: `the last command exited with status ${bashCode}` };
      }
      if (!died) this.enterIdle(end.stats);
      resolve(result);
    };

    const maybeFinish = () => {
      if (doneFrame && out.ended && err.ended) finish();
    };

    const handleRpc = (frame: Extract<KernelFrame, { type: 'rpc' }>) => {
      const rid = frame.rid;
      const reply = (body: Record<string, unknown>) => {
        if (settled) return;
        this.send({ type: 'rpc_result', rid, ...body });
      };
      if (this.rpcInFlight >= this.maxRpc) {
        reply({
          ok: false,
          code: 'LIMIT_EXCEEDED',
          error: `more than ${this.maxRpc} tool calls are in flight in this kernel; await some before starting more`,
        });
        return;
      }
      const host = this.toolHost;
      if (!host) {
        reply({
          ok: false,
          code: 'NOT_FOUND',
          error: 'Code Mode tools are not available: this server has no upstream MCP servers configured for sessions',
        });
        return;
      }
      toolCalls++;
      this.rpcInFlight++;
      const params = frame.params;
      const ac = new AbortController();
      rpcAborts.add(ac);
      const detail = params.detail;
      const call =
        frame.method === 'searchTools'
          ? host.searchTools(
              String(params.query ?? ''),
              detail === 'names' || detail === 'full' ? detail : 'signatures',
            )
          : host.callTool(String(params.server ?? ''), String(params.tool ?? ''), params.args ?? {}, ac.signal);
      void call
        .then(
          (value) => reply({ ok: true, value: value === undefined ? null : value }),
          (e: unknown) =>
            reply({ ok: false, error: errorMessage(e), code: e instanceof AppError ? e.code : 'UPSTREAM_ERROR' }),
        )
        .finally(() => {
          this.rpcInFlight--;
          rpcAborts.delete(ac);
        });
    };

    this.running = {
      id,
      watch,
      onFrame: (frame) => {
        if (frame.type === 'rpc') return handleRpc(frame);
        if (frame.type === 'ready') return this.protocolError('a second ready frame arrived');
        if (frame.id !== id) return this.protocolError(`a ${frame.type} frame names another execution`);
        if (frame.type === 'output') {
          if (!watch.forced) outputs.push({ kind: frame.kind, data: frame.data });
        } else {
          if (doneFrame) return this.protocolError('a second done frame arrived');
          doneFrame = frame;
          // A pipe the kernel wrote no marker to holds nothing more for this execution.
          if (frame.marked) {
            if (!frame.marked.includes('stdout')) out.flush();
            if (!frame.marked.includes('stderr')) err.flush();
          }
          if (out.ended && err.ended) return finish();
          // The markers normally arrive first; if the program closed its stdout, do not wait forever.
          timers.push(setTimeout(flushAndFinish, 1000));
          maybeFinish();
        }
      },
      onExit: () => {
        died = true;
        // Let the pipes drain before settling, for a bounded time.
        let pending = 2;
        const drained = () => {
          if (--pending === 0) flushAndFinish();
        };
        for (const s of [this.proc.stdout, this.proc.stderr]) {
          if (s.readableEnded || s.destroyed) drained();
          else s.once('close', drained);
        }
        timers.push(setTimeout(flushAndFinish, 500));
      },
      interrupt: () => {
        if (settled) return;
        watch.interrupt();
      },
    };

    if (this.family === 'bash') {
      try {
        this.control.write(`${id}\n${marker}\n${req.code.replace(/\0/g, '')}\0`);
      } catch (e) {
        watch.kill({ status: 'killed', reason: `could not send the code to the kernel: ${errorMessage(e)}` });
      }
    } else {
      this.send({ type: 'execute', id, cell: req.cell, code: req.code, marker });
    }
  }

  /** The kernel process's exit, once known (set by the exited handler). */
  private get lastExit(): { exitCode: number | null; signal: string | null } | null {
    return this.exitInfo;
  }
  private exitInfo: { exitCode: number | null; signal: string | null } | null = null;
}

function toExecError(e: NonNullable<Extract<KernelFrame, { type: 'done' }>['error']>): ExecError {
  const error: ExecError = { type: e.type, message: e.message };
  if (typeof e.line === 'number') error.line = e.line;
  if (typeof e.column === 'number') error.column = e.column;
  if (typeof e.traceback === 'string') error.traceback = e.traceback;
  return error;
}

/** A result with no output: the base of every result that no execution produced. */
export function blankKernelResult(status: ExecStatus): KernelRunResult {
  return {
    status,
    exitCode: null,
    signal: null,
    stdout: '',
    stderr: '',
    stdoutDroppedBytes: 0,
    stderrDroppedBytes: 0,
    outputs: [],
    durationMs: 0,
    cpuMs: null,
    kernelDied: false,
  };
}

function deadResult(reason: string): KernelRunResult {
  return { ...blankKernelResult('killed'), reason, kernelDied: true };
}

/** Sum of VmRSS over pid and its descendants (Linux /proc). */
export function treeRss(root: number): number {
  let total = 0;
  const stack = [root];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      if (m) total += Number(m[1]) * 1024;
    } catch {
      continue;
    }
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(/\s+/).filter(Boolean);
        for (const k of kids) stack.push(Number(k));
      }
    } catch {
      // the process went away
    }
  }
  return total;
}
