/**
 * Host uids for sandboxes: every session and every one-shot run gets its own
 * uid from a configured range, so no two tenants (and no host daemon, as with
 * the shared `nobody`) ever share an identity. Pure bookkeeping: nothing here
 * touches the system.
 */
import { AppError } from '../../errors.js';

export interface UidRange {
  /** First host uid of the range. */
  first: number;
  /** How many uids the range holds. */
  count: number;
}

/** Far above login users (1000+) and the usual subordinate-uid ranges (100000-165535 per user). */
export const DEFAULT_UID_RANGE: Readonly<UidRange> = Object.freeze({ first: 2_000_000, count: 65_536 });

export function parseUidRange(text: string): UidRange {
  const m = /^(\d+)(?:-|:)(\d+)$/.exec(text.trim());
  if (!m) throw new AppError('INVALID_ARGUMENT', `uid range "${text}" must look like FIRST-LAST, e.g. 2000000-2065535`);
  const first = Number(m[1]);
  const last = Number(m[2]);
  if (first < 1000 || last < first || last >= 2 ** 31) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `uid range "${text}" must lie within 1000..2147483647 and end after it starts`,
    );
  }
  return { first, count: last - first + 1 };
}

export class UidAllocator {
  private readonly inUse = new Set<number>();
  private next = 0;

  constructor(readonly range: UidRange = DEFAULT_UID_RANGE) {}

  /** A uid no live sandbox holds; `preferred` (e.g. the owner of a resumed workspace) when it is free and in range. */
  acquire(preferred?: number): number {
    if (preferred !== undefined && this.contains(preferred) && !this.inUse.has(preferred)) {
      this.inUse.add(preferred);
      return preferred;
    }
    for (let i = 0; i < this.range.count; i++) {
      const uid = this.range.first + ((this.next + i) % this.range.count);
      if (!this.inUse.has(uid)) {
        this.next = (this.next + i + 1) % this.range.count;
        this.inUse.add(uid);
        return uid;
      }
    }
    throw new AppError('LIMIT_EXCEEDED', `all ${this.range.count} sandbox uids are in use`);
  }

  release(uid: number): void {
    this.inUse.delete(uid);
  }

  contains(uid: number): boolean {
    return uid >= this.range.first && uid < this.range.first + this.range.count;
  }

  get used(): number {
    return this.inUse.size;
  }
}
