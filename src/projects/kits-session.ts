/**
 * What kits and a network policy add to one session: read-only binds of npm
 * kit folders (found through NODE_PATH), the kits' start-up code, and, with a
 * policy, the host egress proxy's socket bound at /run/codemode-net plus the
 * in-sandbox forwarder on 127.0.0.1:3128 (HTTP(S)_PROXY point there). The
 * sandbox keeps --unshare-net. The choice is recorded host-side (never in the
 * workspace) so a resumed session gets the same environment back.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../errors.js';
import type { Sandbox, SpawnSpec } from '../sandbox/sandbox.js';
import type {
  KitRecord,
  KitStatus,
  SessionEnvironment,
  SessionEnvironmentProvider,
  SessionEnvironmentRequest,
} from '../sessions/contract.js';
import type { NetworkPolicy } from './egress.js';
import { EgressProxy } from './egress-proxy.js';
import { kitHint, missingModule, type KitLanguage } from './kits.js';
import { KitHost, SANDBOX_KITS_DIR } from './kits-host.js';

const NET_DIR = '/run/codemode-net';
const FORWARDER = 'egress-forward.py';
/** Beside, not inside, the socket's read-only folder (bwrap cannot add a file under a read-only bind). */
const FORWARDER_IN_SANDBOX = `/run/codemode-${FORWARDER}`;
export const EGRESS_PORT = 3128;

/** The forwarder starts first and says "ready" before the program runs, so the first request finds it listening. */
const NET_LAUNCH =
  `exec 9< <(exec /usr/bin/python3 -I ${FORWARDER_IN_SANDBOX} </dev/null 2>/dev/null); ` +
  'read -r -t 10 _ <&9 || { echo "codemode: the egress forwarder did not start" >&2; exit 125; }; exec 9<&-; exec "$@"';

function forwarderPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.join(here, FORWARDER); // copied beside the compiled code by scripts/copy-assets.mjs
}

export interface KitsSessionOptions {
  kits: KitHost;
  /** settings network.policies */
  policies?: Readonly<Record<string, NetworkPolicy>>;
  /** Where session records and egress logs go (e.g. <state>/session-env). */
  dir: string;
}

export class KitsSessionProvider implements SessionEnvironmentProvider {
  constructor(private readonly options: KitsSessionOptions) {}

  catalogue(): { kits: KitStatus[]; networks: string[] } {
    return { kits: this.options.kits.status(), networks: Object.keys(this.options.policies ?? {}).sort() };
  }

  async apply(req: SessionEnvironmentRequest): Promise<SessionEnvironment> {
    const lang: KitLanguage = req.language === 'python' ? 'python' : 'javascript';
    const names = [...new Set(req.kits ?? [])];
    const records = this.options.kits.records(names);
    const policy = req.network === undefined ? undefined : this.policy(req.network);
    const roBinds: { host: string; sandbox: string }[] = [];
    const nodePath: string[] = [];
    const startup: string[] = [];
    for (const name of names) {
      const def = this.options.kits.kit(name);
      const folder = this.options.kits.npmFolder(name);
      if (folder) {
        roBinds.push({ host: folder, sandbox: `${SANDBOX_KITS_DIR}/${name}` });
        nodePath.push(`${SANDBOX_KITS_DIR}/${name}/node_modules`);
      }
      const code = def.startup?.[lang];
      if (code && req.language !== 'bash') startup.push(code);
    }
    const env: Record<string, string> = {};
    if (nodePath.length) env.NODE_PATH = nodePath.join(':');
    let proxy: EgressProxy | undefined;
    // The caps hold over the session's life: a suspended session resumes with what it used.
    let saveUsage = () => {};
    if (policy && req.network !== undefined) {
      mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
      const usageFile = path.join(this.options.dir, `${req.sessionId}.egress-usage.json`);
      proxy = await EgressProxy.start({
        policyName: req.network,
        policy,
        uid: req.uid,
        logFile: path.join(this.options.dir, `${req.sessionId}.egress.jsonl`),
        used: readUsage(usageFile),
      });
      const p = proxy;
      saveUsage = () => writeFileSync(usageFile, JSON.stringify(p.usage()));
      roBinds.push(
        { host: proxy.socketDir, sandbox: NET_DIR },
        { host: forwarderPath(), sandbox: FORWARDER_IN_SANDBOX },
      );
      const url = `http://127.0.0.1:${EGRESS_PORT}`;
      Object.assign(env, {
        HTTP_PROXY: url,
        HTTPS_PROXY: url,
        http_proxy: url,
        https_proxy: url,
        NO_PROXY: '',
        no_proxy: '',
        // Node's own fetch reads the proxy variables only from Node 24.5 on, and only with this switch.
        NODE_USE_ENV_PROXY: '1',
      });
    }
    this.remember(req.sessionId, { kits: records, network: req.network ?? null });
    const sandboxFor = (base: Sandbox): Sandbox => wrapSandbox(base, env, roBinds, proxy !== undefined);
    return {
      kits: records,
      ...(req.network === undefined ? {} : { network: req.network }),
      startup: startup.length ? startup.join('\n') : null,
      sandbox: sandboxFor,
      egressLog: () => proxy?.log() ?? [],
      close: async () => {
        saveUsage();
        await proxy?.close();
      },
    };
  }

