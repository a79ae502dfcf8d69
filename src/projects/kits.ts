/**
 * Kits: named, versioned bundles of packages an operator installs once on the
 * host and sessions use read-only. Pure: definitions, the built-in catalogue,
 * validation of operator kits (settings `kits`), and the module→kit index
 * behind "which kit provides this module" hints. Installing and checking live
 * in kits-host.ts; sandboxed code never installs a kit.
 */
import { AppError } from '../errors.js';

export type KitLanguage = 'python' | 'javascript';

export interface KitDefinition {
  name: string;
  version: string;
  /** What the model reads in list_kits. */
  description: string;
  /** Debian packages (installed system-wide with apt-get by the operator). */
  debian?: string[];
  /** npm specs (`name`, `name@range`, or an absolute path to a tarball), installed with --ignore-scripts into the kit folder. */
  npm?: string[];
  /** Import names the kit provides, by language (npm package names are added from the install). */
  modules?: Partial<Record<KitLanguage, string[]>>;
  /** Code run once in a new session's kernel of that language, before the first cell. */
  startup?: Partial<Record<KitLanguage, string>>;
}

/** The built-in catalogue; operator kits (settings `kits`) add to it or replace an entry by name. */
export const BUILTIN_KITS: readonly KitDefinition[] = Object.freeze([
  {
    name: 'data',
    version: '1',
    description:
      'Data analysis in Python: numpy, pandas, matplotlib, scipy, scikit-learn (sklearn), statsmodels (Debian packages).',
    debian: [
      'python3-numpy',
      'python3-pandas',
      'python3-matplotlib',
      'python3-scipy',
      'python3-sklearn',
      'python3-statsmodels',
    ],
    modules: { python: ['numpy', 'pandas', 'matplotlib', 'scipy', 'sklearn', 'statsmodels'] },
  },
  {
    name: 'plot',
    version: '1',
    description: 'Charts in Python with matplotlib (Agg backend; save figures to files or show them inline).',
    debian: ['python3-matplotlib'],
    modules: { python: ['matplotlib'] },
    startup: { python: 'import matplotlib\nmatplotlib.use("Agg")' },
  },
  {
    name: 'docs',
    version: '1',
    description: 'Office and PDF documents in Python: pypdf, openpyxl (xlsx), python-docx (import docx).',
    debian: ['python3-pypdf', 'python3-openpyxl', 'python3-docx'],
    modules: { python: ['pypdf', 'openpyxl', 'docx'] },
  },
]);

