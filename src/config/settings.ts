/**
 * Server settings as a pure pipeline: defaults, then settings files (the
 * user's own, then the one named or found in the working directory), then
 * environment variables, then flags (later wins). Every problem is collected
 * with the key that caused it; nothing here touches the file system.
 *
 * Trust: a file found in the working directory may come from a cloned
 * repository, so it may not set the keys marked `trusted` (commands to run,
 * the bind address, tokens and auth, where state goes) nor raise a limit's
 * maximum. Such a file is refused as a whole, naming each key and where it
 * belongs instead; it is never half-applied.
 */
import { RULES } from '../analysis/rules.js';
import { RULE_FAMILIES, RULE_LEVELS, type RuleLevel } from '../analysis/types.js';
import { LANGUAGES, type Language } from '../sandbox/executor.js';
import { DEFAULT_LIMITS, LIMIT_KEYS, MAX_LIMITS, type Limits } from '../sandbox/limits.js';
import { isLoopback } from './loopback.js';
import { policiesSettingProblems, type NetworkPolicy } from '../projects/egress.js';
import { kitsSettingProblems, type KitDefinition } from '../projects/kits.js';

export interface Settings {
  limits: { defaults: Limits; max: Limits };
  store: { enabled: boolean; path: string };
  workspaces: { root: string };
  sessions: { idleTimeoutMs: number; maxSessions: number; pool: Record<Language, number> };
  http: {
    host: string;
    port: number;
    /** Require a bearer token (default true, on loopback too). */
    auth: boolean;
    tokens: string[];
    /** A file of bearer tokens, one a line. */
    tokenFile: string | null;
    /** Largest MCP message: an HTTP request body, or one stdio line. */
    maxBodyBytes: number;
    allowedHosts: string[];
    /** Most 2025-revision MCP sessions one principal may hold open over HTTP. */
    maxSessionsPerPrincipal: number;
  };
  /** An mcpServers JSON file whose servers Code Mode exposes. */
  mcpServersFile: string | null;
  /** The run_agent MCP tool: off unless enabled; model strings it may use (empty: hosted providers with default keys). Keys come from the host env. */
  agent: { enabled: boolean; models: string[] };
  /**
   * Static analysis before every run (src/analysis): levels by rule id or family
   * (the operator's maximum), and the lowest level a session may ask for.
   */
  analysis: { enabled: boolean; rules: Record<string, RuleLevel>; sessionMinimum: Record<string, RuleLevel> };
  /** Operator kits beside the built-in catalogue (src/projects/kits.ts), by name. */
  kits: Record<string, Omit<KitDefinition, 'name'>>;
  /** Egress policies sessions may name (create_session network); none by default: no session reaches out. */
  network: { policies: Record<string, NetworkPolicy> };
  /** What the server process itself may hold (src/mcp/output-budget.ts). */
  server: { maxOutputInFlightBytes: number };
}

/** One parsed settings file. */
export interface SettingsFile {
  /** Where it came from, for messages; relative path values in a trusted file resolve against its directory. */
  path: string;
  content: unknown;
  /**
   * True for the user's own config file and for a file named by --settings or
   * CODEMODE_SETTINGS; false for one merely found in the working directory.
   */
  trusted: boolean;
}

