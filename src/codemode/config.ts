/**
 * Code Mode upstream config: a pure parser/validator for the standard `mcpServers`
 * JSON (plus our per-server options) and for `--upstream` command-line specs.
 * Parsing never throws; it collects errors and warnings that name the bad key.
 */

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000;

export interface StdioTransportConfig {
  kind: 'stdio';
  command: string;
  args: string[];
  /** Extra environment for the server process. Stays on the host. */
  env: Record<string, string>;
  cwd?: string;
}

export interface HttpTransportConfig {
  kind: 'http';
  url: string;
  /** HTTP headers (e.g. Authorization). Stay on the host. */
  headers: Record<string, string>;
}

export type UpstreamTransportConfig = StdioTransportConfig | HttpTransportConfig;

export interface UpstreamServerConfig {
  /** The key under `mcpServers`. */
  name: string;
  transport: UpstreamTransportConfig;
  /** Timeout of every call to this server, and of its start-up (spawn + initialize) unless `startTimeoutMs` is set. */
  timeoutMs: number;
  /** Timeout of the start-up alone, for a server slower to start than its calls may take. */
  startTimeoutMs?: number;
  /** `true`: every tool needs approval; a list: those tools do. */
  requireApproval: true | string[];
  /** Tools allowed although they need approval (the allow list). */
  approved: string[];
  disabled: boolean;
}

export interface CodeModeConfig {
  /** Enabled and disabled servers, in the config's key order. */
  servers: UpstreamServerConfig[];
}

export interface ConfigIssue {
  /** Dotted path of the offending key, e.g. `mcpServers.github.command`. */
  path: string;
  message: string;
}

export interface ParsedConfig {
  config: CodeModeConfig;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/** The published JSON Schema of the config file (the parser is the source of truth for messages). */
export const CODEMODE_CONFIG_JSON_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'codemode upstream MCP servers',
  type: 'object',
  required: ['mcpServers'],
  properties: {
    mcpServers: {
      type: 'object',
      description: 'Upstream MCP servers by name; each becomes codemode.<name> in code.',
      additionalProperties: {
        type: 'object',
        properties: {
          command: { type: 'string', description: 'Executable of a stdio server.' },
          args: { type: 'array', items: { type: 'string' } },
          env: { type: 'object', additionalProperties: { type: 'string' }, description: 'Stays on the host.' },
          cwd: { type: 'string' },
          url: { type: 'string', format: 'uri', description: 'Streamable HTTP endpoint.' },
          headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Stay on the host.' },
          type: { enum: ['http', 'streamable-http', 'streamableHttp'] },
          timeoutMs: {
            type: 'integer',
            minimum: 1,
            default: DEFAULT_UPSTREAM_TIMEOUT_MS,
            description:
              'Milliseconds allowed for every call, and for the start-up (spawn and initialize) unless startTimeoutMs is set.',
          },
          startTimeoutMs: {
            type: 'integer',
            minimum: 1,
            description: 'Milliseconds allowed for the start-up alone (default: timeoutMs).',
          },
          requireApproval: {
            description: 'true: every tool needs approval; a list: those tools do.',
            oneOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string' } }],
          },
          approved: { type: 'array', items: { type: 'string' }, description: 'Allow list of tools needing approval.' },
          disabled: { type: 'boolean', default: false },
          description: { type: 'string' },
        },
        oneOf: [{ required: ['command'] }, { required: ['url'] }],
      },
    },
  },
} as const;

const STDIO_KEYS = new Set(['command', 'args', 'env', 'cwd']);
const HTTP_KEYS = new Set(['url', 'headers', 'type', 'transport']);
const OPTION_KEYS = new Set(['timeoutMs', 'startTimeoutMs', 'requireApproval', 'approved', 'disabled', 'description']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringRecord(v: unknown, path: string, errors: ConfigIssue[]): Record<string, string> {
  if (v === undefined) return {};
  if (!isRecord(v)) {
    errors.push({ path, message: `${path} must be an object of strings` });
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') errors.push({ path: `${path}.${k}`, message: `${path}.${k} must be a string` });
    else out[k] = val;
  }
  return out;
}

function stringList(v: unknown, path: string, errors: ConfigIssue[]): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    errors.push({ path, message: `${path} must be an array of strings` });
    return [];
  }
  return v as string[];
}

