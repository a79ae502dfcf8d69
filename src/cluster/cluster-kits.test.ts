import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '../errors.js';
import type { KitStatus } from '../sessions/contract.js';
import { clusterKits, lackingKits, workersWith } from './cluster-kits.js';
import type { WorkerState } from './cluster-view.js';
import { PROTOCOL_VERSION } from './protocol.js';

const kit = (name: string, installed: boolean, version = '1'): KitStatus => ({
  name,
  version,
  description: `the ${name} kit`,
  languages: ['python'],
  installed,
  missing: installed ? [] : [`python3-${name}`],
  install: `apt-get install python3-${name}`,
  packages: [{ manager: 'debian', name: `python3-${name}`, version: installed ? version : null }],
});

const worker = (id: string, kits: KitStatus[] | undefined, networks?: string[], alive = true): WorkerState => ({
  heartbeat: {
    v: PROTOCOL_VERSION,
    id,
    sessions: 0,
    maxSessions: 4,
    runsInFlight: 0,
    freeMemoryBytes: 1,
    languages: ['python'],
    startedAt: '2026-01-01T00:00:00Z',
    version: 'test',
    ...(kits === undefined ? {} : { kits }),
    ...(networks === undefined ? {} : { networks }),
  },
  seenAt: 0,
  alive,
});

describe('cluster kits', () => {
  const w1 = worker('w1', [kit('data', true), kit('plot', false)], ['web']);
  const w2 = worker('w2', [kit('data', true), kit('plot', true, '2')]);
  const old = worker('w0', undefined);
  const dead = worker('w9', [kit('secret', true)], ['intranet'], false);

  it('lists the union over live workers, each kit with the workers that have it installed', () => {
    const { kits, networks } = clusterKits([w1, w2, old, dead]);
    assert.deepEqual(
      kits.map((k) => [k.name, k.installed, k.workers]),
      [
        ['data', true, ['w1', 'w2']],
        ['plot', true, ['w2']],
      ],
    );
    // The installed copy describes the kit (its package versions).
    assert.equal(kits.find((k) => k.name === 'plot')?.version, '2');
    assert.deepEqual(networks, ['web']);
  });

  it('places a session needing kits only on workers that have them all, and its network policy', () => {
    assert.deepEqual(
      workersWith([w1, w2, old], { kits: ['data'] }).map((w) => w.heartbeat.id),
      ['w1', 'w2'],
    );
    assert.deepEqual(
      workersWith([w1, w2, old], { kits: ['data', 'plot'] }).map((w) => w.heartbeat.id),
      ['w2'],
    );
    assert.deepEqual(
      workersWith([w1, w2], { network: 'web' }).map((w) => w.heartbeat.id),
      ['w1'],
    );
    assert.equal(workersWith([w1, w2, old], {}).length, 3);
  });

  it('names the missing kit when no live worker has it (a dead worker does not count)', () => {
    assert.equal(lackingKits([w1, w2], { kits: ['plot'] }), null);
    const notInstalled = lackingKits([w1], { kits: ['plot'] });
    assert.ok(isAppError(notInstalled, 'INVALID_ARGUMENT'));
    assert.match(notInstalled.message, /kit "plot" is not installed on any live worker/);
    const unknown = lackingKits([w1, w2, dead], { kits: ['secret'] });
    assert.match(unknown?.message ?? '', /no live worker offers a kit named "secret"/);
    const net = lackingKits([w1, w2], { network: 'intranet' });
    assert.match(net?.message ?? '', /network policy named "intranet"/);
    assert.equal(net?.data?.['argument'], 'network');
    // Each exists somewhere, but not together.
    assert.match(lackingKits([w1, w2], { kits: ['plot'], network: 'web' })?.message ?? '', /no single live worker/);
  });
});
