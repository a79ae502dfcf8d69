/**
 * The OS sandbox: starts a process inside bubblewrap, in its own cgroups, with
 * rlimits, as an unprivileged uid, under a seccomp filter. Refuses to start when
 * a layer is missing, unless the loudly named unsandboxed mode is chosen.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants as fsConstants,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { AppError } from '../../errors.js';
import type { IsolationInfo } from '../executor.js';
import type { ProcessExit, Sandbox, SandboxProcess, SandboxStats, SpawnSpec } from '../sandbox.js';
import {
  BASE_ENV,
  SANDBOX_RUN_DIR,
  SANDBOX_WORKSPACE,
  buildBwrapArgsViaFd,
  type BwrapSpec,
  type SystemLayout,
} from './bwrap-args.js';
import { CgroupPool, RunCgroups, cleanupParents, detectCgroups, removeLayout, type CgroupLayout } from './cgroups.js';
import { findExecutable, findInterpreters, interpreterDirs, systemLayout } from './host-probe.js';
import { stageIfUnreachable, unreachableAncestor } from './reachability.js';
import { buildSeccompFilter } from './seccomp.js';
import { parseUidRange, UidAllocator, type UidRange } from './uids.js';

export const SANDBOX_UID = 65534;
export const SANDBOX_GID = 65534;

/** The opt-out's name says what it is; it appears in results and logs. */
export const UNSANDBOXED_FLAG = '--unsandboxed-i-know-this-is-unsafe';

export interface ProcessSandboxOptions {
  /** Run without bubblewrap and cgroups, as the host user. Only for trusted local use. */
  unsandboxed?: boolean;
  /** Directory for generated files (passwd, seccomp program). Default: a private dir under os.tmpdir(). */
  stateDir?: string;
  /** Host uids handed to sandboxes, one per session or one-shot run (as root). Default: $CODEMODE_UID_RANGE, else DEFAULT_UID_RANGE. */
  uidRange?: UidRange;
  /**
   * Start bwrap once at creation to check that it can make namespaces. Default
   * true. A one-shot CLI run passes false: its own run shows the same failure
   * (status not_started), and the caller probes then to explain it.
   */
  probeNamespaces?: boolean;
  /** Run cgroups made ahead of runs. Default 4; 0 makes each run's cgroup when it starts (one run, no spares). */
  cgroupPool?: number;
}

export interface SandboxReport {
  ready: boolean;
  bwrap: string | null;
  prlimit: string | null;
  setpriv: string | null;
  userNamespaces: boolean;
  cgroups: CgroupLayout;
  seccomp: boolean;
  runAsUid: number;
  python: string | null;
  node: string;
  bash: string | null;
  /** What is missing, each with how to fix it. */
  problems: string[];
}

const INSTALL_HINT = 'install it with: sudo apt-get install -y bubblewrap (Debian/Ubuntu)';