/** Whether `tool` of `server` needs approval and is not on the allow list. */
export function needsApproval(server: UpstreamServerConfig, tool: string): boolean {
  const required = server.requireApproval === true || server.requireApproval.includes(tool);
  return required && !server.approved.includes(tool);
}

function parseServer(
  name: string,
  raw: unknown,
  errors: ConfigIssue[],
  warnings: ConfigIssue[],
): UpstreamServerConfig | null {
  const base = `mcpServers.${name}`;
  if (!isRecord(raw)) {
    errors.push({ path: base, message: `${base} must be an object with "command" or "url"` });
    return null;
  }
  const startErrors = errors.length;
  if (name.length === 0 || !/^[A-Za-z0-9_.-]+$/.test(name)) {
    errors.push({ path: base, message: `${base}: server names may use only letters, digits, "_", "-" and "."` });
  }
  let transport: UpstreamTransportConfig | null = null;
  const hasCommand = raw.command !== undefined;
  const hasUrl = raw.url !== undefined;
  if (hasCommand && hasUrl) {
    errors.push({ path: base, message: `${base} has both "command" and "url"; choose one` });
  } else if (hasCommand) {
    if (typeof raw.command !== 'string' || raw.command.trim() === '') {
      errors.push({ path: `${base}.command`, message: `${base}.command must be a non-empty string` });
    }
    const args = stringList(raw.args, `${base}.args`, errors);
    const env = stringRecord(raw.env, `${base}.env`, errors);
    if (raw.cwd !== undefined && typeof raw.cwd !== 'string') {
      errors.push({ path: `${base}.cwd`, message: `${base}.cwd must be a string` });
    }
    for (const k of ['url', 'headers']) {
      if (raw[k] !== undefined)
        warnings.push({ path: `${base}.${k}`, message: `${base}.${k} is ignored for a command server` });
    }
    transport = {
      kind: 'stdio',
      command: typeof raw.command === 'string' ? raw.command : '',
      args,
      env,
      ...(typeof raw.cwd === 'string' ? { cwd: raw.cwd } : {}),
    };
  } else if (hasUrl) {
    let ok = typeof raw.url === 'string';
    if (ok) {
      try {
        const u = new URL(raw.url as string);
        ok = u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        ok = false;
      }
    }
    if (!ok) errors.push({ path: `${base}.url`, message: `${base}.url must be an http(s) URL` });
    const headers = stringRecord(raw.headers, `${base}.headers`, errors);
    const kind = raw.type ?? raw.transport;
    if (kind !== undefined && kind !== 'http' && kind !== 'streamable-http' && kind !== 'streamableHttp') {
      errors.push({ path: `${base}.type`, message: `${base}.type must be "http" (only Streamable HTTP is supported)` });
    }
    for (const k of ['args', 'env', 'cwd']) {
      if (raw[k] !== undefined)
        warnings.push({ path: `${base}.${k}`, message: `${base}.${k} is ignored for a URL server` });
    }
    transport = { kind: 'http', url: typeof raw.url === 'string' ? raw.url : '', headers };
  } else {
    errors.push({ path: base, message: `${base} needs "command" (stdio) or "url" (HTTP)` });
  }

  let timeoutMs = DEFAULT_UPSTREAM_TIMEOUT_MS;
  if (raw.timeoutMs !== undefined) {
    if (typeof raw.timeoutMs !== 'number' || !Number.isInteger(raw.timeoutMs) || raw.timeoutMs <= 0) {
      errors.push({
        path: `${base}.timeoutMs`,
        message: `${base}.timeoutMs must be a positive integer (milliseconds)`,
      });
    } else timeoutMs = raw.timeoutMs;
  }
  let startTimeoutMs: number | undefined;
  if (raw.startTimeoutMs !== undefined) {
    if (typeof raw.startTimeoutMs !== 'number' || !Number.isInteger(raw.startTimeoutMs) || raw.startTimeoutMs <= 0) {
      errors.push({
        path: `${base}.startTimeoutMs`,
        message: `${base}.startTimeoutMs must be a positive integer (milliseconds)`,
      });
    } else startTimeoutMs = raw.startTimeoutMs;
  }
  let requireApproval: true | string[] = [];
  if (raw.requireApproval === true) requireApproval = true;
  else if (raw.requireApproval !== undefined && raw.requireApproval !== false) {
    if (Array.isArray(raw.requireApproval))
      requireApproval = stringList(raw.requireApproval, `${base}.requireApproval`, errors);
    else
      errors.push({
        path: `${base}.requireApproval`,
        message: `${base}.requireApproval must be true or an array of tool names`,
      });
  }
  const approved = stringList(raw.approved, `${base}.approved`, errors);
  if (Array.isArray(requireApproval)) {
    for (const t of approved) {
      if (!requireApproval.includes(t)) {
        warnings.push({
          path: `${base}.approved`,
          message: `${base}.approved lists "${t}", which does not require approval`,
        });
      }
    }
  }
  let disabled = false;
  if (raw.disabled !== undefined) {
    if (typeof raw.disabled !== 'boolean') {
      errors.push({ path: `${base}.disabled`, message: `${base}.disabled must be a boolean` });
    } else disabled = raw.disabled;
  }
  for (const k of Object.keys(raw)) {
    if (!STDIO_KEYS.has(k) && !HTTP_KEYS.has(k) && !OPTION_KEYS.has(k)) {
      warnings.push({ path: `${base}.${k}`, message: `${base}.${k} is not a known key and is ignored` });
    }
  }
  if (transport === null || errors.length > startErrors) return null;
  return {
    name,
    transport,
    timeoutMs,
    ...(startTimeoutMs === undefined ? {} : { startTimeoutMs }),
    requireApproval,
    approved,
    disabled,
  };
}

