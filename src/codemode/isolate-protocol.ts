/**
 * The host ↔ isolate-worker protocol: length-prefixed JSON frames on one duplex
 * pipe (fd 3 of the worker). The host treats every frame from the worker as
 * untrusted: its declared length is checked before any of it is buffered whole,
 * framing is linear in the bytes received, and each message is schema-checked.
 */
import { z } from 'zod';

/** Bytes of the big-endian length that precedes each frame's UTF-8 JSON body. */
const LENGTH_BYTES = 4;

/** The longest server or tool name a tool call may carry. */
export const MAX_NAME_CHARS = 256;
/** An outcome may exceed the result limit by this much (its JSON wrapper, or an error's message and stack). */
export const OUTCOME_SLACK_CHARS = 64 * 1024;
/** Log lines per log frame (the worker batches lines per event-loop turn). */
export const MAX_LOG_LINES_PER_FRAME = 10_000;

/** What the isolate's bootstrap hands to the setup global (JSON). */
export interface IsolateSetup {
  api: { servers: { identifier: string; tools: string[]; unavailable?: boolean }[] };
  maxArg: number;
  maxResult: number;
  maxLog: number;
  maxInFlight: number;
}

/** Host → worker. The worker trusts these (the host wrote them). */
export type HostMessage =
  | {
      t: 'run';
      run: number;
      source: string;
      /** IsolateSetup as JSON, set on the isolate's global before the bootstrap runs. */
      setup: string;
      memoryMb: number;
      cpuMs: number;
      /** The run's wall-clock limit (the host's watchdog enforces it; entries into the isolate stop soon after). */
      wallMs?: number;
      maxResultBytes: number;
      maxArgBytes: number;
      maxLogBytes: number;
      maxInFlight: number;
    }
  /** The reply to a tool call, exactly the JSON text the bootstrap parses. */
  | { t: 'reply'; run: number; call: number; json: string }
  /** Stop the run now (the host's watchdog or a cancellation). */
  | { t: 'stop'; run: number };

const runId = z.number().int().nonnegative();

/** How a run ended, as the worker saw it. `outcome` is the isolate's own JSON text (unchecked). */
const DoneSchema = z.discriminatedUnion('kind', [
  z.object({ t: z.literal('done'), run: runId, kind: z.literal('outcome'), outcome: z.string() }),
  z.object({ t: z.literal('done'), run: runId, kind: z.literal('too_large'), chars: z.number().int().nonnegative() }),
  z.object({ t: z.literal('done'), run: runId, kind: z.literal('compile'), message: z.string().max(16_384) }),
  z.object({ t: z.literal('done'), run: runId, kind: z.literal('memory') }),
  z.object({ t: z.literal('done'), run: runId, kind: z.literal('cpu') }),
  z.object({ t: z.literal('done'), run: runId, kind: z.literal('stopped') }),
  z.object({ t: z.literal('done'), run: runId, kind: z.literal('internal'), message: z.string().max(16_384) }),
]);

/** Worker → host: checked with this schema before the host acts on any of it (dispatched on `t`). */
export const WorkerMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('ready'), pid: z.number().int().positive() }),
  z.object({
    t: z.literal('call'),
    run: runId,
    call: z.number().int().positive(),
    server: z.string().max(MAX_NAME_CHARS),
    tool: z.string().max(MAX_NAME_CHARS),
    args: z.string(),
  }),
  z.object({
    t: z.literal('log'),
    run: runId,
    lines: z.array(z.string()).max(MAX_LOG_LINES_PER_FRAME),
    dropped: z.number().int().nonnegative(),
  }),
  DoneSchema,
]);

export type WorkerMessage = z.infer<typeof WorkerMessageSchema>;
export type DoneMessage = z.infer<typeof DoneSchema>;

/** One message as a frame: 4-byte big-endian length, then the UTF-8 JSON. */
export function encodeFrame(message: HostMessage | WorkerMessage): Buffer {
  const json = JSON.stringify(message);
  const bytes = Buffer.byteLength(json, 'utf8');
  const frame = Buffer.allocUnsafe(LENGTH_BYTES + bytes);
  frame.writeUInt32BE(bytes, 0);
  frame.write(json, LENGTH_BYTES, 'utf8');
  return frame;
}

/**
 * Splits a byte stream into frames. Each byte is copied at most once (when its
 * frame is complete), so a frame that arrives in many chunks costs linear time;
 * a frame whose declared length is over `maxFrameBytes()` is refused before it is
 * buffered, and the reader stops for good (the caller kills the peer).
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Body length of the frame being read, or -1 while its length is unknown. */
  #need = -1;
  #failed = false;

  constructor(
    private readonly maxFrameBytes: () => number,
    private readonly onFrame: (body: Buffer) => void,
    private readonly onError: (why: string) => void,
  ) {}

  get failed(): boolean {
    return this.#failed;
  }

  push(chunk: Buffer): void {
    if (this.#failed) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < LENGTH_BYTES) return;
        const length = this.#take(LENGTH_BYTES).readUInt32BE(0);
        const max = this.maxFrameBytes();
        if (length > max) return this.#fail(`a frame of ${length} bytes, over the ${max}-byte limit`);
        this.#need = length;
      }
      if (this.#buffered < this.#need) return;
      const body = this.#take(this.#need);
      this.#need = -1;
      this.onFrame(body);
      if (this.#failed) return;
    }
  }

  /** Stop reading (the peer broke the protocol elsewhere, e.g. a bad message). */
  fail(why: string): void {
    this.#fail(why);
  }

  #fail(why: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#chunks = [];
    this.#buffered = 0;
    this.onError(why);
  }

  /** The first `n` buffered bytes (n <= buffered), removed from the buffer. */
  #take(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0] as Buffer;
      const used = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(used);
    }
    this.#buffered -= n;
    return out;
  }
}

/** Parse and check one frame from the worker; a string saying what is wrong when it is not a valid message. */
export function parseWorkerMessage(body: Buffer): WorkerMessage | string {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return 'a frame that is not JSON';
  }
  const parsed = WorkerMessageSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `a malformed message (${issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'invalid'})`;
  }
  return parsed.data;
}
