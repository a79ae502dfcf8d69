/**
 * The zod pieces the codemode tools' schemas are built from, shared by the
 * tool modules beside this file. The descriptions are written for the model
 * that calls the tools. Limits' maximums come from the live settings (the
 * server's ceiling), never from compile-time constants. Every name a client
 * sees, in inputs and in structured outputs, is snake_case (`wall_ms`); the
 * two maps below are the only place the internal camelCase names meet them.
 */
import { z } from 'zod';
import { EXEC_STATUSES, LANGUAGES } from '../../sandbox/executor.js';
import { LIMIT_KEYS, type LimitOverrides, type Limits } from '../../sandbox/limits.js';

type LimitKey = (typeof LIMIT_KEYS)[number];

/** `wallMs` → `wall_ms`. */
export function snakeName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The internal overrides from a tool's `limits` argument (snake_case keys). */
export function limitOverridesFrom(json: Partial<Record<string, number>> | undefined): LimitOverrides | undefined {
  if (json === undefined) return undefined;
  const out: LimitOverrides = {};
  for (const key of LIMIT_KEYS) {
    const v = json[snakeName(key)];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Limits as a structured output carries them (snake_case keys). */
export function limitsJson(limits: Readonly<Limits>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of LIMIT_KEYS) out[snakeName(key)] = limits[key];
  return out;
}

export const language = z
  .enum(LANGUAGES)
  .describe('Language of the code: "python" (Python 3), "javascript" (Node.js), "typescript" or "bash".');

export const sessionId = z.string().min(1).describe('Id of a session from create_session or list_sessions.');

export const workspacePath = z
  .string()
  .min(1)
  .max(4096)
  .describe('Relative path inside the session workspace, e.g. "data/input.csv". No ".." and no leading "/".');

function limitField(description: string, max: number) {
  return z.number().int().positive().max(max).optional().describe(`${description} Maximum ${max}.`);
}

const LIMIT_DESCRIPTIONS: Record<LimitKey, string> = {
  wallMs: 'Wall-clock time of the run in milliseconds.',
  cpuMs: 'CPU time of the run in milliseconds.',
  memoryBytes: 'Memory of the whole process tree in bytes.',
  processes: 'Processes and threads that may run at once.',
  outputBytes: 'Bytes of stdout and of stderr kept.',
  outputTotalBytes: 'Bytes the run may print before it is stopped.',
  diskBytes: 'Workspace disk use in bytes.',
  tmpBytes: 'Size of /tmp in bytes.',
  openFiles: 'Open file descriptors.',
};

/** Per-run limits; every field is optional and may not exceed the server's ceiling. */
export function limitsSchema(ceiling: Readonly<Limits>) {
  const shape: Record<string, ReturnType<typeof limitField>> = {};
  for (const key of LIMIT_KEYS) shape[snakeName(key)] = limitField(LIMIT_DESCRIPTIONS[key], ceiling[key]);
  return z
    .strictObject(shape)
    .describe('Resource limits for this run, e.g. {"wall_ms": 60000}. Omit to use the defaults.');
}

export const encoding = z
  .enum(['utf8', 'base64'])
  .default('utf8')
  .describe('"utf8" for text (default) or "base64" for binary content.');

export const inputFile = z.strictObject({
  path: workspacePath,
  content: z.string().describe('File content, encoded as given by "encoding".'),
  encoding,
});

// ---- outputs ----

export const limitsOut = z.object(Object.fromEntries(LIMIT_KEYS.map((k) => [snakeName(k), z.number()])));

export const fileEntry = z.object({ path: z.string(), size: z.number() });

/** An exception the program raised, located in its own source. */
export const execError = z.object({
  type: z.string(),
  message: z.string(),
  line: z.number().optional(),
  column: z.number().optional(),
  traceback: z.string().optional(),
});

/** A static-analysis finding (src/analysis), as results and check_code carry it. */
export const finding = z.object({
  rule: z.string(),
  severity: z.enum(['warn', 'block']),
  line: z.number(),
  column: z.number(),
  message: z.string(),
  hint: z.string(),
});

export const EXEC_OUTPUT = z.object({
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
  error: execError.optional(),
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
  findings: z
    .array(finding)
    .optional()
    .describe('Static-analysis findings: "warn" ones beside a run, "block" ones on a blocked run (nothing ran).'),
  note: z.string().optional(),
  warnings: z
    .array(z.string())
    .optional()
    .describe('Problems beside the result, e.g. "history not saved: no space left on device"; the result stands.'),
  limits: limitsOut,
  isolation: z.object({
    backend: z.string(),
    cgroup: z.string(),
    seccomp: z.boolean(),
    uid: z.number().nullable(),
  }),
});

export const sessionInfo = z.object({
  id: z.string(),
  language: z.string(),
  state: z.string(),
  created_at: z.string(),
  last_used_at: z.string(),
  execution_count: z.number(),
  limits: limitsOut,
  note: z.string().optional(),
});

export const SESSION_OUTPUT = z.object({ session: sessionInfo });
export const SESSION_LIST_OUTPUT = z.object({
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
});
export const SESSION_ACK_OUTPUT = z.object({ session_id: z.string(), done: z.boolean() });
export const FILE_ENTRY_OUTPUT = z.object({ session_id: z.string(), path: z.string(), size: z.number() });
export const READ_FILE_OUTPUT = z.object({
  session_id: z.string(),
  path: z.string(),
  size: z.number(),
  encoding: z.enum(['utf8', 'base64']),
  mime_type: z.string(),
  content: z
    .string()
    .describe(
      'The content (clipped when large; see truncated). Empty for an image read with encoding "auto": it is the image content of the reply.',
    ),
  truncated: z.boolean(),
  uri: z.string(),
});
export const LIST_FILES_OUTPUT = z.object({ session_id: z.string(), files: z.array(fileEntry) });
