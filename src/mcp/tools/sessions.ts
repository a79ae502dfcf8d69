/**
 * The code-session tools: create (or resume), list, restart, interrupt and
 * close. Every call carries the principal as the session's owner.
 */
import { z } from 'zod';
import { sharedAnalyzer } from '../../analysis/analyzer.js';
import { AppError } from '../../errors.js';
import { planReplay } from '../../sessions/graph.js';
import { sessionGraph } from '../../sessions/graph-session.js';
import type { SessionInfo } from '../../sessions/contract.js';
import { defineTool } from './define-tool.js';
import { sessionJson, text, type ToolEnv } from './env.js';
import {
  language,
  limitOverridesFrom,
  limitsJson,
  limitsSchema,
  SESSION_ACK_OUTPUT,
  SESSION_LIST_OUTPUT,
  SESSION_OUTPUT,
  sessionId,
} from './schemas.js';

/** A session as structured output: env's sessionJson with snake_case limits. */
function sessionOut(info: SessionInfo): Record<string, unknown> {
  return { ...sessionJson(info), limits: limitsJson(info.limits) };
}

const SESSION_ID_INPUT = z.object({ session_id: sessionId });

function sessionLine(info: SessionInfo): string {
  return `${info.id}  ${info.language}  ${info.state}  runs=${info.executionCount}  last used ${info.lastUsedAt}`;
}

export const createSession = defineTool({
  name: 'create_session',
  title: 'Create a session',
  description:
    'Start a stateful session: a kernel whose variables persist between execute_code calls, with a private ' +
    'workspace directory for files. Returns the session id to pass as session_id. Close it with close_session when done.',
  input: ({ ceiling }) =>
    z.object({
      language: language.describe('Language of the session kernel: "python", "javascript", "typescript" or "bash".'),
      limits: limitsSchema(ceiling).optional().describe('Default limits of every run in this session.'),
      resume_session_id: sessionId
        .optional()
        .describe(
          'Resume a saved session (see list_sessions "resumable", e.g. after a server restart): its workspace files and history come back.',
        ),
      replay_history: z
        .boolean()
        .optional()
        .describe('With resume_session_id: re-run its successful executions to rebuild variables.'),
      replay_cells: z
        .array(z.number().int().min(1))
        .min(1)
        .max(1000)
        .optional()
        .describe(
          'With resume_session_id: replay only what these executions need (they and the cells they read from, by ' +
            'the dataflow graph; see session_graph), instead of the whole history.',
        ),
      analysis: z
        .object({
          rules: z
            .record(z.string(), z.enum(['off', 'warn', 'block']))
            .describe('Levels by rule id or family, e.g. {"network": "block"}; the operator may forbid loosening.'),
        })
        .optional()
        .describe('Static analysis before each run in this session (see check_code for the rules).'),
      kits: z
        .array(z.string().regex(/^[a-z][a-z0-9-]{0,39}$/))
        .max(16)
        .optional()
        .describe('Kits (see list_kits) whose packages and start-up code the session gets, e.g. ["data"].'),
      network: z
        .string()
        .regex(/^[a-z][a-z0-9-]{0,39}$/)
        .optional()
        .describe(
          "A network policy the operator defined (see list_kits): outbound HTTP(S) to its allowed hosts only, through the host's proxy (HTTP_PROXY is set). Without it there is no network.",
        ),
    }),
  output: SESSION_OUTPUT,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    const limits = limitOverridesFrom(args.limits);
    if (args.replay_cells !== undefined && args.resume_session_id === undefined) {
      throw new AppError('INVALID_ARGUMENT', 'replay_cells needs resume_session_id', { argument: 'replay_cells' });
    }
    let info = await env.sessions.create({
      language: args.language,
      owner: env.owner,
      ...(limits === undefined ? {} : { limits }),
      ...(args.resume_session_id === undefined ? {} : { resumeId: args.resume_session_id }),
      ...(args.replay_history ? { replayHistory: true } : {}),
      ...(args.analysis === undefined ? {} : { analysis: args.analysis }),
      ...(args.kits?.length ? { kits: args.kits } : {}),
      ...(args.network === undefined ? {} : { network: args.network }),
    });
    if (args.replay_cells !== undefined) info = await replayForCells(env, info.id, args.replay_cells);
    const kits = info.kits?.length
      ? `\nkits: ${info.kits.map((k) => `${k.name}@${k.version} (${k.packages.map((p) => `${p.name} ${p.version}`).join(', ')})`).join('; ')}`
      : '';
    const network = info.network === undefined ? '' : `\nnetwork: policy "${info.network}" (HTTP_PROXY is set)`;
    return {
      content: text(
        `created session ${info.id} (${info.language}); pass session_id "${info.id}" to execute_code` +
          kits +
          network +
          (info.note === undefined ? '' : `\nnote: ${info.note}`),
      ),
      structuredContent: { session: sessionOut(info) },
    };
  },
});