/** Inspect the host without starting anything long-lived. Creates (empty) cgroup parents. */
export function probeSandbox(options: { namespaces?: boolean } = {}): SandboxReport {
  const bwrap = findExecutable('bwrap');
  const prlimit = findExecutable('prlimit');
  const setpriv = findExecutable('setpriv');
  const isRoot = process.getuid?.() === 0;
  const interpreters = findInterpreters();
  // One parent per sandbox, not per process: a sandbox's cleanup empties its parent, which must not be another's.
  const cgroups = detectCgroups(`codemode-${process.pid}-${randomBytes(3).toString('hex')}`);
  const problems: string[] = [];
  if (!bwrap) problems.push(`bubblewrap (bwrap) is not installed: ${INSTALL_HINT}`);
  if (!prlimit) problems.push('prlimit (util-linux) is not installed: sudo apt-get install -y util-linux');
  if (isRoot && !setpriv) problems.push('setpriv (util-linux) is not installed: sudo apt-get install -y util-linux');
  for (const p of cgroups.problems) {
    problems.push(
      `${p}: run codemode as root, or give it a delegated cgroup v2 subtree (e.g. systemd-run --user --scope -p Delegate=yes codemode ...)`,
    );
  }
  let userNamespaces = false;
  if (bwrap && options.namespaces === false) {
    userNamespaces = true; // not checked: the first run reports not_started if bwrap cannot make them
  } else if (bwrap) {
    const args = ['--unshare-all', '--ro-bind', '/', '/', '--', '/bin/true'];
    const r =
      isRoot && setpriv
        ? spawnSync(
            setpriv,
            ['--reuid', String(SANDBOX_UID), '--regid', String(SANDBOX_GID), '--clear-groups', '--', bwrap, ...args],
            { timeout: 5000 },
          )
        : spawnSync(bwrap, args, { timeout: 5000 });
    userNamespaces = r.status === 0;
    if (!userNamespaces) {
      problems.push(
        `bubblewrap cannot create namespaces here (${String(r.stderr ?? '').trim() || 'exit ' + r.status}): enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0)`,
      );
    }
  }
  if (!interpreters.python)
    problems.push('Debian python3 is missing at /usr/bin/python3: sudo apt-get install -y python3');
  return {
    ready: problems.length === 0,
    bwrap,
    prlimit,
    setpriv,
    userNamespaces,
    cgroups,
    seccomp: buildSeccompFilter() !== null,
    runAsUid: isRoot ? SANDBOX_UID : (process.getuid?.() ?? -1),
    python: interpreters.python,
    node: interpreters.node,
    bash: interpreters.bash,
    problems,
  };
}

export async function createProcessSandbox(options: ProcessSandboxOptions = {}): Promise<Sandbox> {
  const stateDir =
    options.stateDir ?? path.join(os.tmpdir(), `codemode-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  chmodSync(stateDir, 0o755); // bwrap runs as the sandbox user and must reach the generated files
  if (options.unsandboxed) return new UnsandboxedSandbox();
  const report = probeSandbox({ namespaces: options.probeNamespaces ?? true });
  if (!report.ready) {
    throw new AppError(
      'SANDBOX_UNAVAILABLE',
      `refusing to run untrusted code: the sandbox is not available on this machine.\n- ${report.problems.join('\n- ')}\n` +
        `Run \`codemode doctor\` for details. For trusted local use only, ${UNSANDBOXED_FLAG} runs code without isolation.`,
      { problems: report.problems },
    );
  }
  cleanupParents(report.cgroups);
  process.once('exit', () => {
    removeLayout(report.cgroups);
    removeStateDir(stateDir);
  });
  const uidRange =
    options.uidRange ?? (process.env.CODEMODE_UID_RANGE ? parseUidRange(process.env.CODEMODE_UID_RANGE) : undefined);
  return new BwrapSandbox(report, stateDir, new UidAllocator(uidRange), options.cgroupPool ?? 4);
}

/**
 * The launcher, run by bash before exec'ing (setpriv and) bwrap. It sets the
 * rlimits (open files, file size in KiB, CPU seconds if asked; core dumps off,
 * soft and hard), closes every descriptor numbered CODEMODE_KEEP_FDS or above
 * (the stdio array sets up exactly those below it: stdio, the program's pipes,
 * the seccomp program, bwrap's status and options pipes), so a descriptor the
 * host left without CLOEXEC (a native addon's, an inherited one) never reaches
 * the sandbox, joins the cgroups, so nothing the program starts is ever outside
 * them, and drops its own variables (CODEMODE_*, PWD), which bwrap, the
 * sandbox's pid 1, would otherwise show in /proc/1/environ. bash, not sh: dash
 * cannot close a descriptor above 9; --norc, because bash sources ~/.bashrc
 * when its stdin is a socket (as Node's pipes are). Any failure exits 125 with
 * a message that starts "codemode-sandbox: ".
 */