export interface SettingsSources {
  /** Settings files, lowest precedence first. */
  files?: SettingsFile[];
  /** The user's own settings file, named in messages about keys an untrusted file may not set. */
  userSettingsFile?: string;
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

/** The default largest MCP message (HTTP body or stdio line), the one number docs and both transports use. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

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
    http: {
      host: '127.0.0.1',
      port: 8765,
      auth: true,
      tokens: [],
      tokenFile: null,
      maxBodyBytes: MAX_MESSAGE_BYTES,
      allowedHosts: [],
      maxSessionsPerPrincipal: 64,
    },
    mcpServersFile: null,
    agent: { enabled: false, models: [] },
    analysis: { enabled: true, rules: {}, sessionMinimum: {} },
    kits: {},
    network: { policies: {} },
    server: { maxOutputInFlightBytes: 256 * 1024 * 1024 },
  };
}

type Field =
  | { kind: 'number'; min: number; max?: number; integer?: boolean }
  | { kind: 'string'; path?: boolean }
  | { kind: 'nullable-string'; path?: boolean }
  | { kind: 'boolean' }
  | { kind: 'string-array' }
  /** { ruleIdOrFamily: "off" | "warn" | "block" } */
  | { kind: 'level-map' }
  /** An object checked by a validator that names each bad key (kits, network policies). */
  | { kind: 'object'; problems: (value: unknown) => string[]; schema: Record<string, unknown> };

/** What a key may do that a file from a cloned repository must not: why, and where it belongs instead. */
interface Trust {
  /** e.g. "names commands to run". */
  why: string;
  /** e.g. "--config FILE or CODEMODE_MCP_SERVERS". */
  instead: string;
}

type FieldSpec = Field & {
  description: string;
  /** Only trusted sources (flags, environment, the user's own or a named settings file) may set it. */
  trusted?: Trust;
  /** An untrusted file may set it only up to this value. */
  untrustedMax?: number;
};

const TRUSTED_ONLY = ' Not accepted from a settings file found in the working directory.';

/** The shape of every settable key, by dotted path. The JSON Schema is generated from this. */
export const FIELDS: Record<string, FieldSpec> = {
  ...Object.fromEntries(
    LIMIT_KEYS.flatMap((k) => [
      [`limits.defaults.${k}`, { kind: 'number', min: 1, description: `Default ${k} of a run` }],
      [
        `limits.max.${k}`,
        {
          kind: 'number',
          min: 1,
          untrustedMax: MAX_LIMITS[k],
          description: `Largest ${k} a call may ask for (a settings file found in the working directory may only lower it)`,
        },
      ],
    ]),
  ),
  'store.enabled': { kind: 'boolean', description: 'Save sessions and executions in SQLite' },
  'store.path': {
    kind: 'string',
    path: true,
    description: `SQLite database file.${TRUSTED_ONLY}`,
    trusted: { why: 'moves the state directory', instead: '--db PATH or CODEMODE_DB' },
  },
  'workspaces.root': {
    kind: 'string',
    path: true,
    description: `Directory holding one workspace per session.${TRUSTED_ONLY}`,
    trusted: { why: 'moves the state directory', instead: 'CODEMODE_WORKSPACES' },
  },
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
  'http.host': {
    kind: 'string',
    description: `Address the HTTP server binds to.${TRUSTED_ONLY}`,
    trusted: { why: 'can open the server beyond loopback', instead: '--host H or CODEMODE_HOST' },
  },
  'http.port': { kind: 'number', min: 0, max: 65535, integer: true, description: 'HTTP port (0 picks a free one)' },
  'http.auth': {
    kind: 'boolean',
    description: `Require a bearer token (default true, on loopback too); false only on loopback.${TRUSTED_ONLY}`,
    trusted: { why: 'turns authentication off', instead: '--no-auth or CODEMODE_AUTH=off' },
  },
  'http.tokens': {
    kind: 'string-array',
    description: `Bearer tokens clients must send, each its own principal.${TRUSTED_ONLY}`,
    trusted: { why: 'sets a token its author knows', instead: '--token-file FILE or CODEMODE_TOKEN' },
  },
  'http.tokenFile': {
    kind: 'nullable-string',
    path: true,
    description: `A file of bearer tokens, one a line (# comments).${TRUSTED_ONLY}`,
    trusted: { why: 'sets a token its author knows', instead: '--token-file FILE or CODEMODE_TOKEN_FILE' },
  },
  'http.maxBodyBytes': {
    kind: 'number',
    min: 1024,
    integer: true,
    description: 'Largest accepted MCP message: an HTTP request body, or one line on stdio',
  },
  'http.maxSessionsPerPrincipal': {
    kind: 'number',
    min: 1,
    integer: true,
    description: 'Most 2025-revision MCP sessions one principal (token) may hold open over HTTP',
  },
  'http.allowedHosts': {
    kind: 'string-array',
    description: `Extra host names accepted in Host and Origin besides localhost.${TRUSTED_ONLY}`,
    trusted: { why: 'weakens the DNS rebinding protection', instead: '--allow-host NAME' },
  },
  mcpServersFile: {
    kind: 'nullable-string',
    path: true,
    description: `An mcpServers JSON file (e.g. claude_desktop_config.json) for Code Mode.${TRUSTED_ONLY}`,
    trusted: { why: 'names commands to run', instead: '--config FILE or CODEMODE_MCP_SERVERS' },
  },
  'server.maxOutputInFlightBytes': {
    kind: 'number',
    min: 1024 * 1024,
    integer: true,
    description:
      'Output all running executions may hold at once (each counts its output limit, stdout and stderr); past it, new runs get a retryable "server busy" error',
  },
  'agent.enabled': {
    kind: 'boolean',
    description: `Offer the run_agent MCP tool (spends the host's model API keys).${TRUSTED_ONLY}`,
    trusted: { why: "spends the host's model API keys", instead: 'CODEMODE_AGENT_ENABLED=on' },
  },
  'agent.models': {
    kind: 'string-array',
    description: `Model strings run_agent may use (e.g. anthropic:claude-sonnet-4-5); empty: anthropic:MODEL and openai:MODEL with their default key variables only.${TRUSTED_ONLY}`,
    trusted: { why: 'picks the models the host pays for', instead: 'CODEMODE_AGENT_MODELS' },
  },
  'analysis.enabled': {
    kind: 'boolean',
    description: `Analyse code before every run (findings with the result; "block" findings stop it).${TRUSTED_ONLY}`,
    trusted: { why: 'turns the pre-run analysis off', instead: 'CODEMODE_ANALYSIS=off' },
  },
  'analysis.rules': {
    kind: 'level-map',
    description: `Level of each rule or family ({"network": "block", "loop.endless": "off"}); others keep their default.${TRUSTED_ONLY}`,
    trusted: { why: 'can turn off rules that block', instead: 'your own settings file' },
  },
  'analysis.sessionMinimum': {
    kind: 'level-map',
    description: `The lowest level create_session's analysis option may set, by rule or family (default: the operator's level).${TRUSTED_ONLY}`,
    trusted: { why: 'lets sessions turn off rules that block', instead: 'your own settings file' },
  },
  kits: {
    kind: 'object',
    problems: kitsSettingProblems,
    schema: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['version', 'description'],
        additionalProperties: false,
        properties: {
          version: { type: 'string' },
          description: { type: 'string' },
          debian: { type: 'array', items: { type: 'string' } },
          npm: { type: 'array', items: { type: 'string' } },
          modules: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
          startup: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
    description: `Kits by name ({"debian": [...], "npm": [...], "modules", "startup", "version", "description"}), beside the built-in ones; install with codemode kits install NAME.${TRUSTED_ONLY}`,
    trusted: { why: 'names packages to install', instead: 'your own settings file' },
  },
  'network.policies': {
    kind: 'object',
    problems: policiesSettingProblems,
    schema: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['allow', 'maxBytes', 'maxRequests'],
        additionalProperties: false,
        properties: {
          allow: { type: 'array', items: { type: 'string' } },
          maxBytes: { type: 'integer', minimum: 1 },
          maxRequests: { type: 'integer', minimum: 1 },
        },
      },
    },
    description: `Egress policies by name ({"allow": ["host:port"], "maxBytes", "maxRequests"}) that create_session's network option may name.${TRUSTED_ONLY}`,
    trusted: { why: 'lets sandboxed code reach the network', instead: 'your own settings file' },
  },
};