export const listSessions = defineTool({
  name: 'list_sessions',
  title: 'List sessions',
  description: 'List your open sessions with their language, state and number of runs.',
  input: z.object({}),
  output: SESSION_LIST_OUTPUT,
  annotations: { readOnlyHint: true, openWorldHint: false },
  async handler(_args, _call, env: ToolEnv) {
    const list = env.sessions.list(env.owner);
    const resumable = env.sessions.listResumable(env.owner).map((r) => ({
      session_id: r.id,
      language: r.language,
      created_at: r.createdAt,
      last_used_at: r.lastUsedAt,
      execution_count: r.executionCount,
    }));
    const lines = list.length === 0 ? ['no live sessions; create one with create_session'] : list.map(sessionLine);
    for (const r of resumable) {
      lines.push(`${r.session_id} (${r.language}, saved, ${r.execution_count} runs): resume with create_session`);
    }
    return {
      content: text(lines.join('\n')),
      structuredContent: { sessions: list.map(sessionOut), resumable },
    };
  },
});

export const restartSession = defineTool({
  name: 'restart_session',
  title: 'Restart a session',
  description:
    'Replace the session kernel with a fresh one: all variables and imports are lost, workspace files are kept. ' +
    'Use it when the kernel is stuck or its state is broken.',
  input: SESSION_ID_INPUT,
  output: SESSION_OUTPUT,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    const info = await env.sessions.restart(args.session_id, env.owner);
    return {
      content: text(`restarted session ${info.id}: variables cleared, files kept`),
      structuredContent: { session: sessionOut(info) },
    };
  },
});

export const interruptSession = defineTool({
  name: 'interrupt_session',
  title: 'Interrupt a session',
  description:
    'Stop the execution currently running in a session (like Ctrl-C), keeping the session and its variables where the language allows.',
  input: SESSION_ID_INPUT,
  output: SESSION_ACK_OUTPUT,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    await env.sessions.interrupt(args.session_id, env.owner);
    return {
      content: text(`interrupted session ${args.session_id}`),
      structuredContent: { session_id: args.session_id, done: true },
    };
  },
});

export const closeSession = defineTool({
  name: 'close_session',
  title: 'Close a session',
  description: 'Stop the session kernel and delete its workspace. The session id is no longer valid afterwards.',
  input: SESSION_ID_INPUT,
  output: SESSION_ACK_OUTPUT,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    await env.sessions.close(args.session_id, env.owner);
    return {
      content: text(`closed session ${args.session_id}`),
      structuredContent: { session_id: args.session_id, done: true },
    };
  },
});

/** Rebuilds only what the chosen cells need: their upstream closure in the dataflow graph, replayed in order. */
export async function replayForCells(env: ToolEnv, id: string, cells: number[]): Promise<SessionInfo> {
  const { graph } = await sessionGraph(env.sessions, id, env.owner, (language, code) =>
    sharedAnalyzer().dataflow(language, code),
  );
  const plan = planReplay(graph, cells);
  const info = await env.sessions.restart(id, env.owner, { replayOnly: plan.cells });
  const which = `cells ${plan.cells.map((c) => `[${c}]`).join(' ') || '(none)'} for ${cells.map((c) => `[${c}]`).join(' ')}`;
  return { ...info, note: [`Replayed by the graph: ${which}.`, info.note, ...plan.notes].filter(Boolean).join(' ') };
}
