// deploy/kubernetes/ checked without a cluster: every manifest against the
// Kubernetes schemas (kubernetes-models' ajv validators, plus a strict pass that
// refuses fields the schema does not know, as kubeconform -strict does), the
// references between manifests that no schema sees, each container's codemode
// command line against codemode's own argument parsing, the worker's cgroup
// set-up script, and the NATS chart values against natsServerConfig().
//
// After natsServerConfig() changes, rewrite the users block of nats-values.yaml
// with: CODEMODE_UPDATE_NATS_VALUES=1 node --import tsx --test src/cluster/kubernetes-manifests.test.ts
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { after, describe, it } from 'node:test';
import { parseAllDocuments, parseDocument } from 'yaml';
import { extractBlocks } from '../../test/docs-blocks.js';
import { parseServeArgs } from '../cli/commands/serve.js';
import { workerCommand } from '../cli/commands/worker.js';
import type { CliIO } from '../cli/io.js';
import { natsServerConfig } from './nats-config.js';
import { NATS_FLAGS, checkNodeId, natsLinkOptions } from './node-options.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DIR = path.join(ROOT, 'deploy/kubernetes');
const NAMESPACE = 'codemode';
const VALUES_FILE = 'nats-values.yaml';
const KUSTOMIZATION = 'kustomization.yaml';
/** Templates of objects the operator creates (with secrets in them): validated, never applied by kustomize. */
const EXAMPLES = /\.example\.yaml$/;
/** The pods of the NATS chart's release "nats" (the chart's nats.selectorLabels). */
const NATS_POD_LABELS = {
  'app.kubernetes.io/name': 'nats',
  'app.kubernetes.io/instance': 'nats',
  'app.kubernetes.io/component': 'nats',
};
/** Where the NATS servers' passwords come from (nats-values.yaml env), per role. */
const PASSWORD_VARS = { worker: 'CODEMODE_WORKER_PASSWORD', gateway: 'CODEMODE_GATEWAY_PASSWORD' } as const;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'codemode-k8s-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

type Obj = Record<string, unknown>;

interface Manifest {
  file: string;
  obj: Obj;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const asObj = (v: unknown): Obj => (isObj(v) ? v : {});
const asList = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strMap = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(asObj(v)).map(([k, x]) => [k, String(x)]));
const nameOf = (o: Obj): string => str(asObj(o['metadata'])['name']);
const idOf = (m: Manifest): string => `${m.file}: ${str(m.obj['kind'])} ${nameOf(m.obj)}`;

function yamlFiles(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true })
    .flatMap((e) => {
      const p = path.join(rel, e.name);
      if (e.isDirectory()) return yamlFiles(dir, p);
      return /\.ya?ml$/.test(e.name) ? [p] : [];
    })
    .sort();
}

function parseYaml(file: string, text: string): unknown[] {
  return parseAllDocuments(text).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${file} (document ${i + 1}): ${doc.errors[0]!.message}`);
    return doc.toJS({ maxAliasCount: 0 }) as unknown;
  });
}

function loadManifests(): Manifest[] {
  return yamlFiles(DIR)
    .filter((f) => f !== VALUES_FILE && f !== KUSTOMIZATION)
    .flatMap((file) =>
      parseYaml(file, readFileSync(path.join(DIR, file), 'utf8')).map((obj) => {
        if (!isObj(obj)) throw new Error(`${file}: a document that is not an object`);
        return { file, obj };
      }),
    );
}

// ---------------------------------------------------------------------------
// Schemas

interface ModelClass {
  apiVersion: string;
  kind: string;
  prototype: { validate(): void };
}

/** The kubernetes-models class for an apiVersion and kind; an unknown one throws (it is never skipped). */
async function modelFor(apiVersion: string, kind: string): Promise<ModelClass> {
  if (!/^(?:[a-z0-9.-]+\/)?v\d+(?:(?:alpha|beta)\d+)?$/.test(apiVersion))
    throw new Error(`bad apiVersion ${apiVersion}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`kubernetes-models/${apiVersion}`)) as Record<string, unknown>;
  } catch {
    throw new Error(`no Kubernetes schema for apiVersion ${apiVersion}`);
  }
  const model = mod[kind] as Partial<ModelClass> | undefined;
  if (!/^[A-Z][A-Za-z]+$/.test(kind) || model?.apiVersion !== apiVersion || model.kind !== kind) {
    throw new Error(`no Kubernetes schema for ${apiVersion} ${kind}`);
  }
  return model as ModelClass;
}

/**
 * Validate with the model's own validator, on a copy whose every object records
 * which keys the validator read: a key it never read is a field the schema does
 * not have (the Kubernetes schemas allow unknown fields; the API server drops
 * them, so a misspelt field would silently do nothing).
 */
