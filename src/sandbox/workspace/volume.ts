/**
 * Workspace volumes: each workspace is its own filesystem, capped in bytes and
 * in files by the kernel, so disk use is enforced without the host ever
 * walking a tree that sandboxed code controls. Sessions get a sparse ext4
 * image on a loop device (it survives restarts, for resume); one-shot runs get
 * a tmpfs (gone with the run). Without root or loop devices the workspace is a
 * plain directory and only RLIMIT_FSIZE caps it: `kind` says which is in force.
 *
 * The host only ever touches a volume's mount point (a directory it created in
 * a parent the sandbox cannot write) and the image file (outside every
 * sandbox's view): never a path inside the volume.
 */
import { execFile, execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statfsSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AppError } from '../../errors.js';

export type VolumeKind = 'ext4' | 'tmpfs' | 'directory';

export interface VolumeSpec {
  /** Usable bytes (the disk limit). */
  bytes: number;
  /** Host uid (and gid) that owns the volume's root; null leaves it to the host user. */
  uid: number | null;
  /** Files (inodes) allowed; default one per 4 KiB of `bytes`, at least 1024. */
  inodes?: number;
}

export interface VolumeUsage {
  bytesUsed: number;
  bytesFree: number;
  inodesUsed: number;
  inodesFree: number;
}

/** Runs a system command; rejects with its stderr on failure. Injected for tests. */
export type CommandRunner = (file: string, args: string[]) => Promise<void>;

const execFileAsync = promisify(execFile);
const defaultRunner: CommandRunner = async (file, args) => {
  await execFileAsync(file, args, { timeout: 30_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } });
};

export interface VolumesOptions {
  /** Where mount points (workspaces) live; the sandbox user must be able to traverse it. */
  root: string;
  /** Where ext4 images live (0700, never bound into a sandbox). Default: <root>/../volumes. */
  imageDir?: string;
  /** Force a kind (tests); default: the best this host supports. */
  kind?: { persistent: VolumeKind; ephemeral: VolumeKind };
  run?: CommandRunner;
  /**
   * Mount tmpfs volumes through one resident helper (default true). False:
   * mount(8) per mount, for a process that mounts once (codemode exec), where
   * starting the helper costs more than the two commands it saves.
   */
  resident?: boolean;
}

/** Below this much free space (or with no free inode) a volume counts as full. */
const FULL_SLACK_BYTES = 64 * 1024;

export function inodesFor(spec: VolumeSpec): number {
  return spec.inodes ?? Math.max(1024, Math.floor(spec.bytes / 4096));
}

/** The image size that leaves `bytes` usable after ext4's inode tables and metadata. */
export function imageBytesFor(spec: VolumeSpec): number {
  const raw = spec.bytes + inodesFor(spec) * 256 + 4 * 1024 * 1024;
  return Math.ceil(raw / 4096) * 4096;
}

/** mkfs.ext4 arguments for a workspace image: no journal (fast, small), root owned by the sandbox uid. */
export function mkfsArgs(image: string, spec: VolumeSpec): string[] {
  const owner = spec.uid === null ? '' : `root_owner=${spec.uid}:${spec.uid},`;
  return [
    '-q',
    '-F',
    '-b',
    '4096',
    '-m',
    '0',
    '-N',
    String(inodesFor(spec)),
    '-O',
    '^has_journal',
    '-E',
    `${owner}lazy_itable_init=1,nodiscard`,
    image,
  ];
}

/** tmpfs data options (mount(2) flags nosuid and nodev are set beside them). */
export function tmpfsOptions(spec: VolumeSpec): string {
  const owner = spec.uid === null ? '' : `,uid=${spec.uid},gid=${spec.uid}`;
  return `size=${spec.bytes},nr_inodes=${inodesFor(spec)},mode=0700${owner}`;
}

/** What this host can do, without changing anything. */
export function detectVolumeKinds(): { persistent: VolumeKind; ephemeral: VolumeKind } {
  if (process.getuid?.() !== 0) return { persistent: 'directory', ephemeral: 'directory' };
  const hasLoop = existsSync('/dev/loop-control');
  const hasMkfs = ['/usr/sbin/mkfs.ext4', '/sbin/mkfs.ext4'].some((p) => existsSync(p));
  return { persistent: hasLoop && hasMkfs ? 'ext4' : 'tmpfs', ephemeral: 'tmpfs' };
}

export class Volumes {
  readonly root: string;
  readonly imageDir: string;
  readonly kind: { persistent: VolumeKind; ephemeral: VolumeKind };
  private readonly run: CommandRunner;
  private readonly mounter: Mounter | null;
  /** Mount points this process mounted and has not unmounted: statfs is asked of these alone, without reading the mount table. */
  private readonly live = new Set<string>();

