/**
 * Session benchmarks, each subject beside its floor, sampled interleaved in
 * this process (src/bench/report.ts): the warm round trip (Kernel.run and
 * SessionManager.execute) against a Python REPL over a pipe inside bwrap;
 * create + first statement from the pool (creates back to back, never waiting
 * for the pool to refill) and cold, against a python start inside bwrap;
 * 1 MiB write_file/read_file against a host file; idle memory and 50
 * concurrent sessions against bare python3 (JSON detail, info rows).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_LIMITS } from '../sandbox/limits.js';
import { findExecutable } from '../sandbox/process/host-probe.js';
import { createProcessSandbox } from '../sandbox/process/process-sandbox.js';
import { Kernel, treeRss } from '../sessions/kernel.js';
import { SessionManager } from '../sessions/session-manager.js';
import { minimalBwrapArgs } from './floors.js';
import { interleave, makeRow, round, stats, type ReportRow, type SubjectFilter } from './report.js';

const PYTHON = '/usr/bin/python3';
const TRIVIAL = 'x = 1';
const WORK = 'sum(i * i for i in range(200_000))';

export interface SessionsBenchOptions {
  /** Warm round trips per subject (p99 needs 200+). Default 400. */
  roundTrips?: number;
  creates?: number;
  concurrent?: number;
  unsandboxed?: boolean;
  /** Which subjects to measure (`--only`). Default: all. */
  only?: SubjectFilter;
}

/** A python REPL-style loop: one line of code in, "ok" out. */
const REPL_LOOP =
  'import sys\nns = {}\nfor line in sys.stdin:\n    exec(compile(line, "<bench>", "exec"), ns)\n    sys.stdout.write("ok\\n"); sys.stdout.flush()\n';

/** The same loop in Node: the floor of a JavaScript kernel's round trip. */
const NODE_REPL_LOOP =
  'const vm = require("vm"); let b = ""; process.stdin.setEncoding("utf8").on("data", (c) => { b += c; let i; ' +
  'while ((i = b.indexOf("\\n")) >= 0) { vm.runInThisContext(b.slice(0, i)); b = b.slice(i + 1); process.stdout.write("ok\\n"); } });';

/** The minimal bwrap around python (or node): the floor of anything sandboxed here. */
function floorArgv(bwrap: string | null, pythonArgs: string[], interpreter = PYTHON): [string, string[]] {
  if (!bwrap) return [interpreter, pythonArgs];
  return [bwrap, [...minimalBwrapArgs(), interpreter, ...pythonArgs]];
}

class Repl {
  private readonly child: ChildProcessWithoutNullStreams;
  private waiters: (() => void)[] = [];
  private buffered = '';

