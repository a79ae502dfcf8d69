/**
 * The one process supervisor. Every path that runs sandboxed code (one-shot
 * runs, session kernel executions, run_script) watches its program through a
 * Supervision: a window over a sandboxed process tree with a wall timer, CPU
 * metered from the cgroup counter, an output budget that counts every byte
 * reaching the host, cancellation, and interrupt-then-kill stops. How a run
 * ended is decided by classifyEnd, a pure function over what the supervisor
 * observed itself (exit status and signal, cgroup events, its own timers and
 * counters, bwrap's start signal, statfs of the sandbox's volumes), never over
 * what the program printed or wrote on any channel.
 */
import { constants as osConstants } from 'node:os';
import type { ExecStatus } from './executor.js';
import type { Limits } from './limits.js';
import type { SandboxStats } from './sandbox.js';

/** A stop the supervisor decided on (a limit, a cancellation, a protocol violation). */
export interface Forced {
  status: ExecStatus;
  reason: string;
}

/** Everything classifyEnd looks at. All of it comes from the supervisor's own eyes. */
export interface EndObservations {
  /**
   * `process`: a whole process lifetime (one-shot, run_script); its end is the
   * run's end. `kernel`: a window over a long-lived kernel; the kernel ending
   * inside the window is abnormal.
   */
  kind: 'process' | 'kernel';
  limits: Limits;
  /** bwrap said the program started (kernels that answered ready count as started). */
  started: boolean;
  /** The process tree ended inside the window (always true for `process`). */
  ended: boolean;
  exitCode: number | null;
  /** The terminating signal, from the wait status or bwrap's 128+N exit status. */
  signal: string | null;
  /** The supervisor's own stop, if it made one (the first one wins). */
  forced: Forced | null;
  /** The caller asked to interrupt the window (kernels only). */
  interrupted: boolean;
  /** cgroup OOM kills during the window. */
  oomKills: number;
  /** Forks refused at the cgroup's pids.max during the window. */
  pidsMaxEvents: number;
  /** CPU used by the tree during the window (cgroup counter), ms. */
  cpuMs: number | null;
  /** The workspace volume was full at the end (statfs of the capped volume, when one is wired in). */
  diskFull: boolean;
  /** The sandbox's /tmp tmpfs was full at the end (statfs through a handle the host holds). */
  tmpFull: boolean;
  /** The program is a Node process started with a heap limit: SIGABRT is V8's heap-limit abort. */
  nodeHeapLimit: boolean;
  /** Kernel windows that ended normally: the kernel reported the cell failed (ok/error only). */
  programFailed: boolean;
}

export interface EndClassification {
  status: ExecStatus;
  reason?: string;
}

/** How a run ended, from the supervisor's observations. Pure. */
export function classifyEnd(o: EndObservations): EndClassification {
  const L = o.limits;
  if (o.forced) return { status: o.forced.status, reason: o.forced.reason };
  if (!o.started) {
    return {
      status: 'not_started',
      reason: 'the sandbox failed before the program started (bubblewrap never reported that it ran the program)',
    };
  }
  const gone = o.kind === 'kernel' && o.ended ? '; the kernel was killed and its variables are lost' : '';
  if (o.oomKills > 0) {
    return { status: 'memory', reason: `ran out of memory (limits.memoryBytes = ${L.memoryBytes})${gone}` };
  }
  if (o.ended && o.nodeHeapLimit && o.signal === 'SIGABRT') {
    return {
      status: 'memory',
      reason: `the JavaScript heap reached its cap (75% of limits.memoryBytes = ${L.memoryBytes})${gone}`,
    };
  }
  if (o.pidsMaxEvents > 0) {
    return { status: 'process_limit', reason: `hit the process limit (limits.processes = ${L.processes})${gone}` };
  }
  if (o.ended && (o.signal === 'SIGXCPU' || (o.signal === 'SIGKILL' && o.cpuMs !== null && o.cpuMs >= L.cpuMs))) {
    return { status: 'cpu_time', reason: `used more than limits.cpuMs = ${L.cpuMs} ms of CPU${gone}` };
  }
  if (o.ended && o.signal === 'SIGXFSZ') {
    return {
      status: 'disk_limit',
      reason: `wrote a file larger than limits.diskBytes = ${L.diskBytes} bytes (SIGXFSZ)${gone}`,
    };
  }
  const failed = o.kind === 'process' || o.ended ? o.exitCode !== 0 || o.signal !== null : o.programFailed;
  if (failed && o.diskFull) {
    return { status: 'disk_limit', reason: `the workspace is full (limits.diskBytes = ${L.diskBytes} bytes)${gone}` };
  }
  if (failed && o.tmpFull) {
    return { status: 'disk_limit', reason: `/tmp is full (limits.tmpBytes = ${L.tmpBytes} bytes)${gone}` };
  }
  if (o.kind === 'kernel') {
    if (o.ended) {
      if (o.interrupted) {
        return { status: 'interrupted', reason: 'the execution did not stop on interrupt and the kernel was killed' };
      }
      if (o.signal === null && o.exitCode !== null && o.exitCode > 0) {
        // The program ended the kernel itself (bash `exit 3`, `set -e`, `os._exit(3)`): its own failure, not a kill.
        return {
          status: 'error',
          reason: `the kernel exited with status ${o.exitCode}; its variables are lost and the next execution starts a fresh kernel`,
        };
      }
      return { status: 'killed', reason: 'the kernel process exited unexpectedly during the execution' };
    }
    if (o.interrupted) return { status: 'interrupted', reason: 'interrupted; the kernel and its variables are kept' };
    return { status: o.programFailed ? 'error' : 'ok' };
  }
  return { status: failed ? 'error' : 'ok' };
}