/**
 * Validate an `mcpServers` document. Servers with errors are left out of
 * `config`; the rest stay usable, so one bad entry never hides the others.
 */
export function parseCodeModeConfig(raw: unknown): ParsedConfig {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const servers: UpstreamServerConfig[] = [];
  if (!isRecord(raw)) {
    errors.push({ path: '', message: 'config must be a JSON object with an "mcpServers" object' });
    return { config: { servers }, errors, warnings };
  }
  if (raw.mcpServers === undefined) {
    errors.push({ path: 'mcpServers', message: 'mcpServers is missing' });
    return { config: { servers }, errors, warnings };
  }
  if (!isRecord(raw.mcpServers)) {
    errors.push({ path: 'mcpServers', message: 'mcpServers must be an object keyed by server name' });
    return { config: { servers }, errors, warnings };
  }
  for (const k of Object.keys(raw)) {
    if (k !== 'mcpServers' && k !== '$schema')
      warnings.push({ path: k, message: `${k} is not a known key and is ignored` });
  }
  for (const [name, value] of Object.entries(raw.mcpServers)) {
    const server = parseServer(name, value, errors, warnings);
    if (server) servers.push(server);
  }
  return { config: { servers }, errors, warnings };
}

/** Split a command line on whitespace, honouring '...' and "..." quotes and backslash escapes. */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inToken = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inToken = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) out.push(cur);
      cur = '';
      inToken = false;
    } else {
      cur += ch;
      inToken = true;
    }
  }
  if (inToken) out.push(cur);
  return out;
}

