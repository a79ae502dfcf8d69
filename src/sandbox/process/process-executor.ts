/**
 * One-shot runs in the OS sandbox: write the code and input files, start the
 * language's runner, enforce wall time, CPU, output and disk limits from the
 * host, and turn whatever happened into an honest ExecResult. Never throws
 * because the user's program failed; throws AppError only for bad requests.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError, isAppError } from '../../errors.js';
import {
  LANGUAGES,
  type DisplayOutput,
  type ExecError,
  type ExecRequest,
  type ExecResult,
  type ExecStatus,
  type Executor,
  type Language,
} from '../executor.js';
import { DEFAULT_LIMITS, MAX_LIMITS, resolveLimits, type Limits } from '../limits.js';
import { OutputBuffer } from '../output-buffer.js';
import type { Sandbox, SandboxProcess } from '../sandbox.js';
import { Supervision } from '../supervisor.js';
import { copyBack, copyInto } from '../workspace/host-dir.js';
import { walkWorkspace, writeInputFiles } from '../workspace/host-fs.js';
import { Volumes } from '../workspace/volume.js';
import { SANDBOX_RUN_DIR } from './bwrap-args.js';
import { isAlive } from './cgroups.js';

export const MAX_CODE_BYTES = 2 * 1024 * 1024;
const RUNTIME_DIR = '/run/codemode-runtime';
const RUNNERS_HOST_DIR = fileURLToPath(new URL('./runners/', import.meta.url));
/** How long a fresh runner may take to finish bwrap's setup before it gets its code anyway. */
const SETUP_WAIT_MS = 2000;

export interface ProcessExecutorOptions {
  defaults?: Limits;
  ceiling?: Limits;
  /** Where temporary workspaces are created. Default: os.tmpdir(). */
  tmpRoot?: string;
  python?: string;
  node?: string;
  bash?: string;
  /**
   * Runners kept started per language, each waiting for one run's code in its
   * own fresh sandbox and workspace (never reused). They take the sandbox and
   * interpreter start off a run's path. Default: one per language; 0 turns it off.
   */
  prestart?: Partial<Record<Language, number>>;
  /**
   * Statfs of a run's workspace volume: true when it is full (bytes or inodes).
   * Wired in where workspaces live on size- and inode-capped filesystems;
   * absent means unknown (the file-size rlimit still applies).
   */
  diskFull?: (workspaceDir: string) => boolean;
  /** Mount run volumes through a resident helper (default true); false for a process that runs once. */
  residentMounter?: boolean;
}

export const NO_PRESTART: Readonly<Record<Language, number>> = Object.freeze({
  python: 0,
  javascript: 0,
  typescript: 0,
  bash: 0,
});

export const DEFAULT_PRESTART: Readonly<Record<Language, number>> = Object.freeze({
  python: 1,
  javascript: 1,
  typescript: 1,
  bash: 1,
});

