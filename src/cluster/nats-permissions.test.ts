/**
 * The generated nats-server config on a real nats-server (one server,
 * JetStream in a temporary directory): each role's legitimate operations work
 * through openLink as the nodes use it, and what a hostile node holding valid
 * credentials might try (deleting, purging or updating streams, answering as
 * another worker, writing another worker's heartbeat) is refused with the
 * server's permission error. Also NKEY users, route authentication and TLS.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, headers, nkeys, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { KvWatchInclude } from '@nats-io/kv';
import { isAppError } from '../errors.js';
import { openLink, readCredentials, type Link, type LinkOptions } from './link.js';
import { freePort } from './local-cluster.js';
import { natsLinkOptions } from './node-options.js';
import {
  gatewayInbox,
  natsServerConfig,
  STREAMS,
  workerInbox,
  type ClusterUsers,
  type ServerConfigOptions,
} from './nats-config.js';
import { BUCKETS, HISTORY_STREAM, SUBJECTS } from './protocol.js';

const dir = mkdtempSync(path.join(tmpdir(), 'codemode-nats-perm-'));
const secret = () => randomBytes(18).toString('base64url');
const nkeyW3 = nkeys.createUser();
const users: ClusterUsers = {
  workers: [
    { id: 'w1', user: 'worker-w1', pass: secret() },
    { id: 'w2', user: 'worker-w2', pass: secret() },
    { id: 'w3', nkey: nkeyW3.getPublicKey() },
  ],
  gateways: [{ id: 'g1', user: 'gateway-g1', pass: secret() }],
  operators: [{ user: 'operator', pass: secret() }],
};
const pw = (u: ClusterUsers['workers'][number] | NonNullable<ClusterUsers['operators']>[number]) => {
  if (!('pass' in u)) throw new Error('not a password user');
  return { user: u.user, pass: u.pass };
};

interface Server {
  child: ChildProcess;
  url: string;
  log: () => string;
}
const started: Server[] = [];

/** nats-server with a generated config; resolves once it says it is ready. */
async function startServer(name: string, extra: Partial<ServerConfigOptions> = {}, scheme = 'nats'): Promise<Server> {
  const port = await freePort();
  const conf = path.join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    natsServerConfig({
      name,
      host: '127.0.0.1',
      port,
      storeDir: path.join(dir, `js-${name}`),
      users,
      ...extra,
    }),
  );
  const child = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const server = { child, url: `${scheme}://127.0.0.1:${port}`, log: () => text };
  started.push(server);
  await waitForLog(server, /Server is ready/, `nats-server ${name}`);
  return server;
}

