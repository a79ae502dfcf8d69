/**
 * Session workspaces: one capped volume per session (see volume.ts), owned by
 * the session's own uid, with every file operation done by the workspace agent
 * inside the sandbox (see agent.ts). The host keeps only names, mount points
 * and statfs numbers; it never opens, lists or deletes a path inside.
 */
import { AppError } from '../../errors.js';
import type { WorkspaceEntry } from '../executor.js';
import type { Limits } from '../limits.js';
import type { Sandbox } from '../sandbox.js';
import { WorkspaceAgent } from './agent.js';
import { safeRelativePath } from './paths.js';
import { Volumes, type VolumeKind, type VolumeUsage } from './volume.js';

export interface WorkspacesOptions {
  sandbox: Sandbox;
  /** Parent of all session workspaces (mount points). */
  root: string;
  /** Where ext4 images are kept. Default: beside root, in `volumes/`. */
  imageDir?: string;
  /** Largest file written or read through the API. */
  maxFileBytes: number;
  python?: string;
  /** Force a volume kind (tests). */
  kind?: { persistent: VolumeKind; ephemeral: VolumeKind };
  /** How long an idle workspace agent lives. Default 120 s. */
  agentIdleMs?: number;
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export class Workspaces {
  readonly volumes: Volumes;

  constructor(private readonly o: WorkspacesOptions) {
    this.volumes = new Volumes({
      root: o.root,
      ...(o.imageDir ? { imageDir: o.imageDir } : {}),
      ...(o.kind ? { kind: o.kind } : {}),
    });
  }

  /** What caps a workspace's disk here: a filesystem of its own, or only RLIMIT_FSIZE. */
  get diskEnforcement(): VolumeKind {
    return this.volumes.kind.persistent;
  }

  /** A new, empty workspace with its own uid. */
  async create(id: string, limits: Limits): Promise<Workspace> {
    checkId(id);
    const uid = this.o.sandbox.acquireUid();
    try {
      const dir = await this.volumes.create(id, { bytes: limits.diskBytes, uid: this.uidOrNull(uid) }, true);
      const ws = new Workspace(this, id, dir, uid, limits);
      ws.knownEmpty();
      return ws;
    } catch (e) {
      this.o.sandbox.releaseUid(uid);
      throw e;
    }
  }

  /** A saved workspace again (after an idle stop or a restart), or null when it is gone. */
  async open(id: string, limits: Limits): Promise<Workspace | null> {
    checkId(id);
    const found = await this.volumes.open(id);
    if (!found) return null;
    const uid = this.o.sandbox.acquireUid(found.uid);
    if (this.uidOrNull(uid) !== null && uid !== found.uid) {
      // Its old uid belongs to someone else now; nothing runs in this volume yet, so hand it over.
      await this.volumes.reown(found.dir, found.uid, uid);
    }
    return new Workspace(this, id, found.dir, uid, limits);
  }

  exists(id: string): boolean {
    return ID_PATTERN.test(id) && this.volumes.exists(id);
  }

  /** Delete a workspace that is not open (a closed session's leftovers). */
  async destroy(id: string): Promise<void> {
    checkId(id);
    await this.volumes.destroy(id);
  }

  /** Volumes left mounted by a process that died without cleaning up. */
  cleanupStale(): number {
    return this.volumes.cleanupStale();
  }

  /** @internal */
  agentFor(dir: string, uid: number, limits: Limits): WorkspaceAgent {
    return new WorkspaceAgent({
      sandbox: this.o.sandbox,
      dir,
      uid,
      limits,
      maxFileBytes: this.o.maxFileBytes,
      ...(this.o.python ? { python: this.o.python } : {}),
      ...(this.o.agentIdleMs !== undefined ? { idleMs: this.o.agentIdleMs } : {}),
    });
  }

  /** @internal */
  get maxFileBytes(): number {
    return this.o.maxFileBytes;
  }

  /** @internal */
  release(uid: number): void {
    this.o.sandbox.releaseUid(uid);
  }

  private uidOrNull(uid: number): number | null {
    return process.getuid?.() === 0 ? uid : null;
  }
}

/** One open workspace: its volume, its uid, and its agent. */
export class Workspace {
  readonly agent: WorkspaceAgent;
  private listingKey = '';
  private listing: WorkspaceEntry[] = [];
  private released = false;

  constructor(
    private readonly owner: Workspaces,
    readonly id: string,
    readonly dir: string,
    readonly uid: number,
    readonly limits: Limits,
  ) {
    this.agent = owner.agentFor(dir, uid, limits);
  }

