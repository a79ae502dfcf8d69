/**
 * Tests as data: run pytest or node's test runner in a session's sandbox and
 * return each test's name, outcome, duration and failure, plus line coverage
 * when asked. Both runners write JUnit XML (and a coverage report) into a
 * scratch folder of the workspace; the host reads them back through the
 * session's file API (inside the sandbox, no links followed), parses them as
 * the hostile input they are, and deletes them.
 */
import type { Language } from '../sandbox/executor.js';
import type { SessionExecResult, SessionService } from '../sessions/contract.js';
import { AppError, isAppError } from '../errors.js';
import { parseCoveragePy, parseLcov, type CoverageSummary } from './coverage.js';
import { parseJunit, type TestCase } from './junit.js';
import { safeRelativePath } from '../sandbox/workspace/paths.js';

export type TestFramework = 'pytest' | 'node';

export interface RunTestsOptions {
  /** Default: pytest for Python sessions, node for JavaScript (and bash, if the workspace holds JS tests). */
  framework?: TestFramework;
  /** Test files or folders in the workspace; default: the runner's own discovery. */
  paths?: string[];
  /** Also measure line coverage (coverage.py or node's built-in coverage). */
  coverage?: boolean;
  owner?: string;
  signal?: AbortSignal;
}

export type TestRunStatus = 'passed' | 'failed' | 'no_tests' | 'error';

export interface TestRunReport {
  framework: TestFramework;
  status: TestRunStatus;
  passed: number;
  failed: number;
  errors: number;
  skipped: number;
  tests: TestCase[];
  coverage?: CoverageSummary;
  /** Why the run is `error`: the runner could not start, or its report is missing or unreadable. */
  reason?: string;
  /** The run itself, as recorded in the session's history. */
  run: SessionExecResult;
}

/** Where the runners write their reports, relative to the workspace. */
export const REPORT_DIR = '.codemode-tests';
const JUNIT = `${REPORT_DIR}/junit.xml`;
const LCOV = `${REPORT_DIR}/lcov.info`;
const COVERAGE_JSON = `${REPORT_DIR}/coverage.json`;

export function defaultFramework(language: Language): TestFramework {
  return language === 'python' ? 'pytest' : 'node';
}

function checkPaths(paths: readonly string[]): string[] {
  if (paths.length > 100) throw new AppError('INVALID_ARGUMENT', 'at most 100 test paths', { argument: 'paths' });
  // Relative workspace paths only; a leading "-" would be read as an option by the runner.
  return paths.map((p) => {
    const rel = safeRelativePath(p);
    if (rel.startsWith('-')) throw new AppError('INVALID_ARGUMENT', `bad test path ${p}`, { argument: 'paths' });
    return rel;
  });
}

/** The program and arguments that run the tests and leave the reports in REPORT_DIR. */
export function testCommand(
  framework: TestFramework,
  paths: readonly string[],
  coverage: boolean,
): { program: 'bash'; args: string[] } {
  const dir = `/workspace/${REPORT_DIR}`;
  const run =
    framework === 'pytest'
      ? [
          // -p no:cacheprovider: no .pytest_cache in the workspace; exit 5 means no tests were collected.
          coverage
            ? `python3 -m coverage run --data-file=/tmp/.coverage --source=/workspace -m pytest`
            : `python3 -m pytest`,
          `-q -p no:cacheprovider --junitxml=${dir}/junit.xml "$@"`,
        ].join(' ')
      : [
          'node --test --test-reporter=spec --test-reporter-destination=stdout',
          `--test-reporter=junit --test-reporter-destination=${dir}/junit.xml`,
          coverage
            ? `--experimental-test-coverage --test-reporter=lcov --test-reporter-destination=${dir}/lcov.info`
            : '',
          '"$@"',
        ].join(' ');
  const after =
    framework === 'pytest' && coverage
      ? `python3 -m coverage json --data-file=/tmp/.coverage -q -o ${dir}/coverage.json >/dev/null 2>&1`
      : ':';
  const script = `rm -rf ${dir} && mkdir -p ${dir} || exit 90\n${run}\nrc=$?\n${after}\nexit $rc`;
  return { program: 'bash', args: ['--noprofile', '--norc', '-c', script, 'run-tests', ...paths] };
}

