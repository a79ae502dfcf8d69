/**
 * Server settings as a pure pipeline: defaults, then the settings file, then
 * environment variables, then flags (later wins). Every problem is collected
 * with the key that caused it; nothing here touches the file system.
 */
import { LANGUAGES, type Language } from '../sandbox/executor.js';
import { DEFAULT_LIMITS, LIMIT_KEYS, MAX_LIMITS, type Limits } from '../sandbox/limits.js';

export interface Settings {
  limits: { defaults: Limits; max: Limits };
  store: { enabled: boolean; path: string };
  workspaces: { root: string };
  sessions: { idleTimeoutMs: number; maxSessions: number; pool: Record<Language, number> };
  http: { host: string; port: number; tokens: string[]; maxBodyBytes: number; allowedHosts: string[] };
  /** An mcpServers JSON file whose servers Code Mode exposes. */
  mcpServersFile: string | null;
}

export interface SettingsSources {
  /** Parsed settings file content, if any. */
  file?: unknown;
  /** Where the file came from, for messages. */
  filePath?: string;
  env?: Record<string, string | undefined>;
  /** Flags as a partial settings object (already parsed by the command). */
  flags?: DeepPartial<Settings>;
  /** Where state goes by default, e.g. ~/.codemode or /var/lib/codemode. */
  stateDir: string;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | null : T[K] };

export interface ResolvedSettings {
  settings: Settings;
  errors: string[];
  warnings: string[];
}

export function defaultSettings(stateDir: string): Settings {
  return {
    limits: { defaults: { ...DEFAULT_LIMITS }, max: { ...MAX_LIMITS } },
    store: { enabled: true, path: `${stateDir}/codemode.db` },
    workspaces: { root: `${stateDir}/workspaces` },
    sessions: {
      idleTimeoutMs: 30 * 60_000,
      maxSessions: 32,
      pool: { python: 1, javascript: 1, typescript: 0, bash: 0 },
    },
    http: { host: '127.0.0.1', port: 8765, tokens: [], maxBodyBytes: 4 * 1024 * 1024, allowedHosts: [] },
    mcpServersFile: null,
  };
}

type Field =
  | { kind: 'number'; min: number; max?: number; integer?: boolean }
  | { kind: 'string' }
  | { kind: 'nullable-string' }
  | { kind: 'boolean' }
  | { kind: 'string-array' };

/** The shape of every settable key, by dotted path. The JSON Schema is generated from this. */
export const FIELDS: Record<string, Field & { description: string }> = {
  ...Object.fromEntries(
    LIMIT_KEYS.flatMap((k) => [
      [`limits.defaults.${k}`, { kind: 'number', min: 1, description: `Default ${k} of a run` }],
      [`limits.max.${k}`, { kind: 'number', min: 1, description: `Largest ${k} a call may ask for` }],
    ]),
  ),
  'store.enabled': { kind: 'boolean', description: 'Save sessions and executions in SQLite' },
  'store.path': { kind: 'string', description: 'SQLite database file' },
  'workspaces.root': { kind: 'string', description: 'Directory holding one workspace per session' },
  'sessions.idleTimeoutMs': { kind: 'number', min: 1000, description: 'Close a session after this long unused' },
  'sessions.maxSessions': {
    kind: 'number',
    min: 1,
    max: 10_000,
    integer: true,
    description: 'Live sessions at most; the oldest idle one is closed first',
  },
  ...Object.fromEntries(
    LANGUAGES.map((l) => [
      `sessions.pool.${l}`,
      { kind: 'number', min: 0, max: 64, integer: true, description: `Warm ${l} kernels kept ready` },
    ]),
  ),
  'http.host': { kind: 'string', description: 'Address the HTTP server binds to' },
  'http.port': { kind: 'number', min: 0, max: 65535, integer: true, description: 'HTTP port (0 picks a free one)' },
  'http.tokens': {
    kind: 'string-array',
    description: 'Bearer tokens clients must send, each its own principal (required beyond loopback)',
  },
  'http.maxBodyBytes': { kind: 'number', min: 1024, integer: true, description: 'Largest accepted request body' },
  'http.allowedHosts': {
    kind: 'string-array',
    description: 'Extra host names accepted in Host and Origin besides localhost',
  },
  mcpServersFile: {
    kind: 'nullable-string',
    description: 'An mcpServers JSON file (e.g. claude_desktop_config.json) for Code Mode',
  },
};

/** Environment variables and the key each one sets. */
export const ENV_KEYS: Record<string, string> = {
  CODEMODE_DB: 'store.path',
  CODEMODE_STORE: 'store.enabled',
  CODEMODE_WORKSPACES: 'workspaces.root',
  CODEMODE_MAX_SESSIONS: 'sessions.maxSessions',
  CODEMODE_IDLE_TIMEOUT_MS: 'sessions.idleTimeoutMs',
  CODEMODE_HOST: 'http.host',
  CODEMODE_PORT: 'http.port',
  CODEMODE_TOKEN: 'http.tokens',
  CODEMODE_MCP_SERVERS: 'mcpServersFile',
  ...Object.fromEntries(
    LIMIT_KEYS.flatMap((k) => {
      const env = k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
      return [
        [`CODEMODE_LIMIT_${env}`, `limits.defaults.${k}`],
        [`CODEMODE_MAX_${env}`, `limits.max.${k}`],
      ];
    }),
  ),
};

