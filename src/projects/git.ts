/**
 * Version control of a session workspace: git runs inside the session's
 * sandbox, as the session's uid (SessionService.runProgram), so a hostile
 * repository (hooks, fsmonitor, filter drivers in .git/config) can do no more
 * than the session's own code. Hooks are off anyway, and git's output is
 * parsed from NUL-separated formats with caps: the repository is untrusted.
 * Every commit is a checkpoint: it records the session's execution count in a
 * trailer, so restoring it can rebuild the interpreter state by replay.
 */
import { AppError } from '../errors.js';
import type { SessionExecResult, SessionService } from '../sessions/contract.js';
import { safeRelativePath } from '../sandbox/workspace/paths.js';

export interface GitOptions {
  owner?: string;
  signal?: AbortSignal;
}

export interface GitFileStatus {
  path: string;
  /** Two-letter porcelain code: index then worktree (`??` untracked, ` M` modified, `A ` added...). */
  code: string;
}

export interface GitCommit {
  hash: string;
  author: string;
  date: string;
  subject: string;
  /** The session's execution count when the commit was made (its checkpoint), if recorded. */
  executionCount?: number;
}

const TRAILER = 'Codemode-Execution-Count';
const MAX_ENTRIES = 10_000;
/** Who the commits are by when the principal has no mail address of its own. */
const MAIL_DOMAIN = 'codemode.invalid';

/** Options every git call gets: no hooks, no pager, no prompts, an identity, a repository owned by another uid is fine. */
function base(author: string): string[] {
  const name = author.replace(/[<>\n\r]/g, '').slice(0, 100) || 'codemode';
  return [
    '-c',
    'core.hooksPath=/dev/null',
    '-c',
    'core.pager=cat',
    '-c',
    'core.fsmonitor=false',
    '-c',
    'safe.directory=*',
    '-c',
    'init.defaultBranch=main',
    '-c',
    'advice.detachedHead=false',
    '-c',
    `user.name=${name}`,
    '-c',
    `user.email=${name.replace(/[^\w.-]/g, '_')}@${MAIL_DOMAIN}`,
    '-C',
    '/workspace',
  ];
}

export class SessionGit {
  constructor(
    private readonly sessions: SessionService,
    private readonly id: string,
    private readonly options: GitOptions = {},
  ) {}

  private async git(args: string[], okCodes: readonly number[] = [0]): Promise<SessionExecResult> {
    const r = await this.sessions.runProgram(this.id, 'git', [...base(this.options.owner ?? 'local'), ...args], {
      record: false,
      ...(this.options.owner === undefined ? {} : { owner: this.options.owner }),
      ...(this.options.signal === undefined ? {} : { signal: this.options.signal }),
    });
    if (r.status !== 'ok' && r.status !== 'error') {
      const code = r.status === 'timeout' ? 'TIMEOUT' : r.status === 'cancelled' ? 'CANCELLED' : 'LIMIT_EXCEEDED';
      throw new AppError(code, `git ${args[0]} ended ${r.status}${r.reason ? `: ${r.reason}` : ''}`);
    }
    if (r.exitCode === null || !okCodes.includes(r.exitCode)) {
      const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ').slice(0, 500);
      throw new AppError('INVALID_ARGUMENT', `git ${args[0]} failed (exit ${r.exitCode}): ${why}`);
    }
    return r;
  }

  /** Makes the workspace a repository (idempotent). */
  async init(): Promise<void> {
    await this.git(['init', '-q']);
  }

  async status(): Promise<GitFileStatus[]> {
    const r = await this.git(['status', '--porcelain=v1', '-z', '--untracked-files=all']);
    const parts = r.stdout.split('\0');
    const files: GitFileStatus[] = [];
    for (let i = 0; i < parts.length && files.length < MAX_ENTRIES; i++) {
      const p = parts[i]!;
      if (p.length < 4) continue;
      const code = p.slice(0, 2);
      files.push({ code, path: p.slice(3) });
      if (code[0] === 'R' || code[0] === 'C') i++; // renames carry the old name as the next entry
    }
    return files;
  }

  /** The diff of the working tree against `rev` (default: the last commit), as text; clipped by the output cap. */
  async diff(rev?: string): Promise<string> {
    const args = ['diff', '--no-color', '--no-ext-diff', '--no-textconv'];
    if (rev !== undefined) args.push(checkRev(rev));
    else args.push('HEAD');
    // A fresh repository has no HEAD yet: everything is new.
    const r = await this.git([...args, '--'], [0, 128]);
    if (r.exitCode === 128) return (await this.git(['diff', '--no-color', '--cached', '--'])).stdout;
    return r.stdout;
  }

