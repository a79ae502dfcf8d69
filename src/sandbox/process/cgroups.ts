/**
 * cgroup limits for one sandboxed process tree. Supports cgroup v2 (a unified
 * hierarchy with controllers enabled) and v1 (one hierarchy per controller), and
 * mixes them: each controller is taken from wherever it is available, and
 * `cgroup.kill` from v2 even when v2 has no controllers. The process joins its
 * cgroups itself before exec (see process-sandbox.ts), so no fork escapes.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmdirSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

let runCounter = 0;

/** cpuacct is v1-only CPU accounting; v2 reports usage in every cgroup's cpu.stat. */
export type Controller = 'memory' | 'pids' | 'cpu' | 'cpuacct';

export interface CgroupLayout {
  /** Where each controller comes from; absent when unavailable. */
  controllers: Partial<Record<Controller, { version: 'v1' | 'v2'; parent: string }>>;
  /** A v2 directory that can hold per-run cgroups (for cgroup.kill), if any. */
  v2Parent: string | null;
  problems: string[];
}

interface MountInfo {
  v1: Map<string, string>; // controller -> mount point
  v2: string | null;
}

function readMounts(): MountInfo {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  let text: string;
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return { v1, v2 };
  }
  for (const line of text.split('\n')) {
    const [, mountPoint, fsType, options] = line.split(' ');
    if (!mountPoint || !fsType) continue;
    if (fsType === 'cgroup2') v2 ??= mountPoint;
    if (fsType === 'cgroup' && options) {
      for (const opt of options.split(',')) {
        if (opt === 'memory' || opt === 'pids' || opt === 'cpu' || opt === 'cpuacct') v1.set(opt, mountPoint);
      }
    }
  }
  return { v1, v2 };
}

/** Our own cgroup path per hierarchy, from /proc/self/cgroup ("" key = v2). */
function ownCgroups(): Map<string, string> {
  const own = new Map<string, string>();
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const m = /^\d+:([^:]*):(.*)$/.exec(line);
      if (!m) continue;
      for (const c of m[1]!.split(',')) own.set(c, m[2]!);
    }
  } catch {
    // not Linux, or /proc hidden
  }
  return own;
}

function tryMkdir(dir: string): boolean {
  try {
    removeDeadSiblings(path.dirname(dir));
    mkdirSync(dir, { recursive: true });
    return true;
  } catch {
    return false;
  }
}

/** Remove a cgroup directory this process made and no longer wants (a cgroup's files go with it). */
function tryRmdir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // still in use or already gone: the dead-sibling sweep of a later start removes it
  }
}

/** Remove `codemode-<pid>[-<hex>]` (and Code Mode's `codemode-iso-<pid>`) subtrees left by processes that no longer exist. */
function removeDeadSiblings(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^codemode-(?:iso-)?(\d+)(?:-[0-9a-f]+)?$/.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    removeTree(path.join(base, name));
  }
}

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeTree(dir: string): void {
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) removeTree(path.join(dir, entry.name));
    }
    rmdirSync(dir);
  } catch {
    // in use, or already gone
  }
}

/** Remove our whole subtree (at process exit). */
export function removeLayout(layout: CgroupLayout): void {
  const parents = new Set<string>(Object.values(layout.controllers).map((c) => c.parent));
  if (layout.v2Parent) parents.add(layout.v2Parent);
  for (const parent of parents) removeTree(parent);
}