const LAUNCH_SCRIPT = [
  'ulimit -c 0 -n "$CODEMODE_NOFILE" -f "$CODEMODE_FSIZE_KIB" || exit 125',
  'if [ -n "$CODEMODE_CPU_SECONDS" ]; then ulimit -S -t "$CODEMODE_CPU_SECONDS" && ulimit -H -t $((CODEMODE_CPU_SECONDS + 1)) || exit 125; fi',
  '[ -d /proc/self/fd ] || { echo "codemode-sandbox: /proc/self/fd is missing; cannot close inherited descriptors" >&2; exit 125; }',
  'for f in /proc/self/fd/*; do n=${f##*/}; if [ "$n" -ge "$CODEMODE_KEEP_FDS" ] && [ -L "$f" ]; then exec {n}>&- || exit 125; fi; done',
  'for f in $CODEMODE_CGROUP_PROCS; do echo $$ > "$f" || exit 125; done',
  'unset "${!CODEMODE_@}" PWD OLDPWD',
  'exec "$@"',
].join('\n');
const LAUNCH_ARGS = ['--norc', '--noprofile', '-c', LAUNCH_SCRIPT, 'codemode-sandbox'];

class BwrapSandbox implements Sandbox {
  readonly info: IsolationInfo;
  private readonly system: SystemLayout;
  private readonly seccompFile: string | null;
  /** An empty file shown as /proc/cmdline: the host kernel's command line stays hidden. */
  private readonly procCmdline: string;
  private readonly isRoot = process.getuid?.() === 0;
  private readonly stageDir: string;
  private readonly cgroupPool: CgroupPool;

  constructor(
    private readonly report: SandboxReport,
    stateDir: string,
    private readonly uids: UidAllocator,
    cgroupPoolSize: number,
  ) {
    const uid = report.runAsUid;
    this.stageDir = path.join(stateDir, 'staged');
    this.cgroupPool = new CgroupPool(report.cgroups, cgroupPoolSize);
    if (cgroupPoolSize > 0) this.cgroupPool.warm();
    this.system = systemLayout(interpreterDirs(findInterpreters()));
    const etc = path.join(stateDir, 'etc');
    mkdirSync(etc, { recursive: true, mode: 0o755 });
    writeFileSync(
      path.join(etc, 'passwd'),
      `root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:${uid}:${uid}:sandbox:${SANDBOX_WORKSPACE}:/bin/sh\n`,
    );
    writeFileSync(path.join(etc, 'group'), `root:x:0:\nsandbox:x:${uid}:\n`);
    writeFileSync(path.join(etc, 'hosts'), '127.0.0.1 localhost sandbox\n::1 localhost\n');
    for (const f of ['passwd', 'group', 'hosts'])
      this.system.generated.push({ host: path.join(etc, f), sandbox: `/etc/${f}` });
    this.procCmdline = path.join(etc, 'cmdline');
    writeFileSync(this.procCmdline, '');
    const filter = buildSeccompFilter();
    this.seccompFile = filter ? path.join(stateDir, 'seccomp.bpf') : null;
    if (filter && this.seccompFile) writeFileSync(this.seccompFile, filter);
    const controllers = report.cgroups.controllers;
    const version = controllers.memory?.version ?? controllers.pids?.version ?? 'none';
    this.info = { backend: 'bwrap', cgroup: version, seccomp: filter !== null, uid };
  }

  acquireUid(preferred?: number): number {
    return this.isRoot ? this.uids.acquire(preferred) : (this.info.uid ?? SANDBOX_UID);
  }

  releaseUid(uid: number): void {
    if (this.isRoot) this.uids.release(uid);
  }

  async spawn(spec: SpawnSpec): Promise<SandboxProcess> {
    // The uid inside the sandbox is always the same; the host uid is the tenant's own.
    const uid = this.info.uid ?? SANDBOX_UID;
    const ownUid = spec.uid === undefined;
    const hostUid = spec.uid ?? this.acquireUid();
    try {
      return await this.spawnAs(spec, uid, hostUid, ownUid);
    } catch (e) {
      if (ownUid) this.releaseUid(hostUid);
      throw e;
    }
  }

