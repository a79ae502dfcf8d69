import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROTOCOL_VERSION } from './protocol.js';
import { formatStatus, type ClusterStatus } from './status.js';

const worker = (
  id: string,
  alive: boolean,
  service?: { requests: number; errors: number },
): ClusterStatus['workers'][number] => ({
  v: PROTOCOL_VERSION,
  id,
  sessions: 2,
  maxSessions: 32,
  runsInFlight: 0,
  freeMemoryBytes: 2 ** 30,
  languages: ['python' as const],
  startedAt: '',
  version: '0.1.0',
  alive,
  lastSeenMs: 1200,
  liveSessions: 2,
  ...(service === undefined ? {} : { service }),
});

const kit = (name: string, installed: boolean) => ({
  name,
  version: '1',
  description: '',
  languages: ['python' as const],
  installed,
  missing: [],
  install: '',
  packages: [],
});

describe('cluster status', () => {
  it('tells a worker that answers as a service from one that only heartbeats (DEAF) and one that stopped (LOST)', () => {
    const status: ClusterStatus = {
      workers: [
        { ...worker('w1', true, { requests: 41, errors: 1 }), kits: [kit('data', true), kit('web', false)] },
        worker('w2', true),
        worker('w3', false),
      ],
      sessions: { live: 4, lost: 2, closed: 0 },
      list: [
        {
          id: 's1',
          owner: 'ann',
          language: 'python',
          worker: 'w1',
          state: 'live',
          executions: 3,
          previousWorkers: ['w3'],
        },
      ],
    };
    const rows = formatStatus(status).split('\n');
    assert.match(rows[0]!, /REQUESTS\s+ERRORS/);
    assert.match(rows[1]!, /^w1\s+up\s+2\/32\s+0\s+1024 MiB\s+41\s+1\s+1\.2 s ago\s+data$/);
    assert.match(rows[2]!, /\s-$/, 'a worker without installed kits');
    assert.match(rows[2]!, /^w2\s+DEAF\s.*\s-\s+-\s/);
    assert.match(rows[3]!, /^w3\s+LOST\s/);
    assert.match(rows[4]!, /4 live, 2 lost/);
    assert.match(rows[6]!, /^SESSION\s+WORKER\s+STATE/);
    assert.match(rows[7]!, /^s1\s+w1\s+live\s+python\s+3\s+ann\s+\(w3\)$/);
  });
});
