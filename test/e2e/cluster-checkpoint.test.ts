/**
 * Checkpoints of large workspaces on a cluster worker: after an execution a
 * workspace over `--checkpoint-large-mib` is saved at most every
 * `--checkpoint-every-ms`, while its history record is saved at once. A worker
 * killed in between loses nothing: the session resumes elsewhere from the last
 * saved workspace and replays its history. A worker stopped on purpose saves
 * what it deferred first. One NATS server, real `codemode worker` processes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startLocalCluster, type LocalCluster } from '../../src/cluster/local-cluster.js';
import { openLink, type Link } from '../../src/cluster/link.js';
import { workerInbox } from '../../src/cluster/nats-config.js';
import { RemoteSessionService } from '../../src/cluster/remote-sessions.js';
import { checkpointDelay } from '../../src/cluster/worker.js';
import { isAppError } from '../../src/errors.js';

describe('checkpointDelay: when a workspace is saved after an execution', () => {
  const schedule = { largeBytes: 1000, everyMs: 5000 };
  it('saves a small workspace, or one never saved, at once', () => {
    assert.equal(checkpointDelay(undefined, 10_000, schedule), 0);
    assert.equal(checkpointDelay({ bytes: 999, at: 9_999 }, 10_000, schedule), 0);
  });
  it('saves a large one at most every everyMs: the rest of the interval, or at once when it is over', () => {
    assert.equal(checkpointDelay({ bytes: 1000, at: 9_000 }, 10_000, schedule), 4000);
    assert.equal(checkpointDelay({ bytes: 5000, at: 4_000 }, 10_000, schedule), 0);
  });
});

// Large above 1 MiB; deferred for a minute, so no timer fires during the test: what is saved is what we cause.
const WORKER_ARGS = ['--checkpoint-large-mib', '1', '--checkpoint-every-ms', '60000'];

let cluster: LocalCluster;
let reader: Link;
let gateway: RemoteSessionService;

async function savedAt(sessionId: string): Promise<string> {
  const info = await reader.workspaces.info(sessionId);
  assert.ok(info !== null, `a checkpoint of ${sessionId}`);
  return `${info.mtime} ${info.nuid}`;
}

/** Retry what the cluster reports as retryable (a failover in progress). */
async function retrying<T>(work: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await work();
    } catch (e) {
      if (i >= 40 || !(isAppError(e) && e.data?.['retryable'] === true)) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

describe('large workspaces on a cluster worker', { timeout: 150_000 }, () => {
  before(async () => {
    cluster = await startLocalCluster({ servers: 1, workerIds: ['w1', 'w2'], gatewayIds: ['g1'] });
    await cluster.startWorker('w1', {}, WORKER_ARGS);
    gateway = await RemoteSessionService.open({ link: await cluster.gatewayLink('g1'), maxWallMs: 30_000 });
    // Gateways may not read checkpoints (least privilege); the test reads them as worker w1's user.
    const w1 = cluster.users.workers.find((w) => w.id === 'w1')!;
    reader = await openLink({
      servers: cluster.urls,
      name: 'checkpoint reader',
      credentials: { user: w1.user, pass: w1.pass },
      inboxPrefix: workerInbox('w1'),
      replicas: 1,
    });
  });

  after(async () => {
    await gateway?.shutdown();
    await reader?.close();
    await cluster?.stop();
  });

  it('defers the workspace of a large session, and a worker killed meanwhile loses nothing', async () => {
    const s = await gateway.create({ language: 'python', owner: 'ann' });
    // 1.5 MiB that does not compress: the archive is over the 1 MiB mark. A file write is saved at once.
    const big = randomBytes(1536 * 1024);
    await gateway.writeFile(s.id, 'big.bin', big, 'ann');
    const afterWrite = await savedAt(s.id);

    const r = await gateway.execute(s.id, 'x = 41\nopen("out.txt", "w").write(str(x + 1))', { owner: 'ann' });
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(await savedAt(s.id), afterWrite, 'the execution did not wait for a new workspace archive');

    // Killed before the deferred save: w2 takes the session from the last archive and replays the history.
    cluster.workers.get('w1')!.kill('SIGKILL');
    await cluster.startWorker('w2', {}, WORKER_ARGS);
    const back = await retrying(() =>
      gateway.execute(s.id, 'print(x, open("out.txt").read(), len(open("big.bin", "rb").read()))', { owner: 'ann' }),
    );
    assert.equal(back.status, 'ok', back.stderr);
    assert.equal(back.stdout, `41 42 ${big.length}\n`);
    assert.equal(gateway.view.session(s.id)?.record.worker, 'w2');
    assert.equal(Buffer.compare(Buffer.from(await gateway.readFile(s.id, 'big.bin', 'ann')), big), 0);

    // A worker stopped on purpose saves what it deferred before it goes.
    const beforeStop = await savedAt(s.id);
    const r2 = await gateway.execute(s.id, 'y = 2', { owner: 'ann' });
    assert.equal(r2.status, 'ok', r2.stderr);
    assert.equal(await savedAt(s.id), beforeStop, 'deferred on w2 too');
    const w2 = cluster.workers.get('w2')!;
    const exited = new Promise((resolve) => w2.once('exit', resolve));
    w2.kill('SIGTERM');
    await exited;
    assert.notEqual(await savedAt(s.id), beforeStop, 'saved at the stop');
  });
});
