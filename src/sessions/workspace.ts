/**
 * Session workspaces on the host: one directory per session under a root.
 * Every path is relative, checked lexically (no `..`, absolute, NUL) and then
 * physically (no symlink may lead outside): escapes fail with PATH_ESCAPE.
 */
import {
  chmodSync,
  closeSync,
  constants as fsConstants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import type { WorkspaceEntry } from '../sandbox/executor.js';
import { giveToSandbox, safeRelativePath, walkWorkspace, writeFileNoFollow } from '../sandbox/workspace-fs.js';

export interface WorkspacesOptions {
  /** Parent of all session workspaces; must be reachable by the sandbox user. */
  root: string;
  /** Largest single file written through the API. */
  maxFileBytes: number;
  /** Total size of one workspace after a write. */
  maxWorkspaceBytes: number;
  /** The sandbox's uid (65534); workspaces are given to it when we are root. Null: leave ownership alone. */
  sandboxUid: number | null;
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export class Workspaces {
  constructor(readonly options: WorkspacesOptions) {
    mkdirSync(options.root, { recursive: true, mode: 0o755 });
    // The sandbox user must traverse the root to reach its own workspace (and nothing more).
    const st = statSync(options.root);
    if (st.uid === process.getuid?.() && (st.mode & 0o001) === 0) chmodSync(options.root, (st.mode & 0o777) | 0o711);
  }

  dirFor(id: string): string {
    if (!ID_PATTERN.test(id)) throw new AppError('INVALID_ARGUMENT', `invalid session id "${id}"`);
    return path.join(this.options.root, id);
  }

  /** Create an empty workspace owned by the sandbox user. */
  create(id: string): string {
    const dir = this.dirFor(id);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    giveToSandbox(dir, this.options.sandboxUid);
    return dir;
  }

  remove(dir: string): void {
    if (path.dirname(dir) !== path.resolve(this.options.root)) return; // only ever delete our own directories
    rmSync(dir, { recursive: true, force: true });
  }

  exists(dir: string): boolean {
    try {
      return lstatSync(dir).isDirectory();
    } catch {
      return false;
    }
  }

  /** Write a file (creating parent directories); binary-safe. */
  write(dir: string, rel: string, content: Uint8Array): WorkspaceEntry {
    const clean = safeRelativePath(rel);
    if (content.length > this.options.maxFileBytes) {
      throw new AppError(
        'TOO_LARGE',
        `${clean} is ${content.length} bytes; the largest file allowed is ${this.options.maxFileBytes} bytes`,
        { path: clean, maximum: this.options.maxFileBytes },
      );
    }
    const target = path.join(dir, clean);
    const parent = this.ensureParents(dir, clean);
    let existing = 0;
    try {
      const st = lstatSync(target);
      if (st.isFile()) existing = st.size;
    } catch {
      // new file
    }
    const used = walkWorkspace(dir, 0).bytes;
    if (used - existing + content.length > this.options.maxWorkspaceBytes) {
      throw new AppError(
        'TOO_LARGE',
        `writing ${clean} would bring the workspace to ${used - existing + content.length} bytes; the limit is ${this.options.maxWorkspaceBytes}`,
        { path: clean, maximum: this.options.maxWorkspaceBytes },
      );
    }
    this.assertInside(dir, parent, clean);
    writeFileNoFollow(target, content, this.options.sandboxUid, 'path');
    return { path: clean, size: content.length };
  }

  read(dir: string, rel: string): Uint8Array {
    const clean = safeRelativePath(rel);
    const target = this.resolveExisting(dir, clean);
    let fd: number;
    try {
      fd = openSync(target, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (e) {
      throw this.fsError(e, clean);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new AppError('INVALID_ARGUMENT', `${clean} is not a regular file`, { path: clean });
      if (st.size > this.options.maxFileBytes) {
        throw new AppError(
          'TOO_LARGE',
          `${clean} is ${st.size} bytes; at most ${this.options.maxFileBytes} can be read`,
          {
            path: clean,
          },
        );
      }
      const buf = Buffer.alloc(st.size);
      let off = 0;
      while (off < st.size) {
        const n = readSync(fd, buf, off, st.size - off, off);
        if (n === 0) break;
        off += n;
      }
      return new Uint8Array(buf.buffer, buf.byteOffset, off);
    } finally {
      closeSync(fd);
    }
  }

  /** Files below `rel` (default: the whole workspace), with paths relative to the workspace. */
  list(dir: string, rel?: string, maxEntries = 1000): WorkspaceEntry[] {
    if (rel === undefined || rel === '' || rel === '.' || rel === '/') return walkWorkspace(dir, maxEntries).entries;
    const clean = safeRelativePath(rel);
    const target = this.resolveExisting(dir, clean);
    const st = lstatSync(target);
    if (st.isFile()) return [{ path: clean, size: st.size }];
    return walkWorkspace(target, maxEntries).entries.map((e) => ({ path: `${clean}/${e.path}`, size: e.size }));
  }

  delete(dir: string, rel: string): void {
    const clean = safeRelativePath(rel);
    const target = path.join(dir, clean);
    this.assertInside(dir, path.dirname(target), clean);
    let st;
    try {
      st = lstatSync(target);
    } catch (e) {
      throw this.fsError(e, clean);
    }
    if (st.isDirectory()) rmSync(target, { recursive: true, force: true });
    else unlinkSync(target); // a symlink itself is removed, never its target
  }

  /** The real path of an existing entry, refusing any that resolves outside the workspace. */
  private resolveExisting(dir: string, clean: string): string {
    const target = path.join(dir, clean);
    let real: string;
    try {
      real = realpathSync(target);
    } catch (e) {
      throw this.fsError(e, clean);
    }
    const root = realpathSync(dir);
    if (real !== root && !real.startsWith(root + path.sep)) {
      throw new AppError('PATH_ESCAPE', `${clean} is a symbolic link that points outside the workspace`, {
        path: clean,
      });
    }
    return real;
  }

  private ensureParents(dir: string, clean: string): string {
    const parts = clean.split('/').slice(0, -1);
    let current = dir;
    for (const part of parts) {
      current = path.join(current, part);
      let st;
      try {
        st = lstatSync(current);
      } catch {
        mkdirSync(current, { mode: 0o755 });
        giveToSandbox(current, this.options.sandboxUid);
        continue;
      }
      if (st.isSymbolicLink()) {
        throw new AppError('PATH_ESCAPE', `${clean} goes through a symbolic link (${part}); refusing to follow it`, {
          path: clean,
        });
      }
      if (!st.isDirectory())
        throw new AppError('INVALID_ARGUMENT', `${part} in ${clean} is not a directory`, { path: clean });
    }
    return current;
  }

  private assertInside(dir: string, parent: string, clean: string): void {
    let realParent: string;
    try {
      realParent = realpathSync(parent);
    } catch (e) {
      throw this.fsError(e, clean);
    }
    const root = realpathSync(dir);
    if (realParent !== root && !realParent.startsWith(root + path.sep)) {
      throw new AppError('PATH_ESCAPE', `${clean} leads outside the workspace through a symbolic link`, {
        path: clean,
      });
    }
  }

  private fsError(e: unknown, clean: string): AppError {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      return new AppError('NOT_FOUND', `no file ${clean} in the workspace`, { path: clean });
    if (code === 'ELOOP')
      return new AppError('PATH_ESCAPE', `${clean} is a symbolic link; refusing to follow it`, { path: clean });
    if (code === 'EISDIR') return new AppError('INVALID_ARGUMENT', `${clean} is a directory`, { path: clean });
    return new AppError('INTERNAL', `could not access ${clean}: ${(e as Error).message}`, { path: clean });
  }
}
