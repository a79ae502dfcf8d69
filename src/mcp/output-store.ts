/**
 * Keeps full copies of one-shot run output that was clipped in a reply, so
 * the reply can link to them as `codemode://outputs/{id}`. In memory, per
 * owner, evicting the oldest copies beyond a byte budget.
 */
import { randomUUID } from 'node:crypto';

export interface StoredOutput {
  id: string;
  owner: string;
  name: string;
  text: string;
  createdAt: string;
}

export class OutputStore {
  readonly #entries = new Map<string, StoredOutput>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes = 64 * 1024 * 1024) {
    this.#maxBytes = maxBytes;
  }

  static uri(id: string): string {
    return `codemode://outputs/${id}`;
  }

  put(owner: string, name: string, text: string): StoredOutput {
    const entry: StoredOutput = { id: randomUUID(), owner, name, text, createdAt: new Date().toISOString() };
    this.#entries.set(entry.id, entry);
    this.#bytes += text.length;
    for (const [id, old] of this.#entries) {
      if (this.#bytes <= this.#maxBytes || id === entry.id) break;
      this.#entries.delete(id);
      this.#bytes -= old.text.length;
    }
    return entry;
  }

  /** The entry, only for its owner. */
  get(id: string, owner: string): StoredOutput | undefined {
    const entry = this.#entries.get(id);
    return entry !== undefined && entry.owner === owner ? entry : undefined;
  }

  list(owner: string): StoredOutput[] {
    return [...this.#entries.values()].filter((e) => e.owner === owner);
  }
}
