/**
 * Whether the sandbox user can reach a host path: bubblewrap runs as that
 * user, so every ancestor directory must be searchable by it. Read-only
 * inputs that are not reachable (runner scripts inside /root/..., say) are
 * staged into a reachable directory; a workspace that is not reachable is a
 * clear error.
 */
import { cpSync, mkdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';

/** The first ancestor of `target` (or target itself) that `uid` cannot search, or null when all are fine. */
export function unreachableAncestor(target: string, uid: number): string | null {
  if (uid === 0) return null;
  let dir = path.resolve(target);
  const chain: string[] = [];
  for (;;) {
    chain.unshift(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const p of chain) {
    let st;
    try {
      st = statSync(p);
    } catch {
      return p;
    }
    if (!st.isDirectory()) continue;
    const bit = st.uid === uid ? 0o100 : 0o001;
    if ((st.mode & bit) === 0) return p;
  }
  return null;
}

/**
 * Copy `host` into `stageRoot` (once per host path and modification time) when
 * `uid` cannot reach it, and return the path to bind instead.
 */
export function stageIfUnreachable(host: string, uid: number, stageRoot: string): string {
  if (unreachableAncestor(host, uid) === null) return host;
  let st;
  try {
    st = statSync(host);
  } catch {
    return host; // missing: bwrap reports it, and the run counts as not started
  }
  const key = createHash('sha256')
    .update(`${path.resolve(host)}:${st.mtimeMs}:${st.size}`)
    .digest('hex')
    .slice(0, 16);
  const staged = path.join(stageRoot, key, path.basename(host));
  mkdirSync(path.dirname(staged), { recursive: true, mode: 0o755 });
  cpSync(host, staged, { recursive: true, force: true });
  return staged;
}