/**
 * Parse one `--upstream` value into a raw `mcpServers` entry.
 *
 * Syntax (one shell argument, so quote it):
 *   --upstream 'NAME=COMMAND [ARG ...]'   a stdio server, e.g. 'fs=npx -y @modelcontextprotocol/server-filesystem /tmp'
 *   --upstream 'NAME=https://host/mcp'    a Streamable HTTP server
 * Arguments split on whitespace; '...' and "..." quote, backslash escapes.
 * Env, headers and the per-server options need the JSON config file.
 */
export function parseUpstreamSpec(spec: string): { name: string; entry: Record<string, unknown> } | ConfigIssue {
  const eq = spec.indexOf('=');
  const path = '--upstream';
  if (eq <= 0) return { path, message: `--upstream "${spec}" must look like NAME=COMMAND [ARGS...] or NAME=URL` };
  const name = spec.slice(0, eq).trim();
  const rest = spec.slice(eq + 1).trim();
  if (rest === '') return { path, message: `--upstream "${spec}" has no command or URL after "="` };
  if (/^https?:\/\//i.test(rest) && !/\s/.test(rest)) return { name, entry: { url: rest } };
  const words = splitCommandLine(rest);
  const [command, ...args] = words;
  if (command === undefined) return { path, message: `--upstream "${spec}" has no command` };
  return { name, entry: { command, args } };
}

/**
 * Merge `--upstream` specs over a raw config document (flags win over the file
 * for the same name) and validate the result.
 */
export function parseConfigWithUpstreams(raw: unknown, specs: readonly string[]): ParsedConfig {
  const flagIssues: ConfigIssue[] = [];
  const base = isRecord(raw) ? raw : raw === undefined ? { mcpServers: {} } : raw;
  if (!isRecord(base)) return parseCodeModeConfig(base);
  const servers: Record<string, unknown> = isRecord(base.mcpServers) ? { ...base.mcpServers } : {};
  for (const spec of specs) {
    const parsed = parseUpstreamSpec(spec);
    if ('message' in parsed) flagIssues.push(parsed);
    else servers[parsed.name] = parsed.entry;
  }
  const result = parseCodeModeConfig({ ...base, mcpServers: servers });
  return { ...result, errors: [...flagIssues, ...result.errors] };
}

/** Thin I/O wrapper: read and validate a config file (JSON). */
export async function loadCodeModeConfig(
  path: string,
  readFile: (p: string) => Promise<string> = defaultReadFile,
): Promise<ParsedConfig> {
  let text: string;
  try {
    text = await readFile(path);
  } catch (e) {
    return {
      config: { servers: [] },
      errors: [{ path, message: `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}` }],
      warnings: [],
    };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return {
      config: { servers: [] },
      errors: [{ path, message: `${path} is not valid JSON: ${e instanceof Error ? e.message : String(e)}` }],
      warnings: [],
    };
  }
  return parseCodeModeConfig(raw);
}

async function defaultReadFile(p: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(p, 'utf8');
}

/** What identifies this codemode, for spotting an upstream that would start it again. */
export interface SelfIdentity {
  /** Real paths of this package's entry points (bin/codemode.js, dist/cli/main.js, src/cli/main.ts, ...). */
  entryPoints: readonly string[];
  /** The npm package name, as package runners (npx, npm exec, pnpm dlx, bunx, yarn dlx) name it. */
  packageName: string;
  /** The real path of a command (a path, relative to `cwd`, or a name looked up on PATH), or null. */
  resolve(command: string, cwd?: string): string | null;
}

const NODE_LIKE = /^(node|nodejs|bun|deno|tsx|ts-node)(\d[\d.]*)?(\.exe)?$/;
const RUNNERS = new Set(['npx', 'pnpx', 'bunx']);
const RUNNER_MANAGERS: Record<string, Set<string>> = {
  npm: new Set(['exec', 'x']),
  pnpm: new Set(['dlx', 'exec']),
  yarn: new Set(['dlx', 'exec']),
  bun: new Set(['x']),
};
/** Options of node-like runtimes that take a value, so the script is not that value. */
const NODE_VALUE_OPTIONS = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '--conditions',
  '-C',
  '--env-file',
  '--title',
]);
const SHELLS = /^(sh|bash|dash|zsh|ksh)$/;

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/**
 * Why the stdio command `command args` would start this codemode again, or
 * null when it would not. Follows `env`, `sh -c`, package runners and node
 * (or tsx, bun...) with a script; pure apart from `self.resolve`.
 */
