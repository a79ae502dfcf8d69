/**
 * A gateway's live view of the cluster: workers from their heartbeats, sessions
 * from their records, both kept by watching the KV buckets. A worker is alive
 * while its last heartbeat (the server's timestamp) is younger than
 * `livenessMs`; placement is a pure function over that view.
 */
import { KvWatchInclude, type KV, type KvEntry } from '@nats-io/kv';
import type { Language } from '../sandbox/executor.js';
import { heartbeatSchema, sessionRecordSchema, type Heartbeat, type SessionRecord } from './protocol.js';

export interface WorkerState {
  heartbeat: Heartbeat;
  /** When the server stored the last heartbeat. */
  seenAt: number;
  alive: boolean;
}

/** The live worker with the most free session slots that runs `language` (none: null). */
export function placeSession(
  workers: readonly WorkerState[],
  language: Language,
  exclude: ReadonlySet<string> = new Set(),
): WorkerState | null {
  let best: WorkerState | null = null;
  for (const w of workers) {
    if (!w.alive || exclude.has(w.heartbeat.id) || !w.heartbeat.languages.includes(language)) continue;
    const free = w.heartbeat.maxSessions - w.heartbeat.sessions;
    if (free <= 0) continue;
    if (best === null || free > best.heartbeat.maxSessions - best.heartbeat.sessions) best = w;
  }
  return best;
}

export class ClusterView {
  readonly #workers = new Map<string, { heartbeat: Heartbeat; seenAt: number; revision: number }>();
  readonly #sessions = new Map<string, { record: SessionRecord; revision: number }>();
  readonly #stops: (() => void)[] = [];
  /** Sessions placed by this gateway since the last heartbeat of each worker (so bursts spread). */
  readonly #placedSince = new Map<string, number>();
  onRecord: ((record: SessionRecord) => void) | undefined;

  constructor(
    private readonly buckets: { workers: KV; sessions: KV },
    private readonly livenessMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    await Promise.all([
      this.#follow(this.buckets.workers, (e) => this.#onWorker(e)),
      this.#follow(this.buckets.sessions, (e) => this.#onSession(e)),
    ]);
  }

  stop(): void {
    for (const s of this.#stops) s();
  }

  /** Watch updates first, then load what is there: the higher revision wins, so nothing is missed. */
  async #follow(kv: KV, apply: (e: KvEntry) => void): Promise<void> {
    const watch = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.#stops.push(() => watch.stop());
    void (async () => {
      for await (const e of watch) apply(e);
    })();
    for await (const key of await kv.keys()) {
      const e = await kv.get(key);
      if (e !== null) apply(e);
    }
  }

  #onWorker(e: KvEntry): void {
    const known = this.#workers.get(e.key);
    if (known !== undefined && known.revision >= e.revision) return;
    if (e.operation !== 'PUT') {
      this.#workers.delete(e.key);
      return;
    }
    const parsed = heartbeatSchema.safeParse(safeJson(e));
    if (!parsed.success || parsed.data.id !== e.key) return; // a malformed heartbeat is no worker
    this.#workers.set(e.key, { heartbeat: parsed.data, seenAt: e.created.getTime(), revision: e.revision });
    this.#placedSince.delete(e.key);
  }

  #onSession(e: KvEntry): void {
    const known = this.#sessions.get(e.key);
    if (known !== undefined && known.revision >= e.revision) return;
    if (e.operation !== 'PUT') {
      this.#sessions.delete(e.key);
      return;
    }
    const parsed = sessionRecordSchema.safeParse(safeJson(e));
    if (!parsed.success || parsed.data.id !== e.key) return;
    this.#sessions.set(e.key, { record: parsed.data, revision: e.revision });
    this.onRecord?.(parsed.data);
  }

  /** Apply a record this gateway just wrote (the watch may deliver it a moment later). */
  noteRecord(record: SessionRecord, revision: number): void {
    const known = this.#sessions.get(record.id);
    if (known === undefined || known.revision < revision) this.#sessions.set(record.id, { record, revision });
  }

  notePlaced(workerId: string): void {
    this.#placedSince.set(workerId, (this.#placedSince.get(workerId) ?? 0) + 1);
  }

  workers(): WorkerState[] {
    const now = this.now();
    return [...this.#workers.values()].map((w) => {
      const placed = this.#placedSince.get(w.heartbeat.id) ?? 0;
      return {
        heartbeat: { ...w.heartbeat, sessions: w.heartbeat.sessions + placed },
        seenAt: w.seenAt,
        alive: now - w.seenAt < this.livenessMs,
      };
    });
  }

  isAlive(workerId: string): boolean {
    const w = this.#workers.get(workerId);
    return w !== undefined && this.now() - w.seenAt < this.livenessMs;
  }

  session(id: string): { record: SessionRecord; revision: number } | undefined {
    return this.#sessions.get(id);
  }

  sessions(): SessionRecord[] {
    return [...this.#sessions.values()].map((s) => s.record);
  }
}

function safeJson(e: KvEntry): unknown {
  try {
    return e.json();
  } catch {
    return undefined; // not JSON: the schema check rejects it
  }
}
