/**
 * `codemode test [DIR] [--framework pytest|node] [--coverage] [--json] [-- PATHS...]`:
 * copies a project folder into a fresh session (as an archive, unpacked and
 * checked inside the sandbox), runs its tests there, and prints each failure.
 * Exit 0 all passed; 1 a test failed or none ran; 2 usage; 3 the tests could not run.
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../../errors.js';
import { formatTestReport, runTests, type TestFramework } from '../../projects/run-tests.js';
import { parse } from '../args.js';
import type { CliIO } from '../io.js';
import { openSessionRuntime } from '../session-runtime.js';

const HELP = `usage: codemode test [DIR] [--framework pytest|node] [--coverage] [--json] [-- PATHS...]

Run a project's tests in the sandbox: DIR (default: the current folder) is copied
into a fresh session, without .git and node_modules; your folder is never written.
  --framework F   pytest or node (default: pytest when DIR holds .py files)
  --coverage      also measure line coverage of the non-test files
  --json          print the report as JSON
Exit codes: 0 all passed, 1 a test failed or no tests ran, 2 usage, 3 the tests could not run.
`;

/** DIR as a tar archive, made by the host's tar from the user's own folder. */
function tarOf(dir: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const tar = spawn(
      'tar',
      ['-C', dir, '--exclude=.git', '--exclude=node_modules', '--exclude=__pycache__', '-cf', '-', '.'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const out: Buffer[] = [];
    let err = '';
    tar.stdout.on('data', (c: Buffer) => out.push(c));
    tar.stderr.on('data', (c: Buffer) => (err += c.toString()));
    tar.on('error', reject);
    tar.on('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(out))
        : reject(new AppError('INVALID_ARGUMENT', `cannot pack ${dir}: ${err.trim()}`)),
    );
  });
}

async function guessFramework(dir: string): Promise<TestFramework> {
  const { readdir } = await import('node:fs/promises');
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return names.some((n) => String(n).endsWith('.py') && !String(n).includes('node_modules')) ? 'pytest' : 'node';
}

export async function testCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(argv, {
    framework: { type: 'string' },
    coverage: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (values.framework !== undefined && values.framework !== 'pytest' && values.framework !== 'node') {
    throw new AppError('INVALID_ARGUMENT', `--framework must be pytest or node, not "${values.framework}"`);
  }
  const dir = path.resolve(io.cwd, positionals[0] ?? '.');
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new AppError('INVALID_ARGUMENT', `${dir} is not a folder`);
  const framework = (values.framework as TestFramework | undefined) ?? (await guessFramework(dir));
  const runtime = await openSessionRuntime(io);
  try {
    const session = await runtime.sessions.create({
      language: framework === 'pytest' ? 'python' : 'javascript',
      owner: 'local',
    });
    await runtime.sessions.importArchive(session.id, '', await tarOf(dir), 'local');
    const report = await runTests(runtime.sessions, session.id, {
      owner: 'local',
      framework,
      paths: positionals.slice(1),
      coverage: values.coverage === true,
    });
    await runtime.sessions.close(session.id, 'local');
    if (values.json) {
      const { run, ...rest } = report;
      io.stdout.write(
        `${JSON.stringify({ ...rest, exit_code: run.exitCode, output: run.stdout + run.stderr }, null, 2)}\n`,
      );
    } else {
      if (report.status !== 'passed') io.stdout.write(`${report.run.stdout}${report.run.stderr}\n`);
      io.stdout.write(`${formatTestReport(report)}\n`);
    }
    return report.status === 'passed' ? 0 : report.status === 'error' ? 3 : 1;
  } finally {
    await runtime.close();
  }
}
