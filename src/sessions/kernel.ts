/**
 * One session kernel: a long-lived interpreter inside the sandbox, driven over
 * a newline-delimited JSON control channel on fd 3. Runs one execution at a
 * time and always settles it with a status (never throws for user failures);
 * enforces wall time (SIGINT, then kill), CPU (cgroup deltas) and output caps.
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
import type { Sandbox, SandboxProcess } from '../sandbox/sandbox.js';
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
  /** memoryBytes, processes, tmpBytes, openFiles and diskBytes apply for the kernel's lifetime. */
  limits: Limits;
  toolHost?: ToolHost | undefined;
  interpreters?: Interpreters;
  /** How long the kernel may take to say it is ready. Default 20 s. */
  startTimeoutMs?: number;
  /** After SIGINT, how long to wait before killing the kernel. Default 2 s. */
  interruptGraceMs?: number;
}

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
  reason?: string;
  /** The kernel process is gone: its variables are lost. */
  kernelDied: boolean;
}

interface Frame {
  type: string;
  id?: string | null;
  [key: string]: unknown;
}

interface Forced {
  status: ExecStatus;
  reason: string;
}

interface Running {
  id: string;
  onFrame(frame: Frame): void;
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
  private exited = false;
  private closing = false;
  private running: Running | null = null;
  private stdoutSink: ((chunk: Buffer) => void) | null = null;
  private stderrSink: ((chunk: Buffer) => void) | null = null;
  private readonly startupStderr: Buffer[] = [];
  private readonly exitListeners = new Set<() => void>();
  private toolHost: ToolHost | undefined;
  private readonly graceMs: number;

  private constructor(private readonly options: KernelOptions) {
    this.language = options.language;
    this.family = kernelFamily(options.language);
    this.workspaceDir = options.workspaceDir;
    this.limits = options.limits;
    this.toolHost = options.toolHost;
    this.graceMs = options.interruptGraceMs ?? 2000;
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

  setToolHost(toolHost: ToolHost | undefined): void {
    this.toolHost = toolHost;
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
    });
    const control = this.proc.extra[0];
    if (!control) {
      this.proc.kill();
      throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox did not provide the kernel control pipe');
    }
    this.control = control;
    // Kernels never read stdin: closing it makes input() fail fast instead of hanging.
    this.proc.stdin.on('error', () => {});
    this.proc.stdin.end();
    control.on('error', () => {});
    this.proc.stdout.on('data', (c: Buffer) => this.stdoutSink?.(c));
    this.proc.stderr.on('data', (c: Buffer) => {
      if (this.stderrSink) this.stderrSink(c);
      else if (this.startupStderr.length < 64) this.startupStderr.push(c);
    });
    this.proc.stdout.on('error', () => {});
    this.proc.stderr.on('error', () => {});

