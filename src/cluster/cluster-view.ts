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

/**
 * The live worker with the most free session slots that runs `language` (none: null);
 * among equals, one at random, so gateways placing at the same moment spread.
 */
export function placeSession(
  workers: readonly WorkerState[],
  language: Language,
  exclude: ReadonlySet<string> = new Set(),
  random: () => number = Math.random,
): WorkerState | null {
  const free = (w: WorkerState) => w.heartbeat.maxSessions - w.heartbeat.sessions;
  const fit = workers.filter(
    (w) => w.alive && !exclude.has(w.heartbeat.id) && w.heartbeat.languages.includes(language) && free(w) > 0,
  );
  if (fit.length === 0) return null;
  const most = Math.max(...fit.map(free));
  const best = fit.filter((w) => free(w) === most);
  return best[Math.floor(random() * best.length)] ?? null;
}

/**
 * A placement counts against its worker until a heartbeat sent after it arrives (the worker counts
 * sessions it is starting); the margin covers the request's trip to the worker.
 */
const PLACEMENT_TRIP_MS = 50;
const PLACEMENT_MEMORY_MS = 10_000;

export class ClusterView {
  readonly #workers = new Map<string, { heartbeat: Heartbeat; seenAt: number; revision: number }>();
  readonly #sessions = new Map<string, { record: SessionRecord; revision: number }>();
  readonly #stops: (() => void)[] = [];
  /** When this gateway placed sessions on each worker lately (heartbeats lag behind a burst). */
  readonly #placed = new Map<string, number[]>();
  onRecord: ((record: SessionRecord) => void) | undefined;

  constructor(
    private readonly buckets: { workers: KV; sessions: KV },
    private readonly livenessMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Watch both buckets, and re-read them now and then as well: a watch is a consumer on one
   * NATS server, and when that server dies it can stall while everything else has failed over.
   */
  async start(resyncMs = { workers: 500, sessions: 5000 }): Promise<void> {
    const { workers, sessions } = this.buckets;
    await Promise.all([
      this.#follow(workers, (e) => this.#onWorker(e)),
      this.#follow(sessions, (e) => this.#onSession(e)),
    ]);
    const every = (ms: number, kv: KV, apply: (e: KvEntry) => void) => {
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        this.#load(kv, apply)
          .catch(() => undefined) // NATS is failing over: the next round reads again
          .finally(() => (busy = false));
      }, ms);
      this.#stops.push(() => clearInterval(timer));
    };
    every(resyncMs.workers, workers, (e) => this.#onWorker(e));
    every(resyncMs.sessions, sessions, (e) => this.#onSession(e));
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
    await this.#load(kv, apply);
  }

  async #load(kv: KV, apply: (e: KvEntry) => void): Promise<void> {
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
    this.#placed.set(workerId, [...this.#recent(workerId), this.now()]);
  }

  #recent(workerId: string): number[] {
    const cutoff = this.now() - PLACEMENT_MEMORY_MS;
    return (this.#placed.get(workerId) ?? []).filter((t) => t > cutoff);
  }

  workers(): WorkerState[] {
    const now = this.now();
    return [...this.#workers.values()].map((w) => {
      const placed = this.#recent(w.heartbeat.id).filter((t) => t > w.seenAt - PLACEMENT_TRIP_MS).length;
      return {
        heartbeat: { ...w.heartbeat, sessions: w.heartbeat.sessions + placed },
        seenAt: w.seenAt,
        alive: now - w.seenAt < this.livenessMs,
      };
    });
  }

  /** How long since the worker's last heartbeat (Infinity: never seen). */
  silentFor(workerId: string): number {
    const w = this.#workers.get(workerId);
    return w === undefined ? Infinity : this.now() - w.seenAt;
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