  async write(rel: string, content: Uint8Array, mode: 'truncate' | 'append' = 'truncate'): Promise<WorkspaceEntry> {
    const clean = safeRelativePath(rel);
    if (content.length > this.owner.maxFileBytes) {
      throw new AppError(
        'TOO_LARGE',
        `${clean} is ${content.length} bytes; the largest file allowed is ${this.owner.maxFileBytes} bytes`,
        { path: clean, maximum: this.owner.maxFileBytes },
      );
    }
    const usage = this.usage();
    if (usage && content.length > usage.bytesFree) {
      throw new AppError(
        'TOO_LARGE',
        `writing ${clean} (${content.length} bytes) does not fit: the workspace has ${usage.bytesFree} bytes free of limits.diskBytes = ${this.limits.diskBytes}`,
        { path: clean, maximum: this.limits.diskBytes },
      );
    }
    return this.agent.write(clean, content, mode);
  }

  read(rel: string): Promise<Uint8Array> {
    return this.agent.read(safeRelativePath(rel));
  }

  async list(rel?: string, maxEntries = 1000): Promise<WorkspaceEntry[]> {
    const root = rel === undefined || rel === '' || rel === '.' || rel === '/';
    return (await this.agent.list(root ? '' : safeRelativePath(rel), maxEntries)).entries;
  }

  delete(rel: string): Promise<void> {
    return this.agent.delete(safeRelativePath(rel));
  }

  /** Unpack an archive into folder `rel` ('' for the workspace itself); it must fit in the volume's free space. */
  importArchive(rel: string, archive: Uint8Array): Promise<{ entries: number; bytes: number }> {
    const root = rel === '' || rel === '.' || rel === '/';
    const free = this.usage()?.bytesFree ?? this.limits.diskBytes;
    return this.agent.importArchive(root ? '' : safeRelativePath(rel), archive, Math.min(free, this.limits.diskBytes));
  }

  /** Folder `rel` ('' for everything) as a .tar.gz, at most limits.diskBytes. */
  exportArchive(rel = ''): Promise<Uint8Array> {
    const root = rel === '' || rel === '.' || rel === '/';
    return this.agent.exportArchive(root ? '' : safeRelativePath(rel), this.limits.diskBytes);
  }

  /** Whether the file exists as a regular file (for run_script). */
  async isFile(rel: string): Promise<boolean> {
    return (await this.agent.stat(safeRelativePath(rel))).type === 'file';
  }

  usage(): VolumeUsage | null {
    return this.owner.volumes.usage(this.dir);
  }

  /** True when the volume has no space or no file left: what a program that failed on disk ran into. */
  full(): boolean {
    return this.owner.volumes.full(this.dir);
  }

  /**
   * The files after an execution. Asked of the agent only when the volume's
   * statfs numbers moved since the last listing, so a run that wrote nothing
   * costs one syscall. (A rename keeps the numbers: its listing shows the old
   * name until the next change.)
   */
  async filesAfterRun(maxEntries = 200): Promise<WorkspaceEntry[]> {
    const u = this.usage();
    const key = u ? `${u.bytesUsed}/${u.inodesUsed}` : '';
    if (u && key === this.listingKey) return this.listing;
    try {
      this.listing = (await this.agent.list('', maxEntries)).entries;
      this.listingKey = key;
    } catch {
      // a listing is a convenience: a workspace the helper cannot list reports none
      this.listing = [];
      this.listingKey = '';
    }
    return this.listing;
  }

  /** A new volume holds no files: remember that, so the first run that writes nothing asks no helper. */
  knownEmpty(): void {
    const u = this.usage();
    if (u) this.listingKey = `${u.bytesUsed}/${u.inodesUsed}`;
    this.listing = [];
  }

  /** Stop the agent and unmount; the files stay for a later open(). */
  async close(): Promise<void> {
    await this.agent.close();
    await this.owner.volumes.close(this.dir);
    this.releaseUid();
  }

  /** Stop the agent and delete the workspace with all its files. Only after every process in it is gone. */
  async destroy(): Promise<void> {
    await this.agent.close();
    await this.owner.volumes.destroy(this.id);
    this.releaseUid();
  }

  private releaseUid(): void {
    if (this.released) return;
    this.released = true;
    this.owner.release(this.uid);
  }
}

function checkId(id: string): void {
  if (!ID_PATTERN.test(id)) throw new AppError('INVALID_ARGUMENT', `invalid session id "${id}"`);
}
