/**
 * Looks at the host: where bubblewrap and the helpers are, which system paths
 * the sandbox needs, and which cgroup controllers we can use. The result feeds
 * both the sandbox and `codemode doctor`.
 */
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { SystemLayout } from './bwrap-args.js';

/** System directories a sandbox needs; each is bound read-only, or recreated as the host's symlink. */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32'];

/** /etc entries interpreters need (dynamic linker, alternatives, fonts, time zone). Secrets are not here. */
const ETC_ENTRIES = [
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/alternatives',
  '/etc/fonts',
  '/etc/localtime',
  '/etc/mime.types',
  '/etc/matplotlibrc',
  '/etc/python3',
  '/etc/python3.11',
  '/etc/python3.12',
  '/etc/python3.13',
];

export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const dirs = [...(env.PATH ?? '').split(':'), '/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

export function systemLayout(extraRoDirs: string[] = []): SystemLayout {
  const layout: SystemLayout = { roDirs: [], symlinks: [], roFiles: [], generated: [] };
  for (const dir of SYSTEM_DIRS) {
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) layout.symlinks.push([readlinkSync(dir), dir]);
    else if (st.isDirectory()) layout.roDirs.push(dir);
  }
  for (const dir of extraRoDirs) {
    if (!layout.roDirs.some((d) => dir === d || dir.startsWith(d + '/')) && existsSync(dir)) layout.roDirs.push(dir);
  }
  for (const entry of ETC_ENTRIES) if (existsSync(entry)) layout.roFiles.push(entry);
  return layout;
}

/**
 * Interpreters the sandbox runs. Python is Debian's /usr/bin/python3 (not a
 * PATH shim such as pyenv's), Node is the running one.
 */
export interface Interpreters {
  python: string | null;
  node: string;
  bash: string | null;
}

export function findInterpreters(): Interpreters {
  return {
    python: existsSync('/usr/bin/python3') ? '/usr/bin/python3' : null,
    node: process.execPath,
    bash: existsSync('/usr/bin/bash') ? '/usr/bin/bash' : existsSync('/bin/bash') ? '/bin/bash' : null,
  };
}

/** Directories outside the system dirs that must be visible for an interpreter (e.g. a Node under /opt). */
export function interpreterDirs(interpreters: Interpreters): string[] {
  const out: string[] = [];
  const nodePrefix = path.dirname(path.dirname(interpreters.node));
  if (!['/usr', '/'].includes(nodePrefix) && !nodePrefix.startsWith('/usr/')) out.push(nodePrefix);
  return out;
}