  private async spawnAs(spec: SpawnSpec, uid: number, hostUid: number, ownUid: boolean): Promise<SandboxProcess> {
    const blocked = unreachableAncestor(spec.workspaceDir, hostUid);
    if (blocked !== null) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `the workspace ${spec.workspaceDir} is not reachable by the sandbox user (uid ${hostUid}): ${blocked} does not let it in. ` +
          `Use a directory under ${os.tmpdir()} or /var/lib/codemode, or run: chmod o+x ${blocked}`,
        { argument: 'workspaceDir' },
      );
    }
    const roBinds = (spec.roBinds ?? []).map((b) => ({
      ...b,
      host: stageIfUnreachable(b.host, hostUid, this.stageDir),
    }));
    const extra = spec.extraPipes ?? 0;
    const seccompFd = this.seccompFile ? 3 + extra : null;
    // bwrap's own status pipe, after the program's pipes and the seccomp program.
    const statusFd = 3 + extra + (seccompFd !== null ? 1 : 0);

    const bwrapSpec: BwrapSpec = {
      procCmdline: this.procCmdline,
      system: this.system,
      workspaceDir: spec.workspaceDir,
      tmpBytes: spec.limits.tmpBytes,
      env: spec.env ?? {},
      roBinds,
      uid,
      gid: uid,
      seccompFd,
      statusFd,
      argv: spec.argv,
    };
    let cgroups: RunCgroups;
    try {
      cgroups = this.cgroupPool.take({
        memoryBytes: spec.limits.memoryBytes,
        processes: spec.limits.processes,
        ...(spec.cpuWeight ? { cpuWeight: spec.cpuWeight } : {}),
        ...(spec.cpuQuota !== undefined ? { cpuQuota: spec.cpuQuota } : {}),
      });
    } catch (e) {
      throw new AppError(
        'SANDBOX_UNAVAILABLE',
        `could not create the run's cgroup: ${(e as Error).message}`,
        undefined,
        {
          cause: e,
        },
      );
    }
    if (!this.report.bash) {
      throw new AppError('SANDBOX_UNAVAILABLE', 'bash is needed to launch the sandbox: sudo apt-get install -y bash');
    }
    const cpuSeconds = spec.cpuRlimit ? Math.max(1, Math.ceil(spec.limits.cpuMs / 1000)) : null;
    const dropUid =
      this.isRoot && this.report.setpriv
        ? [this.report.setpriv, '--reuid', String(hostUid), '--regid', String(hostUid), '--clear-groups', '--']
        : [];
    const seccompFdHost = this.seccompFile ? openSync(this.seccompFile, 'r') : null;
    const stdio: ('pipe' | number)[] = ['pipe', 'pipe', 'pipe'];
    for (let i = 0; i < extra; i++) stdio.push('pipe');
    if (seccompFdHost !== null) stdio.push(seccompFdHost);
    stdio.push('pipe'); // statusFd
    // bwrap reads its options from a pipe (--args), so its argv, the sandbox's /proc/1/cmdline, has no host path.
    const argsFd = stdio.length;
    stdio.push('pipe');
    const bwrap = buildBwrapArgsViaFd(bwrapSpec, argsFd);
    const command = [...dropUid, this.report.bwrap!, ...bwrap.argv];
    let child: ChildProcess;
    try {
      child = spawn(this.report.bash, [...LAUNCH_ARGS, ...command], {
        stdio,
        env: {
          PATH: '/usr/bin:/bin',
          CODEMODE_KEEP_FDS: String(stdio.length),
          CODEMODE_NOFILE: String(spec.limits.openFiles),
          CODEMODE_FSIZE_KIB: String(Math.floor(spec.limits.diskBytes / 1024)),
          CODEMODE_CPU_SECONDS: cpuSeconds === null ? '' : String(cpuSeconds),
          CODEMODE_CGROUP_PROCS: cgroups
            .joinFiles(spec.cpuWeight !== undefined || spec.cpuQuota !== undefined)
            .join(' '),
        },
        detached: false,
      });
    } finally {
      if (seccompFdHost !== null) closeSync(seccompFdHost);
    }
    const argsPipe = child.stdio[argsFd] as Writable;
    // EPIPE here means the launcher failed before bwrap read its options; its exit (125 and a message) reports that.
    argsPipe.on('error', () => {});
    argsPipe.end(bwrap.argsData);
    const status = child.stdio[statusFd] as Readable;
    return wrapChild(
      child,
      extra,
      cgroups,
      () => {
        this.cgroupPool.release(cgroups);
        if (ownUid) this.releaseUid(hostUid);
      },
      {
        status,
        tmpBytes: spec.limits.tmpBytes,
      },
    );
  }
}