async function validateStrict(obj: Obj): Promise<void> {
  const model = await modelFor(str(obj['apiVersion']), str(obj['kind']));
  const seen: { path: string; keys: string[]; read: Set<string> }[] = [];
  const track = (v: unknown, at: string): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => track(x, `${at}/${i}`));
    if (!isObj(v)) return v;
    const copy = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, track(x, `${at}/${k}`)]));
    const read = new Set<string>();
    seen.push({ path: at, keys: Object.keys(copy), read });
    return new Proxy(copy, {
      get(target, key, receiver) {
        if (typeof key === 'string') read.add(key);
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
  };
  const tracked = track(obj, '');
  model.prototype.validate.call(tracked);
  const all = seen.flatMap((s) => s.keys.filter((k) => !s.read.has(k)).map((k) => `${s.path}/${k}`));
  // Name an unknown field once, not again for everything under it.
  const unknown = all.filter((p) => !all.some((q) => p.startsWith(`${q}/`)));
  if (unknown.length > 0) throw new Error(`fields the ${model.kind} schema does not have: ${unknown.join(', ')}`);
}

// ---------------------------------------------------------------------------
// References between manifests

interface PodTemplate {
  owner: Manifest;
  labels: Record<string, string>;
  spec: Obj;
}

function podTemplates(manifests: Manifest[]): PodTemplate[] {
  return manifests
    .filter((m) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(str(m.obj['kind'])))
    .map((m) => {
      const template = asObj(asObj(m.obj['spec'])['template']);
      return { owner: m, labels: strMap(asObj(template['metadata'])['labels']), spec: asObj(template['spec']) };
    });
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

function findObject(manifests: Manifest[], kind: string, name: string, namespace: string): Manifest | undefined {
  return manifests.find(
    (m) => m.obj['kind'] === kind && nameOf(m.obj) === name && str(asObj(m.obj['metadata'])['namespace']) === namespace,
  );
}

/** The keys a Secret or ConfigMap holds. */
function keysOf(m: Manifest): string[] {
  return ['data', 'stringData', 'binaryData'].flatMap((f) => Object.keys(asObj(m.obj[f])));
}

/** Problems with what pods reference: Secrets, ConfigMaps and their keys, ServiceAccounts, volumes. */
function referenceProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  for (const pod of podTemplates(manifests)) {
    const ns = str(asObj(pod.owner.obj['metadata'])['namespace']);
    const where = idOf(pod.owner);
    const need = (kind: string, name: string, key?: string) => {
      const found = findObject(manifests, kind, name, ns);
      if (!found) problems.push(`${where}: ${kind} ${name} is not in deploy/kubernetes (namespace ${ns})`);
      else if (key !== undefined && !keysOf(found).includes(key))
        problems.push(`${where}: ${kind} ${name} has no key ${key}`);
    };
    const sa = str(pod.spec['serviceAccountName']);
    if (sa !== '' && sa !== 'default') need('ServiceAccount', sa);
    const volumes = asList(pod.spec['volumes']);
    for (const v of volumes) {
      const secret = asObj(v['secret']);
      const configMap = asObj(v['configMap']);
      if (v['secret'])
        for (const item of asList(secret['items'])) need('Secret', str(secret['secretName']), str(item['key']));
      if (v['secret'] && asList(secret['items']).length === 0) need('Secret', str(secret['secretName']));
      if (v['configMap'])
        for (const item of asList(configMap['items'])) need('ConfigMap', str(configMap['name']), str(item['key']));
      if (v['configMap'] && asList(configMap['items']).length === 0) need('ConfigMap', str(configMap['name']));
    }
    const containers = [...asList(pod.spec['initContainers']), ...asList(pod.spec['containers'])];
    for (const c of containers) {
      for (const e of asList(c['env'])) {
        const from = asObj(e['valueFrom']);
        const sk = asObj(from['secretKeyRef']);
        const ck = asObj(from['configMapKeyRef']);
        if (from['secretKeyRef']) need('Secret', str(sk['name']), str(sk['key']));
        if (from['configMapKeyRef']) need('ConfigMap', str(ck['name']), str(ck['key']));
      }
      for (const e of asList(c['envFrom'])) {
        if (e['secretRef']) need('Secret', str(asObj(e['secretRef'])['name']));
        if (e['configMapRef']) need('ConfigMap', str(asObj(e['configMapRef'])['name']));
      }
      const portNames = asList(c['ports']).map((p) => p['name']);
      for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
        const p = asObj(c[probe]);
        const port = asObj(p['httpGet'] ?? p['tcpSocket'])['port'];
        if (typeof port === 'string' && !portNames.includes(port))
          problems.push(`${where}: ${probe} port ${port} is no named port`);
      }
      for (const vm of asList(c['volumeMounts'])) {
        if (!volumes.some((v) => v['name'] === vm['name']))
          problems.push(`${where}: mount of unknown volume ${str(vm['name'])}`);
      }
    }
    for (const v of volumes) {
      if (!containers.some((c) => asList(c['volumeMounts']).some((vm) => vm['name'] === v['name']))) {
        problems.push(`${where}: volume ${str(v['name'])} is never mounted`);
      }
    }
  }
  return problems;
}

