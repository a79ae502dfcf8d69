/**
 * Project tools: `run_tests` runs a session's pytest or node:test suite and
 * returns each test as data; `git` versions the workspace with checkpoints
 * (src/projects/ does the work).
 */
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { SessionGit, type GitCommit } from '../../projects/git.js';
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

const GIT_COMMIT = z.object({
  hash: z.string(),
  author: z.string(),
  date: z.string(),
  subject: z.string(),
  execution_count: z.number().int().optional().describe('The execution count the commit checkpoints.'),
});

function commitJson(c: GitCommit): z.infer<typeof GIT_COMMIT> {
  return {
    hash: c.hash,
    author: c.author,
    date: c.date,
    subject: c.subject,
    ...(c.executionCount === undefined ? {} : { execution_count: c.executionCount }),
  };
}

const GIT_STATE_OUTPUT = z.object({
  session_id: z.string(),
  files: z.array(z.object({ path: z.string(), code: z.string() })).optional(),
  diff: z.string().optional(),
  patch: z.string().optional(),
  commit: GIT_COMMIT.nullable().optional(),
  commits: z.array(GIT_COMMIT).optional(),
  note: z.string().optional(),
});

const gitFor = (env: ToolEnv, id: string, signal?: AbortSignal) =>
  new SessionGit(env.sessions, id, { owner: env.owner, ...(signal === undefined ? {} : { signal }) });

export const gitTool = defineTool({
  name: 'git',
  title: 'Version control of a session workspace',
  description:
    'The session workspace as a git repository (git runs inside the sandbox, hooks off). action "status" lists ' +
    'changed files; "diff" shows changes since the last commit (or since rev); "commit" records every change with ' +
    'message as a checkpoint of files and execution count; "log" lists commits; "restore" brings the files back to ' +
    'commit rev and, unless replay_history is false, restarts the kernel and replays the executions up to that ' +
    'checkpoint to rebuild the variables. "bundle" writes all commits to the bundle file path; "patch" returns the ' +
    'commits after rev as mailbox patches; "import_bundle" brings in a repository from the bundle file path.',
  input: z.object({
    session_id: sessionId,
    action: z.enum(['status', 'diff', 'commit', 'log', 'restore', 'bundle', 'patch', 'import_bundle']),
    message: z.string().max(10_000).optional().describe('commit: the commit message.'),
    rev: z.string().max(200).optional().describe('diff/restore/patch: a commit hash, HEAD~1, a branch.'),
    path: workspacePath.optional().describe('bundle/import_bundle: the bundle file in the workspace.'),
    limit: z.number().int().min(1).max(1000).optional().describe('log: how many commits (default 20).'),
    replay_history: z.boolean().optional().describe('restore: rebuild the variables by replay (default true).'),
  }),
  output: GIT_STATE_OUTPUT,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(args, call, env: ToolEnv) {
    const git = gitFor(env, args.session_id, call.signal);
    const id = args.session_id;
    switch (args.action) {
      case 'status': {
        await git.init();
        const files = await git.status();
        const lines = files.map((f) => `${f.code} ${f.path}`);
        return {
          content: text(lines.length ? lines.join('\n') : 'nothing changed since the last commit'),
          structuredContent: { session_id: id, files },
        };
      }
      case 'diff': {
        await git.init();
        const diff = await git.diff(args.rev);
        return { content: text(diff || 'no changes'), structuredContent: { session_id: id, diff } };
      }
      case 'commit': {
        if (args.message === undefined)
          throw new AppError('INVALID_ARGUMENT', 'commit needs a message', { argument: 'message' });
        const c = await git.commit(args.message);
        return {
          content: text(
            c
              ? `committed ${c.hash.slice(0, 12)} ${c.subject} (checkpoint at execution ${c.executionCount})`
              : 'nothing to commit',
          ),
          structuredContent: { session_id: id, commit: c ? commitJson(c) : null },
        };
      }
      case 'log': {
        const commits = await git.log(args.limit ?? 20);
        const lines = commits.map((c) => `${c.hash.slice(0, 12)} ${c.date} ${c.author}: ${c.subject}`);
        return {
          content: text(lines.length ? lines.join('\n') : 'no commits yet'),
          structuredContent: { session_id: id, commits: commits.map(commitJson) },
        };
      }
      case 'bundle': {
        if (args.path === undefined) throw new AppError('INVALID_ARGUMENT', 'bundle needs path', { argument: 'path' });
        await git.bundle(args.path);
        return { content: text(`wrote the bundle ${args.path}`), structuredContent: { session_id: id } };
      }
      case 'patch': {
        if (args.rev === undefined) throw new AppError('INVALID_ARGUMENT', 'patch needs rev', { argument: 'rev' });
        const patch = await git.patch(args.rev);
        return {
          content: text(patch || 'no commits after that revision'),
          structuredContent: { session_id: id, patch },
        };
      }
      case 'import_bundle': {
        if (args.path === undefined)
          throw new AppError('INVALID_ARGUMENT', 'import_bundle needs path', { argument: 'path' });
        const c = await git.importBundle(args.path);
        return {
          content: text(`imported ${args.path}: HEAD is ${c.hash.slice(0, 12)} ${c.subject}`),
          structuredContent: { session_id: id, commit: commitJson(c) },
        };
      }
      case 'restore': {
        if (args.rev === undefined) throw new AppError('INVALID_ARGUMENT', 'restore needs rev', { argument: 'rev' });
        const c = await git.restore(args.rev);
        let note = `files restored to ${c.hash.slice(0, 12)}`;
        if (args.replay_history !== false && c.executionCount !== undefined) {
          const info = await env.sessions.restart(id, env.owner, { replayUpTo: c.executionCount });
          note += `; kernel restarted. ${info.note ?? ''}`.trimEnd();
        }
        return { content: text(note), structuredContent: { session_id: id, commit: commitJson(c), note } };
      }
    }
  },
});