/** bwrap's status pipe and what the tmp probe needs. */
interface BwrapChannels {
  status: Readable;
  tmpBytes: number;
}

function wrapChild(
  child: ChildProcess,
  extra: number,
  cgroups: RunCgroups | null,
  release: () => void = () => {},
  bwrap: BwrapChannels | null = null,
): SandboxProcess {
  let exitInfo: ProcessExit | null = null;
  // Whether the program started comes from bwrap alone: it reports an exit code on its status
  // fd only when its setup finished and exec succeeded. The program cannot reach that fd.
  const statusWatch = bwrap ? watchBwrapStatus(bwrap.status) : null;
  let spawnFailed = false;
  const startedFor = (_code: number | null) => (statusWatch ? statusWatch.execed() : !spawnFailed);
  const tmp = bwrap ? new TmpProbe(() => statusWatch?.childPid() ?? null, bwrap.tmpBytes) : null;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('error', () => {
      spawnFailed = true;
      exitInfo ??= { exitCode: null, signal: null, started: false };
      resolve(exitInfo);
    });
    child.once('exit', (code, signal) => {
      exitInfo = { exitCode: code, signal, started: startedFor(code) };
      // Anything still alive in the tree goes now, so the pipes close.
      cgroups?.kill();
    });
    child.once('close', () => {
      if (exitInfo) exitInfo.started = startedFor(exitInfo.exitCode);
      resolve(exitInfo ?? { exitCode: child.exitCode, signal: child.signalCode, started: startedFor(child.exitCode) });
    });
  });
  let disposed = false;
  const proc: SandboxProcess = {
    pid: child.pid ?? -1,
    stdin: child.stdin as Writable,
    stdout: child.stdout as Readable,
    stderr: child.stderr as Readable,
    extra: Array.from({ length: extra }, (_, i) => child.stdio[3 + i] as Readable & Writable),
    exited,
    signalTree(signal) {
      if (!cgroups) {
        if (child.pid && !trySignal(-child.pid, signal)) trySignal(child.pid, signal);
        return;
      }
      // The outer bwrap is child.pid; its inner init is its only direct child. Signal everything else.
      const skip = new Set<number>([child.pid ?? -1, ...childrenOf(child.pid ?? -1)]);
      for (const pid of cgroups.pids()) if (!skip.has(pid)) trySignal(pid, signal);
    },
    kill() {
      cgroups?.kill();
      if (!cgroups && child.pid) trySignal(-child.pid, 'SIGKILL');
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    stats(): SandboxStats {
      return cgroups?.stats() ?? { oomKilled: false, pidsLimitHit: false, cpuMs: null, memoryPeakBytes: null };
    },
    cpuMs(): number | null {
      return cgroups?.cpuMs() ?? null;
    },
    tmpFull(): boolean {
      return tmp?.full() ?? false;
    },
    tmpReady(): boolean {
      return tmp === null || tmp.ready();
    },
    setCpuQuota(cores: number | null): boolean {
      return cgroups?.setCpuQuota(cores) ?? false;
    },
    setCgroupLimits(limits: { memoryBytes: number; processes: number }): boolean {
      return cgroups?.setLive(limits) ?? false;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      proc.kill();
      await exited;
      tmp?.close();
      release();
    },
  };
  return proc;
}

