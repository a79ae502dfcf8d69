/**
 * Builds the bubblewrap command line for one sandboxed process. Pure: the host
 * facts (which system paths exist) come in as data. Invariants: every namespace
 * is unshared (no network), the root is read-only, the workspace is the only
 * writable bind, /tmp and /dev/shm are size-capped tmpfs, the environment is
 * cleared, and all capabilities are dropped. With procCmdline, /proc/cmdline
 * shows that file instead of the host kernel's command line; with
 * buildBwrapArgsViaFd, bwrap's own argv (the sandbox's /proc/1/cmdline) holds
 * no host path.
 */
import { AppError } from '../../errors.js';
import type { ReadOnlyBind } from '../sandbox.js';

export const SANDBOX_WORKSPACE = '/workspace';
export const SANDBOX_RUN_DIR = '/run/codemode';

export interface SystemLayout {
  /** Directories bound read-only at the same path (e.g. /usr). */
  roDirs: string[];
  /** Symlinks to create: [target, linkPath] (e.g. ["usr/bin", "/bin"]). */
  symlinks: [string, string][];
  /** Host files bound read-only at the same path (e.g. /etc/ld.so.cache). */
  roFiles: string[];
  /** Generated files bound at the given sandbox path (e.g. a passwd for the sandbox user). */
  generated: ReadOnlyBind[];
}

export interface BwrapSpec {
  system: SystemLayout;
  workspaceDir: string;
  tmpBytes: number;
  env: Record<string, string>;
  roBinds: ReadOnlyBind[];
  uid: number;
  gid: number;
  /** fd number (inside bwrap's own fd table) holding a seccomp program, if any. */
  seccompFd: number | null;
  /** fd number (inside bwrap's own fd table) for --json-status-fd: the trusted "the program started" signal. */
  statusFd?: number | null;
  /** A host file bound over /proc/cmdline, so the host kernel's command line is not visible. */
  procCmdline?: string | null;
  argv: string[];
}

export const BASE_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: SANDBOX_WORKSPACE,
  TMPDIR: '/tmp',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  USER: 'sandbox',
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONUNBUFFERED: '1',
  MPLBACKEND: 'Agg',
  // Caches (matplotlib's, fontconfig's) go to the run's tmpfs, never into the user's workspace.
  MPLCONFIGDIR: '/tmp/matplotlib',
  XDG_CACHE_HOME: '/tmp/.cache',
  OPENBLAS_NUM_THREADS: '1',
  OMP_NUM_THREADS: '1',
  NO_COLOR: '1',
});

/** bwrap's argv: its options, `--`, then the program's argv verbatim. */
export function buildBwrapArgs(spec: BwrapSpec): string[] {
  return [...buildBwrapOptions(spec), '--', ...spec.argv];
}

/**
 * The same command with every option moved to a descriptor bwrap reads first
 * (`--args FD`: each option followed by NUL; bwrap closes it after reading).
 * bwrap's own argv, which the sandbox sees as /proc/1/cmdline (bwrap is its
 * init), is then `--args FD -- <program argv>`: no host path in it.
 */
export function buildBwrapArgsViaFd(spec: BwrapSpec, argsFd: number): { argv: string[]; argsData: string } {
  const options = buildBwrapOptions(spec);
  // A NUL inside a value (an env value, a path) would split it into options of its own.
  const bad = options.find((o) => o.includes('\0'));
  if (bad !== undefined) {
    throw new AppError('INVALID_ARGUMENT', `a sandbox option contains a NUL byte: ${JSON.stringify(bad)}`, {
      argument: 'env',
    });
  }
  const argsData = options.map((o) => `${o}\0`).join('');
  return { argv: ['--args', String(argsFd), '--', ...spec.argv], argsData };
}

/** Everything before `--`. */
export function buildBwrapOptions(spec: BwrapSpec): string[] {
  const a: string[] = [
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--clearenv',
    '--hostname',
    'sandbox',
    '--uid',
    String(spec.uid),
    '--gid',
    String(spec.gid),
  ];
  for (const dir of spec.system.roDirs) a.push('--ro-bind', dir, dir);
  for (const [target, link] of spec.system.symlinks) a.push('--symlink', target, link);
  for (const file of spec.system.roFiles) a.push('--ro-bind', file, file);
  for (const g of spec.system.generated) a.push('--ro-bind', g.host, g.sandbox);
  a.push('--proc', '/proc');
  if (spec.procCmdline) a.push('--ro-bind', spec.procCmdline, '/proc/cmdline');
  a.push('--dev', '/dev');
  a.push('--size', String(spec.tmpBytes), '--tmpfs', '/tmp');
  a.push('--size', String(spec.tmpBytes), '--tmpfs', '/dev/shm');
  a.push('--bind', spec.workspaceDir, SANDBOX_WORKSPACE);
  for (const b of spec.roBinds) a.push('--ro-bind', b.host, b.sandbox);
  for (const [k, v] of Object.entries({ ...BASE_ENV, ...spec.env })) a.push('--setenv', k, v);
  a.push('--chdir', SANDBOX_WORKSPACE);
  if (spec.seccompFd !== null) a.push('--seccomp', String(spec.seccompFd));
  if (spec.statusFd !== undefined && spec.statusFd !== null) a.push('--json-status-fd', String(spec.statusFd));

  a.push('--remount-ro', '/');
  return a;
}