export class ProcessExecutor implements Executor {
  private readonly defaults: Limits;
  private readonly ceiling: Limits;
  private readonly tmpRoot: string;
  private readonly volumes: Volumes;
  private readonly prestartSizes: Record<Language, number>;
  private readonly prestarted = new Map<Language, Runner[]>();
  private readonly refilling = new Map<Language, Promise<void>>();
  /** Runs' cleanups still in flight (close() waits for them rather than unmounting under them). */
  private readonly discarding = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly sandbox: Sandbox,
    private readonly options: ProcessExecutorOptions = {},
  ) {
    this.ceiling = options.ceiling ?? { ...MAX_LIMITS };
    this.defaults = resolveLimits(undefined, options.defaults ?? DEFAULT_LIMITS, this.ceiling);
    this.tmpRoot = options.tmpRoot ?? os.tmpdir();
    cleanupDeadRunRoots(this.tmpRoot);
    this.volumes = new Volumes({
      root: mkdtempSync(path.join(this.tmpRoot, `codemode-runs-${process.pid}-`)),
      resident: options.residentMounter ?? true,
    });
    this.prestartSizes = { ...DEFAULT_PRESTART, ...options.prestart };
    for (const language of LANGUAGES) this.refill(language);
  }

  /** The limits a run with these overrides gets (throws like run() on bad overrides). */
  limitsFor(overrides: unknown): Limits {
    return resolveLimits(overrides, this.defaults, this.ceiling);
  }

  async run(request: ExecRequest): Promise<ExecResult> {
    validateRequest(request);
    const limits = this.limitsFor(request.limits);
    const started = performance.now();
    const base = (status: ExecStatus, extra: Partial<ExecResult> = {}): ExecResult => ({
      status,
      exitCode: null,
      signal: null,
      stdout: '',
      stderr: '',
      stdoutDroppedBytes: 0,
      stderrDroppedBytes: 0,
      durationMs: performance.now() - started,
      limits,
      isolation: this.sandbox.info,
      ...extra,
    });
    if (request.signal?.aborted) return base('cancelled', { reason: 'cancelled before the run started' });

    const source = await sourceFiles(request);
    if (!source.ok) return base('error', { error: source.error, reason: 'the code did not compile' });

    let runner: Runner;
    try {
      runner =
        this.takePrestarted(request, limits) ?? (await this.launch(request.language, limits, request.workspaceDir));
    } catch (e) {
      if (isAppError(e, 'INVALID_ARGUMENT')) throw e;
      return base('not_started', { reason: e instanceof Error ? e.message : String(e) });
    }
    try {
      for (const [name, content] of Object.entries(source.files)) {
        writeFileSync(path.join(runner.codeDir, name), content, { mode: 0o644 });
      }
      if (request.files?.length) writeInputFiles(runner.workspace, request.files, runner.uid, limits.diskBytes);
      // The tmp probe needs bwrap's setup done; a pre-started runner is long past it.
      await waitUntil(() => runner.exited || runner.proc.tmpReady(), SETUP_WAIT_MS);
      // Go: the run's rlimits, then the arguments, each ending in NUL, then EOF (see runners/).
      // A runner that died before reading it breaks the pipe: its exit status says what happened.
      runner.proc.extra[1]?.on('error', () => {});
      runner.proc.extra[1]?.end(
        Buffer.from([limitsRecord(limits), ...(request.args ?? [])].map((a) => `${a}\0`).join(''), 'utf8'),
      );
      const diskFull = this.options.diskFull ?? ((dir: string) => this.volumes.full(dir));
      const result = await supervise(runner, request, limits, () => diskFull(runner.workspace));
      // The whole tree is gone now: the workspace holds still while the host lists it.
      const out: ExecResult = {
        ...base(result.status),
        ...result,
        // A volume whose only inode is its root holds no file: nothing to walk.
        files:
          this.volumes.usage(runner.workspace)?.inodesUsed === 1 ? [] : (await walkWorkspace(runner.workspace)).entries,
        durationMs: performance.now() - started,
      };
      if (request.workspaceDir !== undefined) {
        const back = await copyBack(runner.workspace, request.workspaceDir, limits.diskBytes);
        if (back.skipped.length) {
          out.reason = [
            out.reason,
            `not copied back to the workspace directory (links, special files, or paths through a link there): ${back.skipped.slice(0, 20).join(', ')}`,
          ]
            .filter(Boolean)
            .join('; ');
        }
      }
      return out;
    } finally {
      // The tree is gone already; its cgroup, code and volume go after the caller has the result.
      setImmediate(() => {
        const done = discard(runner, this.volumes).finally(() => this.discarding.delete(done));
        this.discarding.add(done);
      });
    }
  }

  /** Stop the pre-started runners. */
  async close(): Promise<void> {
    this.closed = true;
    for (const runners of this.prestarted.values()) {
      for (const r of runners.splice(0)) await discard(r, this.volumes);
    }
    // A run's cleanup is scheduled with setImmediate after its result: let it start, then wait for it.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await Promise.allSettled([...this.discarding]);
    this.volumes.cleanupStale(); // a run still finishing loses its (already listed) workspace
    try {
      rmSync(this.volumes.root, { recursive: true, force: true });
    } catch {
      // a mount point still busy: the next start's cleanupStale takes it
    }
  }

  /**
   * Start a runner: a fresh workspace and code directory, and the language's
   * runner inside the sandbox, waiting for its code.
   */
  private async launch(language: Language, runLimits: Limits, workspaceDir?: string, ahead = false): Promise<Runner> {
    // Started ahead: rlimits at the ceiling where the runner sets the run's own at hand-off (python, bash).
    const limits: Limits =
      ahead && SETS_OWN_RLIMITS.has(language)
        ? { ...runLimits, cpuMs: this.ceiling.cpuMs, openFiles: this.ceiling.openFiles }
        : runLimits;
    // A host uid of the run's own: its files are shared with nobody else.
    const uid = this.sandbox.acquireUid();
    // A fresh volume capped at limits.diskBytes (bytes and files); a user's directory is copied in, never bound.
    const volume = randomBytes(9)
      .toString('base64url')
      .replace(/[^A-Za-z0-9]/g, 'x');
    // Named with our pid, so the next start can tell a hard-killed server's leftovers (cleanupDeadRunRoots).
    const codeDir = mkdtempSync(path.join(this.tmpRoot, `codemode-code-${process.pid}-`));
    try {
      chmodSync(codeDir, 0o755);
      const owner = process.getuid?.() === 0 ? uid : null;
      const workspace = await this.volumes.create(volume, { bytes: limits.diskBytes, uid: owner }, false);
      if (workspaceDir !== undefined) {
        mkdirSync(workspaceDir, { recursive: true });
        await copyInto(workspaceDir, workspace, owner);
      }
      const { argv, env } = this.command(language, limits);
      const proc = await this.sandbox.spawn({
        argv,
        workspaceDir: workspace,
        limits,
        env,
        roBinds: [
          { host: codeDir, sandbox: SANDBOX_RUN_DIR },
          { host: RUNNERS_HOST_DIR, sandbox: RUNTIME_DIR },
        ],
        extraPipes: 2,
        cpuRlimit: true,
        uid,
      });
      const runner: Runner = {
        proc,
        launched: runLimits,
        workspace,
        volume,
        codeDir,
        exited: false,
        uid,
        releaseUid: () => this.sandbox.releaseUid(uid),
      };
      void proc.exited.then(() => (runner.exited = true));
      return runner;
    } catch (e) {
      rmSync(codeDir, { recursive: true, force: true });
      await this.volumes.destroy(volume).catch(() => undefined); // the launch failure is what counts
      this.sandbox.releaseUid(uid);
      throw e;
    }
  }

  /**
   * A pre-started runner, when this run can use one: it has its own fresh
   * workspace. Limits are applied at hand-off, before the code runs: memory and
   * processes on the runner's live cgroup, CPU time, open files and file size
   * by the runner itself from the go message (python, bash). Wall time and
   * output are the host's. What is fixed at start must match: the volume and
   * /tmp sizes, and for Node its heap cap and rlimits.
   */
  private takePrestarted(request: ExecRequest, limits: Limits): Runner | null {
    const language = request.language;
    const want = this.prestartSizes[language] ?? 0;
    if (want === 0 || request.workspaceDir !== undefined) return null;
    const fixed = SETS_OWN_RLIMITS.has(language) ? FIXED_AT_START : FIXED_AT_START_NODE;
    if (fixed.some((k) => limits[k] !== this.defaults[k])) return null;
    const ready = this.prestarted.get(language) ?? [];
    this.prestarted.set(language, ready);
    let runner: Runner | undefined;
    while ((runner = ready.shift()) && runner.exited) void discard(runner, this.volumes);
    this.refill(language);
    if (!runner) return null;
    const l = runner.launched;
    if (limits.memoryBytes !== l.memoryBytes || limits.processes !== l.processes) {
      const caps = { memoryBytes: limits.memoryBytes, processes: limits.processes };
      if (!runner.proc.setCgroupLimits?.(caps)) {
        void discard(runner, this.volumes); // the caps did not take: a fresh runner gets them at spawn
        return null;
      }
    }
    return runner;
  }

  /** Top the language's pre-started runners back up, in the background. */
  private refill(language: Language): void {
    const want = this.prestartSizes[language] ?? 0;
    if (this.closed || want === 0 || this.refilling.has(language)) return;
    const refill = (async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      try {
        const ready = this.prestarted.get(language) ?? [];
        this.prestarted.set(language, ready);
        while (!this.closed && ready.length < want) {
          const runner = await this.launch(language, this.defaults, undefined, true);
          if (this.closed) await discard(runner, this.volumes);
          else ready.push(runner);
        }
      } catch {
        // the next run starts its own runner, and reports why if that fails too
      } finally {
        this.refilling.delete(language);
      }
    })();
    this.refilling.set(language, refill);
  }

  /** Resolves when every language's pre-started runners are in place (for benchmarks and tests). */
  async ready(): Promise<void> {
    while (this.refilling.size > 0) await Promise.all(this.refilling.values());
  }

  private command(language: Language, limits: Limits): { argv: string[]; env: Record<string, string> } {
    const python = this.options.python ?? '/usr/bin/python3';
    const node = this.options.node ?? process.execPath;
    const bash = this.options.bash ?? '/bin/bash';
    const heapMb = Math.max(16, Math.floor((limits.memoryBytes * 0.75) / (1024 * 1024)));
    const nodeEnv = { NODE_PATH: '/workspace/node_modules', NODE_OPTIONS: '' };
    const nodeArgv = (extra: string[]) => [
      node,
      `--max-old-space-size=${heapMb}`,
      '--disable-proto=delete',
      ...extra,
      `${RUNTIME_DIR}/node-runner.cjs`,
    ];
    switch (language) {
      case 'python':
        return { argv: [python, '-s', `${RUNTIME_DIR}/python-runner.py`], env: {} };
      case 'javascript':
        return { argv: nodeArgv([]), env: nodeEnv };
      case 'typescript':
        return { argv: nodeArgv(['--enable-source-maps']), env: nodeEnv };
      case 'bash':
        return { argv: [bash, `${RUNTIME_DIR}/bash-runner.sh`], env: {} };
    }
  }
}