/** bwrap reports a child killed by signal N as exit status 128+N. */
export function signalFromStatus(code: number | null): string | null {
  if (code === null || code <= 128 || code > 128 + 64) return null;
  const n = code - 128;
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === n) return name;
  return null;
}

/** What a Supervision needs from a sandboxed process (a subset of SandboxProcess). */
export interface SupervisedProcess {
  kill(): void;
  signalTree(signal: NodeJS.Signals): void;
  cpuMs(): number | null;
  stats(): SandboxStats;
  tmpFull(): boolean;
}

export interface SupervisionOptions {
  kind: 'process' | 'kernel';
  /** wallMs, cpuMs and outputTotalBytes are enforced here; the rest feed the reasons. */
  limits: Limits;
  signal?: AbortSignal | undefined;
  /**
   * Stop with SIGINT first (repeated), and kill the tree only after this grace:
   * a kernel that stops on SIGINT keeps its variables. Absent: kill at once.
   */
  interruptGraceMs?: number;
  /** Statfs of the workspace's capped volume: true when it is full. Absent: unknown (false). */
  diskFull?: (() => boolean) | undefined;
  /** CPU poll period. Default 50 ms. */
  pollMs?: number;
  /** CPU already used by the tree when the window opened (default: read now). */
  cpuBaselineMs?: number | null;
  /** OOM kills and pids.max events before the window (default 0: a fresh cgroup). */
  eventsBaseline?: { oomKills: number; pidsMaxEvents: number };
}

/** The end as the caller saw it, for finish(). */
export interface WindowEnd {
  ended: boolean;
  started: boolean;
  exitCode: number | null;
  /** The wait status's signal; a 128+N exit status is decoded when this is null. */
  signal: string | null;
  programFailed?: boolean;
  nodeHeapLimit?: boolean;
}

export interface SupervisedEnd extends EndClassification {
  signal: string | null;
  /** CPU used in the window (ms), when the cgroup reports it. */
  cpuMs: number | null;
  stats: SandboxStats;
}

/**
 * A supervised window over a sandboxed process tree. Counts output bytes,
 * enforces wall time and CPU, stops on cancellation, and classifies the end.
 */
export class Supervision {
  private forcedStop: Forced | null = null;
  private interruptedByCaller = false;
  private interrupting = false;
  private killed = false;
  private bytes = 0;
  private closed = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly cpuBaseline: number | null;
  private readonly onAbort = () => this.stop({ status: 'cancelled', reason: 'the caller cancelled the run' });
  private readonly stopListeners = new Set<() => void>();

