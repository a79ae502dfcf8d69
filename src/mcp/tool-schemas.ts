/**
 * Input and output schemas (zod raw shapes) of the codemode MCP tools. The
 * descriptions are written for the model that calls the tools.
 */
import { z } from 'zod';
import { LANGUAGES } from '../sandbox/executor.js';
import { EXEC_STATUSES } from '../sandbox/executor.js';
import { MAX_LIMITS } from '../sandbox/limits.js';

const language = z
  .enum(LANGUAGES)
  .describe('Language of the code: "python" (Python 3), "javascript" (Node.js), "typescript" or "bash".');

const sessionId = z.string().min(1).describe('Id of a session from create_session or list_sessions.');

const workspacePath = z
  .string()
  .min(1)
  .max(4096)
  .describe('Relative path inside the session workspace, e.g. "data/input.csv". No ".." and no leading "/".');

function limitField(description: string, max: number) {
  return z.number().int().positive().max(max).optional().describe(`${description} Maximum ${max}.`);
}

/** Per-run limits; every field is optional and may not exceed the server's maximum. */
export const limitsSchema = z
  .strictObject({
    wallMs: limitField('Wall-clock time of the run in milliseconds.', MAX_LIMITS.wallMs),
    cpuMs: limitField('CPU time of the run in milliseconds.', MAX_LIMITS.cpuMs),
    memoryBytes: limitField('Memory of the whole process tree in bytes.', MAX_LIMITS.memoryBytes),
    processes: limitField('Processes and threads that may run at once.', MAX_LIMITS.processes),
    outputBytes: limitField('Bytes of stdout and of stderr kept.', MAX_LIMITS.outputBytes),
    outputTotalBytes: limitField('Bytes the run may print before it is stopped.', MAX_LIMITS.outputTotalBytes),
    diskBytes: limitField('Workspace disk use in bytes.', MAX_LIMITS.diskBytes),
    tmpBytes: limitField('Size of /tmp in bytes.', MAX_LIMITS.tmpBytes),
    openFiles: limitField('Open file descriptors.', MAX_LIMITS.openFiles),
  })
  .describe('Resource limits for this run, e.g. {"wallMs": 60000}. Omit to use the defaults.');

const encoding = z
  .enum(['utf8', 'base64'])
  .default('utf8')
  .describe('"utf8" for text (default) or "base64" for binary content.');

const inputFile = z.strictObject({
  path: workspacePath,
  content: z.string().describe('File content, encoded as given by "encoding".'),
  encoding,
});

export const EXECUTE_CODE_INPUT = {
  language,
  code: z.string().min(1).max(1_000_000).describe('The program to run. Print results to stdout.'),
  session_id: sessionId
    .optional()
    .describe(
      'Run in this session, keeping variables and files between calls. Omit for a one-shot run in a fresh sandbox.',
    ),
  limits: limitsSchema.optional(),
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
};

export const RUN_SCRIPT_INPUT = {
  session_id: sessionId,
  path: workspacePath.describe(
    'Workspace path of the script to run, e.g. "main.py". Its extension picks the language.',
  ),
  args: z.array(z.string()).max(1000).default([]).describe('Command-line arguments for the script.'),
  limits: limitsSchema.optional(),
};

export const CREATE_SESSION_INPUT = {
  language: language.describe('Language of the session kernel: "python", "javascript", "typescript" or "bash".'),
  limits: limitsSchema.optional().describe('Default limits of every run in this session.'),
  resume_session_id: sessionId
    .optional()
    .describe(
      'Resume a saved session (see list_sessions "resumable", e.g. after a server restart): its workspace files and history come back.',
    ),
  replay_history: z
    .boolean()
    .optional()
    .describe('With resume_session_id: re-run its successful executions to rebuild variables.'),
};

export const SESSION_ID_INPUT = { session_id: sessionId };

export const WRITE_FILE_INPUT = {
  session_id: sessionId,
  path: workspacePath,
  content: z
    .string()
    .max(16 * 1024 * 1024)
    .describe('File content, encoded as given by "encoding". At most 16 MiB per call.'),
  encoding,
};

export const READ_FILE_INPUT = {
  session_id: sessionId,
  path: workspacePath,
  encoding: z
    .enum(['auto', 'utf8', 'base64'])
    .default('auto')
    .describe('"auto" (default) returns text as text, images as image content and other binary data as base64.'),
};

