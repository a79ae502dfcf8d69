/**
 * The host side of a kernel's control channel (fd 3): newline-delimited JSON
 * frames written by code the host does not trust. Framing is linear in the
 * bytes received (chunks are kept in a list and only new bytes are scanned for
 * the newline), a frame is capped at a fixed size, and every frame is checked
 * against a schema. Never throws: the first violation is reported once and the
 * reader stops delivering.
 */
import { z } from 'zod';

/** The largest frame a kernel may send (a rich output such as a PNG fits well within it). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

const text = z.string().max(MAX_FRAME_BYTES);
const errorInfo = z.strictObject({
  type: z.string().max(1000),
  message: text,
  line: z.number().int().nullish(),
  column: z.number().int().nullish(),
  traceback: text.nullish(),
});

/** Every frame a kernel may send. Anything else is a protocol violation. */
export const kernelFrameSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('ready'), pid: z.number().int().optional(), language: z.string().max(64) }),
  z.strictObject({
    type: z.literal('output'),
    id: z.string().max(200),
    kind: z.enum(['result', 'display']),
    /** A MIME bundle: every value is a string (binary data is base64). */
    data: z.record(z.string().max(200), text),
  }),
  z.strictObject({
    type: z.literal('done'),
    id: z.string().max(200),
    status: z.enum(['ok', 'error', 'interrupted']).optional(),
    exitCode: z.number().int().optional(),
    interrupted: z.boolean().optional(),
    error: errorInfo.optional(),
    /**
     * The pipes the kernel wrote the end marker to (bytes may still be in flight
     * there). Absent: both. The text below follows what arrives on the pipe.
     */
    marked: z
      .array(z.enum(['stdout', 'stderr']))
      .max(2)
      .optional(),
    /** The cell's own output the kernel captured (every byte counts toward the output budget). */
    stdout: text.optional(),
    stderr: text.optional(),
  }),
  z.strictObject({
    type: z.literal('rpc'),
    rid: z.union([z.number().int(), z.string().max(100)]),
    method: z.enum(['searchTools', 'callTool']),
    params: z.record(z.string(), z.unknown()),
  }),
]);

export type KernelFrame = z.infer<typeof kernelFrameSchema>;

export interface FrameReaderHandlers {
  /** Every byte received, before framing (for the output budget). */
  onBytes(n: number): void;
  onFrame(frame: KernelFrame): void;
  /** The first malformed, oversized or unknown frame; nothing is delivered after it. */
  onViolation(reason: string): void;
}

const NEWLINE = 0x0a;

export class FrameReader {
  private chunks: Buffer[] = [];
  private pending = 0;
  private broken = false;

  constructor(
    private readonly handlers: FrameReaderHandlers,
    private readonly maxFrameBytes = MAX_FRAME_BYTES,
  ) {}

  /** True after a violation: the channel is no longer read. */
  get failed(): boolean {
    return this.broken;
  }

  /** Bytes held for an incomplete frame (at most maxFrameBytes). */
  get bufferedBytes(): number {
    return this.pending;
  }

  push(chunk: Buffer): void {
    if (this.broken) return;
    this.handlers.onBytes(chunk.length);
    let start = 0;
    while (!this.broken) {
      const nl = chunk.indexOf(NEWLINE, start);
      const end = nl < 0 ? chunk.length : nl;
      if (this.pending + (end - start) > this.maxFrameBytes) {
        this.fail(`a control frame is larger than ${this.maxFrameBytes} bytes`);
        return;
      }
      if (nl < 0) {
        if (end > start) {
          this.chunks.push(chunk.subarray(start));
          this.pending += end - start;
        }
        return;
      }
      const piece = chunk.subarray(start, nl);
      const line = this.pending > 0 ? Buffer.concat([...this.chunks, piece]) : piece;
      this.chunks = [];
      this.pending = 0;
      start = nl + 1;
      this.deliver(line);
    }
  }

  private deliver(line: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(line.toString('utf8'));
    } catch {
      this.fail(`a control frame is not JSON (${line.length} bytes)`);
      return;
    }
    const parsed = kernelFrameSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
      this.fail(`a control frame does not match the protocol${where}: ${issue?.message ?? 'invalid'}`);
      return;
    }
    this.handlers.onFrame(parsed.data);
  }

  private fail(reason: string): void {
    if (this.broken) return;
    this.broken = true;
    this.chunks = [];
    this.pending = 0;
    this.handlers.onViolation(reason);
  }
}
