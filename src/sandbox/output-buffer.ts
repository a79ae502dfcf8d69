/**
 * Collects one output stream with a cap: keeps the head and the tail of what
 * was printed, counts what it dropped, and renders a visible marker where the
 * middle was cut. Never holds more than `keepBytes` in memory.
 */

export function truncationMarker(droppedBytes: number): string {
  return `\n[... ${droppedBytes.toLocaleString('en-US')} bytes truncated ...]\n`;
}

export class OutputBuffer {
  private readonly headLimit: number;
  private readonly tailLimit: number;
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private dropped = 0;
  /** Total bytes seen. */
  total = 0;

  constructor(keepBytes: number) {
    this.headLimit = Math.ceil(keepBytes * 0.8);
    this.tailLimit = keepBytes - this.headLimit;
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.headBytes < this.headLimit) {
      const take = Math.min(chunk.length, this.headLimit - this.headBytes);
      this.head.push(chunk.subarray(0, take));
      this.headBytes += take;
      chunk = chunk.subarray(take);
      if (chunk.length === 0) return;
    }
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    while (this.tailBytes > this.tailLimit && this.tail.length > 0) {
      const first = this.tail[0]!;
      const excess = this.tailBytes - this.tailLimit;
      if (first.length <= excess) {
        this.tail.shift();
        this.tailBytes -= first.length;
        this.dropped += first.length;
      } else {
        this.tail[0] = first.subarray(excess);
        this.tailBytes -= excess;
        this.dropped += excess;
      }
    }
  }

  get droppedBytes(): number {
    return this.dropped;
  }

  /** The kept text, with a marker where bytes were dropped. UTF-8 sequences cut at the seams become U+FFFD. */
  text(): string {
    const head = Buffer.concat(this.head).toString('utf8');
    if (this.dropped === 0) return head + Buffer.concat(this.tail).toString('utf8');
    return head + truncationMarker(this.dropped) + Buffer.concat(this.tail).toString('utf8');
  }
}
