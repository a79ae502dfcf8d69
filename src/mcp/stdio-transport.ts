/**
 * The stdio wire for `codemode serve`: newline-delimited JSON-RPC, validated
 * before the SDK sees it. Replaces the SDK's StdioServerTransport, which
 * drops bad lines in silence and, on a line past its 10 MiB buffer, closes
 * itself and pauses stdin, so the server neither answers nor notices EOF.
 *
 * Invariants: every line gets either a delivery or a JSON-RPC error reply
 * (-32700 for bad JSON, -32600 for batches and non-messages, -32600 for a line
 * over the size limit, with the request's id when it can be read); a line is
 * assembled in linear time; stdin is never paused, so its end always closes
 * the transport.
 */
import type { Readable, Writable } from 'node:stream';
import {
  parseJSONRPCMessage,
  serializeMessage,
  type JSONRPCMessage,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';
import { MAX_MESSAGE_BYTES } from '../config/settings.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH, missingParamsMessage } from './jsonrpc-checks.js';

type RequestId = string | number | null;

export interface StdioTransportOptions {
  /** Largest line in bytes (default settings' MAX_MESSAGE_BYTES). */
  maxMessageBytes?: number;
}

const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const INVALID_PARAMS = -32602;

/** A JSON-RPC id when it is one (string or number), else null, as JSON-RPC requires. */
function idOf(value: unknown): RequestId {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const id = (value as { id?: unknown }).id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
}

/**
 * The top-level `"id"` of a JSON object from its first bytes only (a line too
 * large to parse), so the error reply can still be matched to its request.
 * Null when the id is not among the first bytes or is not a plain string/number.
 */
export function leadingId(prefix: string): RequestId {
  let depth = 0;
  let i = 0;
  const n = prefix.length;
  const readString = (): string | undefined => {
    let out = '';
    for (i++; i < n; i++) {
      const c = prefix[i];
      if (c === '\\') {
        out += prefix.slice(i, i + 2);
        i++;
      } else if (c === '"') {
        i++;
        return out;
      } else out += c;
    }
    return undefined;
  };
  while (i < n) {
    const c = prefix[i];
    if (c === '"') {
      const s = readString();
      if (s === undefined) return null;
      if (depth !== 1 || s !== 'id') continue;
      const rest = /^\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*[,}]/.exec(prefix.slice(i));
      if (rest === null) continue;
      try {
        const v: unknown = JSON.parse(rest[1] ?? '');
        return typeof v === 'string' || typeof v === 'number' ? v : null;
      } catch {
        return null; // a malformed id is no id
      }
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return null;
}

/**
 * Validates one parsed line: the message, or the error to answer with.
 * Pure, so the JSON-RPC rules are tested without a stream.
 */
export function classifyLine(
  line: string,
): { message: JSONRPCMessage } | { error: { code: number; message: string; id: RequestId } } {
  if (jsonDepthExceeds(line)) {
    return {
      error: {
        code: INVALID_REQUEST,
        message: `Invalid Request: JSON nested deeper than ${MAX_JSON_DEPTH} levels`,
        id: leadingId(line.slice(0, 4096)),
      },
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: { code: PARSE_ERROR, message: 'Parse error: the line is not valid JSON', id: null } };
  }
  if (Array.isArray(value)) {
    return {
      error: {
        code: INVALID_REQUEST,
        message: 'Invalid Request: JSON-RPC batches are not supported by MCP; send one message per line',
        id: null,
      },
    };
  }
  if (value === null || typeof value !== 'object') {
    return { error: { code: INVALID_REQUEST, message: 'Invalid Request: a message must be a JSON object', id: null } };
  }
  const obj = value as Record<string, unknown>;
  if (obj['jsonrpc'] !== '2.0') {
    return { error: { code: INVALID_REQUEST, message: 'Invalid Request: "jsonrpc" must be "2.0"', id: idOf(obj) } };
  }
  if ('id' in obj && idOf(obj) === null) {
    return {
      error: { code: INVALID_REQUEST, message: 'Invalid Request: "id" must be a string or a number', id: null },
    };
  }
  const missing = missingParamsMessage(obj);
  if (missing !== undefined) return { error: { code: INVALID_PARAMS, message: missing, id: idOf(obj) } };
  try {
    return { message: parseJSONRPCMessage(obj) };
  } catch {
    return {
      error: {
        code: INVALID_REQUEST,
        message: 'Invalid Request: not a JSON-RPC request, notification or response',
        id: idOf(obj),
      },
    };
  }
}

export class ValidatingStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  /** Resolves once the transport has closed (stdin ended, or close() was called). */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private readonly maxBytes: number;
  private chunks: Buffer[] = [];
  private pending = 0;
  /** Bytes of the current over-size line are being skipped up to its newline. */
  private skipping = false;
  private started = false;
  private isClosed = false;

  constructor(
    private readonly stdin: Readable = process.stdin,
    private readonly stdout: Writable = process.stdout,
    options: StdioTransportOptions = {},
  ) {
    this.maxBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('ValidatingStdioTransport already started');
    this.started = true;
    this.stdin.on('data', this.onData);
    this.stdin.on('error', this.onStdinError);
    this.stdin.on('end', this.onEnd);
    this.stdin.on('close', this.onEnd);
    this.stdout.on('error', this.onStdoutError);
    if (this.stdin.readableEnded || this.stdin.destroyed) setImmediate(this.onEnd);
  }

  private readonly onData = (data: Buffer | string): void => {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        this.take(chunk.subarray(start));
        return;
      }
      this.take(chunk.subarray(start, nl));
      this.endLine();
      start = nl + 1;
    }
  };

  /** Adds bytes of the current line, switching to skipping once it is over the limit. */
  private take(part: Buffer): void {
    if (this.skipping || part.length === 0) return;
    this.pending += part.length;
    this.chunks.push(part);
    if (this.pending > this.maxBytes) {
      const head = Buffer.concat(this.chunks).subarray(0, 4096).toString('utf8');
      this.chunks = [];
      this.pending = 0;
      this.skipping = true;
      this.reply(
        INVALID_REQUEST,
        `Invalid Request: message larger than ${this.maxBytes} bytes (the server's limit, settings http.maxBodyBytes)`,
        leadingId(head),
      );
    }
  }

  private endLine(): void {
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    const line = (this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks))
      .toString('utf8')
      .replace(/\r$/, '');
    this.chunks = [];
    this.pending = 0;
    if (line.trim() === '') return;
    const r = classifyLine(line);
    if ('error' in r) {
      this.reply(r.error.code, r.error.message, r.error.id);
      return;
    }
    try {
      this.onmessage?.(r.message);
    } catch (error) {
      this.onerror?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private reply(code: number, message: string, id: RequestId): void {
    this.onerror?.(new Error(`stdio: answered ${code}: ${message}`));
    this.write(JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } }) + '\n').catch((e: unknown) =>
      this.onerror?.(e instanceof Error ? e : new Error(String(e))),
    );
  }

  private readonly onStdinError = (error: Error): void => this.onerror?.(error);
  private readonly onStdoutError = (error: Error): void => {
    if (this.isClosed) return;
    this.onerror?.(error);
    void this.close();
  };
  private readonly onEnd = (): void => void this.close();

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.stdin.off('data', this.onData);
    this.stdin.off('error', this.onStdinError);
    this.stdin.off('end', this.onEnd);
    this.stdin.off('close', this.onEnd);
    this.chunks = [];
    this.onclose?.();
    this.resolveClosed();
  }

  send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error('the stdio transport is closed'));
    return this.write(serializeMessage(message));
  }

  /** Writes with backpressure: resolves once stdout took the bytes (or drained). */
  private write(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => {
        this.stdout.off('drain', onDrain);
        reject(error);
      };
      const onDrain = () => {
        this.stdout.off('error', onError);
        resolve();
      };
      this.stdout.once('error', onError);
      if (this.stdout.write(text)) {
        this.stdout.off('error', onError);
        resolve();
      } else this.stdout.once('drain', onDrain);
    });
  }
}
