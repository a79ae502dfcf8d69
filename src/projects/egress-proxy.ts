/**
 * One session's egress proxy: an HTTP proxy on a Unix socket (bound into the
 * sandbox, which keeps no network interface of its own) that lets through only
 * the policy's host:port pairs, as CONNECT tunnels or single forwarded http://
 * requests, within the byte and connection caps. Every connection is logged
 * (JSON lines), allowed or not. Names resolve on the host.
 */
import { appendFileSync, chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { allowed, proxyTarget, type NetworkPolicy } from './egress.js';

export interface EgressLogEntry {
  time: string;
  method: string;
  host: string;
  port: number;
  decision: 'allowed' | 'denied' | 'request_cap' | 'byte_cap' | 'bad_request' | 'failed';
  bytesUp: number;
  bytesDown: number;
  error?: string;
}

export interface EgressProxyOptions {
  policyName: string;
  policy: NetworkPolicy;
  /** The host uid the session's sandbox runs as (the socket is made its own when we are root). */
  uid?: number;
  /** Append every log entry to this file (JSON lines). */
  logFile?: string;
  /** What the session used before (a resumed session keeps counting from there). */
  used?: { requests: number; bytes: number };
}

const MAX_HEAD = 16 * 1024;
/** Open connections at once, per session: more are refused (503) instead of held. */
const MAX_OPEN = 64;
/** A request head must arrive within this long; a silent connection is closed. */
const HEAD_TIMEOUT_MS = 30_000;
const KEEP_LOG = 1000;

export class EgressProxy {
  readonly socketDir: string;
  readonly socketPath: string;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly entries: EgressLogEntry[] = [];
  private requests = 0;
  private bytes = 0;

  private constructor(private readonly options: EgressProxyOptions) {
    this.socketDir = mkdtempSync(path.join(os.tmpdir(), 'codemode-egress-'));
    this.socketPath = path.join(this.socketDir, 'egress.sock');
    this.server = net.createServer((c) => this.accept(c));
    this.requests = options.used?.requests ?? 0;
    this.bytes = options.used?.bytes ?? 0;
  }

  static async start(options: EgressProxyOptions): Promise<EgressProxy> {
    const p = new EgressProxy(options);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(p.socketPath, () => resolve());
    });
    // The directory only needs searching; the socket is the sandbox uid's alone (or ours when not root).
    chmodSync(p.socketDir, 0o711);
    if (options.uid !== undefined && process.getuid?.() === 0) chownSync(p.socketPath, options.uid, options.uid);
    chmodSync(p.socketPath, 0o600);
    return p;
  }

  /** The connections seen so far (the newest KEEP_LOG). */
  log(): EgressLogEntry[] {
    return [...this.entries];
  }

  usage(): { requests: number; bytes: number } {
    return { requests: this.requests, bytes: this.bytes };
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.socketDir, { recursive: true, force: true });
  }

  private record(entry: Omit<EgressLogEntry, 'time'>): void {
    const e: EgressLogEntry = { time: new Date().toISOString(), ...entry };
    this.entries.push(e);
    if (this.entries.length > KEEP_LOG) this.entries.shift();
    if (this.options.logFile) {
      try {
        appendFileSync(this.options.logFile, `${JSON.stringify({ policy: this.options.policyName, ...e })}\n`);
      } catch {
        // the in-memory log still has it; a full disk must not break the session's traffic accounting
      }
    }
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    s.on('error', () => {}); // peers reset connections; the close handler tidies up
  }

  private accept(client: net.Socket): void {
    this.track(client);
    if (this.sockets.size > MAX_OPEN * 2) {
      // Each allowed connection holds two sockets (client and upstream).
      return this.refuse(
        client,
        503,
        `at most ${MAX_OPEN} connections at once`,
        { method: '?', host: '', port: 0 },
        'bad_request',
      );
    }
    client.setTimeout(HEAD_TIMEOUT_MS, () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > MAX_HEAD) {
          client.off('data', onData);
          this.refuse(client, 431, 'request head too large', { method: '?', host: '', port: 0 }, 'bad_request');
        }
        return;
      }
      client.off('data', onData);
      client.setTimeout(0);
      client.pause();
      this.route(client, head.subarray(0, end + 4), head.subarray(end + 4));
    };
    client.on('data', onData);
  }

  private route(client: net.Socket, head: Buffer, rest: Buffer): void {
    const lines = head.toString('latin1').split('\r\n');
    const [method = '', target = '', version = ''] = lines[0]!.split(' ');
    const dest = /^HTTP\/1\.[01]$/.test(version) ? proxyTarget(method, target) : null;
    const who = { method, host: dest?.host ?? '', port: dest?.port ?? 0 };
    if (!dest)
      return this.refuse(
        client,
        400,
        'not a proxy request (CONNECT host:port, or an absolute http:// URL)',
        who,
        'bad_request',
      );
    const { policy, policyName } = this.options;
    if (!allowed(policy, dest.host, dest.port)) {
      return this.refuse(
        client,
        403,
        `${dest.host}:${dest.port} is not allowed by network policy "${policyName}"`,
        who,
        'denied',
      );
    }
    if (this.requests >= policy.maxRequests) {
      return this.refuse(
        client,
        429,
        `network policy "${policyName}" allows ${policy.maxRequests} connections per session`,
        who,
        'request_cap',
      );
    }
    if (this.bytes >= policy.maxBytes) {
      return this.refuse(
        client,
        429,
        `network policy "${policyName}" allows ${policy.maxBytes} bytes per session`,
        who,
        'byte_cap',
      );
    }
    this.requests++;
    const upstream = net.connect({ host: dest.host.replace(/^\[|\]$/g, ''), port: dest.port });
    this.track(upstream);
    let up = 0;
    let down = 0;
    let decision: EgressLogEntry['decision'] = 'allowed';
    let error: string | undefined;
    let connected = false;
    const count = (n: number, dir: 'up' | 'down') => {
      if (dir === 'up') up += n;
      else down += n;
      this.bytes += n;
      if (this.bytes > policy.maxBytes && decision === 'allowed') {
        decision = 'byte_cap';
        client.destroy();
        upstream.destroy();
      }
    };
    upstream.once('error', (e) => {
      error = e.message;
      if (!connected) {
        decision = 'failed';
        this.refuse(client, 502, `could not reach ${dest.host}:${dest.port}: ${e.message}`, null, 'failed');
      }
    });
    let logged = false;
    const done = () => {
      if (logged) return;
      logged = true;
      this.record({ ...who, decision, bytesUp: up, bytesDown: down, ...(error ? { error } : {}) });
    };
    client.once('close', () => {
      upstream.destroy();
      done();
    });
    upstream.once('close', () => client.end());
    upstream.once('connect', () => {
      connected = true;
      if (method === 'CONNECT') {
        const ok = Buffer.from('HTTP/1.1 200 Connection Established\r\n\r\n');
        client.write(ok);
        count(ok.length, 'down');
      } else {
        // One request per connection, in origin form, without the proxy's own headers.
        const headers = lines.slice(1).filter((l) => l !== '' && !/^(proxy-[a-z-]*|connection|keep-alive):/i.test(l));
        const out = Buffer.from(
          `${method} ${dest.path || '/'} ${version}\r\n${[...headers, 'Connection: close'].join('\r\n')}\r\n\r\n`,
          'latin1',
        );
        upstream.write(out);
        count(out.length, 'up');
      }
      if (rest.length) {
        upstream.write(rest);
        count(rest.length, 'up');
      }
      client.on('data', (c: Buffer) => {
        count(c.length, 'up');
        if (!upstream.destroyed) upstream.write(c);
      });
      upstream.on('data', (c: Buffer) => {
        count(c.length, 'down');
        if (!client.destroyed) client.write(c);
      });
      client.once('end', () => upstream.end());
      client.resume();
    });
  }

  private refuse(
    client: net.Socket,
    status: number,
    why: string,
    who: { method: string; host: string; port: number } | null,
    decision: EgressLogEntry['decision'],
  ): void {
    const reason =
      {
        400: 'Bad Request',
        403: 'Forbidden',
        429: 'Too Many Requests',
        431: 'Request Header Fields Too Large',
        503: 'Service Unavailable',
        502: 'Bad Gateway',
      }[status] ?? 'Error';
    const body = `codemode egress: ${why}\n`;
    client.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    if (who) this.record({ ...who, decision, bytesUp: 0, bytesDown: 0, error: why });
  }
}
