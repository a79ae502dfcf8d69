/**
 * One node's link to the cluster: the NATS connection, the KV buckets, the
 * object stores and the history stream, plus framed request/reply. A frame
 * larger than one message goes through the transfer object store and is
 * replaced by a reference; the reader checks the size before fetching and
 * deletes the object after. NATS failures become retryable AppErrors.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  connect,
  createInbox,
  nkeyAuthenticator,
  nkeys,
  RequestError,
  TimeoutError,
  type NatsConnection,
  type Msg,
} from '@nats-io/transport-node';
import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { z } from 'zod';
import { AppError, errorMessage, isAppError } from '../errors.js';
import { secretFileWarning } from '../config/secret-file.js';
import {
  BUCKETS,
  frameToError,
  HISTORY_MAX_AGE_DAYS,
  HISTORY_STREAM,
  INLINE_FRAME_BYTES,
  MAX_FRAME_BYTES,
  parseFrame,
  PROTOCOL_VERSION,
  replyFrameSchema,
  unavailable,
  type ReplyFrame,
} from './protocol.js';

export interface LinkOptions {
  /** nats://host:port URLs (any of the cluster's servers; the client learns the rest). */
  servers: string[];
  /** This node's NATS user and password, or its NKEY seed. */
  credentials?: NatsCredentials;
  /** TLS to the servers: the CA that signed their certificates, and this node's certificate for mTLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Shown in the server's connection list. */
  name: string;
  /** Reply subjects of this node (permissions let a worker subscribe only its own). */
  inboxPrefix?: string;
  /** JetStream replicas of the buckets and stream (3 survives the loss of one of three servers). */
  replicas: number;
  /** How long a heartbeat lives in the bucket before it expires (the bucket's max_age). */
  heartbeatTtlMs?: number;
}

export interface Link {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  workers: KV;
  sessions: KV;
  workspaces: ObjectStore;
  transfer: ObjectStore;
  /** A fresh reply subject under this node's inbox prefix (for streamed output). */
  inbox(): string;
  close(): Promise<void>;
}

/** A user and password, or an NKEY user's seed (`SU...`: the server knows only its public key). */
export type NatsCredentials = { user: string; pass: string } | { nkeySeed: string };

const credentialsSchema = z.object({ user: z.string().min(1).max(256), pass: z.string().min(8).max(1024) });

/**
 * A credentials file: one line, either `user:password` (the password may contain
 * colons) or an NKEY user seed `SU...`. The secret never appears in an error.
 */
export function readCredentials(file: string, warn: (m: string) => void = () => {}): NatsCredentials {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AppError(
      'INVALID_CONFIG',
      `cannot read the NATS credentials file ${file}: ${(e as NodeJS.ErrnoException).code}`,
    );
  }
  const exposed = secretFileWarning(file, 'NATS credentials file');
  if (exposed !== undefined) warn(exposed);
  const line = (text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#')) ?? '').trim();
  if (/^S[A-Z]/.test(line) && !line.includes(':')) return { nkeySeed: nkeySeed(line, file) };
  const at = line.indexOf(':');
  const parsed = credentialsSchema.safeParse({ user: line.slice(0, at).trim(), pass: line.slice(at + 1).trim() });
  if (at < 1 || !parsed.success) {
    throw new AppError(
      'INVALID_CONFIG',
      `the NATS credentials file ${file} must hold one line "user:password" (password of 8+ characters) or an NKEY user seed (SU...)`,
    );
  }
  return parsed.data;
}

/** A user seed, checked (checksum, user prefix) before it is used to sign. */
function nkeySeed(seed: string, file: string): string {
  let ok: boolean;
  try {
    ok = nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey().startsWith('U');
  } catch {
    ok = false; // a malformed seed: the error below says so without echoing it
  }
  if (!ok) {
    throw new AppError(
      'INVALID_CONFIG',
      `the NKEY seed in ${file} is not a valid user seed (SU..., as \`nk -gen user\` writes it)`,
    );
  }
  return seed;
}

/** Connect options for the credentials: password, or an NKEY signature of the server's nonce. */
function authOptions(c: NatsCredentials | undefined) {
  if (c === undefined) return {};
  if ('nkeySeed' in c) return { authenticator: nkeyAuthenticator(new TextEncoder().encode(c.nkeySeed)) };
  return { user: c.user, pass: c.pass };
}

