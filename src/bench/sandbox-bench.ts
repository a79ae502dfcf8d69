/**
 * Cold-start benchmark of the OS sandbox: a trivial program per language run
 * through the full one-shot executor, against the bare interpreter spawned in
 * the same loop (interleaved, so both see the same noise). Also measures each
 * layer of the launch chain on /bin/true and times the executor's phases, so a
 * miss of the overhead target says where the time went. Returns the numbers.
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecRequest, ExecResult, Language } from '../sandbox/executor.js';
import { DEFAULT_LIMITS } from '../sandbox/limits.js';
import { BASE_ENV, buildBwrapArgs } from '../sandbox/process/bwrap-args.js';
import { RunCgroups, detectCgroups } from '../sandbox/process/cgroups.js';
import { findExecutable, findInterpreters, interpreterDirs, systemLayout } from '../sandbox/process/host-probe.js';
import { NO_PRESTART, ProcessExecutor } from '../sandbox/process/process-executor.js';
import { createProcessSandbox } from '../sandbox/process/process-sandbox.js';
import { buildSeccompFilter } from '../sandbox/process/seccomp.js';
import type { Sandbox, SandboxProcess, SpawnSpec } from '../sandbox/sandbox.js';
import { transpileTypeScript } from '../sandbox/transpile.js';
import { walkWorkspace } from '../sandbox/workspace/host-fs.js';
import { minimalBwrapArgs } from './floors.js';
import { interleave, makeRow, median, quantile, round, type ReportRow, type SubjectFilter } from './report.js';

/** Overhead per cold run over the interpreter in a minimal bwrap (measured beside it), we aim to stay under. */
export const OVERHEAD_TARGET_MS = 25;

export interface SandboxBenchOptions {
  /** Measured runs per case (after one warm-up). Default 20. */
  runs?: number;
  /** Print tables and notes. Default true. */
  print?: boolean;
  /** Which subjects to measure (`--only`). Default: all (and the layer and phase breakdowns). */
  only?: SubjectFilter;
}

export interface LayerRow {
  layer: string;
  medianMs: number;
  p90Ms: number;
  minMs: number;
  /** Median minus the previous layer's median. */
  addedMs: number;
}

/** Median time of each phase of ProcessExecutor.run, measured by wrapping the sandbox. */
export interface PhaseRow {
  language: Language;
  /** validate, resolve limits, transpile (TS), mkdtemp x2, write code files. */
  prepareMs: number;
  /** Sandbox.spawn: cgroup mkdir + limits, seccomp fd, child_process.spawn. */
  spawnMs: number;
  /** From spawn() returning until the process tree has exited and its pipes closed. */
  runMs: number;
  /** proc.dispose(): cgroup kill + rmdir. */
  disposeMs: number;
  /** walkWorkspace + removing the workspace and code dirs. */
  cleanupMs: number;
  totalMs: number;
}

export interface SandboxBenchReport {
  runs: number;
  targetMs: number;
  host: { node: string; arch: string; kernel: string; cpus: number; uid: number | null };
  isolation: Sandbox['info'];
  /** subject, floor, median, ratio, target, verdict (the bench table). */
  rows: ReportRow[];
  layers: LayerRow[];
  phases: PhaseRow[];
  /** Extra single-factor measurements and ablations (ms). */
  factors: Record<string, { medianMs: number; minMs: number }>;
}

const TRIVIAL: Record<Language, string> = {
  python: 'pass',
  javascript: '0',
  typescript: 'const x: number = 0',
  bash: 'true',
};

/**
 * The environment bare interpreters get: the sandbox's own clean one, so the
 * comparison is fair. (The host's env can dominate: NODE_EXTRA_CA_CERTS makes
 * every `node -e 0` parse a CA bundle, ~150 ms on a loaded host.)
 */
const BARE_ENV: NodeJS.ProcessEnv = { ...BASE_ENV, HOME: os.tmpdir() };