/** Reads bwrap's --json-status-fd documents (small; capped): the child's pid, then its exit code. */
function watchBwrapStatus(stream: Readable): { childPid(): number | null; execed(): boolean } {
  let text = '';
  let childPid: number | null = null;
  let execed = false;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (text.length > 64 * 1024) return; // bwrap writes a few hundred bytes; anything more is ignored
    text += chunk;
    childPid ??= Number(/"child-pid":\s*(\d+)/.exec(text)?.[1] ?? NaN) || null;
    if (/"exit-code":\s*-?\d+/.test(text)) execed = true;
  });
  stream.on('error', () => {
    // the pipe closes when bwrap exits; an error here only means no more status
  });
  return { childPid: () => childPid, execed: () => execed };
}

const TMPFS_MAGIC = 0x01021994;

/**
 * Watches the sandbox's /tmp tmpfs from the host. It holds a directory handle
 * on it (opened through /proc/<child>/root once bwrap's setup is done, checked
 * to be a tmpfs of the run's size), so statfs still answers after the tree
 * exits. It never reads or writes a file there.
 */
class TmpProbe {
  private fd: number | null = null;
  private readonly expectedBytes: number;

  constructor(
    private readonly childPid: () => number | null,
    tmpBytes: number,
  ) {
    this.expectedBytes = Math.ceil(tmpBytes / 4096) * 4096;
  }

  ready(): boolean {
    this.open();
    return this.fd !== null;
  }

  full(): boolean {
    this.open();
    if (this.fd === null) return false;
    try {
      const st = statfsSync(`/proc/self/fd/${this.fd}`);
      return st.bavail * st.bsize < 8192 || st.ffree === 0;
    } catch {
      return false; // the handle is ours; failing to stat it means we cannot tell
    }
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  private open(): void {
    const pid = this.childPid();
    if (this.fd !== null || pid === null) return;
    const dir = `/proc/${pid}/root/tmp`;
    let fd: number;
    try {
      if (!this.isRunTmpfs(dir)) return; // setup not finished yet (or the tree is gone)
      fd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
    } catch {
      return; // not there yet, or gone: unknown
    }
    if (this.isRunTmpfs(`/proc/self/fd/${fd}`)) this.fd = fd;
    else closeSync(fd);
  }

  private isRunTmpfs(p: string): boolean {
    try {
      const st = statfsSync(p);
      return st.type === TMPFS_MAGIC && st.blocks * st.bsize === this.expectedBytes;
    } catch {
      return false;
    }
  }
}

function trySignal(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * No isolation at all: the program runs as the host user in the workspace
 * directory. Sandbox paths in argv are mapped to their host files.
 */
class UnsandboxedSandbox implements Sandbox {
  readonly info: IsolationInfo = {
    backend: 'unsandboxed',
    cgroup: 'none',
    seccomp: false,
    uid: process.getuid?.() ?? null,
  };

  acquireUid(): number {
    return process.getuid?.() ?? 0;
  }

  releaseUid(): void {
    // every run is the host user's own
  }

  async spawn(spec: SpawnSpec): Promise<SandboxProcess> {
    // A sandbox path in argv (a bind or a file under one) becomes its host path.
    const binds = spec.roBinds ?? [];
    const toHost = (a: string): string => {
      for (const b of binds) {
        if (a === b.sandbox) return b.host;
        if (a.startsWith(`${b.sandbox}/`)) return path.join(b.host, a.slice(b.sandbox.length + 1));
      }
      return a.replace(SANDBOX_WORKSPACE, spec.workspaceDir);
    };
    const argv = spec.argv.map(toHost);
    const runDir = binds.find((b) => b.sandbox === SANDBOX_RUN_DIR)?.host;
    const stdio: 'pipe'[] = Array.from({ length: 3 + (spec.extraPipes ?? 0) }, () => 'pipe' as const);
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: spec.workspaceDir,
      env: {
        ...BASE_ENV,
        HOME: spec.workspaceDir,
        MPLCONFIGDIR: path.join(spec.workspaceDir, '.matplotlib'),
        ...(runDir === undefined ? {} : { CODEMODE_RUN_DIR: runDir }), // the runners' /run/codemode
        ...spec.env,
      },
      stdio,
      detached: true,
    });
    return wrapChild(child, spec.extraPipes ?? 0, null);
  }
}

export function removeStateDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
