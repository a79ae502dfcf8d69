/**
 * The minimal bubblewrap every sandboxed floor runs in: new namespaces, the
 * system read-only, nothing else. Only /usr and /etc are bound (not `/`, whose
 * recursive bind races with the volumes the subject mounts and unmounts under
 * /tmp at the same time).
 */
import { existsSync, lstatSync } from 'node:fs';

export function minimalBwrapArgs(): string[] {
  const args = ['--unshare-all', '--die-with-parent', '--ro-bind', '/usr', '/usr', '--ro-bind', '/etc', '/etc'];
  for (const dir of ['/bin', '/sbin', '/lib', '/lib32', '/lib64']) {
    if (!existsSync(dir)) continue;
    const st = lstatSync(dir);
    if (st.isSymbolicLink()) args.push('--symlink', `usr${dir}`, dir);
    else args.push('--ro-bind', dir, dir);
  }
  args.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--');
  return args;
}