async function waitForLog(s: Server, pattern: RegExp, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!pattern.test(s.log())) {
    if (s.child.exitCode !== null) throw new Error(`${what} exited:\n${s.log()}`);
    if (Date.now() > end) throw new Error(`${what}: no ${pattern} in time:\n${s.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The server's refusal of a publish (a JetStream API call or a KV/object write) to `subject`. */
async function deniedPublish(work: Promise<unknown>, subject: string): Promise<void> {
  await assert.rejects(work, (e: Error) => {
    const text = `${e.message} ${e.cause instanceof Error ? e.cause.message : ''}`;
    assert.ok(text.includes(`Permissions Violation for Publish to "${subject}"`), text);
    return true;
  });
}

/** The server's refusal of a subscription: the subscription ends with the permission error. */
async function deniedSubscribe(nc: NatsConnection, subject: string): Promise<void> {
  const sub = nc.subscribe(subject);
  const why = await sub.closed;
  assert.ok(why instanceof Error, `the subscription to ${subject} was not refused`);
  assert.match(
    why.message,
    new RegExp(`Permissions Violation for Subscription to "${subject.replace(/[.*$]/g, '\\$&')}"`),
  );
}

after(() => {
  for (const s of started) s.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

let server: Server;
const links: Link[] = [];
async function link(options: Partial<LinkOptions> & Pick<LinkOptions, 'name'>): Promise<Link> {
  const l = await openLink({ servers: [server.url], replicas: 1, heartbeatTtlMs: 30_000, ...options });
  links.push(l);
  return l;
}

let w1: Link;
let w2: Link;
let g1: Link;
let op: Link;

describe('NATS permissions of the generated config (real nats-server)', { timeout: 60_000 }, () => {
  before(async () => {
    server = await startServer('perm');
    // The first worker creates the buckets and the stream (only their exact names are allowed).
    w1 = await link({ name: 'w1', credentials: pw(users.workers[0]!), inboxPrefix: workerInbox('w1') });
    w2 = await link({ name: 'w2', credentials: pw(users.workers[1]!), inboxPrefix: workerInbox('w2') });
    g1 = await link({ name: 'g1', credentials: pw(users.gateways[0]!), inboxPrefix: gatewayInbox('g1') });
    op = await link({ name: 'operator', credentials: pw(users.operators![0]!) });
  });

  after(async () => {
    for (const l of links) await l.close().catch(() => undefined); // a closed link: nothing left to drain
  });

  it('a worker does its work: heartbeat, session records, checkpoints, transfers, history', async () => {
    await w1.workers.put('w1', '{"hb":1}');
    await w1.sessions.put('s1', '{"state":"live"}');
    const e = await w1.sessions.get('s1');
    await w1.sessions.update('s1', '{"state":"idle"}', e!.revision);
    // Checkpoint put, overwrite (purges the old chunks), read, delete.
    await w1.workspaces.putBlob({ name: 's1' }, new Uint8Array(300_000).fill(1));
    await w1.workspaces.putBlob({ name: 's1' }, new Uint8Array(200_000).fill(2));
    const blob = await w1.workspaces.getBlob('s1');
    assert.equal(blob?.length, 200_000);
    assert.equal(blob?.[0], 2);
    await w1.workspaces.delete('s1');
    assert.equal((await w1.workspaces.info('s1'))?.deleted, true);
    await w1.transfer.putBlob({ name: 't-1' }, new Uint8Array(10));
    await w1.transfer.delete('t-1');
    // History: publish, then read back by session as a resuming worker does.
    await w1.js.publish(SUBJECTS.history('s1'), JSON.stringify({ n: 1 }));
    await w1.js.publish(SUBJECTS.history('s1'), JSON.stringify({ n: 2 }));
    const consumer = await w2.js.consumers.get(HISTORY_STREAM, { filter_subjects: SUBJECTS.history('s1') });
    const read: unknown[] = [];
    for (;;) {
      const m = await consumer.next({ expires: 1000 });
      if (m === null) break;
      read.push(m.json());
      if (m.info.pending === 0) break;
    }
    assert.deepEqual(read, [{ n: 1 }, { n: 2 }]);
    await w1.workers.delete('w1');
  });

  it('a gateway does its work: session records, watches, transfers, the history feed', async () => {
    await g1.sessions.create('s2', '{"state":"live"}');
    const watch = await g1.sessions.watch({ include: KvWatchInclude.UpdatesOnly });
    const seen = (async () => {
      for await (const e of watch) if (e.key === 's2' && e.operation === 'PUT') return e.string();
      return undefined;
    })();
    await w1.sessions.put('s2', '{"state":"moved"}');
    assert.equal(await seen, '{"state":"moved"}');
    watch.stop();
    // A large reply frame travels through the transfer store: written by one role, read and deleted by the other.
    await w1.transfer.putBlob({ name: 't-2' }, new Uint8Array(2_000_000).fill(7));
    assert.equal((await g1.transfer.getBlob('t-2'))?.length, 2_000_000);
    await g1.transfer.delete('t-2');
    const feed = await (await g1.js.consumers.get(HISTORY_STREAM, { filter_subjects: 'codemode.history.>' })).consume();
    for await (const m of feed) {
      assert.deepEqual(m.json(), { n: 1 });
      break;
    }
    await feed.close();
    const keys: string[] = [];
    await w1.workers.put('w1', '{}');
    for await (const k of await g1.workers.keys()) keys.push(k);
    assert.deepEqual(keys, ['w1']);
  });

  it('an operator reads the buckets', async () => {
    assert.equal((await op.sessions.get('s2'))?.string(), '{"state":"moved"}');
    const keys: string[] = [];
    for await (const k of await op.sessions.keys()) keys.push(k);
    assert.ok(keys.includes('s2'));
  });

  it('a worker cannot delete, purge or update the buckets or the history stream', async () => {
    for (const stream of [STREAMS.sessions, HISTORY_STREAM]) {
      await deniedPublish(w1.jsm.streams.delete(stream), `$JS.API.STREAM.DELETE.${stream}`);
      await deniedPublish(w1.jsm.streams.purge(stream), `$JS.API.STREAM.PURGE.${stream}`);
    }
    const info = await w1.jsm.streams.info(STREAMS.sessions);
    await deniedPublish(
      w1.jsm.streams.update(STREAMS.sessions, { ...info.config, max_msgs_per_subject: 5 }),
      `$JS.API.STREAM.UPDATE.${STREAMS.sessions}`,
    );
    await deniedPublish(
      w1.jsm.streams.deleteMessage(STREAMS.sessions, 1),
      `$JS.API.STREAM.MSG.DELETE.${STREAMS.sessions}`,
    );
    await deniedPublish(w1.jsm.streams.add({ name: 'EVIL', subjects: ['evil.>'] }), '$JS.API.STREAM.CREATE.EVIL');
    await deniedPublish(w1.jsm.streams.list().next(), '$JS.API.STREAM.LIST');
    // Creating an existing stream again with another config is refused by the server, not applied.
    await assert.rejects(
      w1.jsm.streams.add({ name: STREAMS.sessions, subjects: [`$KV.${BUCKETS.sessions}.>`], max_age: 1e9 }),
      /already in use/,
    );
  });

  it('a worker cannot wipe a bucket with a rollup header (the KV streams refuse rollups)', async () => {
    const h = headers();
    h.set('Nats-Rollup', 'all');
    await assert.rejects(w1.js.publish(`$KV.${BUCKETS.sessions}.s9`, 'x', { headers: h }), /rollup/i);
    assert.equal((await w1.sessions.get('s2'))?.string(), '{"state":"moved"}');
  });

  it("a worker cannot answer another worker's subject or write its heartbeat", async () => {
    await deniedSubscribe(w1.nc, SUBJECTS.worker('w2'));
    await deniedSubscribe(w1.nc, `${workerInbox('w2')}.x`);
    await deniedPublish(w1.workers.put('w2', '{}'), `$KV.${BUCKETS.workers}.w2`);
    await deniedPublish(w1.workers.delete('w2'), `$KV.${BUCKETS.workers}.w2`);
  });

  it('a gateway cannot subscribe to worker subjects or touch heartbeats and checkpoints', async () => {
    await deniedSubscribe(g1.nc, SUBJECTS.worker('w1'));
    await deniedSubscribe(g1.nc, SUBJECTS.run);
    await deniedPublish(g1.workers.put('w1', '{}'), `$KV.${BUCKETS.workers}.w1`);
    await deniedPublish(g1.jsm.streams.purge(STREAMS.workspaces), `$JS.API.STREAM.PURGE.${STREAMS.workspaces}`);
    await deniedPublish(g1.jsm.streams.delete(STREAMS.transfer), `$JS.API.STREAM.DELETE.${STREAMS.transfer}`);
  });

  it('an operator can read but not write, purge or delete', async () => {
    await deniedPublish(op.sessions.put('s2', '{}'), `$KV.${BUCKETS.sessions}.s2`);
    await deniedPublish(op.jsm.streams.delete(STREAMS.sessions), `$JS.API.STREAM.DELETE.${STREAMS.sessions}`);
    await deniedPublish(op.jsm.streams.purge(STREAMS.workers), `$JS.API.STREAM.PURGE.${STREAMS.workers}`);
    await deniedSubscribe(op.nc, SUBJECTS.worker('w1'));
  });

  it('an NKEY worker connects with its seed file; another seed is refused', async () => {
    const file = path.join(dir, 'w3.nk');
    writeFileSync(file, `# worker w3\n${new TextDecoder().decode(nkeyW3.getSeed())}\n`, { mode: 0o600 });
    const credentials = readCredentials(file);
    const w3 = await link({ name: 'w3', credentials, inboxPrefix: workerInbox('w3') });
    await w3.workers.put('w3', '{}');
    await deniedPublish(w3.workers.put('w1', '{}'), `$KV.${BUCKETS.workers}.w1`);
    const other = new TextDecoder().decode(nkeys.createUser().getSeed());
    await assert.rejects(
      openLink({ servers: [server.url], name: 'x', replicas: 1, credentials: { nkeySeed: other } }),
      (e) => isAppError(e, 'UPSTREAM_UNAVAILABLE') && /Authorization/i.test(e.message),
    );
  });

  it('a bad credentials file is refused with a clear error that does not echo the secret', () => {
    const seed = new TextDecoder().decode(nkeyW3.getSeed());
    // One character of the key changed: the checksum no longer matches.
    const broken = `${seed.slice(0, 20)}${seed[20] === 'A' ? 'B' : 'A'}${seed.slice(21)}`;
    const file = path.join(dir, 'bad.nk');
    writeFileSync(file, `${broken}\n`, { mode: 0o600 });
    assert.throws(
      () => readCredentials(file),
      (e) => isAppError(e, 'INVALID_CONFIG') && /not a valid user seed/.test(e.message) && !e.message.includes(broken),
    );
    writeFileSync(file, 'no-colon-here\n', { mode: 0o600 });
    assert.throws(
      () => readCredentials(file),
      (e) => isAppError(e, 'INVALID_CONFIG') && /user:password/.test(e.message),
    );
  });
});

