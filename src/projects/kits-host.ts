/**
 * Kits on the host: what is installed (dpkg for Debian kits, the kit folder's
 * manifest for npm kits), installing (apt-get only as root, else the exact
 * command; npm with --ignore-scripts into <state>/kits/<name>, built aside and
 * renamed into place) and removing. Only the operator's CLI installs; sessions
 * see npm kits read-only at /opt/codemode/kits/<name>.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import type { KitRecord, KitStatus } from '../sessions/contract.js';
import { findKit, kitCatalogue, kitLanguages, moduleIndex, type KitDefinition } from './kits.js';

/** Where an npm kit's folder appears inside the sandbox. */
export const SANDBOX_KITS_DIR = '/opt/codemode/kits';
const MANIFEST = 'kit.json';

export interface KitPackage {
  manager: 'debian' | 'npm';
  name: string;
  /** The installed version, or null when missing. */
  version: string | null;
}

export type { KitStatus };

interface NpmManifest {
  name: string;
  version: string;
  installedAt: string;
  packages: Record<string, string>;
}

/** Runs a program; injected so tests can see the commands. */
export type Runner = (
  command: string,
  args: string[],
  options?: { cwd?: string; env?: NodeJS.ProcessEnv },
) => { status: number | null; stdout: string; stderr: string };