export function selfReference(
  command: string,
  args: readonly string[],
  self: SelfIdentity,
  cwd?: string,
  depth = 0,
): string | null {
  if (depth > 4 || command === '') return null;
  const base = baseName(command);
  if (base === 'codemode' || base === 'codemode.js') return `its command "${command}" is codemode`;
  const real = self.resolve(command, cwd);
  if (real !== null && self.entryPoints.includes(real)) return `its command "${command}" is this codemode`;

  const isPackage = (spec: string | undefined) =>
    spec !== undefined && (spec === self.packageName || spec.startsWith(`${self.packageName}@`));
  const runnerTarget = (rest: readonly string[]): string | null => {
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i]!;
      if (a === '--') return isPackage(rest[i + 1]) ? `it runs the ${self.packageName} package` : null;
      if (a === '-p' || a === '--package') {
        if (isPackage(rest[i + 1])) return `it runs the ${self.packageName} package`;
        i++;
      } else if (a.startsWith('--package=')) {
        if (isPackage(a.slice('--package='.length))) return `it runs the ${self.packageName} package`;
      } else if (!a.startsWith('-')) {
        return isPackage(a) ? `it runs the ${self.packageName} package` : null;
      }
    }
    return null;
  };
  if (RUNNERS.has(base)) return runnerTarget(args);
  const manager = RUNNER_MANAGERS[base];
  if (manager !== undefined && args[0] !== undefined && manager.has(args[0])) return runnerTarget(args.slice(1));

  if (base === 'env') {
    const i = args.findIndex((a) => !a.startsWith('-') && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(a));
    return i < 0 ? null : selfReference(args[i]!, args.slice(i + 1), self, cwd, depth + 1);
  }
  if (SHELLS.test(base)) {
    const c = args.findIndex((a) => /^-[a-z]*c[a-z]*$/.test(a));
    const script = c < 0 ? undefined : args[c + 1];
    if (script === undefined) return null;
    const [inner, ...innerArgs] = splitCommandLine(script.replace(/^\s*exec\s+/, ''));
    return inner === undefined ? null : selfReference(inner, innerArgs, self, cwd, depth + 1);
  }
  if (NODE_LIKE.test(base) || (real !== null && NODE_LIKE.test(baseName(real)))) {
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') return null;
      if (NODE_VALUE_OPTIONS.has(a)) {
        i++;
        continue;
      }
      if (a.startsWith('-')) continue;
      if (a === 'run' || a === 'x') continue; // bun run X, deno run X
      if (isPackage(a)) return `it runs the ${self.packageName} package`;
      // A script is a file relative to the working directory, never a PATH lookup.
      const script = self.resolve(/^(\/|\.\.?\/)/.test(a) ? a : `./${a}`, cwd);
      return script !== null && self.entryPoints.includes(script) ? `it runs this codemode (${a})` : null;
    }
  }
  return null;
}

/**
 * The config without the stdio servers that are codemode itself (which would
 * start codemode recursively), with a warning naming each one skipped.
 */
export function withoutSelf(
  config: CodeModeConfig,
  self: SelfIdentity,
): { config: CodeModeConfig; skipped: ConfigIssue[] } {
  const skipped: ConfigIssue[] = [];
  const servers = config.servers.filter((s) => {
    if (s.transport.kind !== 'stdio') return true;
    const why = selfReference(s.transport.command, s.transport.args, self, s.transport.cwd);
    if (why === null) return true;
    skipped.push({
      path: `mcpServers.${s.name}`,
      message: `mcpServers.${s.name} is skipped: ${why}, and codemode would start itself over and over`,
    });
    return false;
  });
  return { config: { servers }, skipped };
}
