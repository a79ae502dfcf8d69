/**
 * Session benchmarks: warm round trip, create + first statement (pooled and
 * cold), idle memory per session, and 50 concurrent sessions, each beside a
 * baseline measured in the same run (a bare /usr/bin/python3 loop over a pipe,
 * no sandbox). Prints a table and returns the numbers.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createProcessSandbox } from '../sandbox/process/process-sandbox.js';
import { SessionManager } from '../sessions/session-manager.js';
import { treeRss } from '../sessions/kernel.js';

const PYTHON = '/usr/bin/python3';
const TRIVIAL = 'x = 1';
const WORK = 'sum(i * i for i in range(200_000))';

export interface SessionsBenchOptions {
  roundTrips?: number;
  creates?: number;
  concurrent?: number;
  unsandboxed?: boolean;
}

interface Stat {
  median: number;
  p99: number;
  n: number;
}

function stat(samples: number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
  return { median: round(at(0.5)), p99: round(at(0.99)), n: s.length };
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** A bare python REPL-style loop: one line of code in, "ok" out. */
const BARE_LOOP =
  'import sys\nns = {}\nfor line in sys.stdin:\n    exec(compile(line, "<bench>", "exec"), ns)\n    sys.stdout.write("ok\\n"); sys.stdout.flush()\n';

class BarePython {
  private readonly child: ChildProcessWithoutNullStreams;
  private waiters: (() => void)[] = [];
  private buffered = '';