  constructor(argv: [string, string[]]) {
    this.child = spawn(argv[0], argv[1], { stdio: ['pipe', 'pipe', 'pipe'] });
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

export interface SessionsBenchReport {
  rows: ReportRow[];
  detail: Record<string, unknown>;
}

export async function runSessionsBench(options: SessionsBenchOptions = {}): Promise<SessionsBenchReport> {
  const roundTrips = options.roundTrips ?? 400;
  const creates = options.creates ?? 20;
  const concurrent = options.concurrent ?? 50;
  const bwrap = options.unsandboxed ? null : findExecutable('bwrap');
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
  const rows: ReportRow[] = [];
  const detail: Record<string, unknown> = { isolation: sandbox.info };
  const want = options.only ?? (() => true);
  let kernel: Kernel | undefined;
  try {
    // 1. Warm round trip: the engine alone and through the session manager, each beside the REPL floor.
    const warmRows = [
      'warm Kernel.run("x = 1")',
      'warm SessionManager.execute',
      'warm execute("print(1)")',
      'warm javascript Kernel.run("x = 1")',
      'warm javascript execute("console.log(1)")',
    ];
    const kdir = path.join(root, 'kernel');
    mkdirSync(kdir);
    chmodSync(kdir, 0o777);
    if (warmRows.slice(0, 3).some(want)) {
      const floor = new Repl(floorArgv(bwrap, ['-c', REPL_LOOP]));
      await floor.run('pass');
      kernel = await Kernel.start({ sandbox, language: 'python', workspaceDir: kdir, limits: DEFAULT_LIMITS });
      let cell = 0;
      const k = kernel;
      if (want(warmRows[0]!)) {
        const engine = await interleave(
          () => k.run({ code: TRIVIAL, cell: ++cell, limits: DEFAULT_LIMITS }),
          () => floor.run(TRIVIAL),
          roundTrips,
          30,
        );
        rows.push(makeRow(warmRows[0]!, engine.subject, engine.floor, { kind: 'plus', ms: 0.4 }));
      }
      const s = await manager.create({ language: 'python' });
      if (want(warmRows[1]!)) {
        const warm = await interleave(
          () => manager.execute(s.id, TRIVIAL),
          () => floor.run(TRIVIAL),
          roundTrips,
          30,
        );
        rows.push(makeRow(warmRows[1]!, warm.subject, warm.floor, { kind: 'plus', ms: 0.4 }));
      }
      if (want(warmRows[2]!)) {
        const printed = await interleave(
          () => manager.execute(s.id, 'print(1)'),
          () => floor.run('print(1)'),
          roundTrips,
          30,
        );
        rows.push(makeRow(warmRows[2]!, printed.subject, printed.floor, { kind: 'plus', ms: 0.4 }));
      }
      detail.floorIdleRssBytes = treeRss(floor.pid);
      floor.close();
      await kernel.close();
      kernel = undefined;
    }
    // The JavaScript kernel beside a Node read-eval loop in the same minimal bwrap.
    if (warmRows.slice(3).some(want)) {
      const floor = new Repl(floorArgv(bwrap, ['-e', NODE_REPL_LOOP], process.execPath));
      await floor.run('0');
      kernel = await Kernel.start({ sandbox, language: 'javascript', workspaceDir: kdir, limits: DEFAULT_LIMITS });
      let cell = 0;
      const k = kernel;
      if (want(warmRows[3]!)) {
        const engine = await interleave(
          () => k.run({ code: 'x = 1', cell: ++cell, limits: DEFAULT_LIMITS }),
          () => floor.run('x = 1'),
          roundTrips,
          30,
        );
        rows.push(makeRow(warmRows[3]!, engine.subject, engine.floor, { kind: 'plus', ms: 0.4 }));
      }
      if (want(warmRows[4]!)) {
        const js = await manager.create({ language: 'javascript' });
        const printed = await interleave(
          () => manager.execute(js.id, 'console.log(1)'),
          () => floor.run('console.log(1)'),
          roundTrips,
          30,
        );
        rows.push(makeRow(warmRows[4]!, printed.subject, printed.floor, { kind: 'plus', ms: 0.4 }));
        await manager.close(js.id);
      }
      floor.close();
    }

    // 2. 1 MiB write_file / read_file through the in-sandbox workspace agent, beside a host file.
    if (want('write_file 1 MiB') || want('read_file 1 MiB')) {
      const s = await manager.create({ language: 'python' });
      const mibBytes = new Uint8Array(2 ** 20).fill(7);
      const hostFile = path.join(root, 'floor.bin');
      const writes = await interleave(
        () => manager.writeFile(s.id, 'big.bin', mibBytes),
        async () => writeFileSync(hostFile, mibBytes),
        50,
        3,
      );
      rows.push(makeRow('write_file 1 MiB', writes.subject, writes.floor, { kind: 'under', ms: 20 }));
      const reads = await interleave(
        () => manager.readFile(s.id, 'big.bin'),
        async () => readFileSync(hostFile),
        50,
        3,
      );
      rows.push(makeRow('read_file 1 MiB', reads.subject, reads.floor, { kind: 'under', ms: 20 }));
      await manager.close(s.id);
    }

    // 3. Create + first statement. Pooled: creates back to back, as a burst of clients would make them
    // (a create that finds the pool empty pays the cold path and is counted). Floor: python started in bwrap.
    if (want('create + first stmt')) {
      const startFloor = () =>
        timeIt(
          () =>
            new Promise<void>((resolve) => {
              const [cmd, args] = floorArgv(bwrap, ['-c', TRIVIAL]);
              spawn(cmd, args, { stdio: 'ignore' }).on('exit', () => resolve());
            }),
        );
      const pooled: number[] = [];
      const coldTimes: number[] = [];
      const floorStarts: number[] = [];
      await manager.warmPool?.whenFilled(); // full once at the start; never waited for again
      for (let i = 0; i < creates; i++) {
        let id = '';
        const order = i % 2 === 0;
        if (!order) floorStarts.push(await startFloor());
        pooled.push(
          await timeIt(async () => {
            id = (await manager.create({ language: 'python' })).id;
            await manager.execute(id, TRIVIAL);
          }),
        );
        await manager.close(id);
        if (order) floorStarts.push(await startFloor());
        coldTimes.push(
          await timeIt(async () => {
            id = (await cold.create({ language: 'python' })).id;
            await cold.execute(id, TRIVIAL);
          }),
        );
        await cold.close(id);
      }
      rows.push(
        makeRow('create + first stmt, pooled (one per cold start)', pooled, floorStarts, { kind: 'ratio', max: 1 }),
      );
      rows.push(makeRow('create + first stmt, cold', coldTimes, floorStarts, { kind: 'info' }));
      // A burst: creates back to back, the pool never waited for; empty-pool creates pay the cold path.
      const burst: number[] = [];
      for (let i = 0; i < creates; i++) {
        let id = '';
        burst.push(
          await timeIt(async () => {
            id = (await manager.create({ language: 'python' })).id;
            await manager.execute(id, TRIVIAL);
          }),
        );
        await manager.close(id);
      }
      rows.push(
        makeRow(`create + first stmt, pooled, burst of ${creates}`, burst, floorStarts, { kind: 'ratio', max: 1 }),
      );
    }

    // 4. Memory of an idle session (kernel tree RSS, the sandbox's own processes included).
    if (!options.only) {
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
      detail.idleMemoryMiB = {
        python: round(idle.reduce((a, b) => a + b, 0) / idle.length / 2 ** 20),
        javascript: round(idleJs.reduce((a, b) => a + b, 0) / idleJs.length / 2 ** 20),
        floorPython: round(Number(detail.floorIdleRssBytes) / 2 ** 20),
      };
    }

    // 5. Concurrent sessions each running a small computation, beside as many REPLs in bwrap.
    if (want('concurrent sessions')) {
      const many = await Promise.all(Array.from({ length: concurrent }, () => cold.create({ language: 'python' })));
      const latencies: number[] = [];
      const t0 = performance.now();
      await Promise.all(many.map((m) => timeIt(() => cold.execute(m.id, WORK)).then((ms) => latencies.push(ms))));
      const wall = performance.now() - t0;
      await Promise.all(many.map((m) => cold.close(m.id)));
      const repls = Array.from({ length: concurrent }, () => new Repl(floorArgv(bwrap, ['-c', REPL_LOOP])));
      await Promise.all(repls.map((b) => b.run('pass')));
      const floorLat: number[] = [];
      const t1 = performance.now();
      await Promise.all(repls.map((b) => timeIt(() => b.run(WORK)).then((ms) => floorLat.push(ms))));
      const floorWall = performance.now() - t1;
      for (const b of repls) b.close();
      rows.push(makeRow(`${concurrent} concurrent sessions, wall`, [wall], [floorWall], { kind: 'info' }));
      detail.concurrent = { sessions: concurrent, latency: stats(latencies), floorLatency: stats(floorLat) };
    }
    return { rows, detail };
  } finally {
    await kernel?.close();
    await manager.shutdown();
    await cold.shutdown();
    rmSync(root, { recursive: true, force: true });
  }
}
