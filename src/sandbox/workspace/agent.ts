/**
 * The host side of the workspace agent (fs-agent.py): a small helper that runs
 * in the same bubblewrap profile as the workspace's programs, as the same uid,
 * and does every file operation there. The host sends requests and reads
 * replies; it never resolves a workspace path itself. Replies are untrusted
 * bytes from a sandbox: their size is bounded, their shape checked, and a
 * helper that breaks the protocol or stalls is killed (the next call starts a
 * fresh one). One request at a time; the helper exits when idle.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AppError, type ErrorCode } from '../../errors.js';
import type { WorkspaceEntry } from '../executor.js';
import type { Limits } from '../limits.js';
import type { Sandbox, SandboxProcess } from '../sandbox.js';

const AGENT_FILE = 'fs-agent.py';
const AGENT_SANDBOX_PATH = `/run/codemode/${AGENT_FILE}`;

export function agentScriptPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    path.join(here, AGENT_FILE),
    path.resolve(here, '..', '..', '..', 'src', 'sandbox', 'workspace', AGENT_FILE),
  ];
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

export interface WorkspaceAgentOptions {
  sandbox: Sandbox;
  /** Host directory bound at /workspace. */
  dir: string;
  /** Host uid of the workspace's tenant. */
  uid: number;
  /** The tenant's limits: the agent gets the same file-size cap, and small memory and process caps. */
  limits: Limits;
  /** Largest file read or written in one call. */
  maxFileBytes: number;
  python?: string;
  /** Stop the helper after this long without a request. Default 120 s. */
  idleMs?: number;
  /** One request may take this long before the helper is killed. Default 15 s. */
  requestTimeoutMs?: number;
}

const ENTRY_LIMIT = 100_000;
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

const Failure = z.object({ ok: z.literal(false), code: z.string(), message: z.string().max(4096) });
const Ready = z.object({ ok: z.literal(true), ready: z.literal(true) });
const Written = z.object({ ok: z.literal(true), path: z.string(), size: z.number().int().nonnegative() });
const ReadReply = z.object({ ok: z.literal(true), path: z.string(), size: z.number().int().nonnegative() });
const Listing = z.object({
  ok: z.literal(true),
  entries: z.array(z.tuple([z.string().max(4096), z.number().int().nonnegative()])).max(ENTRY_LIMIT),
  truncated: z.boolean(),
});
const Stat = z.object({
  ok: z.literal(true),
  type: z.enum(['file', 'directory', 'symlink', 'other']),
  size: z.number().int().nonnegative(),
});
const Deleted = z.object({ ok: z.literal(true), path: z.string() });
const Imported = z.object({
  ok: z.literal(true),
  path: z.string(),
  entries: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
});
const Exported = z.object({
  ok: z.literal(true),
  path: z.string(),
  entries: z.number().int().nonnegative(),
  size: z.number().int().nonnegative(),
});

const KNOWN_CODES = new Set<ErrorCode>(['INVALID_ARGUMENT', 'NOT_FOUND', 'PATH_ESCAPE', 'TOO_LARGE', 'FORBIDDEN']);

interface Reply {
  header: unknown;
  payload: Buffer;
}

export class WorkspaceAgent {
  private proc: SandboxProcess | null = null;
  private starting: Promise<SandboxProcess> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | null = null;
  private reader: FrameReader | null = null;
  private closed = false;

  constructor(private readonly o: WorkspaceAgentOptions) {}

  async write(rel: string, data: Uint8Array, mode: 'truncate' | 'append' = 'truncate'): Promise<WorkspaceEntry> {
    const r = Written.parse((await this.call({ op: 'write', path: rel, mode }, data)).header);
    return { path: r.path, size: r.size };
  }