const defaultRunner: Runner = (command, args, options = {}) => {
  const r = spawnSync(command, args, { ...options, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { status: r.error ? null : r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
};

export interface KitHostOptions {
  /** codemode's state directory; npm kits live in <stateDir>/kits. */
  stateDir: string;
  /** Operator kits from settings (`kits`). */
  kits?: Readonly<Record<string, Omit<KitDefinition, 'name'>>>;
  run?: Runner;
  isRoot?: boolean;
}

export class KitHost {
  readonly dir: string;
  private readonly catalogue: KitDefinition[];
  private readonly run: Runner;
  private readonly isRoot: boolean;

  constructor(options: KitHostOptions) {
    this.dir = path.join(options.stateDir, 'kits');
    this.catalogue = kitCatalogue(options.kits);
    this.run = options.run ?? defaultRunner;
    this.isRoot = options.isRoot ?? process.getuid?.() === 0;
  }

  definitions(): KitDefinition[] {
    return this.catalogue;
  }

  kit(name: string): KitDefinition {
    return findKit(this.catalogue, name);
  }

  /** Every kit's status, or the named ones'. */
  status(names?: readonly string[]): KitStatus[] {
    const kits = names ? names.map((n) => this.kit(n)) : this.catalogue;
    const debian = this.dpkgVersions(kits.flatMap((k) => k.debian ?? []));
    return kits.map((kit) => {
      const packages: KitPackage[] = (kit.debian ?? []).map((p) => ({
        manager: 'debian',
        name: p,
        version: debian.get(p) ?? null,
      }));
      const missing = packages.filter((p) => p.version === null).map((p) => p.name);
      if (kit.npm?.length) {
        const m = this.npmManifest(kit.name);
        if (!m || m.version !== kit.version) missing.push(`npm kit folder ${kit.name} (version ${kit.version})`);
        else for (const [n, v] of Object.entries(m.packages)) packages.push({ manager: 'npm', name: n, version: v });
      }
      return {
        name: kit.name,
        version: kit.version,
        description: kit.description,
        languages: kitLanguages(kit),
        installed: missing.length === 0,
        missing,
        install: this.installCommand(kit, missing),
        packages,
      };
    });
  }

  /** The host folder of an installed npm kit (bound read-only into sessions), or null. */
  npmFolder(name: string): string | null {
    const kit = this.kit(name);
    const m = this.npmManifest(name);
    return kit.npm?.length && m?.version === kit.version ? path.join(this.dir, name) : null;
  }

  /** The module→kits index, with the package names installs found. */
  index(): Map<string, string[]> {
    const installed: Record<string, string[]> = {};
    for (const k of this.catalogue) {
      const m = k.npm?.length ? this.npmManifest(k.name) : null;
      if (m) installed[k.name] = Object.keys(m.packages);
    }
    return moduleIndex(this.catalogue, installed);
  }

  /** The records a session keeps; INVALID_ARGUMENT when a kit is unknown or not installed. */
  records(names: readonly string[]): KitRecord[] {
    const statuses = this.status([...new Set(names)]);
    const missing = statuses.filter((s) => !s.installed);
    if (missing.length) {
      throw new AppError(
        'INVALID_ARGUMENT',
        missing
          .map((s) => `kit "${s.name}" is not installed on this host (missing: ${s.missing.join(', ')})`)
          .join('; ') + '; the operator installs it with `codemode kits install NAME` (see list_kits)',
        { argument: 'kits' },
      );
    }
    return statuses.map((s) => ({
      name: s.name,
      version: s.version,
      packages: s.packages.map((p) => ({ manager: p.manager, name: p.name, version: p.version ?? '' })),
    }));
  }

  /**
   * Installs a kit. Debian packages: apt-get as root, else `ran: false` with
   * the exact command to run. npm packages: into the kit folder, scripts off.
   */
  install(name: string, log: (line: string) => void = () => {}): { ran: boolean; command: string; status: KitStatus } {
    const kit = this.kit(name);
    const before = this.status([name])[0]!;
    const debianMissing = (kit.debian ?? []).filter((p) => before.missing.includes(p));
    let command = '';
    let ran = true;
    if (debianMissing.length) {
      command = aptCommand(debianMissing);
      if (!this.isRoot) ran = false;
      else {
        log(`$ ${command}`);
        const r = this.run('apt-get', ['install', '-y', '--no-install-recommends', ...debianMissing], {
          env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
        });
        if (r.status !== 0) {
          throw new AppError('INTERNAL', `apt-get install failed (exit ${r.status}): ${tail(r.stderr)}`, {
            command,
          });
        }
      }
    }
    if (kit.npm?.length && this.npmManifest(name)?.version !== kit.version) {
      const npmCommand = `npm install --ignore-scripts --no-audit --no-fund --omit=dev ${kit.npm.join(' ')}`;
      command = command ? `${command} && ${npmCommand}` : npmCommand;
      log(`$ ${npmCommand}  (in ${path.join(this.dir, name)})`);
      this.installNpm(kit);
    }
    return { ran, command, status: this.status([name])[0]! };
  }

  /** Removes an npm kit's folder; Debian packages are shared with the system, so only the command is returned. */
  remove(name: string): { removed: boolean; command: string | null } {
    const kit = this.kit(name);
    let removed = false;
    const folder = path.join(this.dir, name);
    if (kit.npm?.length && existsSync(folder)) {
      rmSync(folder, { recursive: true, force: true });
      removed = true;
    }
    const command = kit.debian?.length ? `sudo apt-get remove ${kit.debian.join(' ')}` : null;
    return { removed, command };
  }

  private installNpm(kit: KitDefinition): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const tmp = path.join(this.dir, `.${kit.name}.installing-${randomBytes(4).toString('hex')}`);
    mkdirSync(tmp, { mode: 0o755 });
    try {
      writeFileSync(
        path.join(tmp, 'package.json'),
        JSON.stringify({ name: `codemode-kit-${kit.name}`, version: '0.0.0', private: true }, null, 2),
      );
      const r = this.run(
        'npm',
        ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--omit=dev', '--save', ...kit.npm!],
        { cwd: tmp, env: { ...process.env, npm_config_update_notifier: 'false' } },
      );
      if (r.status !== 0) {
        throw new AppError('INTERNAL', `npm install for kit ${kit.name} failed (exit ${r.status}): ${tail(r.stderr)}`);
      }
      const deps =
        (
          JSON.parse(readFileSync(path.join(tmp, 'package.json'), 'utf8')) as {
            dependencies?: Record<string, string>;
          }
        ).dependencies ?? {};
      const packages: Record<string, string> = {};
      for (const n of Object.keys(deps)) {
        const pj = JSON.parse(readFileSync(path.join(tmp, 'node_modules', n, 'package.json'), 'utf8')) as {
          version?: string;
        };
        packages[n] = pj.version ?? '';
      }
      const manifest: NpmManifest = {
        name: kit.name,
        version: kit.version,
        installedAt: new Date().toISOString(),
        packages,
      };
      writeFileSync(path.join(tmp, MANIFEST), JSON.stringify(manifest, null, 2));
      const final = path.join(this.dir, kit.name);
      rmSync(final, { recursive: true, force: true });
      renameSync(tmp, final);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  private npmManifest(name: string): NpmManifest | null {
    try {
      const m = JSON.parse(readFileSync(path.join(this.dir, name, MANIFEST), 'utf8')) as NpmManifest;
      return typeof m.version === 'string' && typeof m.packages === 'object' && m.packages !== null ? m : null;
    } catch {
      return null; // no manifest (never installed, or removed): not installed
    }
  }

  /** Installed versions of Debian packages (absent: not installed). */
  private dpkgVersions(packages: string[]): Map<string, string> {
    const out = new Map<string, string>();
    if (packages.length === 0) return out;
    // Unknown packages make dpkg-query exit 1 but it still prints the known ones.
    const r = this.run('dpkg-query', ['-W', '-f=${Package}\t${Version}\t${db:Status-Abbrev}\n', ...new Set(packages)]);
    for (const line of r.stdout.split('\n')) {
      const [name, version, status] = line.split('\t');
      if (name && version && status?.startsWith('ii')) out.set(name.split(':')[0]!, version);
    }
    return out;
  }

  private installCommand(kit: KitDefinition, missing: string[]): string {
    const debian = (kit.debian ?? []).filter((p) => missing.includes(p));
    const parts: string[] = [];
    if (debian.length) parts.push(aptCommand(debian));
    if (kit.npm?.length) parts.push(`codemode kits install ${kit.name}`);
    return parts.join(' && ') || `codemode kits install ${kit.name}`;
  }
}

function aptCommand(packages: string[]): string {
  return `sudo apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-5).join('\n');
}