export async function openLink(options: LinkOptions): Promise<Link> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: options.servers,
      name: options.name,
      ...authOptions(options.credentials),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.inboxPrefix === undefined ? {} : { inboxPrefix: options.inboxPrefix }),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5_000,
      // No stack captured for every request (two Errors apiece): ours become AppErrors with their subject.
      noAsyncTraces: true,
    });
  } catch (e) {
    throw unavailable(`cannot connect to NATS at ${options.servers.join(', ')}: ${errorMessage(e)}`);
  }
  try {
    const js = jetstream(nc, { timeout: 5_000 });
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    const kvm = new Kvm(js);
    const objm = new Objm(js);
    // Create what is missing, check what exists (a stream of ours with other subjects was not made by us).
    for (const config of streamConfigs(options.replicas, options.heartbeatTtlMs ?? 30_000))
      await ensureStream(jsm, config);
    const workers = await kvm.open(BUCKETS.workers, { allow_direct: true });
    const sessions = await kvm.open(BUCKETS.sessions, { allow_direct: true });
    const workspaces = await objm.open(BUCKETS.workspaces);
    const transfer = await objm.open(BUCKETS.transfer);
    return {
      nc,
      js,
      jsm,
      workers,
      sessions,
      workspaces,
      transfer,
      inbox: () => createInbox(options.inboxPrefix),
      async close() {
        await nc.drain().catch(() => nc.close()); // drain fails on a dead connection: closing is all that is left
      },
    };
  } catch (e) {
    await nc.close();
    throw isAppError(e) ? e : unavailable(`cannot open the cluster's JetStream buckets: ${errorMessage(e)}`);
  }
}

const nanos = (ms: number) => ms * 1e6;

type StreamSpec = Partial<StreamConfig> & { name: string };

/**
 * The cluster's streams, as the KV and object-store clients would make them, but
 * hardened: the KV buckets and the history stream refuse purges, message deletes
 * and rollups (a `Nats-Rollup: all` header would otherwise wipe a bucket with one
 * publish). Object stores need rollups and purges (an overwrite replaces the
 * metadata and purges the old chunks), so their writers can still empty them.
 */
export function streamConfigs(replicas: number, heartbeatTtlMs: number): StreamSpec[] {
  const kv = (bucket: string, history: number, maxAgeMs: number): StreamSpec => ({
    name: `KV_${bucket}`,
    subjects: [`$KV.${bucket}.>`],
    max_msgs_per_subject: history,
    max_age: nanos(maxAgeMs),
    discard: DiscardPolicy.New,
    allow_direct: true,
    allow_rollup_hdrs: false,
    deny_delete: true,
    deny_purge: true,
    num_replicas: replicas,
  });
  const obj = (bucket: string, maxAgeMs: number): StreamSpec => ({
    name: `OBJ_${bucket}`,
    subjects: [`$O.${bucket}.C.>`, `$O.${bucket}.M.>`],
    max_age: nanos(maxAgeMs),
    discard: DiscardPolicy.New,
    allow_direct: true,
    allow_rollup_hdrs: true,
    num_replicas: replicas,
  });
  return [
    kv(BUCKETS.workers, 1, heartbeatTtlMs),
    kv(BUCKETS.sessions, 1, 0),
    obj(BUCKETS.workspaces, 0),
    // Transfers are read at once; an hour's max_age sweeps those whose reader died.
    obj(BUCKETS.transfer, 3600_000),
    {
      name: HISTORY_STREAM,
      subjects: ['codemode.history.>'],
      // Nobody may purge it, so age is what trims it: a session idle longer than this resumes with its files
      // (the checkpoint) but replays only the cells of the last HISTORY_MAX_AGE_DAYS days.
      max_age: nanos(HISTORY_MAX_AGE_DAYS * 86_400_000),
      max_msg_size: INLINE_FRAME_BYTES,
      allow_rollup_hdrs: false,
      deny_delete: true,
      deny_purge: true,
      num_replicas: replicas,
    },
  ];
}

async function ensureStream(jsm: JetStreamManager, config: StreamSpec): Promise<void> {
  const name = config.name;
  let existing: StreamConfig;
  try {
    existing = (await jsm.streams.info(name)).config;
  } catch (e) {
    if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
    try {
      existing = (await jsm.streams.add(config)).config;
    } catch (e2) {
      // A racing node created it (with its replicas: a config mismatch is not ours to fix).
      if (!/already in use/i.test(errorMessage(e2))) throw e2;
      existing = (await jsm.streams.info(name)).config;
    }
  }
  const want = [...(config.subjects ?? [])].sort().join(' ');
  const have = [...(existing.subjects ?? [])].sort().join(' ');
  if (want !== have || existing.mirror || (existing.sources?.length ?? 0) > 0 || existing.republish) {
    throw new AppError(
      'INVALID_CONFIG',
      `the NATS stream ${name} exists with subjects "${have}" (or a mirror, sources or republish), not codemode's "${want}": ` +
        'it was not created by codemode; remove it or use another account',
    );
  }
}