  /**
   * Commits every change in the workspace (a checkpoint). Returns null when
   * there is nothing to commit. `trailers` adds lines such as `Agent: codemode-agent`.
   */
  async commit(message: string, trailers: Record<string, string> = {}): Promise<GitCommit | null> {
    const subject = message.trim();
    if (!subject) throw new AppError('INVALID_ARGUMENT', 'a commit needs a message', { argument: 'message' });
    await this.init();
    await this.git(['add', '-A']);
    if ((await this.git(['diff', '--cached', '--quiet'], [0, 1])).exitCode === 0) return null;
    const info = this.sessions.get(this.id, this.options.owner);
    const lines = { ...trailers, [TRAILER]: String(info.executionCount) };
    const args = ['commit', '-q', '--no-verify', '-m', subject.slice(0, 10_000)];
    for (const [k, v] of Object.entries(lines))
      args.push('--trailer', `${k.replace(/[^\w-]/g, '')}: ${v.replace(/\n/g, ' ')}`);
    await this.git(args);
    const [head] = await this.log(1);
    if (!head) throw new AppError('INTERNAL', 'git commit left no commit');
    return head;
  }

  async log(limit = 20): Promise<GitCommit[]> {
    const n = Math.max(1, Math.min(Math.trunc(limit), 1000));
    // Fields split by \x1f, commits by \x1e: characters a commit message does not carry by accident.
    const format = `%H%x1f%an%x1f%aI%x1f%s%x1f%(trailers:key=${TRAILER},valueonly,separator=%x2c)%x1e`;
    const r = await this.git(['log', `-n${n}`, `--format=${format}`], [0, 128]);
    if (r.exitCode === 128) return []; // no commits yet
    const commits: GitCommit[] = [];
    for (const rec of r.stdout.split('\x1e')) {
      const f = rec.replace(/^\n/, '').split('\x1f');
      if (f.length < 5 || !/^[0-9a-f]{40,64}$/.test(f[0]!)) continue;
      const count = Number(f[4]!.trim());
      commits.push({
        hash: f[0]!,
        author: f[1]!.slice(0, 200),
        date: f[2]!,
        subject: f[3]!.slice(0, 500),
        ...(Number.isSafeInteger(count) && f[4]!.trim() !== '' ? { executionCount: count } : {}),
      });
    }
    return commits;
  }

  /**
   * Brings the workspace's files back to commit `rev`: tracked files as they
   * were, files made since removed. History stays (the restore is a new state,
   * not a rewrite), so a restore can itself be undone.
   */
  async restore(rev: string): Promise<GitCommit> {
    const target = await this.resolve(checkRev(rev));
    // Index and files as at the commit (tracked files it lacks are removed), then untracked files go too.
    await this.git(['read-tree', '-u', '--reset', target.hash]);
    await this.git(['clean', '-q', '-f', '-d']);
    return (await this.log(1000)).find((c) => c.hash === target.hash) ?? target;
  }

  /** Writes every branch and tag as a git bundle to workspace file `file` (download it with read_file or export_archive). */
  async bundle(file: string): Promise<void> {
    if ((await this.log(1)).length === 0) throw new AppError('INVALID_ARGUMENT', 'nothing to bundle: no commits yet');
    await this.git(['bundle', 'create', '-q', `/workspace/${safeRelativePath(file)}`, '--all']);
  }

  /** The commits after `since` up to HEAD as mailbox patches (git format-patch), as text. */
  async patch(since: string): Promise<string> {
    return (await this.git(['format-patch', '--stdout', '--no-color', `${checkRev(since)}..HEAD`])).stdout;
  }

  /**
   * Imports the branches of a bundle file in the workspace (e.g. uploaded with
   * write_file) and checks out its HEAD: a repository brought in as a bundle.
   */
  async importBundle(file: string): Promise<GitCommit> {
    const rel = safeRelativePath(file);
    await this.init();
    await this.git(['bundle', 'verify', '-q', `/workspace/${rel}`]);
    await this.git([
      'fetch',
      '-q',
      '--update-head-ok',
      `/workspace/${rel}`,
      '+refs/heads/*:refs/heads/*',
      '+HEAD:refs/codemode/imported',
    ]);
    await this.git(['reset', '-q', '--hard', 'refs/codemode/imported']);
    const [head] = await this.log(1);
    if (!head) throw new AppError('INVALID_ARGUMENT', `${rel} holds no commits`);
    return head;
  }

  private async resolve(rev: string): Promise<GitCommit> {
    const r = await this.git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], [0, 1, 128]);
    const hash = r.stdout.trim();
    if (r.exitCode !== 0 || !/^[0-9a-f]{40,64}$/.test(hash)) throw new AppError('NOT_FOUND', `no commit ${rev}`);
    return { hash, author: '', date: '', subject: '' };
  }
}

/** A revision the user names: a hash, a branch or tag name, HEAD~N. Never an option. */
function checkRev(rev: string): string {
  if (!/^[\w./~^-]{1,200}$/.test(rev) || rev.startsWith('-')) {
    throw new AppError('INVALID_ARGUMENT', `"${rev}" is not a revision (a commit hash, HEAD, HEAD~1, a branch)`, {
      argument: 'rev',
    });
  }
  return rev;
}
