/**
 * Line coverage from the two formats our runtimes write: lcov (node's
 * `--test-reporter=lcov`) and coverage.py's JSON report. Both were written by
 * sandboxed code: sizes are capped and numbers checked, never trusted.
 */
import { z } from 'zod';
import { AppError } from '../errors.js';

export interface FileCoverage {
  file: string;
  coveredLines: number;
  totalLines: number;
}

export interface CoverageSummary {
  /** Covered lines over total lines of the non-test files, 0–100 with one decimal. */
  percent: number;
  coveredLines: number;
  totalLines: number;
  files: FileCoverage[];
}

const MAX_FILES = 5000;

/** Test files are not what the tests cover: leave them out of the summary. */
export function isTestFile(file: string): boolean {
  return (
    /(^|\/)(test_[^/]*\.py|[^/]*_test\.py|conftest\.py|[^/]*\.test\.[cm]?[jt]s|[^/]*\.spec\.[cm]?[jt]s)$/.test(file) ||
    /(^|\/)tests?\//.test(file)
  );
}

function relative(file: string): string {
  return file.replace(/^(file:\/\/)?\/workspace\//, '');
}

export function summarize(files: FileCoverage[]): CoverageSummary {
  // Only the workspace's own code: not the runtime's files, not installed packages, not the tests.
  const kept = files.filter(
    (f) => !f.file.startsWith('/') && !f.file.includes('node_modules/') && !isTestFile(f.file) && f.totalLines > 0,
  );
  const coveredLines = kept.reduce((a, f) => a + f.coveredLines, 0);
  const totalLines = kept.reduce((a, f) => a + f.totalLines, 0);
  const percent = totalLines === 0 ? 0 : Math.round((coveredLines / totalLines) * 1000) / 10;
  return { percent, coveredLines, totalLines, files: kept };
}

/** lcov tracefile: `SF:` opens a file, `LF:`/`LH:` count its lines found and hit. */
export function parseLcov(text: string): CoverageSummary {
  const files: FileCoverage[] = [];
  let current: FileCoverage | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('SF:')) {
      if (files.length >= MAX_FILES)
        throw new AppError('INVALID_ARGUMENT', `coverage report lists over ${MAX_FILES} files`);
      current = { file: relative(line.slice(3)), coveredLines: 0, totalLines: 0 };
    } else if (current && line.startsWith('LF:')) {
      current.totalLines = count(line.slice(3));
    } else if (current && line.startsWith('LH:')) {
      current.coveredLines = Math.min(count(line.slice(3)), current.totalLines || Infinity);
    } else if (current && line === 'end_of_record') {
      files.push(current);
      current = undefined;
    }
  }
  return summarize(files);
}

function count(s: string): number {
  const n = Number(s);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

const COVERAGE_PY = z.object({
  files: z.record(
    z.string(),
    z.object({
      summary: z.object({ covered_lines: z.number().int().min(0), num_statements: z.number().int().min(0) }),
    }),
  ),
});

/** coverage.py's `coverage json` report. */
export function parseCoveragePy(json: string): CoverageSummary {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw new AppError('INVALID_ARGUMENT', 'the coverage report is not JSON');
  }
  const parsed = COVERAGE_PY.safeParse(data);
  if (!parsed.success)
    throw new AppError('INVALID_ARGUMENT', 'the coverage report does not have coverage.py JSON shape');
  const entries = Object.entries(parsed.data.files);
  if (entries.length > MAX_FILES)
    throw new AppError('INVALID_ARGUMENT', `coverage report lists over ${MAX_FILES} files`);
  return summarize(
    entries.map(([file, f]) => ({
      file: relative(file),
      coveredLines: Math.min(f.summary.covered_lines, f.summary.num_statements),
      totalLines: f.summary.num_statements,
    })),
  );
}