  constructor() {
    this.child = spawn(PYTHON, ['-c', BARE_LOOP], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (c: string) => {
      this.buffered += c;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        this.buffered = this.buffered.slice(nl + 1);
        this.waiters.shift()?.();
      }
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  run(code: string): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.child.stdin.write(code.replace(/\n/g, ';') + '\n');
    });
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill('SIGKILL');
  }
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function runSessionsBench(options: SessionsBenchOptions = {}): Promise<object> {
  const roundTrips = options.roundTrips ?? 300;
  const creates = options.creates ?? 10;
  const concurrent = options.concurrent ?? 50;
  const sandbox = await createProcessSandbox({ unsandboxed: options.unsandboxed ?? false });
  const root = mkdtempSync(path.join(os.tmpdir(), 'codemode-sessions-bench-'));
  chmodSync(root, 0o755);
  const manager = new SessionManager({
    sandbox,
    store: null,
    workspaceRoot: path.join(root, 'ws'),
    pool: { python: 2 },
    maxSessions: concurrent + 10,
  });
  const cold = new SessionManager({
    sandbox,
    store: null,
    workspaceRoot: path.join(root, 'ws-cold'),
    pool: false,
    maxSessions: concurrent + 10,
  });
  try {
    // 1. Warm round trip of a trivial statement.
    const s = await manager.create({ language: 'python' });
    for (let i = 0; i < 20; i++) await manager.execute(s.id, TRIVIAL);
    const warm: number[] = [];
    for (let i = 0; i < roundTrips; i++) warm.push(await timeIt(() => manager.execute(s.id, TRIVIAL)));
    const bare = new BarePython();
    await bare.run('pass');
    const bareWarm: number[] = [];
    for (let i = 0; i < roundTrips; i++) bareWarm.push(await timeIt(() => bare.run(TRIVIAL)));
    const bareIdleRss = treeRss(bare.pid);
    bare.close();

    // 1b. 1 MiB write_file / read_file in a live session (through the in-sandbox workspace agent),
    // beside the floor: the same bytes written and read by the host on a local file.
    const mibBytes = new Uint8Array(2 ** 20).fill(7);
    await manager.writeFile(s.id, 'warmup.bin', mibBytes);
    const writes: number[] = [];
    const reads: number[] = [];
    const hostWrites: number[] = [];
    const hostReads: number[] = [];
    const hostFile = path.join(root, 'floor.bin');
    for (let i = 0; i < 50; i++) {
      writes.push(await timeIt(() => manager.writeFile(s.id, 'big.bin', mibBytes)));
      reads.push(await timeIt(() => manager.readFile(s.id, 'big.bin')));
      hostWrites.push(await timeIt(async () => writeFileSync(hostFile, mibBytes)));
      hostReads.push(await timeIt(async () => readFileSync(hostFile)));
    }

    // 2. Create + first statement: from the pool, cold, and a bare python start.
    const pooled: number[] = [];
    const coldTimes: number[] = [];
    const bareStart: number[] = [];
    for (let i = 0; i < creates; i++) {
      await manager.warmPool?.whenFilled();
      let id = '';
      pooled.push(
        await timeIt(async () => {
          id = (await manager.create({ language: 'python' })).id;
          await manager.execute(id, TRIVIAL);
        }),
      );
      await manager.close(id);
      coldTimes.push(
        await timeIt(async () => {
          id = (await cold.create({ language: 'python' })).id;
          await cold.execute(id, TRIVIAL);
        }),
      );
      await cold.close(id);
      bareStart.push(
        await timeIt(async () => {
          const b = new BarePython();
          await b.run(TRIVIAL);
          b.close();
        }),
      );
    }

    // 3. Memory of an idle session (kernel tree RSS, including the sandbox's own processes).
    const idle: number[] = [];
    const idleJs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const py = await cold.create({ language: 'python' });
      await cold.execute(py.id, TRIVIAL);
      idle.push(cold.kernelRssBytes(py.id));
      const js = await cold.create({ language: 'javascript' });
      await cold.execute(js.id, 'const x = 1');
      idleJs.push(cold.kernelRssBytes(js.id));
      await cold.close(py.id);
      await cold.close(js.id);
    }

    // 4. Concurrent sessions each running a small computation.
    const many = await Promise.all(Array.from({ length: concurrent }, () => cold.create({ language: 'python' })));
    const latencies: number[] = [];
    const t0 = performance.now();
    await Promise.all(many.map((m) => timeIt(() => cold.execute(m.id, WORK)).then((ms) => latencies.push(ms))));
    const wall = performance.now() - t0;
    await Promise.all(many.map((m) => cold.close(m.id)));
    const bares = Array.from({ length: concurrent }, () => new BarePython());
    await Promise.all(bares.map((b) => b.run('pass')));
    const bareLat: number[] = [];
    const t1 = performance.now();
    await Promise.all(bares.map((b) => timeIt(() => b.run(WORK)).then((ms) => bareLat.push(ms))));
    const bareWall = performance.now() - t1;
    for (const b of bares) b.close();

    const mib = (b: number) => round(b / 2 ** 20);
    const report = {
      isolation: sandbox.info,
      warmRoundTripMs: { session: stat(warm), baseline: stat(bareWarm), target: '< 2 ms median' },
      file1MiBMs: {
        write: stat(writes),
        read: stat(reads),
        baseline: { write: stat(hostWrites), read: stat(hostReads) },
        target: '< 20 ms median each',
      },
      createFirstStatementMs: {
        pooled: stat(pooled),
        cold: stat(coldTimes),
        baseline: stat(bareStart),
        target: '< 10 ms from the pool',
      },
      idleMemoryMiB: {
        python: round(idle.reduce((a, b) => a + b, 0) / idle.length / 2 ** 20),
        javascript: round(idleJs.reduce((a, b) => a + b, 0) / idleJs.length / 2 ** 20),
        baselinePython: mib(bareIdleRss),
      },
      concurrent: {
        sessions: concurrent,
        wallMs: round(wall),
        throughputPerSec: round((concurrent / wall) * 1000),
        latency: stat(latencies),
        baseline: {
          wallMs: round(bareWall),
          throughputPerSec: round((concurrent / bareWall) * 1000),
          latency: stat(bareLat),
        },
      },
    };
    const rows: [string, string, string][] = [
      [
        'warm round trip (median / p99 ms)',
        `${report.warmRoundTripMs.session.median} / ${report.warmRoundTripMs.session.p99}`,
        `${report.warmRoundTripMs.baseline.median} / ${report.warmRoundTripMs.baseline.p99}`,
      ],
      [
        'write_file 1 MiB (median / p99 ms)',
        `${report.file1MiBMs.write.median} / ${report.file1MiBMs.write.p99}`,
        `${report.file1MiBMs.baseline.write.median} / ${report.file1MiBMs.baseline.write.p99} (host file)`,
      ],
      [
        'read_file 1 MiB (median / p99 ms)',
        `${report.file1MiBMs.read.median} / ${report.file1MiBMs.read.p99}`,
        `${report.file1MiBMs.baseline.read.median} / ${report.file1MiBMs.baseline.read.p99} (host file)`,
      ],
      [
        'create + first stmt, pooled (median / p99 ms)',
        `${report.createFirstStatementMs.pooled.median} / ${report.createFirstStatementMs.pooled.p99}`,
        `${report.createFirstStatementMs.baseline.median} / ${report.createFirstStatementMs.baseline.p99}`,
      ],
      [
        'create + first stmt, cold (median / p99 ms)',
        `${report.createFirstStatementMs.cold.median} / ${report.createFirstStatementMs.cold.p99}`,
        `${report.createFirstStatementMs.baseline.median} / ${report.createFirstStatementMs.baseline.p99}`,
      ],
      ['idle memory, python (MiB)', `${report.idleMemoryMiB.python}`, `${report.idleMemoryMiB.baselinePython}`],
      ['idle memory, javascript (MiB)', `${report.idleMemoryMiB.javascript}`, '-'],
      [
        `${concurrent} concurrent: throughput (runs/s)`,
        `${report.concurrent.throughputPerSec}`,
        `${report.concurrent.baseline.throughputPerSec}`,
      ],
      [
        `${concurrent} concurrent: p99 latency (ms)`,
        `${report.concurrent.latency.p99}`,
        `${report.concurrent.baseline.latency.p99}`,
      ],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length), 6);
    const w1 = Math.max(...rows.map((r) => r[1].length), 7);
    console.log(`${'metric'.padEnd(w0)}  ${'session'.padEnd(w1)}  baseline (bare python3, no sandbox)`);
    for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
    return report;
  } finally {
    await manager.shutdown();
    await cold.shutdown();
    rmSync(root, { recursive: true, force: true });
  }
}
