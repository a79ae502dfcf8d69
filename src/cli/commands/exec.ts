/**
 * `codemode exec`: run a file, a string (-c) or stdin in the sandbox. Output
 * streams live; --json prints the whole ExecResult instead. The exit code is
 * the program's own, or 124 for a timeout and 125 for other limits.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../../errors.js';
import { ensureStateDirs, loadSettings } from '../../config/load-settings.js';
import { LANGUAGES, type ExecResult, type Executor, type InputFile, type Language } from '../../sandbox/executor.js';
import type { ResultCache } from '../../store/result-cache.js';
import type { LimitOverrides } from '../../sandbox/limits.js';
import { NO_PRESTART, ProcessExecutor } from '../../sandbox/process/process-executor.js';
import { createProcessSandbox, probeSandbox } from '../../sandbox/process/process-sandbox.js';
import { numberFlag, parse } from '../args.js';
import { languageOfFile } from '../file-language.js';
import type { CliIO, Command } from '../io.js';

const HELP = `usage: codemode exec [options] [FILE | -c CODE | -] [-- ARGS...]

Runs code once in a fresh sandbox and prints its output.

  -l, --lang LANG       python, javascript, typescript or bash (default: from FILE's extension)
  -c, --code CODE       the code to run, instead of FILE
      --stdin TEXT      text given to the program's standard input
      --file PATH=HOST  copy the host file HOST into the workspace as PATH (repeatable)
      --workspace DIR   use DIR as the workspace and keep what the program writes there
      --timeout SEC     wall-clock limit in seconds          --cpu SEC     CPU time limit
      --memory MB       memory limit in MiB                  --output KB   output kept per stream
      --cache           answer from the result cache when this exact run was done before
      --json            print the full result as JSON
      --unsandboxed-i-know-this-is-unsafe   run WITHOUT isolation (trusted code only)
`;

export const execCommand: Command = async (argv, io) => {
  const dashdash = argv.indexOf('--');
  const programArgs = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const { values, positionals } = parse(dashdash >= 0 ? argv.slice(0, dashdash) : argv, {
    lang: { type: 'string', short: 'l' },
    code: { type: 'string', short: 'c' },
    stdin: { type: 'string' },
    file: { type: 'string', multiple: true },
    workspace: { type: 'string' },
    timeout: { type: 'string' },
    cpu: { type: 'string' },
    memory: { type: 'string' },
    output: { type: 'string' },
    json: { type: 'boolean' },
    cache: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    'unsandboxed-i-know-this-is-unsafe': { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 1)
    throw new AppError(
      'INVALID_ARGUMENT',
      `expected one FILE, got ${positionals.length}; put program arguments after --`,
    );
  const source = positionals[0];
  if (source !== undefined && values.code !== undefined)
    throw new AppError('INVALID_ARGUMENT', 'give either FILE or -c CODE, not both');

  let code: string;
  if (values.code !== undefined) code = values.code;
  else if (source === undefined || source === '-') {
    if (source === undefined && io.stdinIsTTY)
      throw new AppError('INVALID_ARGUMENT', `nothing to run: give FILE, -c CODE or pipe code on stdin\n\n${HELP}`);
    code = await readAll(io);
  } else code = readFileOrFail(source);

  const language = pickLanguage(values.lang, source);
  const { settings } = loadSettings({ env: io.env, cwd: io.cwd });
  const limits: LimitOverrides = {};
  // Each flag in the unit the user wrote it in, and its maximum said in that unit too.
  const set = (k: keyof LimitOverrides, flag: string, given: string | undefined, unit: string, scale: number) => {
    const v = numberFlag(given, flag, scale);
    if (v === undefined) return;
    const max = settings.limits.max[k];
    if (v > max) {
      throw new AppError(
        'LIMIT_EXCEEDED',
        `--${flag} ${given} ${unit} is above this server's maximum of ${max / scale} ${unit}; ask for ${max / scale} or less`,
        { argument: `--${flag}` },
      );
    }
    limits[k] = v;
  };
  set('wallMs', 'timeout', values.timeout, 's', 1000);
  set('cpuMs', 'cpu', values.cpu, 's', 1000);
  set('memoryBytes', 'memory', values.memory, 'MiB', 1024 * 1024);
  set('outputBytes', 'output', values.output, 'KiB', 1024);
  const files: InputFile[] = (values.file ?? []).map((spec) => {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new AppError('INVALID_ARGUMENT', `--file expects PATH=HOSTFILE, got "${spec}"`);
    const host = spec.slice(eq + 1);
    try {
      return { path: spec.slice(0, eq), content: readFileSync(path.resolve(io.cwd, host)) };
    } catch (e) {
      // A usage error (exit 2), not a crash: the user named a file that is not there.
      throw new AppError(
        'INVALID_ARGUMENT',
        `--file ${spec}: cannot read ${host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        { argument: '--file' },
      );
    }
  });

  const unsandboxed = Boolean(values['unsandboxed-i-know-this-is-unsafe']);
  if (unsandboxed)
    io.stderr.write('codemode: WARNING: running WITHOUT a sandbox (--unsandboxed-i-know-this-is-unsafe)\n');
  // One run: no namespace probe (the run itself shows a failure), no spare cgroups, no pre-started runners.
  const sandbox = await createProcessSandbox({ unsandboxed, probeNamespaces: false, cgroupPool: 0 });
  const processExecutor = new ProcessExecutor(sandbox, {
    prestart: NO_PRESTART,
    residentMounter: false, // one mount and one umount: mount(8) twice costs less than starting the helper
    defaults: settings.limits.defaults,
    ceiling: settings.limits.max,
  });
  let cache: ResultCache | null = null;
  let executor: Executor = processExecutor;
  if (values.cache) {
    // SQLite and the caching layer load only for --cache.
    const [{ ResultCache, resultCacheKey }, { CachingExecutor }] = await Promise.all([
      import('../../store/result-cache.js'),
      import('../../sandbox/caching-executor.js'),
    ]);
    ensureStateDirs(settings);
    cache = new ResultCache(settings.store.path);
    executor = new CachingExecutor(processExecutor, {
      cache,
      keyOf: resultCacheKey,
      resolveLimits: (o) => processExecutor.limitsFor(o),
    }).forPrincipal('local'); // the user running the CLI
  }
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    const result = await executor.run({
      language,
      code,
      args: programArgs,
      files,
      limits,
      signal: ac.signal,
      ...(values.cache ? { cache: true } : {}),
      ...(values.stdin !== undefined ? { stdin: values.stdin } : {}),
      ...(values.workspace !== undefined ? { workspaceDir: path.resolve(io.cwd, values.workspace) } : {}),
      ...(values.json ? {} : { onOutput: (c) => (c.stream === 'stdout' ? io.stdout : io.stderr).write(c.text) }),
    });
    if (result.status === 'not_started' && !unsandboxed) {
      // The namespace check was skipped at start; now that the run failed, say why.
      const problems = probeSandbox().problems;
      if (problems.length) result.reason = [result.reason, ...problems].filter(Boolean).join('; ');
    }
    if (values.json) io.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else printSummary(result, io);
    return exitCode(result);
  } finally {
    process.removeListener('SIGINT', onSigint);
    await processExecutor.close(); // the executor (and any cache view of it) wraps this one
    cache?.close();
  }
};

function printSummary(r: ExecResult, io: CliIO): void {
  if (r.stdoutDroppedBytes || r.stderrDroppedBytes) {
    io.stderr.write(`codemode: output truncated (${r.stdoutDroppedBytes + r.stderrDroppedBytes} bytes not kept)\n`);
  }
  if (r.cached) io.stderr.write('codemode: result from the cache (--cache)\n');
  if (r.status === 'ok') return;
  if (r.status === 'error' && r.error && r.exitCode === null) {
    // Never ran (e.g. a TypeScript syntax error): the sandbox printed nothing, so say it here.
    io.stderr.write(
      `${r.error.type}: ${r.error.message}${r.error.line ? ` (line ${r.error.line}${r.error.column ? `, column ${r.error.column}` : ''})` : ''}\n`,
    );
  }
  if (r.status !== 'error') io.stderr.write(`codemode: ${r.status}: ${r.reason ?? ''}\n`);
}

export function exitCode(r: ExecResult): number {
  if (r.status === 'ok') return 0;
  if (r.status === 'error') return r.exitCode && r.exitCode > 0 ? r.exitCode : 1;
  if (r.status === 'timeout') return 124;
  if (r.status === 'cancelled') return 130;
  return 125;
}

function pickLanguage(flag: string | undefined, file: string | undefined): Language {
  if (flag !== undefined) {
    const lang =
      flag === 'py'
        ? 'python'
        : flag === 'js'
          ? 'javascript'
          : flag === 'ts'
            ? 'typescript'
            : flag === 'sh'
              ? 'bash'
              : flag;
    if (!(LANGUAGES as readonly string[]).includes(lang)) {
      throw new AppError('INVALID_ARGUMENT', `--lang must be one of ${LANGUAGES.join(', ')}; got "${flag}"`);
    }
    return lang as Language;
  }
  const byExt = file ? languageOfFile(file) : undefined;
  if (!byExt)
    throw new AppError(
      'INVALID_ARGUMENT',
      `cannot tell the language${file ? ` of "${file}"` : ''}: pass --lang python|javascript|typescript|bash`,
    );
  return byExt;
}

function readFileOrFail(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new AppError(
      'NOT_FOUND',
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

async function readAll(io: CliIO): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