  constructor(options: VolumesOptions) {
    this.root = path.resolve(options.root);
    this.imageDir = path.resolve(options.imageDir ?? path.join(this.root, '..', 'volumes'));
    this.kind = options.kind ?? detectVolumeKinds();
    this.run = options.run ?? defaultRunner;
    // mount(8) costs a fork and exec of a program that parses the mount table: on every one-shot run,
    // twice. One resident helper makes the same two system calls instead.
    this.mounter =
      options.run === undefined && options.resident !== false && this.kind.ephemeral === 'tmpfs' ? new Mounter() : null;
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    // Traversable by sandbox uids (bwrap opens the mount point as them), listable by nobody else.
    chmodSync(this.root, 0o711);
    if (this.kind.persistent === 'ext4') {
      mkdirSync(this.imageDir, { recursive: true, mode: 0o700 });
      chmodSync(this.imageDir, 0o700);
    }
  }

  mountPoint(name: string): string {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new AppError('INVALID_ARGUMENT', `invalid workspace name "${name}"`);
    return path.join(this.root, name);
  }

  private image(name: string): string {
    return path.join(this.imageDir, `${name}.img`);
  }

  /** Create and mount a new, empty volume. `persistent` volumes survive unmount (ext4 images). */
  async create(name: string, spec: VolumeSpec, persistent: boolean): Promise<string> {
    const dir = this.mountPoint(name);
    const kind = persistent ? this.kind.persistent : this.kind.ephemeral;
    mkdirSync(dir, { mode: 0o700 });
    try {
      if (kind === 'ext4') {
        const image = this.image(name);
        rmSync(image, { force: true });
        await this.run('truncate', ['-s', String(imageBytesFor(spec)), image]);
        await this.run('mkfs.ext4', mkfsArgs(image, spec));
        await this.mountImage(image, dir);
        // A fresh ext4 has lost+found (root's, 0700): nothing of the sandbox's, so it goes.
        rmdirSync(path.join(dir, 'lost+found'));
      } else if (kind === 'tmpfs') {
        await this.mountTmpfs(dir, tmpfsOptions(spec));
      }
      if (kind !== 'directory') this.live.add(dir);
      this.own(dir, spec.uid);
    } catch (e) {
      await this.destroy(name).catch(() => undefined); // the original error is the one to report
      throw new AppError('SANDBOX_UNAVAILABLE', `could not create the workspace volume: ${errText(e)}`, undefined, {
        cause: e,
      });
    }
    return dir;
  }

  /** Mount an existing persistent volume again (resume after a restart or an idle stop). */
  async open(name: string): Promise<{ dir: string; uid: number } | null> {
    const dir = this.mountPoint(name);
    if (this.isMounted(dir)) {
      this.live.add(dir);
      return { dir, uid: statSync(dir).uid };
    }
    if (this.kind.persistent !== 'ext4') {
      return existsSync(dir) && this.kind.persistent === 'directory' ? { dir, uid: statSync(dir).uid } : null;
    }
    const image = this.image(name);
    if (!existsSync(image)) return null;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // -p repairs what a hard stop may have left half-written; exit 1 means "fixed".
    await this.run('e2fsck', ['-p', '-f', image]).catch((e: unknown) => {
      if ((e as { code?: number }).code !== 1) throw e;
    });
    await this.mountImage(image, dir);
    this.live.add(dir);
    return { dir, uid: statSync(dir).uid };
  }

  /** Hand the volume to a different uid (a resumed session whose old uid is taken). Only while nothing runs in it. */
  async reown(dir: string, from: number, to: number): Promise<void> {
    await this.run('chown', ['-R', '-P', `--from=${from}:${from}`, `${to}:${to}`, dir]);
  }

  /** Unmount, keeping a persistent volume's image for later. */
  async close(dir: string): Promise<void> {
    this.live.delete(path.resolve(dir));
    if (this.isMounted(dir)) await this.unmount(dir);
    if (!this.isMounted(dir)) rmdirIfEmpty(dir);
  }

  /** Unmount and delete everything of the volume. */
  async destroy(name: string): Promise<void> {
    const dir = this.mountPoint(name);
    this.live.delete(dir);
    if (this.isMounted(dir)) await this.unmount(dir);
    // Nothing is mounted here any more: whatever is left is ours (a plain directory volume).
    if (!this.isMounted(dir)) rmSync(dir, { recursive: true, force: true });
    rmSync(this.image(name), { force: true });
  }

  exists(name: string): boolean {
    const dir = this.mountPoint(name);
    return this.kind.persistent === 'ext4' ? existsSync(this.image(name)) : existsSync(dir);
  }

