import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError, isAppError } from '../errors.js';
import type { Language } from '../sandbox/executor.js';
import { placeSession, type WorkerState } from './cluster-view.js';
import { gatewayPermissions, natsServerConfig, workerPermissions } from './nats-config.js';
import {
  errorToFrame,
  frameToError,
  parseFrame,
  PROTOCOL_VERSION,
  replyFrameSchema,
  sessionRequestSchema,
} from './protocol.js';

const worker = (
  id: string,
  sessions: number,
  alive = true,
  languages: readonly Language[] = ['python', 'bash'],
): WorkerState => ({
  heartbeat: {
    v: PROTOCOL_VERSION,
    id,
    sessions,
    maxSessions: 10,
    runsInFlight: 0,
    freeMemoryBytes: 1,
    languages: [...languages],
    startedAt: '',
    version: '0',
  },
  seenAt: 0,
  alive,
});

describe('cluster protocol', () => {
  it('carries the replayOnly counts of a restart, and refuses counts that are not positive integers', () => {
    const ok = sessionRequestSchema.parse({ op: 'restart', sessionId: 's1', owner: 'p', replayOnly: [1, 3] });
    assert.deepEqual(ok, { op: 'restart', sessionId: 's1', owner: 'p', replayOnly: [1, 3] });
    for (const replayOnly of [[0], [-1], [1.5], ['1']]) {
      const parsed = sessionRequestSchema.safeParse({ op: 'restart', sessionId: 's1', owner: 'p', replayOnly });
      assert.equal(parsed.success, false, JSON.stringify(replayOnly));
    }
  });

  it('rejects session ids that could address other subjects (dots, wildcards)', () => {
    for (const sessionId of ['a.b', 'a*', '>', 'x y', '', 'a'.repeat(65)]) {
      const parsed = sessionRequestSchema.safeParse({ op: 'readFile', sessionId, owner: 'p', path: 'f' });
      assert.equal(parsed.success, false, sessionId);
    }
    assert.equal(
      sessionRequestSchema.safeParse({ op: 'readFile', sessionId: 'c0ffee', owner: 'p', path: 'f' }).success,
      true,
    );
  });

  it('rejects unknown ops and frames of another version', () => {
    assert.equal(sessionRequestSchema.safeParse({ op: 'shell', sessionId: 'a', owner: 'p' }).success, false);
    assert.throws(
      () => parseFrame(replyFrameSchema, { v: 2, ok: true, result: 1 }, 'reply'),
      (e) => isAppError(e, 'INTERNAL') && /malformed reply frame/.test(e.message),
    );
  });

  it('carries our error codes across, and turns anything else into INTERNAL without its message', () => {
    const frame = errorToFrame(new AppError('NOT_FOUND', 'no session x', { id: 'x' }));
    assert.ok(!frame.ok);
    const back = frameToError(frame as Extract<typeof frame, { ok: false }>);
    assert.equal(back.code, 'NOT_FOUND');
    assert.deepEqual(back.data, { id: 'x' });
    const internal = errorToFrame(new Error('/secret/host/path exploded'));
    assert.deepEqual(internal, { v: 1, ok: false, error: { code: 'INTERNAL', message: 'the worker failed' } });
  });
});

describe('placement', () => {
  it('places on the live worker with the most free slots that runs the language', () => {
    const ws = [worker('a', 2), worker('b', 1), worker('c', 0, false), worker('d', 0, true, ['bash'])];
    assert.equal(placeSession(ws, 'python')?.heartbeat.id, 'b');
    assert.equal(placeSession(ws, 'python', new Set(['b']))?.heartbeat.id, 'a');
    assert.equal(placeSession(ws, 'bash')?.heartbeat.id, 'd');
  });

  it('returns null when no live worker has room', () => {
    assert.equal(placeSession([worker('a', 10), worker('b', 0, false)], 'python'), null);
    assert.equal(placeSession([], 'python'), null);
  });

  it('breaks ties at random so that gateways placing at once spread', () => {
    const ws = [worker('a', 1), worker('b', 1)];
    assert.equal(placeSession(ws, 'python', new Set(), () => 0)?.heartbeat.id, 'a');
    assert.equal(placeSession(ws, 'python', new Set(), () => 0.99)?.heartbeat.id, 'b');
  });
});

describe('nats-server permissions', () => {
  it('lets a worker subscribe to its own session subject only, and write only its own heartbeat', () => {
    const p = workerPermissions('w1');
    assert.ok(p.subscribe.includes('codemode.worker.w1.session'));
    assert.ok(!p.subscribe.some((s) => s.startsWith('codemode.worker.') && s !== 'codemode.worker.w1.session'));
    assert.ok(p.publish.includes('$KV.codemode_workers.w1'));
    assert.ok(!p.publish.some((s) => s.startsWith('$KV.codemode_workers.') && s !== '$KV.codemode_workers.w1'));
  });

  it('lets a gateway send to workers but never answer as one', () => {
    const p = gatewayPermissions('g1');
    assert.ok(p.publish.includes('codemode.worker.*.session'));
    assert.ok(!p.subscribe.some((s) => s.startsWith('codemode.worker') || s === 'codemode.run'));
  });

  it('writes a server config with every user and its permissions', () => {
    const text = natsServerConfig({
      name: 'n0',
      host: '127.0.0.1',
      port: 4222,
      clusterPort: 6222,
      routes: ['127.0.0.1:6223'],
      routeAuth: { user: 'route', pass: 'route-secret-0123456789' },
      storeDir: '/var/lib/nats',
      users: {
        workers: [{ id: 'w1', user: 'worker-w1', pass: 'p"ss' }],
        gateways: [{ id: 'g1', user: 'gw', pass: 'x' }],
      },
    });
    assert.match(text, /user: "worker-w1", password: "p\\"ss"/);
    assert.match(text, /subscribe: \{ allow: \["codemode\.worker\.w1\.session"/);
    assert.match(text, /routes: \["nats-route:\/\/route:route-secret-0123456789@127\.0\.0\.1:6223"\]/);
    assert.match(text, /authorization \{ user: "route", password: "route-secret-0123456789"/);
    assert.match(text, /allow_responses: true/);
  });
});
