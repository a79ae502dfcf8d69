/**
 * The cluster's routing overhead: the same cell through a gateway
 * (RemoteSessionService → NATS → worker → kernel, with the worker's
 * checkpoint: workspace archive to the object store, history record to the
 * stream) beside a local SessionManager in this process, interleaved in one
 * run. Also a one-shot run through the queue group beside the local executor,
 * and the checkpoint-free part alone (list_files: one round trip, no kernel).
 * Needs nats-server (scripts/setup.sh). Not in src/bench/index.ts yet.
 */
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processIO } from '../cli/io.js';
import { defaultRuntime, parseServeArgs } from '../cli/commands/serve.js';
import { startLocalCluster } from '../cluster/local-cluster.js';
import { RemoteExecutor } from '../cluster/remote-executor.js';
import { RemoteSessionService } from '../cluster/remote-sessions.js';
import { interleave, makeRow, type ReportRow } from './report.js';

export interface ClusterBenchOptions {
  rounds?: number;
  log?: (m: string) => void;
}

export async function runClusterBench(options: ClusterBenchOptions = {}): Promise<{ rows: ReportRow[] }> {
  const rounds = options.rounds ?? 20;
  const progress = options.log ?? (() => {});
  const home = mkdtempSync(path.join(os.tmpdir(), 'codemode-bench-cluster-'));
  chmodSync(home, 0o711); // the sandbox users reach the local workspaces under it
  const cluster = await startLocalCluster({ workerIds: ['w1'], gatewayIds: ['g1'] });
  const env = { ...process.env, CODEMODE_HOME: home };
  const io = { ...processIO(), env };
  const local = await defaultRuntime(parseServeArgs(['--no-store'], env), io, () => {});
  let remote: RemoteSessionService | undefined;
  try {
    progress('starting a worker');
    await cluster.startWorker('w1');
    const link = await cluster.gatewayLink('g1');
    remote = await RemoteSessionService.open({ link, maxWallMs: 60_000 });
    const gateway = remote;
    const executor = new RemoteExecutor(link, 60_000);
    for (let i = 0; i < 100 && !gateway.view.workers().some((w) => w.alive); i++) await sleep(100);
    const rows: ReportRow[] = [];

    for (const language of ['python', 'bash'] as const) {
      const code = language === 'python' ? 'x = 1 + 1' : 'x=$((1+1))';
      progress(`${language}: creating sessions`);
      const r = await gateway.create({ language, owner: 'bench' });
      const l = await local.sessions.create({ language, owner: 'bench' });
      const cell = await interleave(
        () => gateway.execute(r.id, code, { owner: 'bench' }),
        () => local.sessions.execute(l.id, code, { owner: 'bench' }),
        rounds,
      );
      rows.push(
        makeRow(
          `${language} cell via gateway (incl. checkpoint)`,
          cell.subject,
          cell.floor,
          { kind: 'info' },
          {
            n: rounds,
          },
        ),
      );
      progress(`${language}: cells done`);
      const files = await interleave(
        () => gateway.listFiles(r.id, '', 'bench'),
        () => local.sessions.listFiles(l.id, '', 'bench'),
        rounds,
      );
      rows.push(
        makeRow(`${language} list_files via gateway`, files.subject, files.floor, { kind: 'info' }, { n: rounds }),
      );
      await gateway.close(r.id, 'bench');
      await local.sessions.close(l.id, 'bench');
    }
    const oneShot = await interleave(
      () => executor.run({ language: 'bash', code: 'echo hi' }),
      () => local.executor.run({ language: 'bash', code: 'echo hi' }),
      Math.ceil(rounds / 2),
    );
    rows.push(makeRow('one-shot bash via queue group', oneShot.subject, oneShot.floor, { kind: 'info' }));
    return { rows };
  } finally {
    await remote?.shutdown();
    await local.close();
    await cluster.stop();
    rmSync(home, { recursive: true, force: true, maxRetries: 3 });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const isEntry = process.argv[1] !== undefined && import.meta.url.endsWith(path.basename(process.argv[1]));
if (isEntry) {
  const { formatTable } = await import('./report.js');
  const { rows } = await runClusterBench({ log: (m) => process.stderr.write(`${m}\n`) });
  process.stdout.write(`${formatTable(rows)}\n`);
}