/** Runs the tests of session `id` and reports them as data. */
export async function runTests(
  sessions: SessionService,
  id: string,
  options: RunTestsOptions = {},
): Promise<TestRunReport> {
  const info = sessions.get(id, options.owner);
  const framework = options.framework ?? defaultFramework(info.language);
  const paths = checkPaths(options.paths ?? []);
  const { program, args } = testCommand(framework, paths, options.coverage === true);
  const run = await sessions.runProgram(id, program, args, {
    ...(options.owner === undefined ? {} : { owner: options.owner }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const report: TestRunReport = {
    framework,
    status: 'error',
    passed: 0,
    failed: 0,
    errors: 0,
    skipped: 0,
    tests: [],
    run,
  };
  try {
    if (run.status !== 'ok' && run.status !== 'error') {
      report.reason = `the test run ended ${run.status}${run.reason ? `: ${run.reason}` : ''}`;
      return report;
    }
    const xml = await readReport(sessions, id, JUNIT, options.owner);
    if (xml === undefined) {
      report.reason =
        run.exitCode === 90
          ? 'could not create the report folder in the workspace'
          : `${framework} wrote no report (exit code ${run.exitCode}); see its output`;
      return report;
    }
    report.tests = parseJunit(xml);
    for (const t of report.tests) {
      if (t.outcome === 'passed') report.passed++;
      else if (t.outcome === 'failed') report.failed++;
      else if (t.outcome === 'error') report.errors++;
      else report.skipped++;
    }
    report.status = report.tests.length === 0 ? 'no_tests' : report.failed + report.errors > 0 ? 'failed' : 'passed';
    if (options.coverage) {
      const raw =
        framework === 'pytest'
          ? await readReport(sessions, id, COVERAGE_JSON, options.owner)
          : await readReport(sessions, id, LCOV, options.owner);
      if (raw !== undefined) report.coverage = framework === 'pytest' ? parseCoveragePy(raw) : parseLcov(raw);
    }
    return report;
  } catch (e) {
    if (!isAppError(e)) throw e;
    report.status = 'error';
    report.reason = e.message;
    return report;
  } finally {
    await sessions.deleteFile(id, REPORT_DIR, options.owner).catch(() => {});
  }
}

async function readReport(
  sessions: SessionService,
  id: string,
  file: string,
  owner: string | undefined,
): Promise<string | undefined> {
  try {
    return new TextDecoder('utf-8', { fatal: false }).decode(await sessions.readFile(id, file, owner));
  } catch (e) {
    if (isAppError(e) && e.code === 'NOT_FOUND') return undefined;
    throw e;
  }
}

/** One line per test for people and models: outcome, name, time, and the failure where there is one. */
export function formatTestReport(r: TestRunReport): string {
  const head =
    r.status === 'error'
      ? `tests could not run: ${r.reason ?? 'unknown reason'}`
      : `${r.status}: ${r.passed} passed, ${r.failed} failed, ${r.errors} errors, ${r.skipped} skipped (${r.framework})`;
  const lines = [head];
  for (const t of r.tests) {
    if (t.outcome === 'passed') continue;
    const where = t.file ? ` at ${t.file}${t.line ? `:${t.line}` : ''}` : '';
    lines.push(`${t.outcome.toUpperCase()} ${t.name}${where}${t.message ? `: ${t.message}` : ''}`);
  }
  if (r.coverage) lines.push(`coverage: ${r.coverage.percent}% of ${r.coverage.totalLines} lines`);
  return lines.join('\n');
}
