/**
 * `execute_code` and `run_script`: a one-shot run in a fresh sandbox or a run
 * in a code session, with progress, cancellation, clipped output linked in
 * full, and images as image content (exec-reply.ts builds the reply).
 */
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { ExecResult, InputFile } from '../../sandbox/executor.js';
import { installedPythonPackages } from '../../sandbox/python-packages.js';
import type { SessionExecResult } from '../../sessions/contract.js';
import { buildExecReply, type FullOutputLink } from '../exec-reply.js';
import { OutputStore } from '../output-store.js';
import { createProgressReporter } from '../progress-reporter.js';
import { defineTool, type CallToolResult, type ToolCallContext } from './define-tool.js';
import { decodeContent, sessionFileUri, type ToolEnv } from './env.js';
import {
  EXEC_OUTPUT,
  inputFile,
  language,
  limitOverridesFrom,
  limitsSchema,
  sessionId,
  workspacePath,
} from './schemas.js';

const FULL_OUTPUT_DIR = '.codemode/outputs';

/** Save clipped streams in full: in the workspace for session runs, in the output store otherwise. */
async function fullOutputLinks(
  env: ToolEnv,
  result: ExecResult | SessionExecResult,
): Promise<{ stdout?: FullOutputLink; stderr?: FullOutputLink }> {
  const links: { stdout?: FullOutputLink; stderr?: FullOutputLink } = {};
  for (const stream of ['stdout', 'stderr'] as const) {
    const full = result[stream];
    if (full.length <= env.replyChars) continue;
    if ('sessionId' in result) {
      const path = `${FULL_OUTPUT_DIR}/${result.executionId}.${stream}.txt`;
      try {
        const entry = await env.sessions.writeFile(result.sessionId, path, Buffer.from(full, 'utf8'), env.owner);
        links[stream] = {
          uri: sessionFileUri(result.sessionId, path),
          name: path,
          workspacePath: path,
          size: entry.size,
        };
        continue;
      } catch (error) {
        env.log(`could not save full ${stream} in session ${result.sessionId}: ${String(error)}`);
      }
    }
    const stored = env.outputs.put(env.owner, `${stream}.txt`, full);
    links[stream] = { uri: OutputStore.uri(stored.id), name: `${stream}.txt`, size: Buffer.byteLength(full) };
  }
  return links;
}

async function reply(env: ToolEnv, result: ExecResult | SessionExecResult): Promise<CallToolResult> {
  return buildExecReply(result, {
    maxChars: env.replyChars,
    links: await fullOutputLinks(env, result),
    ...(result.error?.type === 'ModuleNotFoundError' ? { pythonPackages: installedPythonPackages() } : {}),
  });
}

function progressFor(env: ToolEnv, call: ToolCallContext) {
  return createProgressReporter({
    progressToken: call.progressToken,
    send: (n) => call.notify(n),
    ...(env.progressIntervalMs === undefined ? {} : { intervalMs: env.progressIntervalMs }),
  });
}

const EXEC_ANNOTATIONS = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };

export const executeCode = defineTool({
  name: 'execute_code',
  title: 'Execute code',
  description:
    'Run a Python, JavaScript, TypeScript or Bash program in an isolated sandbox (no network) and get its ' +
    'stdout, stderr, status and error (with line). Without session_id each call starts fresh; with session_id ' +
    'the code runs in that session and variables, imports and files persist. Plots (matplotlib) and other ' +
    'images come back as images. Long output is clipped and linked.',
  input: ({ ceiling }) =>
    z.object({
      language: language
        .optional()
        .describe(
          'Language of the code: "python", "javascript", "typescript" or "bash". Required without session_id; with session_id it is the session\'s own (giving another one is an error).',
        ),
      code: z.string().min(1).max(1_000_000).describe('The program to run. Print results to stdout.'),
      session_id: sessionId
        .optional()
        .describe(
          'Run in this session, keeping variables and files between calls. Omit for a one-shot run in a fresh sandbox.',
        ),
      limits: limitsSchema(ceiling).optional(),
      files: z
        .array(inputFile)
        .max(100)
        .optional()
        .describe('Files written into the workspace before the run, e.g. [{"path": "in.txt", "content": "hello"}].'),
      stdin: z.string().max(10_000_000).optional().describe('Text given to the program on standard input.'),
      cache: z
        .boolean()
        .optional()
        .describe(
          'One-shot runs only: answer from the result cache when this exact run (code, files, stdin, limits) was done before. Use for deterministic code.',
        ),
    }),
  output: EXEC_OUTPUT,
  annotations: EXEC_ANNOTATIONS,
  async handler(args, call, env: ToolEnv) {
    const { executor, sessions, owner } = env;
    const files: InputFile[] = (args.files ?? []).map((f, i) => ({
      path: f.path,
      content: decodeContent(f.content, f.encoding, `files[${i}].content`),
    }));
    const limits = limitOverridesFrom(args.limits);
    const progress = progressFor(env, call);
    try {
      if (args.session_id === undefined) {
        if (args.language === undefined) {
          throw new AppError('INVALID_ARGUMENT', 'language is required for a one-shot run (without session_id)', {
            argument: 'language',
            hint: 'Pass language: "python", "javascript", "typescript" or "bash", or a session_id to run in a session.',
          });
        }
        const result = await executor.run({
          language: args.language,
          code: args.code,
          files,
          signal: call.signal,
          onOutput: progress.onOutput,
          ...(args.cache ? { cache: true } : {}),
          ...(args.stdin === undefined ? {} : { stdin: args.stdin }),
          ...(limits === undefined ? {} : { limits }),
        });
        return await reply(env, result);
      }
      const id = args.session_id;
      if (args.cache) {
        throw new AppError('INVALID_ARGUMENT', 'cache is only for one-shot runs: a session run depends on its state', {
          argument: 'cache',
        });
      }
      if (args.stdin !== undefined) {
        throw new AppError('INVALID_ARGUMENT', 'stdin is only supported for one-shot runs (without session_id)', {
          argument: 'stdin',
        });
      }
      const info = sessions.get(id, owner);
      if (args.language !== undefined && info.language !== args.language) {
        throw new AppError(
          'INVALID_ARGUMENT',
          `session ${id} runs ${info.language}, not ${args.language}; pass language "${info.language}" or create a ${args.language} session`,
          { argument: 'language' },
        );
      }
      for (const file of files) await sessions.writeFile(id, file.path, toBytes(file.content), owner);
      const result = await sessions.execute(id, args.code, {
        owner,
        signal: call.signal,
        onOutput: progress.onOutput,
        ...(limits === undefined ? {} : { limits }),
      });
      return await reply(env, result);
    } finally {
      progress.stop();
    }
  },
});

export const runScript = defineTool({
  name: 'run_script',
  title: 'Run a workspace script',
  description:
    'Run a script file from a session workspace with command-line arguments, e.g. path "main.py", args ["--n", "3"]. ' +
    'Write the file first with write_file. Returns the same fields as execute_code.',
  input: ({ ceiling }) =>
    z.object({
      session_id: sessionId,
      path: workspacePath.describe(
        'Workspace path of the script to run, e.g. "main.py". Its extension picks the language.',
      ),
      args: z.array(z.string()).max(1000).default([]).describe('Command-line arguments for the script.'),
      limits: limitsSchema(ceiling).optional(),
    }),
  output: EXEC_OUTPUT,
  annotations: EXEC_ANNOTATIONS,
  async handler(args, call, env: ToolEnv) {
    const progress = progressFor(env, call);
    try {
      const limits = limitOverridesFrom(args.limits);
      const result = await env.sessions.runScript(args.session_id, args.path, args.args, {
        owner: env.owner,
        signal: call.signal,
        onOutput: progress.onOutput,
        ...(limits === undefined ? {} : { limits }),
      });
      return await reply(env, result);
    } finally {
      progress.stop();
    }
  },
});

function toBytes(content: Uint8Array | string): Uint8Array {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
}