const LEVEL_KEYS = new Set<string>([...RULE_FAMILIES, ...RULES.map((r) => r.id)]);

/**
 * Keys that are not settings at all but that someone may try in a file: each
 * would run commands or drop the sandbox, so no file may carry them.
 */
const NEVER_IN_A_FILE: Record<string, Trust> = {
  mcpServers: {
    why: 'names commands to run',
    instead: 'a file passed with --config (or mcpServersFile in your own settings file)',
  },
  upstream: { why: 'names commands to run', instead: '--config FILE' },
  unsandboxed: {
    why: 'turns the sandbox off',
    instead: '--unsandboxed-i-know-this-is-unsafe, and only for trusted code',
  },
  sandbox: { why: 'turns the sandbox off', instead: '--unsandboxed-i-know-this-is-unsafe, and only for trusted code' },
  stateDir: { why: 'moves the state directory', instead: 'CODEMODE_HOME' },
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
  CODEMODE_AUTH: 'http.auth',
  CODEMODE_TOKEN: 'http.tokens',
  CODEMODE_TOKEN_FILE: 'http.tokenFile',
  CODEMODE_MCP_SERVERS: 'mcpServersFile',
  CODEMODE_AGENT_ENABLED: 'agent.enabled',
  CODEMODE_AGENT_MODELS: 'agent.models',
  CODEMODE_ANALYSIS: 'analysis.enabled',
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

  for (const file of sources.files ?? []) {
    const where = file.trusted ? file.path : `${file.path} (found in the working directory, so not trusted)`;
    if (!isObject(file.content)) {
      errors.push(`${where}: must be a JSON object`);
      continue;
    }
    // Rules first: an untrusted file that reaches for a privileged key is refused whole, never half-applied.
    const refused = file.trusted ? [] : untrustedViolations(file.content, sources.userSettingsFile);
    const never = neverInAFile(file.content);
    if (refused.length > 0 || never.length > 0) {
      for (const r of [...never, ...refused]) errors.push(`${where}: ${r}`);
      continue;
    }
    const ctx: ApplyContext = { where, errors, strict: true, baseDir: file.trusted ? dirname(file.path) : null };
    applyObject(settings, file.content, '', ctx);
  }
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const raw = sources.env?.[name];
    if (raw === undefined || raw === '') continue;
    const field = FIELDS[key]!;
    const value = fromEnv(field, raw);
    if (value === undefined) errors.push(`${name}=${JSON.stringify(raw)}: ${expectation(field)}`);
    else set(settings, key, value, `${name}`, errors);
  }
  if (sources.flags) applyObject(settings, sources.flags, '', { where: 'flag', errors, strict: false, baseDir: null });

  for (const k of LIMIT_KEYS) {
    if (settings.limits.defaults[k] > settings.limits.max[k]) {
      errors.push(
        `limits.defaults.${k} (${settings.limits.defaults[k]}) is above limits.max.${k} (${settings.limits.max[k]}); raise the maximum or lower the default`,
      );
    }
  }
  if (!settings.http.auth && !isLoopback(settings.http.host)) {
    errors.push(
      `http.auth is off but http.host ${settings.http.host} is reachable beyond loopback: anyone who reaches it would run code as you. Bind to 127.0.0.1, or keep auth on`,
    );
  }
  return { settings, errors, warnings };
}