/** Runners that set the run's rlimits themselves from the go message (Node cannot). */
const SETS_OWN_RLIMITS: ReadonlySet<Language> = new Set<Language>(['python', 'bash']);
/** Limits fixed when a runner starts: its volume and /tmp sizes (memory and processes are changed at hand-off). */
const FIXED_AT_START = ['diskBytes', 'tmpBytes'] as const;
/** For Node runners also its heap cap (from memoryBytes) and the rlimits it cannot set itself. */
const FIXED_AT_START_NODE = ['diskBytes', 'tmpBytes', 'memoryBytes', 'cpuMs', 'openFiles'] as const;

/** The go message's first record: the rlimits the runner sets before the code runs (as the launcher's ulimits). */
function limitsRecord(limits: Limits): string {
  const cpuSeconds = Math.max(1, Math.ceil(limits.cpuMs / 1000));
  return `codemode-limits:${cpuSeconds}:${limits.openFiles}:${Math.floor(limits.diskBytes / 1024)}`;
}

/** A runner inside the sandbox, waiting for its code (or running it). */
interface Runner {
  proc: SandboxProcess;
  /** The limits it was started for (cgroup caps; rlimits may be looser until hand-off). */
  launched: Limits;
  /** The mount point of the run's own volume, bound at /workspace. */
  workspace: string;
  /** The volume's name (for destroy). */
  volume: string;
  codeDir: string;
  exited: boolean;
  /** The host uid the runner's tree runs as (released after the run). */
  uid: number;
  releaseUid: () => void;
}

