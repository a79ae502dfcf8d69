/**
 * The low-level sandbox contract: start one process inside the OS sandbox
 * (bubblewrap + cgroups + rlimits) and get its pipes and a handle that kills the
 * whole tree. The one-shot executor and the session kernels both build on it.
 * Types only.
 */
import type { Readable, Writable } from 'node:stream';
import type { IsolationInfo } from './executor.js';
import type { Limits } from './limits.js';

export interface ReadOnlyBind {
  /** Host path (file or directory). */
  host: string;
  /** Path inside the sandbox. */
  sandbox: string;
}

export interface SpawnSpec {
  /** Command inside the sandbox, e.g. ["/usr/bin/python3", "-u", "/run/codemode/main.py"]. */
  argv: string[];
  /** Host directory mounted read-write at /workspace (the only writable bind). */
  workspaceDir: string;
  limits: Limits;
  /** Extra environment on top of the clean sandbox environment. */
  env?: Record<string, string>;
  /** Extra read-only binds, e.g. the runner scripts. */
  roBinds?: ReadOnlyBind[];
  /** Number of extra pipes after stdin/stdout/stderr: fd 3, 4, ... inside the sandbox. */
  extraPipes?: number;
  /** Apply RLIMIT_CPU (one-shot runs). Kernels live long and meter CPU per execution instead. */
  cpuRlimit?: boolean;
  /**
   * Give the tree a CPU share (1..10000, 100 = an equal share) through the cpu
   * cgroup. Joining it costs a few ms at start, so short one-shot runs skip it;
   * long-lived kernels should set it.
   */
  cpuWeight?: number;
}

export interface ProcessExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** False when the sandbox failed before the program started (setup error, cgroup join failure). */
  started: boolean;
}

/** What the cgroup saw; read after (or during) the run. */
export interface SandboxStats {
  oomKilled: boolean;
  pidsLimitHit: boolean;
  /** CPU time used by the whole tree so far, in ms (null without a cpu accounting cgroup). */
  cpuMs: number | null;
  /** Peak memory in bytes, when the cgroup reports it. */
  memoryPeakBytes: number | null;
}

export interface SandboxProcess {
  readonly pid: number;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** fd 3, 4, ... as requested by extraPipes (each readable and writable). */
  readonly extra: (Readable & Writable)[];
  readonly exited: Promise<ProcessExit>;
  /** Send a signal to every process of the tree except the sandbox's own init (e.g. SIGINT). */
  signalTree(signal: NodeJS.Signals): void;
  /** Kill the whole tree at once. Safe to call more than once. */
  kill(): void;
  stats(): SandboxStats;
  /** Just the CPU time of stats(), for hot paths (one cgroup file read). */
  cpuMs(): number | null;
  /** Release the cgroup after exit. Idempotent. */
  dispose(): Promise<void>;
}

export interface Sandbox {
  readonly info: IsolationInfo;
  spawn(spec: SpawnSpec): Promise<SandboxProcess>;
}