    let ready: (() => void) | null = null;
    const readyPromise = new Promise<void>((resolve) => (ready = resolve));
    let buffered = '';
    const maxFrame = Math.max(8 * 1024 * 1024, o.limits.outputTotalBytes * 2);
    control.setEncoding('utf8');
    control.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim() === '') continue;
        let frame: Frame;
        try {
          frame = JSON.parse(line) as Frame;
        } catch {
          continue; // a malformed frame is ignored, never fatal to the host
        }
        if (frame.type === 'ready') ready?.();
        else this.running?.onFrame(frame);
      }
      if (buffered.length > maxFrame) {
        buffered = '';
        this.running?.onFrame({ type: 'flood' });
        this.proc.kill();
      }
    });
    void this.proc.exited.then(() => {
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
      throw new AppError(
        'SANDBOX_UNAVAILABLE',
        `the ${this.language} kernel ${outcome === 'timeout' ? `did not start within ${timeoutMs} ms` : 'exited while starting'}` +
          (stderr ? `: ${stderr.trim()}` : ''),
        { language: this.language },
      );
    }
    this.startupStderr.length = 0;
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
      return Promise.resolve(deadResult('the kernel is not running'));
    }
    return new Promise<KernelRunResult>((resolve) => this.startRun(req, resolve));
  }

  private startRun(req: KernelRunRequest, resolve: (r: KernelRunResult) => void): void {
    const id = randomUUID();
    const marker = `\u0001codemode-end-${randomBytes(9).toString('base64url')}\u0001`;
    const started = performance.now();
    const cpuStart = this.proc.cpuMs();
    const limits = req.limits;
    const outputs: DisplayOutput[] = [];
    let total = 0;
    let forced: Forced | null = null;
    let userInterrupted = false;
    let doneFrame: Frame | null = null;
    let settled = false;
    let died = false;
    const timers: NodeJS.Timeout[] = [];
    const rpcAborts = new Set<AbortController>();

    const onBytes = (n: number) => {
      total += n;
      if (total > limits.outputTotalBytes && !forced) {
        forced = {
          status: 'output_limit',
          reason: `printed more than ${limits.outputTotalBytes} bytes (limits.outputTotalBytes); the kernel was stopped`,
        };
        this.proc.kill();
      }
    };
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
    const out = new StreamCapture(marker, limits.outputBytes, onBytes, live('stdout'));
    const err = new StreamCapture(marker, limits.outputBytes, onBytes, live('stderr'));
    this.stdoutSink = (c) => {
      if (out.push(c)) maybeFinish();
    };
    this.stderrSink = (c) => {
      if (err.push(c)) maybeFinish();
    };

    let interrupting = false;
    // SIGINT, repeated while the execution runs (an interpreter can miss one that lands inside
    // its own native code), then SIGKILL for the whole tree once the grace period is over.
    const interruptThenKill = () => {
      if (interrupting) return;
      interrupting = true;
      this.proc.signalTree('SIGINT');
      const again = setInterval(() => this.proc.signalTree('SIGINT'), 250);
      timers.push(again);
      timers.push(setTimeout(() => this.proc.kill(), this.graceMs));
    };
    const stopWith = (f: Forced) => {
      if (forced || settled) return;
      forced = f;
      interruptThenKill();
    };

    const finish = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      for (const a of rpcAborts) a.abort();
      req.signal?.removeEventListener('abort', onAbort);
      this.stdoutSink = null;
      this.stderrSink = null;
      this.running = null;
      // The full cgroup picture (OOM, pids) only matters when the kernel died.
      const stats = died ? this.proc.stats() : { oomKilled: false, pidsLimitHit: false, cpuMs: this.proc.cpuMs() };
      const cpuMs = cpuStart !== null && stats.cpuMs !== null ? Math.max(0, stats.cpuMs - cpuStart) : null;
      const result: KernelRunResult = {
        status: 'ok',
        exitCode: null,
        signal: null,
        stdout: out.text,
        stderr: err.text,
        stdoutDroppedBytes: out.droppedBytes,
        stderrDroppedBytes: err.droppedBytes,
        outputs,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        cpuMs,
        kernelDied: died,
      };
      const reported = doneFrame?.error as ExecError | undefined;
      if (reported) result.error = reported;
      if (died) {
        result.signal = 'SIGKILL';
        if (stats.oomKilled) {
          result.status = 'memory';
          result.reason = `the kernel ran out of memory (limits.memoryBytes = ${this.limits.memoryBytes}) and was killed; its variables are lost`;
        } else if (stats.pidsLimitHit && !forced) {
          result.status = 'process_limit';
          result.reason = `the kernel hit the process limit (limits.processes = ${this.limits.processes}) and was killed`;
        } else if (forced) {
          result.status = (forced as Forced).status;
          result.reason = (forced as Forced).reason;
        } else if (userInterrupted) {
          result.status = 'interrupted';
          result.reason = 'the execution did not stop on interrupt and the kernel was killed';
        } else {
          result.status = 'killed';
          result.reason = 'the kernel process exited unexpectedly during the execution';
        }
      } else if (forced) {
        result.status = (forced as Forced).status;
        result.reason = (forced as Forced).reason;
      } else if (userInterrupted || doneFrame?.status === 'interrupted' || doneFrame?.interrupted === true) {
        result.status = 'interrupted';
        result.reason = 'interrupted; the kernel and its variables are kept';
      } else if (this.family === 'bash') {
        const code = typeof doneFrame?.exitCode === 'number' ? doneFrame.exitCode : 1;
        result.exitCode = code;
        result.status = code === 0 ? 'ok' : 'error';
        if (code !== 0) result.error = { type: 'ExitStatus', message: `the last command exited with status ${code}` };
      } else {
        result.status = doneFrame?.status === 'ok' ? 'ok' : 'error';
        result.exitCode = result.status === 'ok' ? 0 : 1;
        if (result.status === 'error' && reported?.type === 'MemoryError') {
          result.status = 'memory';
          result.reason = 'MemoryError: the allocation did not fit in limits.memoryBytes; the kernel is kept';
        }
      }
      resolve(result);
    };

    const maybeFinish = () => {
      if (doneFrame && out.ended && err.ended) finish();
    };

    const onAbort = () => stopWith({ status: 'cancelled', reason: 'the caller cancelled the execution' });

    const handleRpc = (frame: Frame) => {
      const rid = frame.rid;
      const reply = (body: Record<string, unknown>) => {
        if (settled || this.exited) return;
        try {
          this.control.write(JSON.stringify({ type: 'rpc_result', rid, ...body }) + '\n');
        } catch {
          // the kernel is gone
        }
      };
      const host = this.toolHost;
      if (!host) {
        reply({
          ok: false,
          code: 'NOT_FOUND',
          error: 'Code Mode tools are not available: this server has no upstream MCP servers configured for sessions',
        });
        return;
      }
      const params = (frame.params ?? {}) as Record<string, unknown>;
      const ac = new AbortController();
      rpcAborts.add(ac);
      const call =
        frame.method === 'searchTools'
          ? host.searchTools(
              String(params.query ?? ''),
              (params.detail as 'names' | 'signatures' | 'full') ?? 'signatures',
            )
          : frame.method === 'callTool'
            ? host.callTool(String(params.server ?? ''), String(params.tool ?? ''), params.args ?? {}, ac.signal)
            : Promise.reject(new AppError('INVALID_ARGUMENT', `unknown kernel request ${String(frame.method)}`));
      void call
        .then(
          (value) => reply({ ok: true, value: value === undefined ? null : value }),
          (e: unknown) =>
            reply({ ok: false, error: errorMessage(e), code: e instanceof AppError ? e.code : 'UPSTREAM_ERROR' }),
        )
        .finally(() => rpcAborts.delete(ac));
    };

    this.running = {
      id,
      onFrame: (frame) => {
        if (frame.type === 'rpc') return handleRpc(frame);
        if (frame.id !== id) return;
        if (frame.type === 'output') {
          const data = frame.data as Record<string, string> | undefined;
          if (!data || typeof data !== 'object') return;
          let size = 0;
          for (const v of Object.values(data)) size += typeof v === 'string' ? v.length : 0;
          onBytes(size);
          if (!forced) outputs.push({ kind: frame.kind === 'result' ? 'result' : 'display', data });
        } else if (frame.type === 'done') {
          doneFrame = frame;
          // The markers normally arrive first; if the program closed its stdout, do not wait forever.
          timers.push(
            setTimeout(() => {
              out.flush();
              err.flush();
              finish();
            }, 1000),
          );
          maybeFinish();
        }
      },
      onExit: () => {
        died = true;
        // Let the pipes drain before settling.
        let pending = 2;
        const drained = () => {
          if (--pending === 0) {
            out.flush();
            err.flush();
            finish();
          }
        };
        for (const s of [this.proc.stdout, this.proc.stderr]) {
          if (s.readableEnded || s.destroyed) drained();
          else {
            s.once('close', drained);
          }
        }
        timers.push(
          setTimeout(() => {
            out.flush();
            err.flush();
            finish();
          }, 500),
        );
      },
      interrupt: () => {
        if (settled || forced) return;
        userInterrupted = true;
        interruptThenKill();
      },
    };

    if (req.signal?.aborted) {
      stopWith({ status: 'cancelled', reason: 'the caller cancelled the execution before it started' });
    }
    req.signal?.addEventListener('abort', onAbort, { once: true });
    timers.push(
      setTimeout(
        () =>
          stopWith({
            status: 'timeout',
            reason: `the execution ran longer than limits.wallMs = ${limits.wallMs} ms and was interrupted`,
          }),
        limits.wallMs,
      ),
    );
    if (cpuStart !== null) {
      const poll = setInterval(() => {
        const now = this.proc.cpuMs();
        if (now !== null && now - cpuStart > limits.cpuMs) {
          clearInterval(poll);
          stopWith({
            status: 'cpu_time',
            reason: `the execution used more than limits.cpuMs = ${limits.cpuMs} ms of CPU and was interrupted`,
          });
        }
      }, 100);
      timers.push(poll);
    }

    try {
      if (this.family === 'bash') {
        this.control.write(`${id}\n${marker}\n${req.code.replace(/\0/g, '')}\0`);
      } else {
        this.control.write(JSON.stringify({ type: 'execute', id, cell: req.cell, code: req.code, marker }) + '\n');
      }
    } catch (e) {
      forced = { status: 'killed', reason: `could not send the code to the kernel: ${errorMessage(e)}` };
      this.proc.kill();
    }
  }
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