  hint(error: { type?: string; message?: string } | undefined, sessionKits: readonly string[]): string | null {
    // Only an import error costs a look at the host (dpkg-query, the kit folders).
    if (!missingModule(error)) return null;
    const kits = this.options.kits;
    const installed = new Map(kits.status().map((s) => [s.name, s.installed]));
    return kitHint(kits.index(), error, (k) => installed.get(k) === true, sessionKits);
  }

  recall(sessionId: string): { kits: string[]; network?: string } | null {
    try {
      const r = JSON.parse(readFileSync(this.recordFile(sessionId), 'utf8')) as {
        kits: KitRecord[];
        network: string | null;
      };
      return { kits: r.kits.map((k) => k.name), ...(r.network ? { network: r.network } : {}) };
    } catch {
      return null; // no record: the session used no kit and no network
    }
  }

  forget(sessionId: string): void {
    rmSync(this.recordFile(sessionId), { force: true });
    rmSync(path.join(this.options.dir, `${sessionId}.egress-usage.json`), { force: true });
  }

  private remember(sessionId: string, record: { kits: KitRecord[]; network: string | null }): void {
    if (record.kits.length === 0 && record.network === null) return;
    mkdirSync(this.options.dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.recordFile(sessionId), JSON.stringify({ ...record, at: new Date().toISOString() }, null, 2));
  }

  private recordFile(sessionId: string): string {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(sessionId)) throw new AppError('INVALID_ARGUMENT', 'bad session id');
    return path.join(this.options.dir, `${sessionId}.json`);
  }

  private policy(name: string): NetworkPolicy {
    const p = this.options.policies?.[name];
    if (!p) {
      const known = Object.keys(this.options.policies ?? {});
      throw new AppError(
        'INVALID_ARGUMENT',
        `no network policy named "${name}"${known.length ? `; the operator defined: ${known.join(', ')}` : '; the operator defined none (settings network.policies)'}`,
        { argument: 'network' },
      );
    }
    return p;
  }
}

/** The base sandbox with the session's binds and environment on every spawn (and the forwarder first, with a network). */
function wrapSandbox(
  base: Sandbox,
  env: Record<string, string>,
  roBinds: { host: string; sandbox: string }[],
  network: boolean,
): Sandbox {
  return {
    get info() {
      return base.info;
    },
    acquireUid: (preferred?: number) => base.acquireUid(preferred),
    releaseUid: (uid: number) => base.releaseUid(uid),
    spawn(spec: SpawnSpec) {
      const argv = network
        ? ['/usr/bin/bash', '--norc', '--noprofile', '-c', NET_LAUNCH, 'codemode-net', ...spec.argv]
        : spec.argv;
      return base.spawn({
        ...spec,
        argv,
        env: { ...env, ...spec.env },
        roBinds: [...(spec.roBinds ?? []), ...roBinds],
      });
    },
  };
}

/** The provider a server or CLI runtime builds from its settings. */
export function sessionEnvironments(
  settings: {
    kits: Readonly<Record<string, Omit<import('./kits.js').KitDefinition, 'name'>>>;
    network: { policies: Readonly<Record<string, NetworkPolicy>> };
  },
  stateDir: string,
): KitsSessionProvider {
  return new KitsSessionProvider({
    kits: new KitHost({ stateDir, kits: settings.kits }),
    policies: settings.network.policies,
    dir: path.join(stateDir, 'session-env'),
  });
}

function readUsage(file: string): { requests: number; bytes: number } | undefined {
  try {
    const u = JSON.parse(readFileSync(file, 'utf8')) as { requests?: unknown; bytes?: unknown };
    return typeof u.requests === 'number' && typeof u.bytes === 'number'
      ? { requests: u.requests, bytes: u.bytes }
      : undefined;
  } catch {
    return undefined; // never suspended: nothing used yet
  }
}
