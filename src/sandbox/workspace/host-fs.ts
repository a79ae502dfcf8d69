/**
 * Host-side helpers for a workspace that no sandboxed program can touch: a
 * one-shot run's fresh volume before its program starts (input files), and
 * after its whole process tree is gone (the listing). Never for a session's
 * workspace, whose background processes may change it at any time: those go
 * through the workspace agent (agent.ts).
 */
import {
  chownSync,
  closeSync,
  constants as fsConstants,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  writeSync,
} from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../errors.js';
import type { InputFile, WorkspaceEntry } from '../executor.js';
import { safeRelativePath } from './paths.js';

/** chown to the sandbox user when we are root, so the sandbox can write. No-op otherwise. */
function giveToSandbox(p: string, uid: number | null): void {
  if (uid === null || process.getuid?.() !== 0) return;
  try {
    chownSync(p, uid, uid);
  } catch {
    // best effort: a read-only input stays readable
  }
}

export function writeInputFiles(root: string, files: InputFile[], uid: number | null, maxBytes: number): void {
  let total = 0;
  for (const [i, file] of files.entries()) {
    const rel = safeRelativePath(file.path, `files[${i}].path`);
    const data = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : Buffer.from(file.content);
    total += data.length;
    if (total > maxBytes) {
      throw new AppError('TOO_LARGE', `input files add up to more than the workspace limit of ${maxBytes} bytes`, {
        argument: `files[${i}]`,
      });
    }
    const target = path.join(root, rel);
    // Create parents one by one so none of them can be a pre-existing symlink out.
    let dir = root;
    for (const part of path
      .dirname(rel)
      .split('/')
      .filter((p) => p && p !== '.')) {
      dir = path.join(dir, part);
      try {
        const st = lstatSync(dir);
        if (!st.isDirectory())
          throw new AppError('PATH_ESCAPE', `files[${i}].path goes through "${part}", which is not a directory`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        mkdirSync(dir);
        giveToSandbox(dir, uid);
      }
    }
    writeFileNoFollow(target, data, uid, `files[${i}].path`);
  }
}

/**
 * Write a file without following a symlink at its final component (O_NOFOLLOW),
 * and give it to the sandbox user through the open descriptor, so a link that
 * sandboxed code planted cannot redirect the write or the chown outside.
 */
export function writeFileNoFollow(target: string, data: Uint8Array, uid: number | null, argument = 'path'): void {
  let fd: number;
  try {
    fd = openSync(
      target,
      fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW,
      0o644,
    );
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP')
      throw new AppError('PATH_ESCAPE', `${argument} is a symbolic link; refusing to write through it`, { argument });
    if (code === 'EISDIR') throw new AppError('INVALID_ARGUMENT', `${argument} is a directory`, { argument });
    throw e;
  }
  try {
    if (!fstatSync(fd).isFile())
      throw new AppError('INVALID_ARGUMENT', `${argument} is not a regular file`, { argument });
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    if (uid !== null && process.getuid?.() === 0) fchownSync(fd, uid, uid);
  } finally {
    closeSync(fd);
  }
}

export interface WalkResult {
  bytes: number;
  entries: WorkspaceEntry[];
  /** True when the walk stopped at maxEntries. */
  truncated: boolean;
}

/** Entries looked at, at most, by one walk (a capped volume holds about one file per 4 KiB). */
const MAX_VISITS = 100_000;

/**
 * Sum file sizes below root (no symlink following), listing up to maxEntries
 * files. Only for a workspace whose programs are all gone. Asynchronous: a
 * run that left 100k files never holds the event loop (other tenants) while
 * they are counted.
 */
export async function walkWorkspace(root: string, maxEntries = 1000): Promise<WalkResult> {
  const out: WalkResult = { bytes: 0, entries: [], truncated: false };
  const stack = [''];
  let visited = 0;
  while (stack.length > 0) {
    const rel = stack.pop()!;
    let names: string[];
    try {
      names = await readdir(path.join(root, rel));
    } catch {
      continue;
    }
    for (const name of names) {
      if (++visited > MAX_VISITS) {
        out.truncated = true;
        out.entries.sort((a, b) => a.path.localeCompare(b.path));
        return out;
      }
      const childRel = rel ? `${rel}/${name}` : name;
      let st;
      try {
        st = await lstat(path.join(root, childRel));
      } catch {
        continue;
      }
      if (st.isDirectory()) stack.push(childRel);
      else {
        out.bytes += st.size;
        if (st.isFile()) {
          if (out.entries.length < maxEntries) out.entries.push({ path: childRel, size: st.size });
          else out.truncated = true;
        }
      }
    }
  }
  out.entries.sort((a, b) => a.path.localeCompare(b.path));
  return out;
}
