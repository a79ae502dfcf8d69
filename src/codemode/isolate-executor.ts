/**
 * Runs Code Mode programs (JavaScript or TypeScript) in a fresh V8 isolate per run.
 * The only bridge to the host is two string-in/string-out references (tool calls,
 * logs): values cross as JSON, never as host objects. Never throws for user code.
 */
import ivm from 'isolated-vm';
import { transform } from 'esbuild';
import { errorMessage, isAppError } from '../errors.js';
import type { ToolCallRecord, ToolHost } from './contract.js';

export type CodeModeLanguage = 'javascript' | 'typescript';

export type CodeModeStatus = 'ok' | 'error' | 'timeout' | 'memory' | 'cancelled' | 'not_started';

export interface CodeModeError {
  /** e.g. "TypeError", "SyntaxError", "ToolError". */
  type: string;
  message: string;
  /** 1-based line in the user's code, when known. */
  line?: number;
  column?: number;
  /** Stack frames in the user's code only. */
  traceback?: string;
}

export interface CodeModeLimits {
  /** Wall-clock limit of the whole run, enforced by a host watchdog. Default 30 s. */
  timeoutMs: number;
  /** CPU limit of the program's synchronous start (the isolate's own timeout). Default = timeoutMs. */
  cpuMs: number;
  /** Isolate heap limit in MiB. Default 64. */
  memoryMb: number;
  /** Largest tool-argument JSON, in characters. Default 1 MiB. */
  maxArgBytes: number;
  /** Largest tool result or return value JSON, in characters. Default 4 MiB. */
  maxResultBytes: number;
  /** Log text kept; the rest is dropped with a marker. Default 64 KiB. */
  maxLogBytes: number;
}

export const DEFAULT_CODEMODE_LIMITS: CodeModeLimits = {
  timeoutMs: 30_000,
  cpuMs: 30_000,
  memoryMb: 64,
  maxArgBytes: 1024 * 1024,
  maxResultBytes: 4 * 1024 * 1024,
  maxLogBytes: 64 * 1024,
};

/** Which identifiers exist on `codemode` (server → tool functions). */
export interface CodeModeApiShape {
  /**
   * `unavailable` servers (failed to start) still get a namespace: any call on it
   * reaches the host, which reports why (with the server's stderr).
   */
  servers: { identifier: string; tools: string[]; unavailable?: boolean }[];
}

export interface CodeModeRequest {
  language: CodeModeLanguage;
  code: string;
  host: ToolHost;
  api: CodeModeApiShape;
  limits?: Partial<CodeModeLimits>;
  signal?: AbortSignal;
}

export interface CodeModeResult {
  status: CodeModeStatus;
  /** The program's `return` value (JSON-safe), or null. */
  value: unknown;
  /** console output, `[warn]`/`[error]` prefixed for those levels. */
  logs: string[];
  toolCalls: ToolCallRecord[];
  /** Whether any upstream tool call started: if true, a retry repeats side effects. */
  toolCallsMade: boolean;
  error?: CodeModeError;
  durationMs: number;
  limits: CodeModeLimits;
  /** One line saying why, when status is not ok/error. */
  reason?: string;
}

const USER_FILE = 'user-code.js';