  async read(rel: string, maxBytes = this.o.maxFileBytes): Promise<Uint8Array> {
    const reply = await this.call({ op: 'read', path: rel, max: maxBytes }, undefined, maxBytes);
    const r = ReadReply.parse(reply.header);
    if (r.size !== reply.payload.length || reply.payload.length > maxBytes) {
      throw this.broken(`read reply of ${reply.payload.length} bytes does not match its header`);
    }
    return new Uint8Array(reply.payload.buffer, reply.payload.byteOffset, reply.payload.length);
  }

  async list(rel = '', maxEntries = 1000): Promise<{ entries: WorkspaceEntry[]; truncated: boolean }> {
    const max = Math.min(maxEntries, ENTRY_LIMIT);
    const r = Listing.parse((await this.call({ op: 'list', path: rel, max })).header);
    if (r.entries.length > max) throw this.broken('the listing is longer than asked');
    return { entries: r.entries.map(([p, size]) => ({ path: p, size })), truncated: r.truncated };
  }

  async stat(rel: string): Promise<z.infer<typeof Stat>> {
    return Stat.parse((await this.call({ op: 'stat', path: rel })).header);
  }

  async delete(rel: string): Promise<void> {
    Deleted.parse((await this.call({ op: 'delete', path: rel })).header);
  }

  /**
   * Unpack a tar (plain, gz, bz2, xz) or zip archive into folder `rel` (created if missing). Every entry is
   * checked before anything is written: relative names without `..`, links that stay inside, hard links
   * only to the archive's own files, no devices or FIFOs, a bounded entry count, at most `maxBytes` unpacked.
   */
  async importArchive(rel: string, archive: Uint8Array, maxBytes: number): Promise<{ entries: number; bytes: number }> {
    const r = Imported.parse((await this.call({ op: 'import', path: rel, max: maxBytes }, archive)).header);
    return { entries: r.entries, bytes: r.bytes };
  }

  /** Folder `rel` as a gzip'd tar (links kept as links), at most `maxBytes`. */
  async exportArchive(rel: string, maxBytes: number): Promise<Uint8Array> {
    const reply = await this.call({ op: 'export', path: rel, max: maxBytes }, undefined, maxBytes);
    const r = Exported.parse(reply.header);
    if (r.size !== reply.payload.length) throw this.broken('export reply does not match its header');
    return new Uint8Array(reply.payload.buffer, reply.payload.byteOffset, reply.payload.length);
  }