  /** Bytes and files used and free (statfs of the mount point: one syscall, nothing walked). */
  usage(dir: string): VolumeUsage | null {
    if (!this.live.has(path.resolve(dir))) return null;
    const s = statfsSync(dir);
    return {
      bytesUsed: (s.blocks - s.bfree) * s.bsize,
      bytesFree: s.bavail * s.bsize,
      inodesUsed: s.files - s.ffree,
      inodesFree: s.ffree,
    };
  }

  /** True when a program in this volume ran out of space or files. */
  full(dir: string): boolean {
    const u = this.usage(dir);
    return u !== null && (u.bytesFree < FULL_SLACK_BYTES || u.inodesFree === 0);
  }

  /** Mount points under the root (from /proc/self/mountinfo). */
  mounted(): string[] {
    return mountsUnder(this.root);
  }

  isMounted(dir: string): boolean {
    return mountsUnder(dir).includes(path.resolve(dir));
  }

  /**
   * After a hard stop: unmount every volume left mounted under the root (their
   * images stay, for resume). Synchronous, so it is over before the first
   * workspace of this process is made. One server per state directory.
   */
  cleanupStale(): number {
    const stale = this.mounted().sort((a, b) => b.length - a.length);
    for (const dir of stale) {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'ignore', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
      } catch {
        // still mounted: open() finds it mounted and uses it as it is
      }
    }
    return stale.length;
  }

  private async mountTmpfs(dir: string, options: string): Promise<void> {
    if (this.mounter) return this.mounter.request({ op: 'tmpfs', target: dir, options });
    await this.run('mount', ['-t', 'tmpfs', '-o', `${options},nosuid,nodev`, 'codemode-ws', dir]);
  }

  private async unmount(dir: string): Promise<void> {
    if (this.mounter) return this.mounter.request({ op: 'umount', target: dir });
    await this.run('umount', [dir]).catch(() => this.run('umount', ['-l', dir]));
  }

  private async mountImage(image: string, dir: string): Promise<void> {
    await this.run('mount', ['-t', 'ext4', '-o', 'loop,nosuid,nodev,noatime', image, dir]);
  }

  private own(dir: string, uid: number | null): void {
    // The mount point's root: the host's own path, not one the sandbox can swap.
    chmodSync(dir, 0o700);
    if (uid !== null && process.getuid?.() === 0 && statSync(dir).uid !== uid) chownSync(dir, uid, uid);
  }
}

/** The resident mount helper (mounter.py): requests one at a time, one JSON line each way. */
class Mounter {
  private proc: ChildProcessWithoutNullStreams | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private pending: ((line: string) => void) | null = null;
  private buffered = '';

  request(req: Record<string, string>): Promise<void> {
    const job = this.queue.then(() => this.exchange(req));
    this.queue = job.catch(() => undefined);
    return job;
  }

  private exchange(req: Record<string, string>): Promise<void> {
    const proc = this.ensure();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        proc.kill('SIGKILL');
        reject(new Error('the mount helper did not answer'));
      }, 30_000);
      this.pending = (line) => {
        clearTimeout(timer);
        let reply: { ok?: unknown; error?: unknown };
        try {
          reply = JSON.parse(line) as typeof reply;
        } catch {
          reply = { ok: false, error: 'unreadable reply' };
        }
        if (reply.ok === true) resolve();
        else reject(new Error(`${req.op} ${req.target}: ${String(reply.error)}`));
      };
      proc.stdin.write(JSON.stringify(req) + '\n');
    });
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.proc && this.proc.exitCode === null) return this.proc;
    const script = fileURLToPath(new URL('./mounter.py', import.meta.url));
    const proc = spawn('/usr/bin/python3', ['-I', '-S', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    proc.unref();
    for (const s of [proc.stdin, proc.stdout, proc.stderr]) (s as unknown as { unref?: () => void }).unref?.();
    proc.stderr.resume();
    proc.stdin.on('error', () => {
      // the helper died: the pending request times out or fails on exit
    });
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const done = this.pending;
        this.pending = null;
        done?.(line);
      }
    });
    proc.once('exit', () => {
      if (this.proc === proc) this.proc = null;
      this.buffered = '';
      const done = this.pending;
      this.pending = null;
      done?.('{"ok":false,"error":"the mount helper exited"}');
    });
    this.proc = proc;
    return proc;
  }
}

/** The mount points at or below `dir`, read from /proc/self/mountinfo (octal escapes decoded). */
export function mountsUnder(dir: string): string[] {
  const base = path.resolve(dir);
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const decoded = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (decoded === base || decoded.startsWith(base + '/')) out.push(decoded);
  }
  return out;
}

function rmdirIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty (a plain-directory volume keeps its files) or already gone: both are fine
  }
}

function errText(e: unknown): string {
  const stderr = (e as { stderr?: unknown }).stderr;
  if (typeof stderr === 'string' && stderr.trim()) return stderr.trim();
  return e instanceof Error ? e.message : String(e);
}
