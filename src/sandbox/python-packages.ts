/**
 * The Python distributions the sandbox's interpreter can import: Debian's
 * python3-* packages (and any under /usr/local), read once from their
 * *.dist-info / *.egg-info names. The sandbox sees the host's /usr read-only,
 * so the host's list is the sandbox's. Used to answer a ModuleNotFoundError
 * with what is there, since nothing can be installed (no network).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';

const DIRS = ['/usr/lib/python3/dist-packages', '/usr/local/lib/python3/dist-packages'];
/** Packaging tools, not something a program imports for its work. */
const TOOLING = new Set(['pip', 'setuptools', 'wheel', 'pkg_resources', 'python_apt', 'PyGObject', 'dbus_python']);

let cached: readonly string[] | undefined;

/** Distribution names, sorted case-insensitively; read from disk on the first call only. */
export function installedPythonPackages(dirs: readonly string[] = DIRS): readonly string[] {
  if (cached !== undefined && dirs === DIRS) return cached;
  const names = new Set<string>();
  for (const dir of [...dirs, ...localVersionDirs(dirs)]) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue; // not on this host
    }
    for (const e of entries) {
      const m = /^([A-Za-z0-9_.]+?)(?:-[0-9][^/]*)?\.(?:dist|egg)-info$/.exec(e);
      if (m && !TOOLING.has(m[1]!)) names.add(m[1]!);
    }
  }
  const list = [...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
  if (dirs === DIRS) cached = list;
  return list;
}

/** /usr/local/lib/python3.N/dist-packages, whichever N exists. */
function localVersionDirs(dirs: readonly string[]): string[] {
  if (dirs !== DIRS) return [];
  try {
    return readdirSync('/usr/local/lib')
      .filter((d) => /^python3\.\d+$/.test(d))
      .map((d) => path.join('/usr/local/lib', d, 'dist-packages'));
  } catch {
    return []; // no /usr/local/lib
  }
}