export const LIST_FILES_INPUT = {
  session_id: sessionId,
  path: z.string().max(4096).optional().describe('Directory to list, relative to the workspace. Omit for all files.'),
};

export const DELETE_FILE_INPUT = { session_id: sessionId, path: workspacePath };

// ---- outputs ----

const limitsOut = z.object({
  wallMs: z.number(),
  cpuMs: z.number(),
  memoryBytes: z.number(),
  processes: z.number(),
  outputBytes: z.number(),
  outputTotalBytes: z.number(),
  diskBytes: z.number(),
  tmpBytes: z.number(),
  openFiles: z.number(),
});

const fileEntry = z.object({ path: z.string(), size: z.number() });

export const EXEC_OUTPUT_SHAPE = {
  status: z
    .enum(EXEC_STATUSES as [string, ...string[]])
    .describe(
      'ok, error, or the limit/event that stopped the run, as the supervisor observed it (protocol_error: a session kernel broke its control protocol and was stopped).',
    ),
  exit_code: z.number().nullable(),
  signal: z.string().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  stdout_omitted_chars: z.number().describe('Characters of stdout left out of this reply (see full_output).'),
  stderr_omitted_chars: z.number(),
  stdout_dropped_bytes: z.number().describe('Bytes over the output limit that were not kept at all.'),
  stderr_dropped_bytes: z.number(),
  duration_ms: z.number(),
  error: z
    .object({
      type: z.string(),
      message: z.string(),
      line: z.number().optional(),
      column: z.number().optional(),
      traceback: z.string().optional(),
    })
    .optional(),
  outputs: z.array(
    z.object({ kind: z.enum(['result', 'display']), mime_types: z.array(z.string()), text: z.string().optional() }),
  ),
  files: z.array(fileEntry).optional(),
  reason: z.string().optional(),
  cached: z.boolean().optional().describe('True when the result came from the result cache (cache: true).'),
  hint: z.string().optional(),
  full_output: z.object({ stdout: z.string().optional(), stderr: z.string().optional() }).optional(),
  session_id: z.string().optional(),
  execution_id: z.string().optional(),
  execution_count: z.number().optional(),
  kernel_restarted: z.boolean().optional(),
  cpu_ms: z.number().optional().describe('CPU time the session kernel used for this run, when known.'),
  idle_cpu_ms: z
    .number()
    .optional()
    .describe("CPU the session's background processes used since the previous execution (capped by the idle quota)."),
  tool_calls: z.number().optional().describe('Code Mode tool calls this execution made.'),
  note: z.string().optional(),
  limits: limitsOut,
  isolation: z.object({
    backend: z.string(),
    cgroup: z.string(),
    seccomp: z.boolean(),
    uid: z.number().nullable(),
  }),
};

const sessionInfo = z.object({
  id: z.string(),
  language: z.string(),
  state: z.string(),
  created_at: z.string(),
  last_used_at: z.string(),
  execution_count: z.number(),
  limits: limitsOut,
  note: z.string().optional(),
});

export const SESSION_OUTPUT_SHAPE = { session: sessionInfo };
export const SESSION_LIST_OUTPUT_SHAPE = {
  sessions: z.array(sessionInfo),
  resumable: z
    .array(
      z.object({
        session_id: z.string(),
        language: z.string(),
        created_at: z.string(),
        last_used_at: z.string(),
        execution_count: z.number(),
      }),
    )
    .describe('Saved sessions that are not running; resume one with create_session resume_session_id.'),
};
export const SESSION_ACK_OUTPUT_SHAPE = { session_id: z.string(), done: z.boolean() };
export const FILE_ENTRY_OUTPUT_SHAPE = { session_id: z.string(), path: z.string(), size: z.number() };
export const READ_FILE_OUTPUT_SHAPE = {
  session_id: z.string(),
  path: z.string(),
  size: z.number(),
  encoding: z.enum(['utf8', 'base64']),
  mime_type: z.string(),
  content: z.string().describe('The content (clipped when large; see truncated).'),
  truncated: z.boolean(),
  uri: z.string(),
};
export const LIST_FILES_OUTPUT_SHAPE = { session_id: z.string(), files: z.array(fileEntry) };