function readTrim(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * Find where per-run cgroups can be created. `prefix` names our subtree
 * (e.g. "codemode-1234"). Creates the parent directories; reports problems.
 */
export interface V2Candidate {
  parent: string;
  /** The controllers enabled for children of `parent`. */
  controllers: ('memory' | 'pids' | 'cpu')[];
  /** A real cgroup directory (it has cgroup.procs). */
  usable: boolean;
}

/**
 * Where the v2 runs go: the first usable place that passes down the most controllers; a place with none is kept
 * only when nothing better was found (runs are still accounted there, just not limited).
 */
export function chooseV2Parent(candidates: readonly V2Candidate[]): V2Candidate | undefined {
  let best: V2Candidate | undefined;
  for (const c of candidates)
    if (c.usable && (best === undefined || c.controllers.length > best.controllers.length)) best = c;
  return best;
}

export function detectCgroups(prefix: string): CgroupLayout {
  const mounts = readMounts();
  const own = ownCgroups();
  const layout: CgroupLayout = { controllers: {}, v2Parent: null, problems: [] };

  if (mounts.v2) {
    const ownPath = own.get('') ?? '/';
    // The v2 "no internal processes" rule: prefer our own cgroup's subtree,
    // fall back to the root, which is exempt.
    const candidates: V2Candidate[] = [];
    for (const base of new Set([path.join(mounts.v2, ownPath), mounts.v2])) {
      const parent = path.join(base, prefix);
      if (!tryMkdir(parent)) continue;
      const available = (readTrim(path.join(base, 'cgroup.controllers')) ?? '').split(/\s+/);
      const controllers: V2Candidate['controllers'] = [];
      for (const c of ['memory', 'pids', 'cpu'] as const) {
        if (!available.includes(c)) continue;
        try {
          writeFileSync(path.join(base, 'cgroup.subtree_control'), `+${c}`);
        } catch {
          // busy (processes in base) or not delegated
        }
        try {
          writeFileSync(path.join(parent, 'cgroup.subtree_control'), `+${c}`);
        } catch {
          // checked below
        }
        const enabled = (readTrim(path.join(parent, 'cgroup.subtree_control')) ?? '').split(/\s+/);
        if (enabled.includes(c)) controllers.push(c);
      }
      candidates.push({ parent, controllers, usable: existsSync(path.join(parent, 'cgroup.procs')) });
      // Our own cgroup holds processes, so it often cannot pass controllers down: then try the root too.
      if (controllers.length > 0) break;
    }
    const chosen = chooseV2Parent(candidates);
    for (const c of candidates) if (c.parent !== chosen?.parent) tryRmdir(c.parent);
    if (chosen !== undefined) {
      layout.v2Parent = chosen.parent;
      for (const c of chosen.controllers) layout.controllers[c] = { version: 'v2', parent: chosen.parent };
    }
  }

  for (const c of ['memory', 'pids', 'cpu', 'cpuacct'] as const) {
    if (layout.controllers[c] || (c === 'cpuacct' && layout.v2Parent)) continue;
    const mount = mounts.v1.get(c);
    if (!mount) continue;
    const ownPath = own.get(c) ?? '/';
    for (const base of [path.join(mount, ownPath), mount]) {
      const parent = path.join(base, prefix);
      if (tryMkdir(parent) && existsSync(path.join(parent, 'cgroup.procs'))) {
        layout.controllers[c] = { version: 'v1', parent };
        break;
      }
    }
  }
  for (const c of ['memory', 'pids'] as const) {
    if (!layout.controllers[c]) layout.problems.push(`no writable ${c} cgroup controller (v1 or v2)`);
  }
  return layout;
}

export interface CgroupLimits {
  memoryBytes: number;
  processes: number;
  /** Relative CPU weight, 1..10000 (v2 cpu.weight scale; default 100). */
  cpuWeight?: number;
  /** Hard CPU cap in cores (e.g. 1 = one core, 0.1 = 10% of one core): cpu.max (v2) / cpu.cfs_quota_us (v1). */
  cpuQuota?: number;
}

/** The CFS period the quota is expressed in (100 ms, the kernel default). */
const CFS_PERIOD_US = 100_000;

export interface CgroupStats {
  oomKilled: boolean;
  pidsLimitHit: boolean;
  cpuMs: number | null;
  memoryPeakBytes: number | null;
  /** How many times the OOM killer killed a task in the tree (counts, for windows over a long-lived tree). */
  oomKills: number;
  /** How many times a fork was refused at pids.max. */
  pidsMaxEvents: number;
}

/** The cgroups of one run: created, limited, joined by the child, read, killed, removed. */
export class RunCgroups {
  /** Files the child writes its pid into before exec. */
  readonly procsFiles: string[] = [];
  private readonly dirs = new Map<string, { version: 'v1' | 'v2'; dir: string }>();
  private v2Dir: string | null = null;
  private removed = false;
  /** Counter and quota files kept open: a kernel reads and writes them on every execution, and open is the slow part. */
  private readonly fds = new Map<string, number>();

  constructor(
    readonly layout: CgroupLayout,
    readonly name: string,
  ) {}

  /** Make the directories (the slow part: see CgroupPool). */
  create(): this {
    const made = new Set<string>();
    const ensure = (parent: string): string => {
      const dir = path.join(parent, this.name);
      if (!made.has(dir)) {
        mkdirSync(dir);
        made.add(dir);
        this.procsFiles.push(path.join(dir, 'cgroup.procs'));
      }
      return dir;
    };
    for (const [c, where] of Object.entries(this.layout.controllers) as [
      Controller,
      { version: 'v1' | 'v2'; parent: string },
    ][]) {
      const dir = ensure(where.parent);
      this.dirs.set(c, { version: where.version, dir });
      if (where.version === 'v2') this.v2Dir = dir;
    }
    if (!this.v2Dir && this.layout.v2Parent) this.v2Dir = ensure(this.layout.v2Parent);
    return this;
  }

  /** Every directory of the run is still there (a pre-made cgroup can be removed from outside while it waits). */
  intact(): boolean {
    if (this.removed) return false;
    for (const file of this.procsFiles) if (!existsSync(file)) return false;
    return true;
  }

  /** Set the run's limits (a few small writes). */
  applyLimits(limits: CgroupLimits): void {
    const mem = this.dirs.get('memory');
    if (mem) {
      if (mem.version === 'v2') {
        writeFileSync(path.join(mem.dir, 'memory.max'), String(limits.memoryBytes));
        tryWrite(path.join(mem.dir, 'memory.swap.max'), '0');
      } else {
        writeFileSync(path.join(mem.dir, 'memory.limit_in_bytes'), String(limits.memoryBytes));
        tryWrite(path.join(mem.dir, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
        tryWrite(path.join(mem.dir, 'memory.swappiness'), '0');
      }
    }
    const pids = this.dirs.get('pids');
    if (pids) writeFileSync(path.join(pids.dir, 'pids.max'), String(limits.processes));
    const cpu = this.dirs.get('cpu');
    if (cpu && limits.cpuWeight) {
      if (cpu.version === 'v2') tryWrite(path.join(cpu.dir, 'cpu.weight'), String(limits.cpuWeight));
      else tryWrite(path.join(cpu.dir, 'cpu.shares'), String(Math.round((limits.cpuWeight * 1024) / 100)));
    }
    if (limits.cpuQuota !== undefined) this.setCpuQuota(limits.cpuQuota);
  }

  /**
   * Change the memory and process caps of a live cgroup (before a pre-started
   * program's code runs). v1 needs memsw >= memory at every step, so memsw is
   * written on both sides of the memory limit. True when every cap holds.
   */
  setLive(limits: { memoryBytes: number; processes: number }): boolean {
    try {
      const mem = this.dirs.get('memory');
      if (mem?.version === 'v2') {
        writeFileSync(path.join(mem.dir, 'memory.max'), String(limits.memoryBytes));
      } else if (mem) {
        const memsw = path.join(mem.dir, 'memory.memsw.limit_in_bytes');
        const hasMemsw = existsSync(memsw);
        if (hasMemsw) tryWrite(memsw, String(limits.memoryBytes)); // fails when lowering: written again below
        writeFileSync(path.join(mem.dir, 'memory.limit_in_bytes'), String(limits.memoryBytes));
        if (hasMemsw) writeFileSync(memsw, String(limits.memoryBytes));
      }
      const pids = this.dirs.get('pids');
      if (pids) writeFileSync(path.join(pids.dir, 'pids.max'), String(limits.processes));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Cap the tree's CPU at `cores` (null: no cap). Takes effect at once, for
   * every task in the cgroup. False when there is no cpu controller to cap it.
   */
  setCpuQuota(cores: number | null): boolean {
    const cpu = this.dirs.get('cpu');
    if (!cpu) return false;
    const quota = cores === null ? null : Math.max(1000, Math.round(cores * CFS_PERIOD_US));
    if (cpu.version === 'v2') {
      return this.write(path.join(cpu.dir, 'cpu.max'), `${quota ?? 'max'} ${CFS_PERIOD_US}`);
    }
    // v1's period defaults to CFS_PERIOD_US; only the quota changes (one write on every switch).
    return this.write(path.join(cpu.dir, 'cpu.cfs_quota_us'), String(quota ?? -1));
  }

  /**
   * The cgroup.procs files a process joins. The v1 cpu hierarchy is joined only
   * for a CPU share: moving a task into it costs several ms (an RCU sync), and
   * CPU time is accounted in cpuacct or the v2 cgroup anyway.
   */
  joinFiles(withCpuShare: boolean): string[] {
    const cpu = this.dirs.get('cpu');
    if (withCpuShare || !cpu || cpu.version === 'v2' || cpu.dir === this.dirs.get('cpuacct')?.dir)
      return this.procsFiles;
    return this.procsFiles.filter((f) => path.dirname(f) !== cpu.dir);
  }

  /** Pids currently in the tree (from any of our cgroups). */
  pids(): number[] {
    const seen = new Set<number>();
    for (const file of this.procsFiles) {
      const text = readTrim(file);
      if (!text) continue;
      for (const p of text.split('\n')) if (p) seen.add(Number(p));
    }
    return [...seen];
  }

  /** Kill every process in the tree. cgroup.kill (v2) is atomic; v1 loops over the pids. */
  kill(): void {
    if (this.v2Dir && tryWrite(path.join(this.v2Dir, 'cgroup.kill'), '1')) return;
    for (let round = 0; round < 5; round++) {
      const pids = this.pids();
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  stats(): CgroupStats {
    const out: CgroupStats = {
      oomKilled: false,
      pidsLimitHit: false,
      cpuMs: null,
      memoryPeakBytes: null,
      oomKills: 0,
      pidsMaxEvents: 0,
    };
    const mem = this.dirs.get('memory');
    if (mem) {
      const events =
        mem.version === 'v2'
          ? this.read(path.join(mem.dir, 'memory.events'))
          : this.read(path.join(mem.dir, 'memory.oom_control'));
      const m = /oom_kill (\d+)/.exec(events ?? '');
      out.oomKills = m ? Number(m[1]) : 0;
      out.oomKilled = out.oomKills > 0;
      const peak =
        mem.version === 'v2'
          ? this.read(path.join(mem.dir, 'memory.peak'))
          : this.read(path.join(mem.dir, 'memory.max_usage_in_bytes'));
      if (peak && /^\d+$/.test(peak)) out.memoryPeakBytes = Number(peak);
    }
    const pids = this.dirs.get('pids');
    if (pids) {
      const events = this.read(path.join(pids.dir, 'pids.events'));
      const m = /max (\d+)/.exec(events ?? '');
      out.pidsMaxEvents = m ? Number(m[1]) : 0;
      out.pidsLimitHit = out.pidsMaxEvents > 0;
    }
    out.cpuMs = this.cpuMs();
    return out;
  }

  /** CPU time of the whole tree so far (one file read: cheap enough for every execution). */
  cpuMs(): number | null {
    const usage = this.v2Dir
      ? /usage_usec (\d+)/.exec(this.read(path.join(this.v2Dir, 'cpu.stat')) ?? '')?.[1]
      : this.read(path.join(this.dirs.get('cpuacct')?.dir ?? '/nonexistent', 'cpuacct.usage'));
    if (!usage || !/^\d+$/.test(usage)) return null;
    return this.v2Dir ? Number(usage) / 1000 : Number(usage) / 1e6;
  }

  /** A cgroup file's content, through a descriptor kept open for the run's life. */
  private read(file: string): string | null {
    try {
      let fd = this.fds.get(file);
      if (fd === undefined) this.fds.set(file, (fd = openSync(file, 'r')));
      return READ_BUFFER.toString('utf8', 0, readSync(fd, READ_BUFFER, 0, READ_BUFFER.length, 0)).trim();
    } catch {
      return null;
    }
  }

  private write(file: string, value: string): boolean {
    try {
      let fd = this.fds.get(file);
      if (fd === undefined) this.fds.set(file, (fd = openSync(file, 'w')));
      writeSync(fd, value, 0);
      return true;
    } catch {
      return false;
    }
  }

  private closeFiles(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  /** One attempt at removing every directory; true when all are gone. */
  tryRemove(): boolean {
    this.closeFiles();
    let done = true;
    for (const dir of new Set(this.procsFiles.map((f) => path.dirname(f)))) {
      try {
        rmdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        this.kill();
        done = false;
      }
    }
    if (done) this.removed = true;
    return done;
  }

  /** Remove the run's cgroups (after the tree is dead). Idempotent. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    this.closeFiles();
    const dirs = new Set(this.procsFiles.map((f) => path.dirname(f)));
    for (const dir of dirs) {
      for (let i = 0; i < 20; i++) {
        try {
          rmdirSync(dir);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
          this.kill();
        }
      }
    }
  }
}

function tryWrite(file: string, value: string): boolean {
  try {
    writeFileSync(file, value);
    return true;
  } catch {
    return false;
  }
}

/** Remove leftover per-run cgroups under our prefix (from a crashed earlier process with the same prefix). */
export function cleanupParents(layout: CgroupLayout): void {
  const parents = new Set<string>(Object.values(layout.controllers).map((c) => c.parent));
  if (layout.v2Parent) parents.add(layout.v2Parent);
  for (const parent of parents) {
    try {
      for (const entry of readdirSync(parent, { withFileTypes: true })) {
        if (entry.isDirectory()) {
          try {
            rmdirSync(path.join(parent, entry.name));
          } catch {
            // still in use
          }
        }
      }
    } catch {
      // gone
    }
  }
}

/**
 * Pre-created run cgroups. Making a cgroup costs about a millisecond per
 * hierarchy, on the path of every run; the pool keeps a few ready and removes
 * used ones off that path. A cgroup is never reused: each run gets a fresh one,
 * so no counters (oom_kill, pids events) carry over.
 */
/** One buffer for every cgroup counter read (synchronous, so never shared by two reads at once). */
const READ_BUFFER = Buffer.allocUnsafe(4096);

export class CgroupPool {
  private readonly ready: RunCgroups[] = [];
  private refilling = false;
  private closed = false;

  constructor(
    private readonly layout: CgroupLayout,
    private readonly size = 4,
  ) {}

  /**
   * A run cgroup with these limits. A pre-made one whose directories vanished
   * (removed from outside: an operator, a tidy-up) is dropped for the next or a
   * fresh one, so a run never joins a cgroup that is not there; when even a
   * fresh one cannot be made, this throws (the sandbox reports it as
   * SANDBOX_UNAVAILABLE) instead of launching a run that cannot join.
   */
  take(limits: CgroupLimits): RunCgroups {
    if (this.size > 0) this.scheduleRefill();
    for (let rc = this.ready.pop(); rc !== undefined; rc = this.ready.pop()) {
      try {
        if (rc.intact()) {
          rc.applyLimits(limits);
          return rc;
        }
      } catch {
        // it vanished while its limits were written: dropped below like one found missing
      }
      rc.tryRemove(); // whatever is left of it; never reused
    }
    const fresh = this.make();
    try {
      fresh.applyLimits(limits);
    } catch (e) {
      fresh.tryRemove();
      throw e;
    }
    return fresh;
  }

  /** Remove a used cgroup later, off the caller's path, retrying while the kernel still reaps its tasks. */
  release(rc: RunCgroups, attempt = 0): void {
    setTimeout(
      () => {
        if (!rc.tryRemove() && attempt < 20) this.release(rc, attempt + 1);
      },
      attempt === 0 ? 0 : 10 * attempt,
    ).unref();
  }

  close(): void {
    this.closed = true;
    for (const rc of this.ready.splice(0)) rc.remove();
  }

  private make(): RunCgroups {
    return new RunCgroups(this.layout, `run-${process.pid}-${++runCounter}-${randomBytes(3).toString('hex')}`).create();
  }

  /** Start filling the pool in the background. */
  warm(): void {
    this.scheduleRefill();
  }

  private scheduleRefill(): void {
    if (this.refilling || this.closed) return;
    this.refilling = true;
    setImmediate(() => {
      this.refilling = false;
      if (this.closed) return;
      try {
        while (this.ready.length < this.size) this.ready.push(this.make());
      } catch {
        // created on demand by take() instead
      }
    });
  }
}