/**
 * What a hard-killed server left behind: run volumes still mounted under
 * `codemode-runs-<pid>-*` (unmounted and removed) and code directories
 * `codemode-code-<pid>-*`. Only directories whose pid is dead and that this
 * user owns: another live server's, or another user's, are never touched.
 */
function cleanupDeadRunRoots(tmpRoot: string): void {
  let names: string[];
  try {
    names = readdirSync(tmpRoot);
  } catch {
    return;
  }
  const me = process.getuid?.();
  for (const name of names) {
    const m = /^codemode-(runs|code)-(\d+)-/.exec(name);
    const pid = Number(m?.[2] ?? NaN);
    if (!m || !pid || isAlive(pid)) continue;
    const root = path.join(tmpRoot, name);
    try {
      const st = lstatSync(root);
      if (!st.isDirectory() || (me !== undefined && st.uid !== me)) continue;
    } catch {
      continue; // gone meanwhile
    }
    if (m[1] === 'runs')
      new Volumes({ root, kind: { persistent: 'directory', ephemeral: 'directory' } }).cleanupStale();
    try {
      rmSync(root, { recursive: true, force: true });
    } catch {
      // still busy: the next start tries again
    }
  }
}

/** Kill the runner's tree, then delete its code and its volume (off the result's path). */
async function discard(runner: Runner, volumes: Volumes): Promise<void> {
  runner.proc.kill();
  await runner.proc.dispose();
  rmSync(runner.codeDir, { recursive: true, force: true });
  await volumes.destroy(runner.volume).catch(() => undefined); // best effort: cleanupStale retries at the next start
  runner.releaseUid();
}