/** Every key of `content` that an untrusted file may not set, with the reason and where it belongs. */
export function untrustedViolations(content: Record<string, unknown>, userSettingsFile?: string): string[] {
  const out: string[] = [];
  const own = userSettingsFile ?? '~/.config/codemode/config.json';
  const visit = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined) continue;
      const key = prefix ? `${prefix}.${k}` : k;
      const field = FIELDS[key];
      if (field?.trusted) {
        out.push(
          `${key} ${field.trusted.why}, so a settings file found in the working directory may not set it (a cloned repository could). ` +
            `Put it in ${own}, or pass ${field.trusted.instead}`,
        );
      } else if (field?.untrustedMax !== undefined && typeof v === 'number' && v > field.untrustedMax) {
        out.push(
          `${key} = ${v} raises the built-in maximum (${field.untrustedMax}), which a settings file found in the working directory may not do. ` +
            `Put it in ${own}, or set it in the environment`,
        );
      } else if (!field && isObject(v)) visit(v, key);
    }
  };
  visit(content, '');
  return out;
}

function neverInAFile(content: Record<string, unknown>): string[] {
  return Object.keys(content)
    .filter((k) => NEVER_IN_A_FILE[k] !== undefined)
    .map((k) => {
      const t = NEVER_IN_A_FILE[k]!;
      return `${k} ${t.why} and is not accepted in a settings file; use ${t.instead}`;
    });
}

interface ApplyContext {
  where: string;
  errors: string[];
  strict: boolean;
  /** Relative path values resolve against this directory (a trusted file's), else are taken as given. */
  baseDir: string | null;
}

function applyObject(target: Settings, obj: Record<string, unknown>, prefix: string, ctx: ApplyContext): void {
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    const key = prefix ? `${prefix}.${k}` : k;
    if (key === '$schema') continue;
    const field = FIELDS[key];
    if (field) {
      const pathField = (field.kind === 'string' || field.kind === 'nullable-string') && field.path === true;
      const value =
        pathField && ctx.baseDir !== null && typeof v === 'string' && v !== '' && !v.startsWith('/')
          ? `${ctx.baseDir}/${v}`
          : v;
      set(target, key, value, ctx.where, ctx.errors);
    } else if (isObject(v) && Object.keys(FIELDS).some((f) => f.startsWith(`${key}.`))) {
      applyObject(target, v, key, ctx);
    } else if (ctx.strict) {
      ctx.errors.push(`${ctx.where}: unknown key "${key}"${suggest(key)}`);
    }
  }
}

/** The directory part of a path (pure; '/' separated). */
function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? (i === 0 ? '/' : '.') : p.slice(0, i);
}

function set(target: Settings, key: string, value: unknown, where: string, errors: string[]): void {
  const field = FIELDS[key]!;
  if (field.kind === 'object') {
    const problems = field.problems(value);
    if (problems.length) {
      for (const p of problems) errors.push(`${where}: ${p}`);
      return;
    }
  }
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
    case 'level-map':
      return (
        isObject(v) &&
        Object.entries(v).every(([k, l]) => LEVEL_KEYS.has(k) && (RULE_LEVELS as readonly unknown[]).includes(l))
      );
    case 'object':
      return field.problems(v).length === 0;
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
    case 'level-map':
      return `must map rule ids or families (${[...LEVEL_KEYS].join(', ')}) to "off", "warn" or "block"`;
    case 'object':
      return 'must be an object as described in the settings schema';
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

function fieldSchema(field: FieldSpec): Record<string, unknown> {
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
    case 'level-map':
      return {
        type: 'object',
        propertyNames: { enum: [...LEVEL_KEYS] },
        additionalProperties: { enum: [...RULE_LEVELS] },
        description,
      };
    case 'object':
      return { ...field.schema, description };
  }
}