/** Spawn a command, discard its output, resolve with the wall time in ms. Rejects on a non-zero exit. */
function timeSpawn(cmd: string, args: string[], extraFd?: number, env: NodeJS.ProcessEnv = BARE_ENV): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'ignore', 'pipe'];
    if (extraFd !== undefined) stdio.push(extraFd);
    const child = spawn(cmd, args, { stdio, env });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-500)));
    child.stderr?.on('error', () => {}); // only for the failure message
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
      else reject(new Error(`${cmd} ${args.slice(-3).join(' ')} exited with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}

/** Wraps a sandbox to time its spawn, the process lifetime and dispose, without changing behaviour. */
class TimedSandbox implements Sandbox {
  readonly info: Sandbox['info'];
  last = { spawnStart: 0, spawnEnd: 0, exited: 0, disposeStart: 0, disposeEnd: 0 };

  constructor(private readonly inner: Sandbox) {
    this.info = inner.info;
  }

  acquireUid(preferred?: number): number {
    return this.inner.acquireUid(preferred);
  }

  releaseUid(uid: number): void {
    this.inner.releaseUid(uid);
  }

  async spawn(spec: SpawnSpec): Promise<SandboxProcess> {
    const t = this.last;
    t.spawnStart = performance.now();
    const proc = await this.inner.spawn(spec);
    t.spawnEnd = performance.now();
    const exited = proc.exited.then((e) => {
      t.exited = performance.now();
      return e;
    });
    const dispose = async () => {
      t.disposeStart = performance.now();
      await proc.dispose();
      t.disposeEnd = performance.now();
    };
    return Object.assign(Object.create(proc) as SandboxProcess, { exited, dispose });
  }
}

export async function runSandboxBench(options: SandboxBenchOptions = {}): Promise<SandboxBenchReport> {
  const runs = Math.max(1, Math.floor(options.runs ?? 20));
  const print = options.print ?? true;
  const log = (...args: unknown[]) => {
    if (print) console.log(...args);
  };
  const interpreters = findInterpreters();
  const python = interpreters.python ?? '/usr/bin/python3';
  const bash = interpreters.bash ?? '/bin/bash';
  const node = process.execPath;
  const bwrap = findExecutable('bwrap');

  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'codemode-bench-'));
  // The sandbox user must traverse it to reach the generated /etc files and its workspace.
  chmodSync(stateDir, 0o755);
  const timed = new TimedSandbox(await createProcessSandbox({ stateDir: path.join(stateDir, 'state') }));
  const executor = new ProcessExecutor(timed, { prestart: NO_PRESTART });
  // The same sandbox with runners started ahead of each run (the server's default).
  const prestarted = new ProcessExecutor(await createProcessSandbox({ stateDir: path.join(stateDir, 'state2') }));

  const interp: Record<Language, [string, string[]]> = {
    python: [python, ['-c', 'pass']],
    javascript: [node, ['-e', '0']],
    typescript: [node, ['-e', '0']],
    bash: [bash, ['-c', 'true']],
  };
  /** The floor of a cold run: the interpreter inside a minimal bwrap. */
  const coldFloor = (language: Language) =>
    bwrap
      ? timeSpawn(bwrap, [...MINIMAL_BWRAP, interp[language][0], ...interp[language][1]])
      : timeSpawn(...interp[language]);
  /**
   * The floor of a pre-started run: an interpreter already started inside a
   * minimal bwrap, waiting on its stdin for the code (started before the clock,
   * as our runners are); timed from handing it the code until it has exited.
   */
  const warmFloor = async (language: Language): Promise<number> => {
    const [cmd, args] = WARM_FLOOR[language](python, node, bash);
    const argv = bwrap ? ([bwrap, [...MINIMAL_BWRAP, cmd, ...args]] as const) : ([cmd, args] as const);
    const child = spawn(argv[0], [...argv[1]], { stdio: ['pipe', 'pipe', 'ignore'], env: BARE_ENV });
    // The floor may exit before its pipes are drained; its exit is what is timed.
    child.stdin.on('error', () => {});
    child.stdout.on('error', () => {});
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const t0 = performance.now();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.stdin.end(TRIVIAL[language === 'typescript' ? 'javascript' : language]);
    await exited;
    return performance.now() - t0;
  };
  const want = options.only ?? (() => true);
  const coldSubject = (language: Language) => `one-shot ${language}, cold`;
  const warmSubject = (language: Language) => `one-shot ${language}, pre-started`;
  const languages = (Object.keys(TRIVIAL) as Language[]).filter((l) => want(coldSubject(l)) || want(warmSubject(l)));
  const phases: Record<string, Record<keyof Omit<PhaseRow, 'language'>, number[]>> = {};

  const runOnce = async (language: Language): Promise<number> => {
    const t0 = performance.now();
    const r: ExecResult = await executor.run({ language, code: TRIVIAL[language] });
    const t1 = performance.now();
    if (r.status !== 'ok')
      throw new Error(`sandboxed ${language} run failed: ${r.status} ${r.reason ?? ''} ${r.stderr}`);
    const t = timed.last;
    const p = (phases[language] ??= {
      prepareMs: [],
      spawnMs: [],
      runMs: [],
      disposeMs: [],
      cleanupMs: [],
      totalMs: [],
    });
    p.prepareMs.push(t.spawnStart - t0);
    p.spawnMs.push(t.spawnEnd - t.spawnStart);
    p.runMs.push(t.exited - t.spawnEnd);
    p.disposeMs.push(t.disposeEnd - t.disposeStart);
    p.cleanupMs.push(t1 - t.disposeEnd);
    p.totalMs.push(t1 - t0);
    return t1 - t0;
  };
  /** A run on the pre-started executor; the pool is topped up before the clock starts (a server between calls). */
  const runPrestarted = (language: Language, limits?: ExecRequest['limits']) => async (): Promise<void> => {
    const r = await prestarted.run({ language, code: TRIVIAL[language], ...(limits ? { limits } : {}) });
    if (r.status !== 'ok')
      throw new Error(`pre-started ${language} run failed: ${r.status} ${r.reason ?? ''} ${r.stderr}`);
  };
  /** Between calls, as a server is: the refill has spawned its runner and the runner is up (not just spawned). */
  const settle = async () => {
    await prestarted.ready();
    await new Promise((resolve) => setTimeout(resolve, 100));
  };

  try {
    const rows: ReportRow[] = [];
    // Warm-up: page cache, esbuild's service process, the JIT of this process.
    for (const language of languages) {
      await runOnce(language);
      await settle();
      await runPrestarted(language)();
      await coldFloor(language);
    }
    for (const k of Object.keys(phases)) delete phases[k];

    for (const language of languages) {
      if (want(coldSubject(language))) {
        const cold = await interleave(
          () => runOnce(language),
          () => coldFloor(language),
          runs,
          0,
        );
        rows.push(makeRow(coldSubject(language), cold.subject, cold.floor, { kind: 'plus', ms: OVERHEAD_TARGET_MS }));
      }
      if (!want(warmSubject(language))) continue;
      const warmSamples: number[] = [];
      const warmFloorSamples: number[] = [];
      for (let i = 0; i < runs; i++) {
        await settle();
        const a = async () => warmSamples.push(await timed0(runPrestarted(language)));
        const b = async () => warmFloorSamples.push(await warmFloor(language));
        if (i % 2) {
          await a();
          await b();
        } else {
          await b();
          await a();
        }
      }
      rows.push(makeRow(warmSubject(language), warmSamples, warmFloorSamples, { kind: 'ratio', max: 2 }));
    }

    // Non-default spawn-time limits against the default run, both on the pre-started executor.
    const memorySubject = 'one-shot python, memory 300 MiB (vs default limits)';
    const nonDefault: number[] = [];
    const byDefault: number[] = [];
    const memory300 = { memoryBytes: 300 * 1024 * 1024 };
    for (let i = 0; i < (want(memorySubject) ? runs : 0); i++) {
      await settle();
      const a = async () => nonDefault.push(await timed0(runPrestarted('python', memory300)));
      const b = async () => byDefault.push(await timed0(runPrestarted('python')));
      if (i % 2) {
        await a();
        await settle();
        await b();
      } else {
        await b();
        await settle();
        await a();
      }
    }
    if (want(memorySubject)) {
      rows.push(
        makeRow(memorySubject, nonDefault, byDefault, {
          kind: 'ratio',
          max: 1.2,
        }),
      );
    }

    // The whole CLI process against the minimal bwrap running python.
    const cli = cliCommand();
    const cliSubject = 'codemode exec -c print(1) --lang python (whole process)';
    if (cli && bwrap && want(cliSubject)) {
      const argv = [...cli.args, 'exec', '-c', 'print(1)', '--lang', 'python'];
      const whole = await interleave(
        () => timeSpawn(cli.command, argv, undefined, CLI_ENV),
        () => timeSpawn(bwrap, [...MINIMAL_BWRAP, python, '-c', 'print(1)']),
        runs,
        2,
      );
      rows.push(
        makeRow(cliSubject, whole.subject, whole.floor, {
          kind: 'ratio',
          max: 1.5,
        }),
      );
    }

    const phaseRows: PhaseRow[] = languages
      .filter((l) => phases[l])
      .map((language) => {
        const p = phases[language]!;
        return {
          language,
          prepareMs: median1(p.prepareMs),
          spawnMs: median1(p.spawnMs),
          runMs: median1(p.runMs),
          disposeMs: median1(p.disposeMs),
          cleanupMs: median1(p.cleanupMs),
          totalMs: median1(p.totalMs),
        };
      });

    const { layers, factors } = options.only
      ? { layers: [], factors: {} }
      : await measureLayers(runs, stateDir, timed, { python, node });

    const report: SandboxBenchReport = {
      runs,
      targetMs: OVERHEAD_TARGET_MS,
      host: {
        node: process.version,
        arch: process.arch,
        kernel: os.release(),
        cpus: os.cpus().length,
        uid: process.getuid?.() ?? null,
      },
      isolation: timed.info,
      rows,
      layers,
      phases: phaseRows,
      factors,
    };
    if (print) {
      log('Launch chain on /bin/true (each row adds one layer):');
      console.table(layers);
      log('ProcessExecutor.run phases (medians, ms):');
      console.table(phaseRows);
      log('Single factors and ablations (ms):');
      console.table(factors);
    }
    return report;
  } finally {
    await Promise.all([executor.close(), prestarted.close()]);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

const MINIMAL_BWRAP = minimalBwrapArgs();

/** Interpreters that say "r" once started, then run the code on their stdin (the pre-started floor). */
const WARM_FLOOR: Record<Language, (python: string, node: string, bash: string) => [string, string[]]> = {
  python: (python) => [python, ['-c', 'import sys; sys.stdout.write("r"); sys.stdout.flush(); exec(sys.stdin.read())']],
  javascript: (_p, node) => [
    node,
    ['-e', 'process.stdout.write("r"); let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => eval(s))'],
  ],
  typescript: (_p, node) => [
    node,
    ['-e', 'process.stdout.write("r"); let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => eval(s))'],
  ],
  bash: (_p, _n, bash) => [bash, ['-c', 'printf r; eval "$(cat)"']],
};

/** The environment the CLI gets: the host's, without NODE_EXTRA_CA_CERTS (a CA bundle parse is no part of codemode). */
const CLI_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS'),
);

/** How to start the built CLI (bin/codemode.js), or null when there is no build next to this file. */
function cliCommand(): { command: string; args: string[] } | null {
  const bin = fileURLToPath(new URL('../../bin/codemode.js', import.meta.url));
  const built = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
  if (!existsSync(bin) || !existsSync(built)) return null;
  return { command: process.execPath, args: [bin] };
}

async function timed0(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function summary(samples: number[]): { median: number; p90: number; min: number } {
  return { median: median(samples), p90: quantile(samples, 0.9), min: samples.length ? Math.min(...samples) : NaN };
}

function median1(values: number[]): number {
  return round(median(values), 1);
}

/**
 * The launch chain on /bin/true, one layer at a time, each the same N runs
 * interleaved: bare, bwrap with our full argv, + seccomp, + the `sh` cgroup
 * join / prlimit / setpriv wrappers, and the real Sandbox.spawn (cgroups made
 * and removed). Plus single factors: interpreter start with the runner, and
 * the TypeScript transpile.
 */
async function measureLayers(
  runs: number,
  stateDir: string,
  sandbox: Sandbox,
  bin: { python: string; node: string },
): Promise<{ layers: LayerRow[]; factors: SandboxBenchReport['factors'] }> {
  const bwrap = findExecutable('bwrap');
  const prlimit = findExecutable('prlimit');
  const setpriv = findExecutable('setpriv');
  const isRoot = process.getuid?.() === 0;
  const uid = sandbox.info.uid ?? 65534;
  const ws = mkdtempSync(path.join(stateDir, 'ws-'));
  chmodSync(ws, 0o755);
  const seccompFile = path.join(stateDir, 'seccomp.bpf');
  const filter = buildSeccompFilter();
  if (filter) writeFileSync(seccompFile, filter);
  const fullSystem = systemLayout(interpreterDirs(findInterpreters()));
  const argvFor = (seccompFd: number | null, argv: string[], system = fullSystem) =>
    buildBwrapArgs({
      system,
      workspaceDir: ws,
      tmpBytes: DEFAULT_LIMITS.tmpBytes,
      env: {},
      roBinds: [],
      uid,
      gid: uid,
      seccompFd,
      argv,
    });
  /** The full argv (no seccomp) with the option groups starting at `flag` + `operand` removed. */
  const without = (drop: [flag: string, operand: string, size: number][]) => {
    const a = argvFor(null, ['/bin/true']);
    for (const [flag, operand, size] of drop) {
      const i = a.findIndex((x, k) => x === flag && a[k + 1] === operand);
      if (i >= 0) a.splice(i, size);
    }
    return a;
  };
  const cgroupLayout = detectCgroups(`codemode-bench-${process.pid}`);
  let cgroupCounter = 0;
  const dropUid =
    isRoot && setpriv ? [setpriv, '--reuid', String(uid), '--regid', String(uid), '--clear-groups', '--'] : [];
  const rl = prlimit ? [prlimit, '--nofile=256', '--fsize=268435456', '--cpu=30:31', '--'] : [];
  const withSeccomp = async (cmd: string, args: string[]) => {
    const fd = openSync(seccompFile, 'r');
    try {
      return await timeSpawn(cmd, args, fd);
    } finally {
      closeSync(fd);
    }
  };
  const viaSandbox = async (argv: string[], roBinds: SpawnSpec['roBinds'] = []) => {
    const t0 = performance.now();
    const proc = await sandbox.spawn({
      argv,
      workspaceDir: ws,
      limits: { ...DEFAULT_LIMITS },
      roBinds,
      cpuRlimit: true,
      extraPipes: 2,
    });
    proc.extra[0]?.resume();
    // The runners' "go": the limits record (as ProcessExecutor sends it), no arguments.
    const cpuSeconds = Math.max(1, Math.ceil(DEFAULT_LIMITS.cpuMs / 1000));
    proc.extra[1]?.on('error', () => {}); // a program that is not a runner never reads it
    proc.extra[1]?.end(
      `codemode-limits:${cpuSeconds}:${DEFAULT_LIMITS.openFiles}:${Math.floor(DEFAULT_LIMITS.diskBytes / 1024)}\0`,
    );
    proc.stdin.end();
    proc.stdout.resume();
    proc.stderr.resume();
    const exit = await proc.exited;
    await proc.dispose();
    if (exit.exitCode !== 0) throw new Error(`${argv.join(' ')} exited with ${exit.exitCode ?? exit.signal}`);
    return performance.now() - t0;
  };
  const runnersDir = fileURLToPath(new URL('../sandbox/process/runners/', import.meta.url));
  const runnerBinds = [{ host: runnersDir, sandbox: '/run/codemode-runtime' }];
  const codeDir = mkdtempSync(path.join(stateDir, 'code-'));
  chmodSync(codeDir, 0o755);
  writeFileSync(path.join(codeDir, 'main.py'), 'pass');
  writeFileSync(path.join(codeDir, 'main.cjs'), '0');
  const withCode = [...runnerBinds, { host: codeDir, sandbox: '/run/codemode' }];
  const nodeFlags = ['--max-old-space-size=384', '--disable-proto=delete'];

  type Case = [name: string, fn: () => Promise<number>];
  const layerCases: Case[] = [['/bin/true', () => timeSpawn('/bin/true', [])]];
  if (bwrap) {
    layerCases.push(['bwrap (full argv, no seccomp) /bin/true', () => timeSpawn(bwrap, argvFor(null, ['/bin/true']))]);
    if (filter) layerCases.push(['+ seccomp filter', () => withSeccomp(bwrap, argvFor(3, ['/bin/true']))]);
    layerCases.push([
      '+ sh cgroup-join, prlimit, setpriv',
      () =>
        withSeccomp('/bin/sh', [
          '-c',
          'exec "$@"',
          'codemode-sandbox',
          ...rl,
          ...dropUid,
          bwrap,
          ...argvFor(filter ? 3 : null, ['/bin/true']),
        ]),
    ]);
    layerCases.push(['+ cgroups (Sandbox.spawn + dispose)', () => viaSandbox(['/bin/true'])]);
  }
  const factorCases: Case[] = [
    ...(bwrap
      ? ([
          [
            'ablation: full argv + --share-net (no new net namespace)',
            () => timeSpawn(bwrap, ['--share-net', ...argvFor(null, ['/bin/true'])]),
          ],
          [
            'ablation: full argv without the /etc file binds',
            () => timeSpawn(bwrap, argvFor(null, ['/bin/true'], { ...fullSystem, roFiles: [] })),
          ],
          ['ablation: full argv without --proc', () => timeSpawn(bwrap, without([['--proc', '/proc', 2]]))],
          [
            'ablation: full argv without the two sized tmpfs',
            () =>
              timeSpawn(
                bwrap,
                without([
                  ['--size', String(DEFAULT_LIMITS.tmpBytes), 4],
                  ['--size', String(DEFAULT_LIMITS.tmpBytes), 4],
                ]),
              ),
          ],
          ['ablation: full argv without --remount-ro /', () => timeSpawn(bwrap, without([['--remount-ro', '/', 2]]))],
        ] as Case[])
      : []),
    [
      'RunCgroups create + remove, no process (mkdir/limits/rmdir)',
      async () => {
        const t0 = performance.now();
        const cg = new RunCgroups(cgroupLayout, `bench-${process.pid}-${++cgroupCounter}`).create();
        cg.applyLimits({ memoryBytes: DEFAULT_LIMITS.memoryBytes, processes: DEFAULT_LIMITS.processes });
        cg.remove();
        return performance.now() - t0;
      },
    ],
    [
      'executor fs work: mkdtemp x2, write code, walk, rm x2',
      async () => {
        const t0 = performance.now();
        const w = mkdtempSync(path.join(stateDir, 'fsw-'));
        const c = mkdtempSync(path.join(stateDir, 'fsc-'));
        writeFileSync(path.join(c, 'main.cjs'), '0');
        writeFileSync(path.join(c, 'main.mjs'), '0');
        await walkWorkspace(w);
        rmSync(c, { recursive: true, force: true });
        rmSync(w, { recursive: true, force: true });
        return performance.now() - t0;
      },
    ],
    [
      'bwrap minimal (--unshare-all --ro-bind / /) /bin/true',
      () =>
        bwrap ? timeSpawn(bwrap, ['--unshare-all', '--ro-bind', '/', '/', '--', '/bin/true']) : Promise.resolve(NaN),
    ],
    [
      'bwrap --unshare-all minus net (--share-net) /bin/true',
      () =>
        bwrap
          ? timeSpawn(bwrap, ['--unshare-all', '--share-net', '--ro-bind', '/', '/', '--', '/bin/true'])
          : Promise.resolve(NaN),
    ],
    ['python3 -c pass (bare)', () => timeSpawn(bin.python, ['-c', 'pass'])],
    [
      'python3 -s -c "import json, traceback" (bare, runner imports)',
      () => timeSpawn(bin.python, ['-s', '-c', 'import json, traceback']),
    ],
    ['sandbox: python3 -c pass', () => viaSandbox([bin.python, '-c', 'pass'])],
    [
      'sandbox: python3 -s python-runner.py (main.py = pass)',
      () => viaSandbox([bin.python, '-s', '/run/codemode-runtime/python-runner.py'], withCode),
    ],
    ['node -e 0 (bare)', () => timeSpawn(bin.node, ['-e', '0'])],
    ['node flags -e 0 (bare)', () => timeSpawn(bin.node, [...nodeFlags, '-e', '0'])],
    ['sandbox: node -e 0', () => viaSandbox([bin.node, '-e', '0'])],
    [
      'sandbox: node flags node-runner.cjs (main.cjs = 0)',
      () => viaSandbox([bin.node, ...nodeFlags, '/run/codemode-runtime/node-runner.cjs'], withCode),
    ],
    [
      'sandbox: node --enable-source-maps node-runner.cjs',
      () =>
        viaSandbox([bin.node, ...nodeFlags, '--enable-source-maps', '/run/codemode-runtime/node-runner.cjs'], withCode),
    ],
    [
      'transpileTypeScript (in-process, esbuild service)',
      async () => {
        const t0 = performance.now();
        await transpileTypeScript('const x: number = 0', 'main.ts');
        return performance.now() - t0;
      },
    ],
  ];

  const all = [...layerCases, ...factorCases];
  const samples: number[][] = all.map(() => []);
  for (const [, fn] of all) await fn(); // warm-up
  for (let i = 0; i < runs; i++) {
    for (const [j, [, fn]] of all.entries()) samples[j]!.push(await fn());
  }
  rmSync(codeDir, { recursive: true, force: true });
  for (const c of Object.values(cgroupLayout.controllers)) rmDirQuiet(c.parent);
  if (cgroupLayout.v2Parent) rmDirQuiet(cgroupLayout.v2Parent);

  const layers: LayerRow[] = [];
  let prev = 0;
  for (const [j, [layer]] of layerCases.entries()) {
    const s = summary(samples[j]!);
    layers.push({
      layer,
      medianMs: round(s.median, 1),
      p90Ms: round(s.p90, 1),
      minMs: round(s.min, 1),
      addedMs: j === 0 ? 0 : round(s.median - prev, 1),
    });
    prev = s.median;
  }
  const factors: SandboxBenchReport['factors'] = {};
  for (const [j, [name]] of factorCases.entries()) {
    const s = summary(samples[layerCases.length + j]!);
    factors[name] = { medianMs: round(s.median, 1), minMs: round(s.min, 1) };
  }
  return { layers, factors };
}

function rmDirQuiet(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // in use or gone
  }
}
