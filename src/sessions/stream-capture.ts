/**
 * Captures one output stream of a kernel for one execution: watches for the
 * execution's end marker (which the kernel writes after flushing), never emits
 * the marker or a prefix of it, and caps what it keeps with an OutputBuffer.
 * Text the kernel captured itself (in its done frame) is appended after the
 * pipe's bytes, under the same cap.
 */
import { StringDecoder } from 'node:string_decoder';
import { OutputBuffer } from '../sandbox/output-buffer.js';

const EMPTY = Buffer.alloc(0);

export class StreamCapture {
  private readonly marker: Buffer;
  private readonly buffer: OutputBuffer;
  private readonly decoder = new StringDecoder('utf8');
  private carry: Buffer = EMPTY;
  /** True once the end marker was seen; later bytes are ignored. */
  ended = false;

  constructor(
    marker: string,
    keepBytes: number,
    private readonly onBytes: (n: number) => void,
    private readonly onText?: (text: string) => void,
  ) {
    this.marker = Buffer.from(marker, 'utf8');
    this.buffer = new OutputBuffer(keepBytes);
  }

  /** Feed a chunk; returns true when this chunk completed the end marker. */
  push(chunk: Buffer): boolean {
    if (this.ended) return false;
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = EMPTY;
    const at = data.indexOf(this.marker);
    if (at >= 0) {
      this.emit(data.subarray(0, at));
      this.ended = true;
      return true;
    }
    const hold = markerPrefixLength(data, this.marker);
    if (hold > 0) this.carry = Buffer.from(data.subarray(data.length - hold));
    this.emit(hold > 0 ? data.subarray(0, data.length - hold) : data);
    return false;
  }

  /**
   * Text the kernel captured itself and sent in its done frame: it follows
   * everything that came through the pipe (call after the marker or flush()).
   */
  append(text: string): void {
    if (!text) return;
    this.emit(Buffer.from(text, 'utf8'));
  }

  /** The stream ended without a marker (the kernel died, or said none was written): keep what was held back. */
  flush(): void {
    if (this.ended) return;
    this.emit(this.carry);
    this.carry = EMPTY;
    this.ended = true;
  }

  get text(): string {
    return this.buffer.text();
  }

  get droppedBytes(): number {
    return this.buffer.droppedBytes;
  }

  get totalBytes(): number {
    return this.buffer.total;
  }

  private emit(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.buffer.push(bytes);
    this.onBytes(bytes.length);
    if (this.onText) {
      const text = this.decoder.write(bytes);
      if (text) this.onText(text);
    }
  }
}

/** Length of the longest suffix of data that is a proper prefix of marker. */
export function markerPrefixLength(data: Buffer, marker: Buffer): number {
  const max = Math.min(marker.length - 1, data.length);
  for (let k = max; k > 0; k--) {
    if (data[data.length - k] !== marker[0]) continue;
    if (data.subarray(data.length - k).equals(marker.subarray(0, k))) return k;
  }
  return 0;
}