const NAME = /^[a-z][a-z0-9-]{0,39}$/;
const DEBIAN_PACKAGE = /^[a-z0-9][a-z0-9+.-]{1,99}$/;
const MODULE = /^[@A-Za-z0-9_.\-/]{1,214}$/;
/** An npm registry spec (`name`, `@scope/name`, with `@range`) or an absolute tarball path; never a URL, git or shell text. */
const NPM_SPEC =
  /^(?:(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*(?:@[A-Za-z0-9.^~<>=|* -]{1,64})?|\/[A-Za-z0-9._/-]+\.tgz)$/;

/** The npm package name of a spec (undefined for a tarball: known only after install). */
export function npmPackageName(spec: string): string | undefined {
  if (spec.startsWith('/')) return undefined;
  const at = spec.indexOf('@', 1);
  return at === -1 ? spec : spec.slice(0, at);
}

/** Problems with one kit definition, each naming its key (empty: valid). */
export function kitProblems(where: string, value: unknown): string[] {
  const out: string[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${where} must be an object`];
  const v = value as Record<string, unknown>;
  const known = new Set(['version', 'description', 'debian', 'npm', 'modules', 'startup']);
  for (const k of Object.keys(v))
    if (!known.has(k)) out.push(`${where}.${k} is not a kit key (${[...known].join(', ')})`);
  if (typeof v.version !== 'string' || !/^[A-Za-z0-9._-]{1,32}$/.test(v.version))
    out.push(`${where}.version must be a short version string, e.g. "1"`);
  if (typeof v.description !== 'string' || v.description.length === 0 || v.description.length > 500)
    out.push(`${where}.description must be a string of 1 to 500 characters`);
  const list = (key: string, re: RegExp, what: string) => {
    const l = v[key];
    if (l === undefined) return;
    if (!Array.isArray(l) || !l.every((s) => typeof s === 'string' && re.test(s)))
      out.push(`${where}.${key} must be an array of ${what}`);
  };
  list('debian', DEBIAN_PACKAGE, 'Debian package names');
  list('npm', NPM_SPEC, 'npm package specs (name, name@range) or absolute .tgz paths');
  if (v.debian === undefined && v.npm === undefined) out.push(`${where} needs debian or npm packages`);
  for (const key of ['modules', 'startup'] as const) {
    const m = v[key];
    if (m === undefined) continue;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      out.push(`${where}.${key} must map "python"/"javascript" to ${key === 'modules' ? 'module names' : 'code'}`);
      continue;
    }
    for (const [lang, x] of Object.entries(m)) {
      if (lang !== 'python' && lang !== 'javascript')
        out.push(`${where}.${key}.${lang}: language must be python or javascript`);
      else if (key === 'modules' && !(Array.isArray(x) && x.every((s) => typeof s === 'string' && MODULE.test(s))))
        out.push(`${where}.modules.${lang} must be an array of module names`);
      else if (key === 'startup' && (typeof x !== 'string' || x.length > 16_384))
        out.push(`${where}.startup.${lang} must be code of at most 16 KiB`);
    }
  }
  return out;
}

/** Problems with the settings `kits` map (names and definitions). */
export function kitsSettingProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return ['kits must map kit names to definitions'];
  const out: string[] = [];
  for (const [name, def] of Object.entries(value)) {
    if (!NAME.test(name)) out.push(`kits.${name}: a kit name is lowercase letters, digits and dashes`);
    out.push(...kitProblems(`kits.${name}`, def));
  }
  return out;
}

/** The built-in catalogue with the operator's kits over it (by name), sorted by name. */
export function kitCatalogue(operator: Readonly<Record<string, Omit<KitDefinition, 'name'>>> = {}): KitDefinition[] {
  const byName = new Map<string, KitDefinition>(BUILTIN_KITS.map((k) => [k.name, k]));
  for (const [name, def] of Object.entries(operator)) byName.set(name, { ...def, name });
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function findKit(catalogue: readonly KitDefinition[], name: string): KitDefinition {
  const kit = catalogue.find((k) => k.name === name);
  if (!kit) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `no kit named "${name}"; known kits: ${catalogue.map((k) => k.name).join(', ') || 'none'}`,
      { argument: 'kits' },
    );
  }
  return kit;
}

/** The languages a kit serves: python for Debian kits, javascript (and typescript) for npm kits, plus any startup/modules key. */
export function kitLanguages(kit: KitDefinition): KitLanguage[] {
  const out = new Set<KitLanguage>();
  if (kit.debian?.length) out.add('python');
  if (kit.npm?.length) out.add('javascript');
  for (const l of Object.keys(kit.modules ?? {})) out.add(l as KitLanguage);
  for (const l of Object.keys(kit.startup ?? {})) out.add(l as KitLanguage);
  return [...out].sort();
}

/** The module names each kit provides, by language; `installedNpm` adds the names an install found. */
export function moduleIndex(
  catalogue: readonly KitDefinition[],
  installedNpm: Readonly<Record<string, readonly string[]>> = {},
): Map<string, string[]> {
  const index = new Map<string, string[]>();
  const add = (lang: KitLanguage, module: string, kit: string) => {
    const key = `${lang}:${module}`;
    const kits = index.get(key) ?? [];
    if (!kits.includes(kit)) kits.push(kit);
    index.set(key, kits);
  };
  for (const kit of catalogue) {
    for (const [lang, mods] of Object.entries(kit.modules ?? {}))
      for (const m of mods) add(lang as KitLanguage, m, kit.name);
    for (const spec of kit.npm ?? []) {
      const n = npmPackageName(spec);
      if (n) add('javascript', n, kit.name);
    }
    for (const n of installedNpm[kit.name] ?? []) add('javascript', n, kit.name);
  }
  return index;
}

/**
 * The module a failed import names, from the error's type and message:
 * Python's ModuleNotFoundError ("No module named 'a.b'": top package "a"), or
 * Node's "Cannot find module 'x'" / "Cannot find package 'x'" (package "x" or "@s/x").
 */
export function missingModule(error: { type?: string; message?: string } | undefined): {
  language: KitLanguage;
  module: string;
} | null {
  if (!error?.message) return null;
  const py = /No module named '([^']+)'/.exec(error.message);
  if (py && (error.type === 'ModuleNotFoundError' || error.type === 'ImportError'))
    return { language: 'python', module: py[1]!.split('.')[0]! };
  const js = /Cannot find (?:module|package) '([^']+)'/.exec(error.message);
  if (js) {
    const spec = js[1]!;
    if (spec.startsWith('.') || spec.startsWith('/')) return null;
    const parts = spec.split('/');
    return { language: 'javascript', module: spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]! };
  }
  return null;
}

/**
 * A one-line hint naming the kits that provide a module a run failed to
 * import, or null: use one in a new session, or (not installed on this host)
 * ask the operator to install it.
 */
export function kitHint(
  index: ReadonlyMap<string, readonly string[]>,
  error: { type?: string; message?: string } | undefined,
  installed: (kit: string) => boolean,
  sessionKits: readonly string[] = [],
): string | null {
  const miss = missingModule(error);
  if (!miss) return null;
  const kits = index.get(`${miss.language}:${miss.module}`);
  if (!kits?.length) return null;
  const names = (l: readonly string[]) => l.map((k) => `"${k}"`).join(' or ');
  const ready = kits.filter((k) => installed(k) && !sessionKits.includes(k));
  if (ready.length) {
    return `'${miss.module}' is provided by kit ${names(ready)}: create a session with kits: ["${ready[0]}"] (see list_kits)`;
  }
  const missing = kits.filter((k) => !installed(k));
  if (missing.length) {
    return `'${miss.module}' is provided by kit ${names(missing)}, which is not installed on this host: the operator installs it with \`codemode kits install ${missing[0]}\``;
  }
  return null;
}