const refSchema = z.object({ $ref: z.string().regex(/^t-[0-9a-f]{32}$/) });

/** JSON bytes of a frame, or a reference to them in the transfer store when too large for one message. */
export async function encodeFrame(link: Pick<Link, 'transfer'>, frame: unknown): Promise<Uint8Array> {
  const bytes = new TextEncoder().encode(JSON.stringify(frame));
  if (bytes.length <= INLINE_FRAME_BYTES) return bytes;
  if (bytes.length > MAX_FRAME_BYTES)
    throw new AppError('TOO_LARGE', `a cluster frame of ${bytes.length} bytes is over the limit`);
  const name = `t-${randomBytes(16).toString('hex')}`;
  await link.transfer.putBlob({ name }, bytes);
  return new TextEncoder().encode(JSON.stringify({ $ref: name }));
}

/** The JSON value of a frame from the network: size-checked, references fetched and deleted. */
export async function decodeFrame(link: Pick<Link, 'transfer'>, data: Uint8Array): Promise<unknown> {
  if (data.length > INLINE_FRAME_BYTES + 1024)
    throw new AppError('TOO_LARGE', 'a cluster message over the inline limit');
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new AppError('INTERNAL', 'cluster: a frame that is not JSON');
  }
  const ref = refSchema.safeParse(value);
  if (!ref.success) return value;
  const info = await link.transfer.info(ref.data.$ref);
  if (info === null) throw new AppError('NOT_FOUND', 'cluster: a transferred frame is gone');
  if (info.size > MAX_FRAME_BYTES) throw new AppError('TOO_LARGE', 'cluster: a transferred frame over the limit');
  const blob = await link.transfer.getBlob(ref.data.$ref);
  await link.transfer.delete(ref.data.$ref).catch(() => undefined); // max_age sweeps it if this fails
  if (blob === null || blob.length > MAX_FRAME_BYTES)
    throw new AppError('TOO_LARGE', 'cluster: a transferred frame over the limit');
  try {
    return JSON.parse(new TextDecoder().decode(blob));
  } catch {
    throw new AppError('INTERNAL', 'cluster: a transferred frame that is not JSON');
  }
}

/**
 * Send a request frame and return the reply's result (unvalidated: the caller
 * parses it with its op's schema). The peer's error comes back as its AppError;
 * NATS failures (no worker listening, a timeout, a lost connection) as
 * retryable UPSTREAM_UNAVAILABLE with `data.reason`.
 */
export async function request(
  link: Link,
  subject: string,
  body: unknown,
  options: { timeoutMs: number; outputSubject?: string; signal?: AbortSignal },
): Promise<unknown> {
  const data = await encodeFrame(link, {
    v: PROTOCOL_VERSION,
    ...(options.outputSubject === undefined ? {} : { outputSubject: options.outputSubject }),
    body,
  });
  let msg: Msg;
  try {
    msg = await link.nc.request(subject, data, { timeout: options.timeoutMs });
  } catch (e) {
    throw natsFailure(e, subject);
  }
  const frame = parseFrame(replyFrameSchema, await decodeFrame(link, msg.data), 'reply');
  if (!frame.ok) throw frameToError(frame);
  return frame.result;
}

export function natsFailure(e: unknown, subject: string): AppError {
  if (isAppError(e)) return e;
  if (e instanceof RequestError && e.isNoResponders()) {
    return unavailable(`nothing answers on ${subject} (the worker is gone)`, { reason: 'no_responders', subject });
  }
  if (e instanceof TimeoutError || (e instanceof Error && e.cause instanceof TimeoutError)) {
    return unavailable(`no reply on ${subject} in time (a worker or NATS server may have failed)`, {
      reason: 'timeout',
      subject,
    });
  }
  return unavailable(`the request on ${subject} failed: ${errorMessage(e)}`, { reason: 'connection', subject });
}

/** Reply to a request: the result, or the error as a frame (never throws: a failed reply is logged). */
export async function reply(link: Link, msg: Msg, frame: ReplyFrame, log: (m: string) => void): Promise<void> {
  try {
    msg.respond(await encodeFrame(link, frame));
  } catch (e) {
    log(`cluster: cannot reply on ${msg.reply ?? '?'}: ${errorMessage(e)}`);
  }
}

/** A result of `undefined` (a void call such as interrupt) travels as null: JSON drops undefined, the schema needs the key. */
export const okFrame = (result: unknown): ReplyFrame => ({ v: PROTOCOL_VERSION, ok: true, result: result ?? null });