/** Problems with label selectors: Services, PodDisruptionBudgets and NetworkPolicies that select no pod. */
function selectorProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  const pods = podTemplates(manifests);
  const podLabelSets = [...pods.map((p) => p.labels), NATS_POD_LABELS];
  const selectsSomething = (sel: Record<string, string>) => podLabelSets.some((l) => matches(sel, l));
  for (const m of manifests) {
    const spec = asObj(m.obj['spec']);
    if (m.obj['kind'] === 'Service') {
      const sel = strMap(spec['selector']);
      const target = pods.find((p) => Object.keys(sel).length > 0 && matches(sel, p.labels));
      if (!target) {
        problems.push(`${idOf(m)}: its selector matches no pod template`);
        continue;
      }
      const portNames = asList(target.spec['containers']).flatMap((c) => asList(c['ports']));
      for (const port of asList(spec['ports'])) {
        const t = port['targetPort'] ?? port['port'];
        const ok = portNames.some((p) => p['name'] === t || p['containerPort'] === t);
        if (!ok) problems.push(`${idOf(m)}: targetPort ${String(t)} is no port of ${idOf(target.owner)}`);
      }
    }
    if (m.obj['kind'] === 'PodDisruptionBudget') {
      const sel = strMap(asObj(spec['selector'])['matchLabels']);
      if (!pods.some((p) => matches(sel, p.labels))) problems.push(`${idOf(m)}: its selector matches no pod template`);
    }
    if (m.obj['kind'] === 'NetworkPolicy') {
      const selectors = [
        asObj(spec['podSelector']),
        ...[
          ...asList(spec['ingress']).flatMap((r) => asList(r['from'])),
          ...asList(spec['egress']).flatMap((r) => asList(r['to'])),
        ]
          // A peer with a namespaceSelector selects pods of other namespaces (e.g. kube-dns).
          .filter((peer) => peer['podSelector'] !== undefined && peer['namespaceSelector'] === undefined)
          .map((peer) => asObj(peer['podSelector'])),
      ];
      for (const s of selectors) {
        const sel = strMap(s['matchLabels']);
        if (Object.keys(sel).length > 0 && !selectsSomething(sel)) {
          problems.push(`${idOf(m)}: podSelector ${JSON.stringify(sel)} matches no pod here or of the NATS release`);
        }
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------
// Container commands

interface ContainerCommand {
  pod: PodTemplate;
  container: Obj;
  /** command + args with $(VAR) expanded as the kubelet does. */
  argv: string[];
}

/** A Kubernetes quantity of bytes (binary suffixes only, as these manifests use). */
function bytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(quantity);
  if (!m) throw new Error(`not a byte quantity: ${quantity}`);
  return Number(m[1]) * 1024 ** ['', 'Ki', 'Mi', 'Gi', 'Ti'].indexOf(m[2] ?? '');
}

const subcommand = (c: ContainerCommand) => c.argv[c.argv.indexOf('codemode') + 1];

/** A pod name as a Deployment makes them (name, ReplicaSet hash, random suffix). */
const samplePodName = (owner: string) => `${owner}-7c9d8f6b5d-x2x9z`;

function containerCommands(manifests: Manifest[]): ContainerCommand[] {
  return podTemplates(manifests).flatMap((pod) =>
    asList(pod.spec['containers']).map((container) => {
      const env = new Map<string, string>();
      for (const e of asList(container['env'])) {
        const field = str(asObj(asObj(e['valueFrom'])['fieldRef'])['fieldPath']);
        if (typeof e['value'] === 'string') env.set(str(e['name']), e['value']);
        else if (field === 'metadata.name') env.set(str(e['name']), samplePodName(nameOf(pod.owner.obj)));
      }
      const raw = [
        ...((container['command'] as unknown[] | undefined) ?? []),
        ...((container['args'] as unknown[] | undefined) ?? []),
      ];
      const argv = raw.map((a) =>
        String(a).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => env.get(v) ?? m),
      );
      return { pod, container, argv };
    }),
  );
}

/** The file a path inside the container reads, from the Secret or ConfigMap mounted there; undefined if none. */
function mountedFile(manifests: Manifest[], c: ContainerCommand, file: string): string | undefined {
  const ns = str(asObj(c.pod.owner.obj['metadata'])['namespace']);
  for (const vm of asList(c.container['volumeMounts'])) {
    const dir = str(vm['mountPath']);
    if (!file.startsWith(`${dir}/`)) continue;
    const rel = file.slice(dir.length + 1);
    const volume = asList(c.pod.spec['volumes']).find((v) => v['name'] === vm['name']);
    const source = volume?.['secret']
      ? asObj(volume['secret'])
      : volume?.['configMap']
        ? asObj(volume['configMap'])
        : undefined;
    if (!source) return undefined;
    const kind = volume?.['secret'] ? 'Secret' : 'ConfigMap';
    const items = asList(source['items']);
    const key = items.length === 0 ? rel : str(items.find((i) => i['path'] === rel)?.['key']);
    const obj = findObject(manifests, kind, str(source['secretName'] ?? source['name']), ns);
    if (!obj || !keysOf(obj).includes(key)) return undefined;
    return String(asObj(obj.obj['data'])[key] ?? asObj(obj.obj['stringData'])[key]);
  }
  return undefined;
}

/** A CliIO that collects output. */
function captureIO(): CliIO & { out: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let text = '';
  stdout.on('data', (d: Buffer) => (text += d.toString()));
  stderr.on('data', (d: Buffer) => (text += d.toString()));
  return { stdin: new PassThrough(), stdout, stderr, env: {}, cwd: tmp, stdinIsTTY: false, out: () => text };
}

/** The environment commands are checked in: nothing of this machine's settings leaks in. */
const CHECK_ENV = { XDG_CONFIG_HOME: path.join(tmp, 'config'), CODEMODE_HOME: path.join(tmp, 'home') };

/** Check one container's codemode command line with codemode's own parsers; returns what is wrong. */
async function commandProblems(manifests: Manifest[], c: ContainerCommand, natsReplicas: number): Promise<string[]> {
  const where = `${idOf(c.pod.owner)} container ${str(c.container['name'])}`;
  const at = c.argv.indexOf('codemode');
  if (at < 0) return [`${where}: does not run codemode: ${c.argv.join(' ')}`];
  const problems: string[] = [];
  if (c.argv.some((a) => a.includes('$('))) problems.push(`${where}: an unexpanded $(VAR): ${c.argv.join(' ')}`);
  // Files the wrapper runs before codemode (a script from a ConfigMap) must be mounted.
  for (const a of c.argv.slice(0, at)) {
    if (a.startsWith('/etc/codemode/') && mountedFile(manifests, c, a) === undefined)
      problems.push(`${where}: ${a} is not mounted`);
  }
  const [sub, ...rest] = c.argv.slice(at + 1);
  // Files given as flag values must come from a mounted Secret or ConfigMap.
  const fileFlags = ['--nats-credentials', '--settings', '--token-file', '--tls-cert', '--tls-key'];
  const files = new Map<string, string>();
  for (let i = 0; i < rest.length - 1; i++) {
    if (!fileFlags.includes(rest[i]!)) continue;
    const content = mountedFile(manifests, c, rest[i + 1]!);
    if (content === undefined)
      problems.push(`${where}: ${rest[i]} ${rest[i + 1]} is not a mounted Secret or ConfigMap key`);
    else files.set(rest[i + 1]!, content);
  }
  // A copy of a mounted settings file, for codemode's settings loader.
  const settingsCopy = (file: string): string => {
    const copy = path.join(tmp, `settings-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(copy, files.get(file) ?? '{}');
    return copy;
  };
  try {
    if (sub === 'worker') {
      const io = captureIO();
      const code = await workerCommand([...rest, '--help'], io);
      if (code !== 0) return [...problems, `${where}: codemode worker refuses its flags: ${io.out().split('\n')[0]}`];
      const { values } = parseArgs({
        args: rest,
        strict: false,
        options: { ...NATS_FLAGS, id: { type: 'string' }, settings: { type: 'string' } },
      });
      checkNodeId(values.id as string | undefined, '--id');
      const link = natsLinkOptions(
        { nats: values.nats as string[], replicas: values.replicas as string },
        {},
        tmp,
        'check',
        () => {},
      );
      if (link.replicas > natsReplicas)
        problems.push(`${where}: --replicas ${link.replicas} > ${natsReplicas} NATS servers`);
      problems.push(...natsUrlProblems(where, link.servers, natsReplicas));
      const settings = typeof values.settings === 'string' ? ['--settings', settingsCopy(values.settings)] : [];
      parseServeArgs(['--no-store', ...settings], CHECK_ENV, tmp);
    } else if (sub === 'serve') {
      const mapped = rest.map((a, i) => (rest[i - 1] === '--settings' ? settingsCopy(a) : a));
      const options = parseServeArgs(mapped, CHECK_ENV, tmp);
      if (!options.http) problems.push(`${where}: a gateway in a pod must serve --http`);
      if (options.host !== '0.0.0.0') problems.push(`${where}: --host ${options.host} is unreachable from other pods`);
      const cluster = options.cluster;
      if (!cluster) return [...problems, `${where}: codemode serve without --nats is no gateway`];
      checkNodeId(cluster['gateway-id'], '--gateway-id');
      const link = natsLinkOptions({ nats: cluster.nats, replicas: cluster.replicas }, {}, tmp, 'check', () => {});
      problems.push(...natsUrlProblems(where, link.servers, natsReplicas));
      const ports = asList(c.container['ports']).map((p) => p['containerPort']);
      if (!ports.includes(options.port)) problems.push(`${where}: --port ${options.port} is not a containerPort`);
    } else {
      problems.push(`${where}: codemode ${String(sub)} is not a cluster role (worker or serve)`);
    }
  } catch (e) {
    problems.push(`${where}: ${(e as Error).message}`);
  }
  return problems;
}

/** --nats URLs must name the NATS release's pods: nats-<i>.nats-headless:4222, i < replicas. */
function natsUrlProblems(where: string, servers: string[], replicas: number): string[] {
  return servers
    .filter((s) => {
      const m = /^nats:\/\/nats-(\d+)\.nats-headless(?:\.[a-z0-9.-]+)?:4222$/.exec(s);
      return m === null || Number(m[1]) >= replicas;
    })
    .map((s) => `${where}: --nats ${s} is not a pod of the NATS release (${replicas} replicas)`);
}

// ---------------------------------------------------------------------------
// NATS chart values

/** Parse the subset of the NATS configuration format natsServerConfig() writes. */
function parseNatsConf(text: string): Obj {
  let i = 0;
  const skip = () => {
    for (;;) {
      while (i < text.length && /[\s,;]/.test(text[i]!)) i++;
      if (text[i] !== '#') return;
      while (i < text.length && text[i] !== '\n') i++;
    }
  };
  const value = (): unknown => {
    skip();
    if (text[i] === '{') {
      i++;
      return map('}');
    }
    if (text[i] === '[') {
      i++;
      const list: unknown[] = [];
      for (skip(); text[i] !== ']'; skip()) {
        if (i >= text.length) throw new Error('unterminated list');
        list.push(value());
      }
      i++;
      return list;
    }
    const quoted = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
    if (quoted) {
      i += quoted[0].length;
      return JSON.parse(quoted[0]) as string;
    }
    const bare = /^[^\s,;\]}]+/.exec(text.slice(i));
    if (!bare) throw new Error(`unexpected ${JSON.stringify(text.slice(i, i + 20))}`);
    i += bare[0].length;
    return bare[0] === 'true'
      ? true
      : bare[0] === 'false'
        ? false
        : /^-?\d+$/.test(bare[0])
          ? Number(bare[0])
          : bare[0];
  };
  const map = (end: string | null): Obj => {
    const out: Obj = {};
    for (skip(); end === null ? i < text.length : text[i] !== end; skip()) {
      if (i >= text.length) throw new Error('unterminated map');
      const key = /^[A-Za-z0-9_$.-]+/.exec(text.slice(i));
      if (!key) throw new Error(`expected a key at ${JSON.stringify(text.slice(i, i + 20))}`);
      i += key[0].length;
      while (text[i] === ' ' || text[i] === '\t') i++;
      if (text[i] === ':' || text[i] === '=') i++;
      out[key[0]] = value();
    }
    if (end !== null) i++;
    return out;
  };
  return map(null);
}

/** The chart's `<< $VAR >>` (an unquoted NATS variable) for a role's password. */
const passwordRef = (role: keyof typeof PASSWORD_VARS) => `<< $${PASSWORD_VARS[role]} >>`;

/**
 * The authorization users natsServerConfig() writes for the shared "worker" and
 * "gateway" users: id "*" gives exactly the permissions of every worker (one
 * token of [A-Za-z0-9_-] matches *), since pods of a Deployment have random names.
 */
function expectedUsers(): unknown {
  const conf = natsServerConfig({
    name: 'check',
    host: '0.0.0.0',
    port: 4222,
    storeDir: '/data',
    users: {
      workers: [{ id: '*', user: 'worker', pass: passwordRef('worker') }],
      gateways: [{ id: '*', user: 'gateway', pass: passwordRef('gateway') }],
    },
  });
  return asObj(parseNatsConf(conf)['authorization'])['users'];
}

// ---------------------------------------------------------------------------

const manifests = loadManifests();
const valuesText = readFileSync(path.join(DIR, VALUES_FILE), 'utf8');
const values = asObj(parseYaml(VALUES_FILE, valuesText)[0]);
const natsReplicas = Number(asObj(asObj(values['config'])['cluster'])['replicas']);
const byKind = (kind: string) => manifests.filter((m) => m.obj['kind'] === kind);
const clone = <T>(v: T): T => structuredClone(v);
const workerDeployment = () => {
  const m = manifests.find((x) => x.obj['kind'] === 'Deployment' && nameOf(x.obj) === 'codemode-worker');
  assert.ok(m, 'worker.yaml has the Deployment codemode-worker');
  return m;
};

if (process.env['CODEMODE_UPDATE_NATS_VALUES'] === '1') {
  const doc = parseDocument(valuesText);
  doc.setIn(['config', 'merge', 'authorization', 'users'], expectedUsers());
  writeFileSync(path.join(DIR, VALUES_FILE), doc.toString({ lineWidth: 0 }));
}

describe('deploy/kubernetes manifests', () => {
  it('has the objects the deployment needs', () => {
    const kinds = manifests.map((m) => `${str(m.obj['kind'])}/${nameOf(m.obj)}`);
    for (const want of [
      'Namespace/codemode',
      'Deployment/codemode-worker',
      'Deployment/codemode-gateway',
      'Service/codemode',
      'PodDisruptionBudget/codemode-gateway',
      'NetworkPolicy/default-deny',
      'Secret/codemode-nats-worker',
      'Secret/codemode-tokens',
    ]) {
      assert.ok(kinds.includes(want), `${want} is missing: ${kinds.join(', ')}`);
    }
  });

  it('every document validates against its Kubernetes schema, strictly (no unknown fields)', async () => {
    const problems: string[] = [];
    for (const m of manifests)
      await validateStrict(m.obj).catch((e: Error) => problems.push(`${idOf(m)}: ${e.message}`));
    assert.deepEqual(problems, []);
  });

  it('the validator bites: wrong types, missing required fields, misspelt fields, unknown kinds', async () => {
    const worker = workerDeployment().obj;
    const wrongType = clone(worker);
    asObj(wrongType['spec'])['replicas'] = 'three';
    await assert.rejects(validateStrict(wrongType), /replicas/);
    const noName = clone(worker);
    const containers = asList(asObj(asObj(asObj(noName['spec'])['template'])['spec'])['containers']);
    delete containers[0]!['name'];
    await assert.rejects(validateStrict(noName), /name/);
    const misspelt = clone(worker);
    const c = asList(asObj(asObj(asObj(misspelt['spec'])['template'])['spec'])['containers'])[0]!;
    c['securityContex'] = c['securityContext'];
    delete c['securityContext'];
    await assert.rejects(validateStrict(misspelt), /containers\/0\/securityContex\b/);
    const badEnum = clone(worker);
    const sc = asObj(
      asList(asObj(asObj(asObj(badEnum['spec'])['template'])['spec'])['containers'])[0]!['securityContext'],
    );
    sc['seccompProfile'] = { type: 'Unconfinde' };
    await assert.rejects(validateStrict(badEnum), /type/);
    await assert.rejects(
      validateStrict({ apiVersion: 'v1', kind: 'Bogus', metadata: { name: 'x' } }),
      /no Kubernetes schema/,
    );
    await assert.rejects(validateStrict({ apiVersion: 'apps/v1', kind: 'DeploymentSpec' }), /no Kubernetes schema/);
    await assert.rejects(validateStrict({ apiVersion: 'example.com/v1', kind: 'Widget' }), /no Kubernetes schema/);
  });

  it('every object is in the codemode namespace', () => {
    for (const m of manifests) {
      if (m.obj['kind'] === 'Namespace') assert.equal(nameOf(m.obj), NAMESPACE);
      else assert.equal(asObj(m.obj['metadata'])['namespace'], NAMESPACE, `${idOf(m)}: namespace`);
    }
  });

  it('kustomization.yaml lists every manifest except the Secret templates', () => {
    const k = asObj(parseYaml(KUSTOMIZATION, readFileSync(path.join(DIR, KUSTOMIZATION), 'utf8'))[0]);
    assert.equal(k['apiVersion'], 'kustomize.config.k8s.io/v1beta1');
    assert.equal(k['kind'], 'Kustomization');
    const want = [...new Set(manifests.map((m) => m.file))].filter((f) => !EXAMPLES.test(f)).sort();
    assert.deepEqual([...(k['resources'] as string[])].sort(), want);
  });

  it('the Secret templates hold no secret, and the docs create each Secret with its keys', () => {
    const section = /## Kubernetes\n([\s\S]*?)(?=\n## )/.exec(readFileSync(path.join(ROOT, 'docs/cluster.md'), 'utf8'));
    assert.ok(section, 'docs/cluster.md has a "## Kubernetes" section');
    const shell = extractBlocks('docs/cluster.md', section[1]!)
      .filter((b) => b.kind === 'shell')
      .map((b) => b.code.replace(/\\\n\s*/g, ''))
      .join('\n');
    for (const s of byKind('Secret')) {
      assert.match(s.file, EXAMPLES, `${idOf(s)}: Secrets belong in a *.example.yaml template`);
      for (const key of keysOf(s)) {
        const v = asObj(s.obj['stringData'])[key] ?? asObj(s.obj['data'])[key];
        assert.equal(v, '', `${idOf(s)}: ${key} must be an empty placeholder`);
      }
      const line = shell.split('\n').find((l) => new RegExp(`create secret \\S+ ${nameOf(s.obj)}\\b`).test(l));
      assert.ok(line, `docs/cluster.md does not create the Secret ${nameOf(s.obj)}`);
      // `kubectl create secret tls` names its two keys --cert and --key.
      const flags: Record<string, string[]> =
        s.obj['type'] === 'kubernetes.io/tls'
          ? { 'tls.crt': ['--cert='], 'tls.key': ['--key='] }
          : Object.fromEntries(keysOf(s).map((k) => [k, [`--from-literal=${k}=`, `--from-file=${k}=`]]));
      for (const [key, options] of Object.entries(flags)) {
        assert.ok(
          options.some((o) => line.includes(o)),
          `${line}: no key ${key}`,
        );
      }
    }
  });

  it('every Secret, ConfigMap, key and volume a pod references exists', () => {
    assert.deepEqual(referenceProblems(manifests), []);
    const broken = manifests.map((m) => ({ ...m, obj: clone(m.obj) }));
    const worker = broken.find((m) => nameOf(m.obj) === 'codemode-worker' && m.obj['kind'] === 'Deployment')!;
    const vols = asList(asObj(asObj(asObj(worker.obj['spec'])['template'])['spec'])['volumes']);
    const secretVol = vols.find((v) => v['secret'])!;
    asObj(secretVol['secret'])['secretName'] = 'codemode-nats-wroker';
    assert.match(referenceProblems(broken).join('\n'), /Secret codemode-nats-wroker is not in deploy\/kubernetes/);
  });

  it('Services, the PodDisruptionBudget and the NetworkPolicies select real pods', () => {
    assert.deepEqual(selectorProblems(manifests), []);
    const broken = manifests.map((m) => ({ ...m, obj: clone(m.obj) }));
    const svc = broken.find((m) => m.obj['kind'] === 'Service')!;
    asObj(asObj(svc.obj['spec'])['selector'])['app.kubernetes.io/component'] = 'gatway';
    assert.match(selectorProblems(broken).join('\n'), /Service codemode: its selector matches no pod template/);
  });

  it("containers run real codemode commands and flags, parsed by codemode's own parsers", async () => {
    const commands = containerCommands(manifests);
    assert.deepEqual(commands.map(subcommand).sort(), ['serve', 'worker']);
    for (const c of commands) assert.deepEqual(await commandProblems(manifests, c, natsReplicas), []);
  });

  it('a wrong flag, flag value or file in a command is caught', async () => {
    const commands = containerCommands(manifests);
    const worker = commands.find((c) => subcommand(c) === 'worker');
    const gateway = commands.find((c) => subcommand(c) === 'serve');
    const edit = (c: ContainerCommand, f: (argv: string[]) => string[]) => ({ ...c, argv: f([...c.argv]) });
    const check = (c: ContainerCommand) => commandProblems(manifests, c, natsReplicas).then((p) => p.join('\n'));
    assert.match(await check(edit(worker!, (a) => a.map((x) => (x === '--nats' ? '--natz' : x)))), /refuses its flags/);
    assert.match(await check(edit(worker!, (a) => [...a, '--id', 'has space'])), /--id must be/);
    assert.match(await check(edit(worker!, (a) => a.map((x) => (x === '3' ? '5' : x)))), /--replicas 5 > 3/);
    assert.match(
      await check(
        edit(worker!, (a) => a.map((x) => x.replace('/etc/codemode/nats/credentials', '/etc/codemode/creds'))),
      ),
      /not a mounted Secret or ConfigMap key/,
    );
    assert.match(await check(edit(gateway!, (a) => a.filter((x) => x !== '--http'))), /only apply with --http/);
    assert.match(
      await check(edit(gateway!, (a) => a.map((x) => x.replace('nats-2.', 'nats-3.')))),
      /not a pod of the NATS release/,
    );
    assert.match(await check(edit(gateway!, (a) => a.map((x) => (x === '8765' ? '8766' : x)))), /not a containerPort/);
  });

  it("the worker pod's memory limit and state volume hold its sessions at their maximum", () => {
    const settingsMap = manifests.find((m) => nameOf(m.obj) === 'codemode-worker-settings')!;
    const settings = JSON.parse(String(asObj(settingsMap.obj['data'])['worker.json'])) as {
      sessions: { maxSessions: number };
      limits: { max: { memoryBytes: number; diskBytes: number } };
    };
    const pod = podTemplates(manifests).find((p) => nameOf(p.owner.obj) === 'codemode-worker')!;
    const container = asList(pod.spec['containers'])[0]!;
    const memory = bytes(str(asObj(asObj(container['resources'])['limits'])['memory']));
    const state = asList(pod.spec['volumes']).find((v) => v['name'] === 'state')!;
    const volume = bytes(str(asObj(state['emptyDir'])['sizeLimit']));
    const { maxSessions } = settings.sessions;
    assert.ok(
      memory > maxSessions * settings.limits.max.memoryBytes,
      `memory limit ${memory} for ${maxSessions} sessions`,
    );
    assert.ok(
      volume > maxSessions * settings.limits.max.diskBytes,
      `state volume ${volume} for ${maxSessions} sessions`,
    );
    assert.throws(() => bytes('10GB'), /quantity/);
  });

  it('the gateway pod meets the restricted Pod Security profile; the worker spells out its privileges', () => {
    const pods = podTemplates(manifests);
    const worker = pods.find((p) => nameOf(p.owner.obj) === 'codemode-worker');
    const gateway = pods.find((p) => nameOf(p.owner.obj) === 'codemode-gateway');
    const gw = gateway!.spec;
    assert.equal(asObj(gw['securityContext'])['runAsNonRoot'], true);
    assert.equal(asObj(asObj(gw['securityContext'])['seccompProfile'])['type'], 'RuntimeDefault');
    for (const c of asList(gw['containers'])) {
      const sc = asObj(c['securityContext']);
      assert.equal(sc['allowPrivilegeEscalation'], false);
      assert.deepEqual(asObj(sc['capabilities'])['drop'], ['ALL']);
      assert.equal(sc['privileged'], undefined);
    }
    const w = asObj(asList(worker!.spec['containers'])[0]!['securityContext']);
    assert.equal(w['privileged'], true);
    assert.equal(asObj(w['seccompProfile'])['type'], 'Unconfined');
    assert.equal(asObj(w['appArmorProfile'])['type'], 'Unconfined');
    for (const pod of [worker!, gateway!]) assert.equal(pod.spec['automountServiceAccountToken'], false);
  });
});

describe('the worker cgroup set-up script', () => {
  const script = (() => {
    const cm = manifests.find((m) => nameOf(m.obj) === 'codemode-worker-entrypoint')!;
    return String(asObj(cm.obj['data'])['cgroup-setup.sh']);
  })();
  const run = (root: string) =>
    spawnSync(
      '/bin/sh',
      ['-c', script, 'cgroup-setup.sh', '/bin/sh', '-c', 'echo "ran: $*"', 'x', 'codemode', 'worker'],
      {
        env: { PATH: '/usr/bin:/bin', CGROUP_ROOT: root },
        encoding: 'utf8',
      },
    );

  it('on cgroup v2, moves itself into "supervisor", forbids cgroups under it, enables the controllers, then execs', () => {
    const root = path.join(tmp, 'cgroup-v2');
    mkdirSync(root);
    writeFileSync(path.join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
    writeFileSync(path.join(root, 'cgroup.procs'), '1\n');
    writeFileSync(path.join(root, 'cgroup.subtree_control'), '');
    const r = run(root);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'ran: codemode worker\n');
    assert.equal(readFileSync(path.join(root, 'supervisor/cgroup.max.descendants'), 'utf8'), '0\n');
    assert.equal(readFileSync(path.join(root, 'supervisor/cgroup.procs'), 'utf8'), '1\n');
    // A plain file keeps only the last write; the kernel's subtree_control applies each in turn.
    assert.equal(readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8'), '+pids\n');
  });

  it('on cgroup v1 (no cgroup.controllers) it only execs', () => {
    const root = path.join(tmp, 'cgroup-v1');
    mkdirSync(root);
    const r = run(root);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'ran: codemode worker\n');
    assert.deepEqual(readdirSync(root), []);
  });

  it('says the container must be privileged when it cannot create a cgroup', () => {
    const root = path.join(tmp, 'cgroup-ro');
    mkdirSync(root);
    writeFileSync(path.join(root, 'cgroup.controllers'), 'memory pids\n');
    writeFileSync(path.join(root, 'supervisor'), 'a file where the directory would go\n');
    const r = run(root);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /must be privileged/);
    assert.equal(r.stdout, '');
  });
});

describe('nats-values.yaml (the official NATS chart)', () => {
  const config = asObj(values['config']);
  it('runs 3 clustered servers with JetStream on file storage', () => {
    assert.deepEqual(
      { enabled: asObj(config['cluster'])['enabled'], replicas: natsReplicas },
      { enabled: true, replicas: 3 },
    );
    const js = asObj(config['jetstream']);
    assert.equal(js['enabled'], true);
    assert.equal(asObj(js['fileStore'])['enabled'], true);
    assert.match(str(asObj(asObj(js['fileStore'])['pvc'])['size']), /^\d+Gi$/);
  });

  it('authenticates routes with a user whose password is set at install, never in the file', () => {
    const route = asObj(asObj(config['cluster'])['routeURLs']);
    assert.match(str(route['user']), /^[A-Za-z0-9_-]+$/);
    assert.equal(route['password'], undefined);
  });

  it("its authorization users are natsServerConfig()'s, for the shared worker and gateway users", () => {
    const users = asObj(asObj(config['merge'])['authorization'])['users'];
    assert.deepEqual(users, expectedUsers());
  });

  it('takes each password from the Secret the same role reads its credentials from', () => {
    const env = asObj(asObj(values['container'])['env']);
    for (const [role, variable] of Object.entries(PASSWORD_VARS)) {
      const ref = asObj(asObj(asObj(env[variable])['valueFrom'])['secretKeyRef']);
      const secret = findObject(manifests, 'Secret', str(ref['name']), NAMESPACE);
      assert.ok(secret, `${variable}: Secret ${str(ref['name'])} is not in deploy/kubernetes`);
      assert.ok(keysOf(secret).includes(str(ref['key'])), `${variable}: no key ${str(ref['key'])}`);
      const pods = podTemplates(manifests).filter((p) => p.labels['app.kubernetes.io/component'] === role);
      assert.equal(pods.length, 1, `one ${role} Deployment`);
      const volumes = asList(pods[0]!.spec['volumes']).map((v) => str(asObj(v['secret'])['secretName']));
      assert.ok(volumes.includes(str(ref['name'])), `the ${role} pods mount ${str(ref['name'])}`);
    }
  });

  it('parses the NATS configuration natsServerConfig() writes (the comparison above depends on it)', () => {
    assert.deepEqual(parseNatsConf('a: 1\nb { c: "x", d: [true, 64MB] }\n# note\ne = [ { f: "g" } ]'), {
      a: 1,
      b: { c: 'x', d: [true, '64MB'] },
      e: [{ f: 'g' }],
    });
    assert.throws(() => parseNatsConf('a: [1, 2'), /unterminated/);
  });
});