/** The files the runner executes, by language. TypeScript is transpiled here, on the host. */
async function sourceFiles(
  request: ExecRequest,
): Promise<{ ok: true; files: Record<string, string> } | { ok: false; error: ExecError }> {
  switch (request.language) {
    case 'python':
      return { ok: true, files: { 'main.py': request.code } };
    case 'javascript':
      return { ok: true, files: { 'main.cjs': request.code, 'main.mjs': request.code } };
    case 'typescript': {
      // esbuild loads only when TypeScript runs (a python or bash run never pays for it).
      const { transpileTypeScript } = await import('../transpile.js');
      const out = await transpileTypeScript(request.code, 'main.ts');
      if (!out.ok) return out;
      return { ok: true, files: { 'main.cjs': out.code, 'main.mjs': out.code, 'main.ts': request.code } };
    }
    case 'bash':
      return { ok: true, files: { 'main.sh': request.code } };
  }
}

function validateRequest(request: ExecRequest): void {
  if (!request || typeof request !== 'object') throw new AppError('INVALID_ARGUMENT', 'the request must be an object');
  if (!(LANGUAGES as readonly string[]).includes(request.language)) {
    throw new AppError(
      'INVALID_ARGUMENT',
      `language must be one of ${LANGUAGES.join(', ')}; got ${JSON.stringify(request.language)}`,
      { argument: 'language' },
    );
  }
  if (typeof request.code !== 'string')
    throw new AppError('INVALID_ARGUMENT', 'code must be a string', { argument: 'code' });
  if (Buffer.byteLength(request.code) > MAX_CODE_BYTES) {
    throw new AppError('TOO_LARGE', `code is larger than ${MAX_CODE_BYTES} bytes; put data in a file instead`, {
      argument: 'code',
    });
  }
  if (request.args !== undefined && (!Array.isArray(request.args) || request.args.some((a) => typeof a !== 'string'))) {
    throw new AppError('INVALID_ARGUMENT', 'args must be an array of strings', { argument: 'args' });
  }
}

type Supervised = Pick<
  ExecResult,
  | 'status'
  | 'exitCode'
  | 'signal'
  | 'stdout'
  | 'stderr'
  | 'stdoutDroppedBytes'
  | 'stderrDroppedBytes'
  | 'error'
  | 'reason'
  | 'outputs'
>;

/**
 * The runner's result channel (fd 3): one JSON record a line, an error record
 * and display records (figures, `{"kind": "display", "data": {mime: text}}`).
 * Every byte counts toward the output limits; past this size nothing is kept.
 */
const MAX_CHANNEL_BYTES = 16 * 1024 * 1024;
const MAX_DISPLAY_OUTPUTS = 20;