const BOOTSTRAP = String.raw`"use strict";
(() => {
  const call = globalThis.__cm_call;
  const log = globalThis.__cm_log;
  const { api, maxArg, maxResult } = JSON.parse(globalThis.__cm_setup);
  delete globalThis.__cm_call;
  delete globalThis.__cm_log;
  delete globalThis.__cm_setup;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const RangeErrorCtor = RangeError;
  const isArray = Array.isArray;
  const freeze = Object.freeze;

  async function invoke(server, tool, label, args) {
    if (args === undefined) args = {};
    if (typeof args !== 'object' || args === null || isArray(args)) {
      throw new TypeErrorCtor(label + ': arguments must be an object, e.g. ' + label + '({ ... })');
    }
    let json;
    try {
      json = stringify(args);
    } catch (e) {
      const why = e && /circular|cyclic/i.test(String(e.message)) ? 'they contain a cycle' : String(e && e.message);
      throw new TypeErrorCtor(label + ': arguments cannot be sent as JSON (' + why + '); pass plain data');
    }
    if (json.length > maxArg) {
      throw new RangeErrorCtor(label + ': arguments are ' + json.length + ' characters of JSON, over the ' + maxArg + ' limit');
    }
    const reply = await call.apply(undefined, [server, tool, json], { result: { promise: true } });
    const r = parse(reply);
    if (r.ok) return r.value;
    const err = new ErrorCtor(r.message);
    err.name = 'ToolError';
    err.code = r.code;
    err.tool = label;
    throw err;
  }

  const codemode = {};
  for (const s of api.servers) {
    if (s.unavailable) {
      codemode[s.identifier] = new Proxy(freeze({}), {
        get: (_target, tool) =>
          typeof tool === 'string' ? (args) => invoke(s.identifier, tool, 'codemode.' + s.identifier + '.' + tool, args) : undefined,
      });
      continue;
    }
    const ns = {};
    for (const t of s.tools) {
      const label = 'codemode.' + s.identifier + '.' + t;
      ns[t] = (args) => invoke(s.identifier, t, label, args);
    }
    codemode[s.identifier] = freeze(ns);
  }
  codemode.search_tools = (query, detail) =>
    invoke('', 'search_tools', 'codemode.search_tools', { query: String(query), detail: detail === undefined ? 'signatures' : String(detail) });
  Object.defineProperty(globalThis, 'codemode', { value: freeze(codemode), enumerable: true });

  const fmt = (v) => {
    if (typeof v === 'string') return v;
    if (v instanceof ErrorCtor) return v.name + ': ' + v.message;
    try {
      const s = stringify(v);
      return s === undefined ? String(v) : s;
    } catch (e) {
      return String(v);
    }
  };
  const logAt = (level) => (...a) => log.applyIgnored(undefined, [level, a.map(fmt).join(' ')]);
  Object.defineProperty(globalThis, 'console', {
    value: freeze({ log: logAt('log'), info: logAt('info'), debug: logAt('debug'), warn: logAt('warn'), error: logAt('error') }),
    enumerable: false,
  });

  const describe = (e) => {
    if (e instanceof ErrorCtor || (e && typeof e === 'object' && typeof e.message === 'string')) {
      return { type: String(e.name || 'Error'), message: String(e.message), stack: String(e.stack || '') };
    }
    return { type: 'Error', message: 'Uncaught ' + fmt(e), stack: '' };
  };
  globalThis.__cm_run = (fn) => {
    delete globalThis.__cm_run;
    return fn().then(
      (v) => {
        let json;
        try {
          json = stringify(v);
        } catch (e) {
          return stringify({ ok: false, error: { type: 'TypeError', message: 'the return value cannot be sent as JSON: ' + String(e && e.message), stack: '' } });
        }
        if (json === undefined) return '{"ok":true,"value":null}';
        if (json.length > maxResult) {
          return stringify({ ok: false, error: { type: 'RangeError', message: 'the return value is ' + json.length + ' characters of JSON, over the ' + maxResult + ' limit; return a smaller summary', stack: '' } });
        }
        return '{"ok":true,"value":' + json + '}';
      },
      (e) => stringify({ ok: false, error: describe(e) }),
    );
  };
})();
`;

interface RunOutcome {
  ok: boolean;
  value?: unknown;
  error?: { type: string; message: string; stack: string };
}

/** Map generated (1-based) lines to original lines using a source map's `mappings`. */
function lineMapFromSourceMap(mappings: string): Map<number, number> {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const out = new Map<number, number>();
  let origLine = 0;
  let genLine = 0;
  for (const line of mappings.split(';')) {
    genLine++;
    let first = true;
    for (const seg of line.split(',')) {
      if (seg === '') continue;
      const values: number[] = [];
      let shift = 0;
      let acc = 0;
      for (const ch of seg) {
        const d = chars.indexOf(ch);
        acc += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          values.push(acc & 1 ? -(acc >> 1) : acc >> 1);
          acc = 0;
          shift = 0;
        }
      }
      if (values.length >= 4) {
        origLine += values[2] as number;
        if (first) out.set(genLine, origLine + 1);
        first = false;
      }
    }
  }
  return out;
}

interface Prepared {
  source: string;
  /** Script line (1-based) → user line (1-based). */
  toUserLine: (line: number) => number | undefined;
  userLines: number;
}

const PREFIX = '__cm_run(async () => {\n';
const SUFFIX = '\n})';

async function prepare(language: CodeModeLanguage, code: string): Promise<Prepared | CodeModeError> {
  const userLines = code.split('\n').length;
  const wrapped = `${PREFIX}${code}${SUFFIX}`;
  if (language === 'javascript') {
    return { source: wrapped, toUserLine: (l) => (l >= 2 && l <= userLines + 1 ? l - 1 : undefined), userLines };
  }
  try {
    const out = await transform(wrapped, {
      loader: 'ts',
      sourcemap: 'external',
      sourcefile: USER_FILE,
      target: 'es2022',
      logLevel: 'silent',
    });
    const map = JSON.parse(out.map) as { mappings: string };
    const lines = lineMapFromSourceMap(map.mappings);
    return {
      source: out.code,
      toUserLine: (l) => {
        for (let g = l; g >= 1; g--) {
          const o = lines.get(g);
          if (o !== undefined) return o >= 2 && o <= userLines + 1 ? o - 1 : undefined;
        }
        return undefined;
      },
      userLines,
    };
  } catch (e) {
    const first = (e as { errors?: { text: string; location?: { line: number; column: number } | null }[] })
      .errors?.[0];
    if (first) {
      const line = first.location ? first.location.line - 1 : undefined;
      return {
        type: 'SyntaxError',
        message: first.text,
        ...(line !== undefined && line >= 1 ? { line, column: (first.location?.column ?? 0) + 1 } : {}),
      };
    }
    return { type: 'SyntaxError', message: errorMessage(e) };
  }
}

