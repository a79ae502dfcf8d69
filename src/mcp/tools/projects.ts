/**
 * Project tools: `run_tests` runs a session's pytest or node:test suite and
 * returns each test as data (src/projects/run-tests.ts does the work).
 */
import { z } from 'zod';
import { formatTestReport, runTests } from '../../projects/run-tests.js';
import { defineTool } from './define-tool.js';
import { text, type ToolEnv } from './env.js';
import { sessionId, workspacePath } from './schemas.js';

const TEST_CASE = z.object({
  name: z.string(),
  outcome: z.enum(['passed', 'failed', 'error', 'skipped']),
  duration_ms: z.number(),
  message: z.string().optional(),
  details: z.string().optional(),
  file: z.string().optional(),
  line: z.number().int().optional(),
});

const RUN_TESTS_OUTPUT = z.object({
  session_id: z.string(),
  framework: z.enum(['pytest', 'node']),
  status: z.enum(['passed', 'failed', 'no_tests', 'error']),
  passed: z.number().int(),
  failed: z.number().int(),
  errors: z.number().int(),
  skipped: z.number().int(),
  tests: z.array(TEST_CASE),
  coverage: z
    .object({
      percent: z.number(),
      covered_lines: z.number().int(),
      total_lines: z.number().int(),
      files: z.array(z.object({ file: z.string(), covered_lines: z.number().int(), total_lines: z.number().int() })),
    })
    .optional(),
  reason: z.string().optional(),
  execution_count: z.number().int(),
  exit_code: z.number().int().nullable(),
  output: z.string().describe('The tail of the runner output (stdout then stderr).'),
});

export const runTestsTool = defineTool({
  name: 'run_tests',
  title: 'Run tests',
  description:
    "Run the session's tests (pytest in Python sessions, node --test in JavaScript ones) and get every test's " +
    'name, outcome, duration and failure (message, file and line), plus line coverage with coverage: true.',
  input: z.object({
    session_id: sessionId,
    framework: z.enum(['pytest', 'node']).optional().describe('Default: pytest for Python sessions, node otherwise.'),
    paths: z
      .array(workspacePath)
      .max(100)
      .optional()
      .describe('Test files or folders; default: the runner finds them.'),
    coverage: z.boolean().optional().describe('Also measure line coverage of the non-test files.'),
  }),
  output: RUN_TESTS_OUTPUT,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, call, env: ToolEnv) {
    const r = await runTests(env.sessions, args.session_id, {
      owner: env.owner,
      signal: call.signal,
      ...(args.framework === undefined ? {} : { framework: args.framework }),
      ...(args.paths === undefined ? {} : { paths: args.paths }),
      ...(args.coverage === undefined ? {} : { coverage: args.coverage }),
    });
    const output = `${r.run.stdout}${r.run.stderr ? `\n${r.run.stderr}` : ''}`.slice(-4000);
    return {
      content: text(formatTestReport(r)),
      structuredContent: {
        session_id: args.session_id,
        framework: r.framework,
        status: r.status,
        passed: r.passed,
        failed: r.failed,
        errors: r.errors,
        skipped: r.skipped,
        tests: r.tests.map((t) => ({
          name: t.name,
          outcome: t.outcome,
          duration_ms: t.durationMs,
          ...(t.message === undefined ? {} : { message: t.message }),
          ...(t.details === undefined ? {} : { details: t.details }),
          ...(t.file === undefined ? {} : { file: t.file }),
          ...(t.line === undefined ? {} : { line: t.line }),
        })),
        ...(r.coverage === undefined
          ? {}
          : {
              coverage: {
                percent: r.coverage.percent,
                covered_lines: r.coverage.coveredLines,
                total_lines: r.coverage.totalLines,
                files: r.coverage.files.map((f) => ({
                  file: f.file,
                  covered_lines: f.coveredLines,
                  total_lines: f.totalLines,
                })),
              },
            }),
        ...(r.reason === undefined ? {} : { reason: r.reason }),
        execution_count: r.run.executionCount,
        exit_code: r.run.exitCode,
        output,
      },
    };
  },
});