/** Watch a running program until it ends, through the one supervisor. */
async function supervise(
  runner: Runner,
  request: ExecRequest,
  limits: Limits,
  diskFull: (() => boolean) | undefined,
): Promise<Supervised> {
  const { proc } = runner;
  // A pre-started runner spent CPU starting up before this run: the window counts from here.
  const watch = new Supervision(proc, {
    kind: 'process',
    limits,
    signal: request.signal,
    diskFull,
  });
  const out = new OutputBuffer(limits.outputBytes);
  const err = new OutputBuffer(limits.outputBytes);
  const onChunk = (buf: OutputBuffer, stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    buf.push(chunk);
    watch.count(chunk.length);
    try {
      request.onOutput?.({ stream, text: chunk.toString('utf8') });
    } catch {
      // a listener's failure never breaks the run
    }
  };
  proc.stdout.on('data', onChunk(out, 'stdout'));
  proc.stderr.on('data', onChunk(err, 'stderr'));
  // The runner's records (fd 3): counted like any output, kept only while within MAX_CHANNEL_BYTES.
  const errorChannel: Buffer[] = [];
  let errorBytes = 0;
  proc.extra[0]?.on('data', (c: Buffer) => {
    watch.count(c.length);
    errorBytes += c.length;
    if (errorBytes <= MAX_CHANNEL_BYTES) errorChannel.push(c);
  });
  proc.extra[0]?.on('error', () => {}); // closes with the tree
  proc.stdin.on('error', () => {}); // the program may close its stdin early
  if (request.stdin !== undefined) proc.stdin.end(Buffer.from(request.stdin));
  else proc.stdin.end();

  const exit = await proc.exited;
  const end = watch.finish({
    ended: true,
    started: exit.started,
    exitCode: exit.exitCode,
    signal: exit.signal,
    nodeHeapLimit: request.language === 'javascript' || request.language === 'typescript',
  });
  await proc.dispose();

  const stderr = err.text();
  const records =
    errorBytes <= MAX_CHANNEL_BYTES ? parseChannel(Buffer.concat(errorChannel).toString('utf8')) : { outputs: [] };
  let error = records.error;
  if (end.status === 'error' && !error && request.language === 'bash') error = bashError(stderr, exit.exitCode);
  const result: Supervised = {
    status: end.status,
    exitCode: exit.exitCode,
    signal: end.signal,
    stdout: out.text(),
    stderr,
    stdoutDroppedBytes: out.droppedBytes,
    stderrDroppedBytes: err.droppedBytes,
  };
  if (error) result.error = error;
  if (records.outputs.length > 0) result.outputs = records.outputs;
  if (end.reason) result.reason = end.reason;
  return result;
}

/** Resolve when check() holds, or after timeoutMs (polling every 2 ms; at once when it already holds). */
async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
}

/** The records of the result channel. Untrusted bytes: anything not of the expected shape is dropped. */
function parseChannel(text: string): { error?: ExecError; outputs: DisplayOutput[] } {
  const outputs: DisplayOutput[] = [];
  let error: ExecError | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      continue; // not a record
    }
    if (r === null || typeof r !== 'object' || Array.isArray(r)) continue;
    const rec = r as Record<string, unknown>;
    if (rec['kind'] === 'display') {
      const data = rec['data'];
      if (outputs.length >= MAX_DISPLAY_OUTPUTS || data === null || typeof data !== 'object') continue;
      const entries = Object.entries(data as Record<string, unknown>);
      if (entries.length === 0 || entries.some(([k, v]) => typeof v !== 'string' || k.length > 200)) continue;
      outputs.push({ kind: 'display', data: Object.fromEntries(entries) as Record<string, string> });
    } else error ??= parseErrorRecord(rec);
  }
  return error === undefined ? { outputs } : { error, outputs };
}

function parseErrorRecord(r: Record<string, unknown>): ExecError {
  const error: ExecError = { type: String(r.type ?? 'Error'), message: String(r.message ?? '') };
  if (typeof r.line === 'number') error.line = r.line;
  if (typeof r.column === 'number') error.column = r.column;
  if (typeof r.traceback === 'string') error.traceback = r.traceback;
  return error;
}

function bashError(stderr: string, exitCode: number | null): ExecError {
  const lines = stderr.trim().split('\n').filter(Boolean);
  const last = lines.at(-1) ?? `exited with status ${exitCode}`;
  const error: ExecError = { type: 'ExitStatus', message: last.replace(/^\/run\/codemode\/main\.sh: /, '') };
  const m = /main\.sh: line (\d+):/.exec(stderr);
  if (m) error.line = Number(m[1]);
  return error;
}

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}