  /** Stop the helper (it starts again on the next call unless closed for good). */
  async stop(): Promise<void> {
    const proc = this.proc ?? (await this.starting?.catch(() => null)) ?? null;
    this.proc = null;
    this.reader = null;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (proc) await proc.dispose();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => undefined);
    await this.stop();
  }

  /** One request, serialized behind the others. Refusals come back as AppErrors with the agent's code. */
  private call(header: Record<string, unknown>, payload?: Uint8Array, maxPayload = 0): Promise<Reply> {
    const job = this.queue.then(() => this.exchange(header, payload, maxPayload));
    this.queue = job.catch(() => undefined);
    return job;
  }

  private async exchange(header: Record<string, unknown>, payload: Uint8Array | undefined, maxPayload: number) {
    if (this.closed) throw new AppError('SESSION_CLOSED', 'the workspace is closed');
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const proc = await this.ensure();
    const reader = this.reader!;
    const head = Buffer.from(JSON.stringify(header), 'utf8');
    const body = payload ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) : Buffer.alloc(0);
    const prefix = Buffer.alloc(8);
    prefix.writeUInt32BE(head.length, 0);
    prefix.writeUInt32BE(body.length, 4);
    proc.stdin.write(prefix);
    proc.stdin.write(head);
    if (body.length) proc.stdin.write(body);
    let reply: Reply;
    try {
      reply = await reader.next(maxPayload, this.o.requestTimeoutMs ?? 15_000);
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.armIdle();
    const failed = Failure.safeParse(reply.header);
    if (failed.success) {
      const code = KNOWN_CODES.has(failed.data.code as ErrorCode) ? (failed.data.code as ErrorCode) : 'INTERNAL';
      throw new AppError(code, failed.data.message, { path: header.path });
    }
    return reply;
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.stop(), this.o.idleMs ?? 120_000);
    this.idleTimer.unref();
  }

  private async ensure(): Promise<SandboxProcess> {
    if (this.proc) return this.proc;
    this.starting ??= this.start().finally(() => (this.starting = null));
    return this.starting;
  }

  private async start(): Promise<SandboxProcess> {
    const limits: Limits = {
      ...this.o.limits,
      memoryBytes: 64 * 1024 * 1024 + 3 * this.o.maxFileBytes,
      processes: 4,
      openFiles: 256,
      tmpBytes: 1024 * 1024,
    };
    const proc = await this.o.sandbox.spawn({
      argv: [this.o.python ?? '/usr/bin/python3', '-I', '-S', AGENT_SANDBOX_PATH, '/workspace'],
      workspaceDir: this.o.dir,
      limits,
      roBinds: [{ host: agentScriptPath(), sandbox: AGENT_SANDBOX_PATH }],
      uid: this.o.uid,
    });
    proc.stdin.on('error', () => {
      // the helper died; the pending read reports it
    });
    proc.stderr.resume(); // nothing useful is written there; never let it fill up
    const reader = new FrameReader(proc, 8 + MAX_HEADER_BYTES + this.o.maxFileBytes);
    try {
      Ready.parse((await reader.next(0, 10_000)).header);
    } catch (e) {
      await proc.dispose();
      throw new AppError('SANDBOX_UNAVAILABLE', `the workspace helper did not start: ${(e as Error).message}`);
    }
    this.proc = proc;
    this.reader = reader;
    void proc.exited.then(() => {
      if (this.proc === proc) {
        this.proc = null;
        this.reader = null;
      }
    });
    return proc;
  }

  private broken(what: string): AppError {
    void this.stop();
    return new AppError('INTERNAL', `the workspace helper broke its protocol: ${what}`);
  }
}

/**
 * Reads the helper's frames from stdout in linear time with bounded memory:
 * a frame larger than the caller allows, or a reply that does not come in
 * time, fails the read (the caller kills the helper).
 */
class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private wake: (() => void) | null = null;
  private ended = false;

  constructor(proc: SandboxProcess, cap: number) {
    proc.stdout.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.buffered += c.length;
      // More than one reply's worth, unasked: a helper that floods is killed, not buffered.
      if (this.buffered > cap) {
        this.chunks = [];
        this.buffered = 0;
        this.ended = true;
        proc.kill();
      }
      this.wake?.();
    });
    proc.stdout.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    proc.stdout.on('error', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  async next(maxPayload: number, timeoutMs: number): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    const prefix = await this.take(8, deadline);
    const headLen = prefix.readUInt32BE(0);
    const bodyLen = prefix.readUInt32BE(4);
    if (headLen > MAX_HEADER_BYTES) throw new AppError('INTERNAL', `reply header of ${headLen} bytes is too large`);
    if (bodyLen > maxPayload) throw new AppError('INTERNAL', `reply payload of ${bodyLen} bytes was not asked for`);
    const head = await this.take(headLen, deadline);
    const payload = bodyLen ? await this.take(bodyLen, deadline) : Buffer.alloc(0);
    let header: unknown;
    try {
      header = JSON.parse(head.toString('utf8'));
    } catch {
      throw new AppError('INTERNAL', 'reply header is not JSON');
    }
    return { header, payload };
  }

  private async take(n: number, deadline: number): Promise<Buffer> {
    while (this.buffered < n) {
      if (this.ended) throw new AppError('INTERNAL', 'the workspace helper exited');
      const left = deadline - Date.now();
      if (left <= 0) throw new AppError('TIMEOUT', 'the workspace helper did not answer in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}
