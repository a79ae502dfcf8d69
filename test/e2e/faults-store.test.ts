/**
 * Fault injection on the store, against a real `codemode serve --http` process
 * and the real sandbox: the database on a 3 MiB tmpfs that fills (replies
 * warn, /healthz says degraded, get_history marks what waits, and writing
 * resumes when space returns, with the stored executions intact); a damaged
 * and a non-SQLite database at start (refused, untouched, a copy named); and
 * SIGTERM during a long execution (the process exits in time, and after a
 * restart the session resumes with the interrupted execution in its history).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { spawnCodemode, spawnServe, type ServeProcess } from './serve-process.js';

const TOKEN = 'faults-e2e-token-0123456789abcdef';
const isRoot = process.getuid?.() === 0;

type Structured = Record<string, unknown>;

type Served = ServeProcess;

/** Start `codemode serve --http` on a free port; resolves when it says where it listens. */
const serve = (home: string, db: string): Promise<Served> =>
  spawnServe(['--http', '--port', '0', '--db', db], { CODEMODE_HOME: home, CODEMODE_TOKEN: TOKEN });

const all: Served[] = [];

async function connect(s: Served): Promise<Client> {
  all.push(s);
  const client = new Client({ name: 'codemode-faults-e2e', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(s.url, { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }),
  );
  return client;
}

async function healthz(s: Served): Promise<Structured> {
  const res = await fetch(new URL('/healthz', s.url));
  return (await res.json()) as Structured;
}

async function run(client: Client, sessionId: string, code: string): Promise<Structured> {
  const r = await client.callTool({ name: 'execute_code', arguments: { code, session_id: sessionId } });
  return r.structuredContent as Structured;
}

async function history(client: Client, sessionId: string): Promise<Structured[]> {
  const r = await client.callTool({ name: 'get_history', arguments: { session_id: sessionId, limit: 200 } });
  return (r.structuredContent as { executions: Structured[] }).executions;
}

async function stop(s: Served): Promise<void> {
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
  await s.exited;
}

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-faults-'));
  chmodSync(dir, 0o711); // the sandbox user reaches workspaces under it
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('faults: the store on a disk that fills', { skip: isRoot ? false : 'needs root to mount a tmpfs' }, () => {
  let mnt: string;
  let served: Served | undefined;
  before(() => {
    mnt = path.join(dir, 'small');
    mkdirSync(mnt);
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0700', 'tmpfs', mnt]);
    assert.equal(r.status, 0, `mount: ${r.stderr?.toString()}`);
  });
  after(async () => {
    if (served) await stop(served);
    spawnSync('umount', ['-l', mnt]);
  });

  it(
    'replies warn, /healthz is degraded, nothing is lost, and writing resumes when space returns',
    { timeout: 120_000 },
    async () => {
      const db = path.join(mnt, 'codemode.db');
      served = await serve(path.join(dir, 'home-full'), db);
      const client = await connect(served);
      const created = await client.callTool({ name: 'create_session', arguments: { language: 'python' } });
      const id = (created.structuredContent as { session: Structured }).session['id'] as string;
      assert.equal((await run(client, id, 'a = 1')).status, 'ok');
      assert.equal((await healthz(served)).status, 'ok');

      // Fill the tmpfs to the last byte.
      const filler = path.join(mnt, 'filler');
      const chunk = Buffer.alloc(64 * 1024, 1);
      for (let size = chunk.length; size >= 1;) {
        try {
          writeFileSync(filler, chunk.subarray(0, size), { flag: 'a' });
        } catch {
          size >>= 1; // ENOSPC: smaller pieces, down to the last byte
        }
      }

      // Each result still reaches the client; outputs big enough to need new pages.
      const big = (n: number) => `b${n} = 'x' * 200_000\nprint(len(b${n}), ${n})`;
      const r1 = await run(client, id, big(1));
      assert.equal(r1.status, 'ok');
      assert.match(r1.stdout as string, /200000 1/);
      const r2 = await run(client, id, big(2));
      assert.equal(r2.status, 'ok', 'the result reaches the client although its history cannot be written');
      assert.match(
        (r2.warnings as string[] | undefined)?.join('\n') ?? '',
        /history not saved: no space left on device/,
      );
      const r3 = await run(client, id, big(3));
      assert.match(
        (r3.warnings as string[] | undefined)?.join('\n') ?? '',
        /history not saved yet: no space left on device/,
        'while degraded, the very reply says its history is not saved',
      );

      const health = await healthz(served);
      assert.equal(health.status, 'degraded');
      const store = health.store as { failing: { part: string; cause: string }[]; pendingWrites: number };
      assert.match(store.failing.map((f) => `${f.part}: ${f.cause}`).join(), /history: no space left on device/);
      assert.ok(store.pendingWrites > 0);

      const during = await history(client, id);
      assert.deepEqual(
        during.map((e) => [e.code, e.unsaved === undefined ? 'saved' : 'unsaved']),
        [
          ['a = 1', 'saved'],
          [big(1), during[1]!.unsaved === undefined ? 'saved' : 'unsaved'],
          [big(2), 'unsaved'],
          [big(3), 'unsaved'],
        ],
        'every execution is listed; those waiting for the store are marked',
      );
      assert.equal((served.stderr().match(/store degraded: history/g) ?? []).length, 1, 'logged once per cause');

      // Space returns: the kept writes land without a restart.
      rmSync(filler);
      const after = await history(client, id);
      assert.deepEqual(
        after.map((e) => [e.code, e.unsaved]),
        ['a = 1', big(1), big(2), big(3)].map((c) => [c, undefined]),
      );
      assert.equal((await healthz(served)).status, 'ok');
      const r4 = await run(client, id, 'a + 1');
      assert.match((r4.warnings as string[] | undefined)?.join('\n') ?? '', /history saved again/);
      assert.match(served.stderr(), /store recovered: history writes work again/);
      await client.close();
      await stop(served);
      served = undefined;

      // What was stored is intact, read straight from the file.
      const file = new Database(db, { readonly: true });
      const rows = file.prepare('SELECT code, status, stdout FROM executions ORDER BY execution_count').all() as {
        code: string;
        status: string;
        stdout: string;
      }[];
      file.close();
      assert.deepEqual(
        rows.map((r) => [r.code, r.status, r.stdout]),
        [
          ['a = 1', 'ok', ''],
          [big(1), 'ok', '200000 1\n'],
          [big(2), 'ok', '200000 2\n'],
          [big(3), 'ok', '200000 3\n'],
          ['a + 1', 'ok', ''],
        ],
      );
    },
  );
});

describe('faults: a bad database at start', () => {
  for (const [name, spoil] of [
    ['a non-SQLite file', (db: string) => writeFileSync(db, 'id,name\n1,not a database\n'.repeat(100))],
    [
      'a truncated database',
      (db: string) => {
        const d = new Database(db);
        d.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
        d.exec('CREATE TABLE filler (x TEXT)');
        const ins = d.prepare('INSERT INTO filler VALUES (?)');
        for (let i = 0; i < 200; i++) ins.run('y'.repeat(500));
        d.close();
        truncateSync(db, 4096 * 3 + 100);
      },
    ],
  ] as const) {
    it(
      `${name} is refused with a clear message, a copy named, the original untouched`,
      { timeout: 60_000 },
      async () => {
        const home = mkdtempSync(path.join(dir, 'home-bad-'));
        const db = path.join(home, 'bad.db');
        spoil(db);
        const bytes = readFileSync(db);
        const child = spawnCodemode(['serve', '--http', '--port', '0', '--db', db], {
          CODEMODE_HOME: home,
          CODEMODE_TOKEN: TOKEN,
        });
        let stderr = '';
        child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
        const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
        assert.equal(code, 1, stderr);
        assert.match(stderr, /cannot start: the session store .* cannot be used: /);
        assert.match(stderr, /not a SQLite database|damaged|cannot read/);
        assert.match(stderr, /left untouched; a copy was made at /);
        const copy = /a copy was made at (\S+?)\. /.exec(stderr)?.[1];
        assert.ok(copy, stderr);
        assert.deepEqual(readFileSync(db), bytes, 'the original is unchanged');
        assert.deepEqual(readFileSync(copy), bytes, 'the copy is the original');
      },
    );
  }
});

describe('faults: SIGTERM during a long execution', () => {
  it(
    'exits in time; after a restart the session resumes with the interrupted execution in its history',
    { timeout: 120_000 },
    async () => {
      const home = mkdtempSync(path.join(dir, 'home-term-'));
      chmodSync(home, 0o711);
      const db = path.join(home, 'codemode.db');
      const first = await serve(home, db);
      const client = await connect(first);
      const created = await client.callTool({ name: 'create_session', arguments: { language: 'python' } });
      const id = (created.structuredContent as { session: Structured }).session['id'] as string;
      assert.equal((await run(client, id, 'kept = 41')).status, 'ok');
      const long = run(client, id, 'import time\nprint("started", flush=True)\ntime.sleep(120)').catch(
        (e: unknown) => e,
      );
      // Wait until the execution runs (the session is busy).
      for (let i = 0; i < 200; i++) {
        const list = await client.callTool({ name: 'list_sessions', arguments: {} });
        const s = (list.structuredContent as { sessions: Structured[] }).sessions.find((x) => x['id'] === id);
        if (s?.['state'] === 'busy') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const sentAt = Date.now();
      first.child.kill('SIGTERM');
      const code = await first.exited;
      const tookMs = Date.now() - sentAt;
      await long;
      assert.ok(tookMs < 15_000, `exited ${tookMs} ms after SIGTERM`);
      assert.equal(code, 0, first.stderr());
      assert.match(first.stderr(), /shutting down \(SIGTERM\)/);

      const second = await serve(home, db);
      try {
        const c2 = await connect(second);
        const list = await c2.callTool({ name: 'list_sessions', arguments: {} });
        const resumable = (list.structuredContent as { resumable: Structured[] }).resumable;
        assert.ok(
          resumable.some((r) => r['session_id'] === id),
          `resumable: ${JSON.stringify(resumable)}`,
        );
        await c2.callTool({
          name: 'create_session',
          arguments: { language: 'python', resume_session_id: id, replay_history: true },
        });
        const h = await history(c2, id);
        assert.deepEqual(
          h.map((e) => [e.code, e.status]),
          [
            ['kept = 41', 'ok'],
            ['import time\nprint("started", flush=True)\ntime.sleep(120)', 'interrupted'],
          ],
        );
        assert.equal((await run(c2, id, 'kept + 1')).status, 'ok');
        await c2.close();
      } finally {
        await stop(second);
      }
    },
  );
});
