/**
 * A user's own directory as a one-shot run's workspace (`exec --workspace DIR`):
 * it is copied into the run's capped volume before the program starts, and what
 * the program wrote is copied back after its whole tree is gone. The user's
 * directory is never handed to a sandbox uid, and nothing the program left
 * (a link, a name) can make the copy-back write outside DIR: links are not
 * copied back, and every destination path is walked without following one.
 */
import { execFile } from 'node:child_process';
import { cp, lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { AppError } from '../../errors.js';
import { writeInputFiles } from './host-fs.js';

const execFileAsync = promisify(execFile);

/** Copy DIR's files, folders and links (never what links point to) into a fresh volume, owned by `uid`. */
export async function copyInto(source: string, volume: string, uid: number | null): Promise<void> {
  let names: string[];
  try {
    names = await readdir(source);
  } catch (e) {
    throw new AppError('INVALID_ARGUMENT', `cannot read the workspace directory: ${(e as Error).message}`, {
      argument: 'workspaceDir',
    });
  }
  try {
    for (const name of names) {
      await cp(path.join(source, name), path.join(volume, name), {
        recursive: true,
        verbatimSymlinks: true,
        // Sockets, FIFOs and devices stay behind: a program gets files, folders and links.
        filter: async (p) => {
          const st = await lstat(p);
          return st.isFile() || st.isDirectory() || st.isSymbolicLink();
        },
      });
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') {
      throw new AppError('TOO_LARGE', 'the workspace directory does not fit in limits.diskBytes', {
        argument: 'workspaceDir',
      });
    }
    throw new AppError('INVALID_ARGUMENT', `could not copy the workspace directory: ${(e as Error).message}`, {
      argument: 'workspaceDir',
    });
  }
  // A pristine volume no program has touched yet: giving it to the run's uid follows no link (-P).
  if (uid !== null && process.getuid?.() === 0) await execFileAsync('chown', ['-R', '-P', `${uid}:${uid}`, volume]);
}

export interface CopyBack {
  /** Files written back into DIR. */
  copied: number;
  /** Links, special files and unreadable entries left in the run's workspace only. */
  skipped: string[];
}

/**
 * Copy the regular files of a finished run's volume back into DIR (as the
 * user codemode runs as). Deletions are not mirrored: DIR only gains or
 * updates files.
 */
export async function copyBack(volume: string, dest: string, maxBytes: number, maxFiles = 100_000): Promise<CopyBack> {
  const files: { path: string; content: Buffer }[] = [];
  const skipped: string[] = [];
  let total = 0;
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    for (const name of await readdir(path.join(volume, rel)).catch(() => [] as string[])) {
      const childRel = rel ? `${rel}/${name}` : name;
      const st = await lstat(path.join(volume, childRel)).catch(() => null);
      if (st?.isDirectory()) stack.push(childRel);
      else if (st?.isFile() && files.length < maxFiles && total + st.size <= maxBytes) {
        total += st.size;
        files.push({ path: childRel, content: await readFile(path.join(volume, childRel)) });
      } else skipped.push(childRel);
    }
  }
  let copied = 0;
  for (const file of files) {
    try {
      // Refuses a destination path that goes through a link or a non-directory (DIR's own, or ours).
      writeInputFiles(dest, [file], null, maxBytes);
      copied++;
    } catch {
      skipped.push(file.path);
    }
  }
  return { copied, skipped: skipped.sort() };
}