/** A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with the openssl CLI. */
function makeCertificates(): { ca: string; cert: string; key: string; clientCert: string; clientKey: string } {
  const f = (n: string) => path.join(dir, n);
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=codemode test CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
  ]);
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    writeFileSync(f(`${name}.ext`), `${ext}\n`);
    run([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
    ]);
    run([
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      f(`${name}.ext`),
      '-out',
      f(`${name}.pem`),
    ]);
  }
  return {
    ca: f('ca.pem'),
    cert: f('server.pem'),
    key: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe('NATS transport security of the generated config', { timeout: 60_000 }, () => {
  it('servers route to each other only with the route secret', async () => {
    const routeAuth = { user: 'route', pass: secret() };
    const [a, b, c] = [await freePort(), await freePort(), await freePort()];
    const cluster = (port: number, to: number, auth = routeAuth) => ({
      clusterPort: port,
      routes: [`127.0.0.1:${to}`],
      routeAuth: auth,
    });
    const sa = await startServer('ra', cluster(a, b));
    await startServer('rb', cluster(b, a));
    // Both servers route (JetStream elects a leader over the route), without an authorization error.
    await waitForLog(sa, /metadata leader/, 'the JetStream cluster of ra and rb');
    assert.doesNotMatch(sa.log(), /Authorization Violation/);
    // A server with another secret is refused by ra.
    const intruder = await startServer('rc', cluster(c, a, { user: 'route', pass: secret() }));
    await waitForLog(intruder, /Route Error 'Authorization Violation'/, 'the refusal of rc');
  });

  it(
    'nodes connect over TLS with the CA; without it, or without a client certificate where one is required, they are refused',
    { skip: hasOpenssl ? false : 'the openssl CLI is not installed (it makes the test certificates)' },
    async () => {
      const certs = makeCertificates();
      const tlsServer = await startServer('tls', { tls: { cert: certs.cert, key: certs.key } });
      const w1 = users.workers[0]!;
      const credFile = path.join(dir, 'w1.creds');
      writeFileSync(credFile, `${pw(w1).user}:${pw(w1).pass}\n`, { mode: 0o600 });
      const options = natsLinkOptions(
        { nats: [tlsServer.url], 'nats-credentials': credFile, 'nats-tls-ca': certs.ca },
        {},
        dir,
        'w1',
        () => {},
      );
      const ok = await openLink({ ...options, inboxPrefix: workerInbox('w1') });
      try {
        assert.equal(ok.nc.info?.tls_required, true);
        await ok.workers.put('w1', '{}');
      } finally {
        await ok.close();
      }
      const { tls: _tls, ...withoutCa } = options;
      await assert.rejects(
        openLink({ ...withoutCa, inboxPrefix: workerInbox('w1') }),
        (e) => isAppError(e, 'UPSTREAM_UNAVAILABLE') && /certificate/i.test(e.message),
      );
      // mTLS: the server verifies client certificates.
      const mtls = await startServer('mtls', {
        tls: { cert: certs.cert, key: certs.key, ca: certs.ca, verifyClients: true },
      });
      // Without a client certificate the handshake fails (the client only sees the connection go; a short timeout).
      await assert.rejects(
        connect({ servers: mtls.url, ...pw(w1), tls: { caFile: certs.ca }, timeout: 3000, reconnect: false }),
      );
      await waitForLog(mtls, /TLS handshake error.*certificate/i, 'the refusal of a client without a certificate');
      const withCert = natsLinkOptions(
        {
          nats: [mtls.url],
          'nats-credentials': credFile,
          'nats-tls-ca': certs.ca,
          'nats-tls-cert': certs.clientCert,
          'nats-tls-key': certs.clientKey,
        },
        {},
        dir,
        'w1',
        () => {},
      );
      const mutual = await openLink({ ...withCert, inboxPrefix: workerInbox('w1') });
      await mutual.workers.put('w1', '{}');
      await mutual.close();
    },
  );
});

describe('stream creation', { timeout: 30_000 }, () => {
  it('a node refuses a stream of a codemode name that another node created with other subjects', async () => {
    const fresh = await startServer('pre');
    // A hostile worker connects first and creates the heartbeat bucket's stream to capture every codemode subject.
    const nc = await connect({ servers: fresh.url, ...pw(users.workers[1]!), inboxPrefix: workerInbox('w2') });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: STREAMS.workers, subjects: ['codemode.>'] });
    } finally {
      await nc.close();
    }
    await assert.rejects(
      openLink({
        servers: [fresh.url],
        name: 'w1',
        replicas: 1,
        credentials: pw(users.workers[0]!),
        inboxPrefix: workerInbox('w1'),
      }),
      (e) =>
        isAppError(e, 'INVALID_CONFIG') && /KV_codemode_workers exists with subjects "codemode\.>"/.test(e.message),
    );
  });
});
