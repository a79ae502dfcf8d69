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
  /**
   * A hard CPU cap in cores (e.g. 1 = one core), through the cpu cgroup. It can
   * be changed while the tree runs with SandboxProcess.setCpuQuota (kernels
   * lower it between executions).
   */
  cpuQuota?: number;
  /** Host uid to run as (from Sandbox.acquireUid); default: a fresh uid for this process alone. */
  uid?: number;
}

export interface ProcessExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /**
   * True only when the sandbox itself said the program started: bubblewrap's
   * --json-status-fd reports an exit code only after its setup finished and it
   * reached exec. Never inferred from anything the program prints.
   */
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
  /** OOM kills and refused forks so far (counters, so a window over a long-lived tree can take deltas). */
  oomKills?: number;
  pidsMaxEvents?: number;
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
  /**
   * True when the sandbox's own /tmp tmpfs is full (bytes or inodes), measured
   * with statfs on a directory handle the host holds, so it still answers after
   * the tree exited. False when unknown.
   */
  tmpFull(): boolean;
  /** True once tmpFull() can answer (bwrap's setup is done); true at once where there is no probe. */
  tmpReady(): boolean;
  /** Change the tree's hard CPU cap in cores (null: none). False when no cpu cgroup applies. */
  setCpuQuota(cores: number | null): boolean;
  /**
   * Change the tree's memory cap and process cap on its live cgroup (a
   * pre-started runner handed a run with other limits, before its code runs).
   * False when there is no cgroup to change, or the change failed.
   */
  setCgroupLimits?(limits: { memoryBytes: number; processes: number }): boolean;
  /** Release the cgroup after exit. Idempotent. */
  dispose(): Promise<void>;
}

export interface Sandbox {
  readonly info: IsolationInfo;
  spawn(spec: SpawnSpec): Promise<SandboxProcess>;
  /**
   * Reserve a host uid for one tenant (a session, or a one-shot run), so its
   * processes share files with each other and with nobody else. `preferred`
   * is honoured when free (a resumed workspace's owner). Release when done.
   */
  acquireUid(preferred?: number): number;
  releaseUid(uid: number): void;
}