function locate(stack: string, prepared: Prepared): Pick<CodeModeError, 'line' | 'column' | 'traceback'> {
  const frames: string[] = [];
  let line: number | undefined;
  let column: number | undefined;
  const re = new RegExp(`${USER_FILE.replace('.', '\\.')}:(\\d+):(\\d+)`);
  for (const raw of stack.split('\n').slice(1)) {
    const m = re.exec(raw);
    if (!m) continue;
    const userLine = prepared.toUserLine(Number(m[1]));
    if (userLine === undefined) continue;
    if (line === undefined) {
      line = userLine;
      column = Number(m[2]);
    }
    frames.push(raw.replace(re, `line ${userLine}`).trim());
  }
  return {
    ...(line !== undefined ? { line } : {}),
    ...(column !== undefined ? { column } : {}),
    ...(frames.length > 0 ? { traceback: frames.join('\n') } : {}),
  };
}

/** Run one program. Fresh isolate each time; resolves (never rejects) with what happened. */
export async function runInIsolate(
  request: CodeModeRequest,
  now: () => number = performance.now.bind(performance),
): Promise<CodeModeResult> {
  const limits: CodeModeLimits = { ...DEFAULT_CODEMODE_LIMITS, ...request.limits };
  if (request.limits?.timeoutMs !== undefined && request.limits.cpuMs === undefined) limits.cpuMs = limits.timeoutMs;
  const started = now();
  const logs: string[] = [];
  let logBytes = 0;
  let logsDropped = 0;
  const toolCalls: ToolCallRecord[] = [];
  const pending = new Set<{ name: string; started: number }>();
  const abort = new AbortController();
  let finished = false;
  let ended: 'timeout' | 'cancelled' | null = null;

  const result = (
    partial: Omit<CodeModeResult, 'logs' | 'toolCalls' | 'toolCallsMade' | 'durationMs' | 'limits'>,
  ): CodeModeResult => {
    finished = true;
    abort.abort();
    for (const p of pending) {
      toolCalls.push({
        name: p.name,
        durationMs: Math.round(now() - p.started),
        ok: false,
        error: 'still running when the program ended; cancelled',
      });
    }
    pending.clear();
    if (logsDropped > 0)
      logs.push(`[codemode] ${logsDropped} bytes of log output dropped (limit ${limits.maxLogBytes})`);
    return {
      ...partial,
      logs,
      toolCalls,
      toolCallsMade: toolCalls.length > 0,
      durationMs: Math.round(now() - started),
      limits,
    };
  };

  if (request.signal?.aborted) return result({ status: 'not_started', value: null, reason: 'cancelled before start' });

  const prepared = await prepare(request.language, request.code);
  if (!('source' in prepared)) return result({ status: 'error', value: null, error: prepared });

  let isolate: ivm.Isolate;
  try {
    isolate = new ivm.Isolate({ memoryLimit: limits.memoryMb });
  } catch (e) {
    return result({ status: 'not_started', value: null, reason: `could not create an isolate: ${errorMessage(e)}` });
  }
  const onAbort = () => {
    ended ??= 'cancelled';
    if (!isolate.isDisposed) isolate.dispose();
  };
  request.signal?.addEventListener('abort', onAbort, { once: true });
  const watchdog = setTimeout(() => {
    ended ??= 'timeout';
    if (!isolate.isDisposed) isolate.dispose();
  }, limits.timeoutMs);

  const callRef = new ivm.Reference(async (server: string, tool: string, argsJson: string): Promise<string> => {
    const name = server === '' ? tool : `${server}.${tool}`;
    if (finished) return JSON.stringify({ ok: false, message: `${name}: the program has ended`, code: 'CANCELLED' });
    if (typeof argsJson !== 'string' || argsJson.length > limits.maxArgBytes) {
      return JSON.stringify({ ok: false, message: `${name}: arguments over the size limit`, code: 'TOO_LARGE' });
    }
    let args: Record<string, unknown>;
    try {
      args = JSON.parse(argsJson) as Record<string, unknown>;
    } catch {
      return JSON.stringify({ ok: false, message: `${name}: arguments are not valid JSON`, code: 'INVALID_ARGUMENT' });
    }
    if (server === '' && tool === 'search_tools') {
      try {
        const detail = args.detail === 'names' || args.detail === 'full' ? args.detail : 'signatures';
        const text = await request.host.searchTools(String(args.query ?? ''), detail);
        return JSON.stringify({ ok: true, value: text });
      } catch (e) {
        return JSON.stringify({
          ok: false,
          message: `codemode.search_tools failed: ${errorMessage(e)}`,
          code: 'INTERNAL',
        });
      }
    }
    const call = { name, started: now() };
    pending.add(call);
    try {
      const value = await request.host.callTool(server, tool, args, abort.signal);
      const json = JSON.stringify(value ?? null);
      if (json.length > limits.maxResultBytes) {
        throw new Error(
          `codemode.${name} returned ${json.length} characters of JSON, over the ${limits.maxResultBytes} limit`,
        );
      }
      if (pending.delete(call)) toolCalls.push({ name, durationMs: Math.round(now() - call.started), ok: true });
      return `{"ok":true,"value":${json}}`;
    } catch (e) {
      const message = errorMessage(e);
      if (pending.delete(call))
        toolCalls.push({ name, durationMs: Math.round(now() - call.started), ok: false, error: message });
      const named = message.includes(name) ? message : `codemode.${name}: ${message}`;
      return JSON.stringify({ ok: false, message: named, code: isAppError(e) ? e.code : 'UPSTREAM_ERROR' });
    }
  });
  const logRef = new ivm.Reference((level: string, text: string) => {
    if (finished) return;
    const line = level === 'warn' || level === 'error' ? `[${level}] ${String(text)}` : String(text);
    if (logBytes + line.length > limits.maxLogBytes) {
      logsDropped += line.length;
      return;
    }
    logBytes += line.length;
    logs.push(line);
  });

  try {
    // Set-up uses the synchronous calls: each is short, and skipping the thread-pool
    // round trips keeps a cold start (isolate + one tool call) in single-digit ms.
    const context = isolate.createContextSync();
    const g = context.global;
    g.setSync('__cm_call', callRef);
    g.setSync('__cm_log', logRef);
    g.setSync(
      '__cm_setup',
      JSON.stringify({ api: request.api, maxArg: limits.maxArgBytes, maxResult: limits.maxResultBytes }),
    );
    isolate.compileScriptSync(BOOTSTRAP, { filename: 'codemode-bootstrap.js' }).runSync(context, { timeout: 1000 });

    let script: ivm.Script;
    try {
      script = isolate.compileScriptSync(prepared.source, { filename: USER_FILE });
    } catch (e) {
      const msg = errorMessage(e);
      const m = /^(?:SyntaxError: )?(.*?) \[user-code\.js:(\d+):(\d+)\]$/.exec(msg);
      const line = m ? prepared.toUserLine(Number(m[2])) : undefined;
      return result({
        status: 'error',
        value: null,
        error: {
          type: 'SyntaxError',
          message: m ? (m[1] as string) : msg,
          ...(line !== undefined ? { line, column: Number(m?.[3]) + 1 } : {}),
        },
      });
    }
    const reply = (await script.run(context, { promise: true, timeout: limits.cpuMs })) as unknown;
    const outcome = JSON.parse(String(reply)) as RunOutcome;
    if (outcome.ok) return result({ status: 'ok', value: outcome.value ?? null });
    const err = outcome.error ?? { type: 'Error', message: 'unknown error', stack: '' };
    return result({
      status: 'error',
      value: null,
      error: { type: err.type, message: err.message, ...locate(err.stack, prepared) },
    });
  } catch (e) {
    const msg = errorMessage(e);
    if (ended === 'timeout') {
      return result({
        status: 'timeout',
        value: null,
        reason: `wall-clock limit of ${limits.timeoutMs} ms reached; the isolate was stopped`,
      });
    }
    if (ended === 'cancelled') return result({ status: 'cancelled', value: null, reason: 'the run was cancelled' });
    // Only the memory limit disposes an isolate behind our back (the message may be
    // "Promise was abandoned" when it happens after an awaited tool call).
    if (/memory limit/i.test(msg) || isolate.isDisposed) {
      return result({
        status: 'memory',
        value: null,
        reason: `memory limit of ${limits.memoryMb} MiB exceeded; the isolate was stopped`,
      });
    }
    if (/execution timed out/i.test(msg)) {
      return result({
        status: 'timeout',
        value: null,
        reason: `CPU limit of ${limits.cpuMs} ms reached; the isolate was stopped`,
      });
    }
    return result({ status: 'error', value: null, error: { type: 'InternalError', message: msg } });
  } finally {
    clearTimeout(watchdog);
    request.signal?.removeEventListener('abort', onAbort);
    finished = true;
    callRef.release();
    logRef.release();
    if (!isolate.isDisposed) isolate.dispose();
  }
}