  constructor(
    private readonly proc: SupervisedProcess,
    private readonly options: SupervisionOptions,
  ) {
    const { limits } = options;
    this.cpuBaseline = options.cpuBaselineMs !== undefined ? options.cpuBaselineMs : proc.cpuMs();
    this.timers.push(
      setTimeout(
        () => this.stop({ status: 'timeout', reason: `ran longer than limits.wallMs = ${limits.wallMs} ms` }),
        limits.wallMs,
      ),
    );
    if (this.cpuBaseline !== null) {
      const poll = setInterval(() => {
        const used = this.cpuUsed();
        if (used !== null && used > limits.cpuMs) {
          clearInterval(poll);
          this.stop({ status: 'cpu_time', reason: `used more than limits.cpuMs = ${limits.cpuMs} ms of CPU` });
        }
      }, options.pollMs ?? 50);
      this.timers.push(poll);
    }
    if (options.signal?.aborted) this.onAbort();
    else options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The supervisor's stop, if any. */
  get forced(): Forced | null {
    return this.forcedStop;
  }

  /** Bytes counted so far (stdout, stderr and control channel). */
  get totalBytes(): number {
    return this.bytes;
  }

  /** Called once when the supervisor decides to stop the run (before the tree is gone). */
  onStop(listener: () => void): void {
    this.stopListeners.add(listener);
  }

  /** Count bytes that reached the host; stops the run past limits.outputTotalBytes. */
  count(n: number): void {
    this.bytes += n;
    const max = this.options.limits.outputTotalBytes;
    if (this.bytes > max && !this.forcedStop) {
      // A flood is stopped at once: more SIGINT grace would only let it print more.
      this.kill({
        status: 'output_limit',
        reason: `printed more than limits.outputTotalBytes = ${max} bytes (stdout, stderr and the control channel)`,
      });
    }
  }

  /** CPU used since the window opened (ms), or null without a cgroup counter. */
  cpuUsed(): number | null {
    const now = this.proc.cpuMs();
    return now === null || this.cpuBaseline === null ? null : Math.max(0, now - this.cpuBaseline);
  }

  /** Stop the run for a reason of the supervisor's own: interrupt-then-kill (kernels) or kill. */
  stop(f: Forced): void {
    if (this.forcedStop || this.closed) return;
    this.forcedStop = f;
    this.emitStop();
    if (this.options.interruptGraceMs === undefined) this.killTree();
    else this.interruptThenKill();
  }

  /** Stop now, with SIGKILL for the whole tree (protocol violations, floods, close). */
  kill(f: Forced): void {
    if (this.closed) return;
    if (!this.forcedStop) {
      this.forcedStop = f;
      this.emitStop();
    }
    this.killTree();
  }

  /** The caller's interrupt: SIGINT now (and again), the tree killed after the grace period. */
  interrupt(): void {
    if (this.forcedStop || this.closed) return;
    this.interruptedByCaller = true;
    this.interruptThenKill();
  }

  /** Stop the timers; the window is over. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.options.signal?.removeEventListener('abort', this.onAbort);
  }

  /** Close the window and classify how it ended. */
  finish(end: WindowEnd): SupervisedEnd {
    this.close();
    const o = this.options;
    const stats = this.proc.stats();
    const base = o.eventsBaseline ?? { oomKills: 0, pidsMaxEvents: 0 };
    const signal = end.signal ?? (end.ended ? signalFromStatus(end.exitCode) : null);
    const cpuMs =
      stats.cpuMs !== null && this.cpuBaseline !== null ? Math.max(0, stats.cpuMs - this.cpuBaseline) : null;
    // statfs of the volumes only matters for a run that failed (classifyEnd reads them for nothing else).
    const failed =
      o.kind === 'process' || end.ended ? end.exitCode !== 0 || signal !== null : (end.programFailed ?? false);
    const observations: EndObservations = {
      kind: o.kind,
      limits: o.limits,
      started: end.started,
      ended: end.ended,
      exitCode: end.exitCode,
      signal,
      forced: this.forcedStop,
      interrupted: this.interruptedByCaller,
      oomKills: Math.max(0, (stats.oomKills ?? (stats.oomKilled ? 1 : 0)) - base.oomKills),
      pidsMaxEvents: Math.max(0, (stats.pidsMaxEvents ?? (stats.pidsLimitHit ? 1 : 0)) - base.pidsMaxEvents),
      cpuMs,
      diskFull: failed && safe(o.diskFull),
      tmpFull: failed && safe(() => this.proc.tmpFull()),
      nodeHeapLimit: end.nodeHeapLimit ?? false,
      programFailed: end.programFailed ?? false,
    };
    return { ...classifyEnd(observations), signal, cpuMs, stats };
  }

  private emitStop(): void {
    for (const l of this.stopListeners) {
      try {
        l();
      } catch {
        // a listener's failure must not keep the run alive
      }
    }
  }

  private killTree(): void {
    if (this.killed) return;
    this.killed = true;
    this.proc.kill();
  }

  private interruptThenKill(): void {
    if (this.interrupting) return;
    this.interrupting = true;
    // An interpreter can miss a SIGINT that lands inside its own native code: repeat it.
    this.proc.signalTree('SIGINT');
    this.timers.push(setInterval(() => this.proc.signalTree('SIGINT'), 250));
    this.timers.push(setTimeout(() => this.killTree(), this.options.interruptGraceMs ?? 0));
  }
}

function safe(check: (() => boolean) | undefined): boolean {
  if (!check) return false;
  try {
    return check();
  } catch {
    return false; // an observation that fails is unknown, never a verdict
  }
}