export function resolveSettings(sources: SettingsSources): ResolvedSettings {
  const settings = defaultSettings(sources.stateDir);
  const errors: string[] = [];
  const warnings: string[] = [];
  const where = sources.filePath ?? 'settings file';

  if (sources.file !== undefined) {
    if (!isObject(sources.file)) errors.push(`${where}: must be a JSON object`);
    else applyObject(settings, sources.file, '', where, errors, true);
  }
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const raw = sources.env?.[name];
    if (raw === undefined || raw === '') continue;
    const field = FIELDS[key]!;
    const value = fromEnv(field, raw);
    if (value === undefined) errors.push(`${name}=${JSON.stringify(raw)}: ${expectation(field)}`);
    else set(settings, key, value, `${name}`, errors);
  }
  if (sources.flags) applyObject(settings, sources.flags, '', 'flag', errors, false);

  for (const k of LIMIT_KEYS) {
    if (settings.limits.defaults[k] > settings.limits.max[k]) {
      errors.push(
        `limits.defaults.${k} (${settings.limits.defaults[k]}) is above limits.max.${k} (${settings.limits.max[k]}); raise the maximum or lower the default`,
      );
    }
  }
  if (!isLoopback(settings.http.host) && settings.http.tokens.length === 0) {
    warnings.push(
      `http.host ${settings.http.host} is reachable beyond loopback: a bearer token will be generated and required`,
    );
  }
  return { settings, errors, warnings };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function applyObject(
  target: Settings,
  obj: Record<string, unknown>,
  prefix: string,
  where: string,
  errors: string[],
  strict: boolean,
): void {
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const key = prefix ? `${prefix}.${k}` : k;
    if (key === '$schema') continue;
    if (FIELDS[key]) {
      set(target, key, v, where, errors);
    } else if (isObject(v) && Object.keys(FIELDS).some((f) => f.startsWith(`${key}.`))) {
      applyObject(target, v, key, where, errors, strict);
    } else if (strict) {
      errors.push(`${where}: unknown key "${key}"${suggest(key)}`);
    }
  }
}

function set(target: Settings, key: string, value: unknown, where: string, errors: string[]): void {
  const field = FIELDS[key]!;
  if (!valid(field, value)) {
    errors.push(`${where}: ${key} ${expectation(field)}, got ${JSON.stringify(value)}`);
    return;
  }
  const parts = key.split('.');
  let node = target as unknown as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
  node[parts.at(-1)!] = value;
}

function valid(field: Field, v: unknown): boolean {
  switch (field.kind) {
    case 'number':
      return (
        typeof v === 'number' &&
        Number.isFinite(v) &&
        v >= field.min &&
        (field.max === undefined || v <= field.max) &&
        (!field.integer || Number.isInteger(v))
      );
    case 'string':
      return typeof v === 'string' && v.length > 0;
    case 'nullable-string':
      return v === null || (typeof v === 'string' && v.length > 0);
    case 'boolean':
      return typeof v === 'boolean';
    case 'string-array':
      return Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0);
  }
}

function expectation(field: Field): string {
  switch (field.kind) {
    case 'number':
      return `must be ${field.integer ? 'an integer' : 'a number'} from ${field.min}${field.max !== undefined ? ` to ${field.max}` : ' up'}`;
    case 'string':
      return 'must be a non-empty string';
    case 'nullable-string':
      return 'must be a non-empty string or null';
    case 'boolean':
      return 'must be true or false';
    case 'string-array':
      return 'must be an array of strings (comma-separated in the environment)';
  }
}

function fromEnv(field: Field, raw: string): unknown {
  switch (field.kind) {
    case 'number': {
      const n = Number(raw);
      return valid(field, n) ? n : undefined;
    }
    case 'boolean':
      return /^(1|true|yes|on)$/i.test(raw) ? true : /^(0|false|no|off)$/i.test(raw) ? false : undefined;
    case 'string-array':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function suggest(key: string): string {
  let best: string | null = null;
  let bestDistance = 3;
  for (const f of Object.keys(FIELDS)) {
    const d = editDistance(key.toLowerCase(), f.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [f, d];
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The JSON Schema of the settings file, generated from FIELDS. */
export function settingsJsonSchema(): Record<string, unknown> {
  const root: Record<string, unknown> = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://codemode.dev/schema/codemode.settings.schema.json',
    title: 'codemode settings',
    type: 'object',
    additionalProperties: false,
    properties: { $schema: { type: 'string' } } as Record<string, unknown>,
  };
  for (const [key, field] of Object.entries(FIELDS)) {
    let node = root;
    const parts = key.split('.');
    for (const p of parts.slice(0, -1)) {
      const props = node.properties as Record<string, Record<string, unknown>>;
      props[p] ??= { type: 'object', additionalProperties: false, properties: {} };
      node = props[p]!;
    }
    (node.properties as Record<string, unknown>)[parts.at(-1)!] = fieldSchema(field);
  }
  return root;
}

function fieldSchema(field: Field & { description: string }): Record<string, unknown> {
  const { description } = field;
  switch (field.kind) {
    case 'number':
      return {
        type: field.integer ? 'integer' : 'number',
        minimum: field.min,
        ...(field.max !== undefined ? { maximum: field.max } : {}),
        description,
      };
    case 'string':
      return { type: 'string', minLength: 1, description };
    case 'nullable-string':
      return { type: ['string', 'null'], minLength: 1, description };
    case 'boolean':
      return { type: 'boolean', description };
    case 'string-array':
      return { type: 'array', items: { type: 'string' }, description };
  }
}
