/**
 * `session_graph` and `rerun_downstream`: a session as a dataflow graph
 * (src/sessions/graph.ts) — which cell defines and reads which names, which
 * cells are stale — and re-running only what depends on a changed cell, in
 * order. Cycles and names the analysis cannot know are explained, not guessed.
 */
import { z } from 'zod';
import { sharedAnalyzer } from '../../analysis/analyzer.js';
import { toDot, toMermaid } from '../../sessions/graph.js';
import { rerunDownstream as runDownstream, sessionGraph } from '../../sessions/graph-session.js';
import { defineTool } from './define-tool.js';
import { text, type ToolEnv } from './env.js';
import { sessionId } from './schemas.js';

const dataflowOf = (language: Parameters<ReturnType<typeof sharedAnalyzer>['dataflow']>[0], code: string) =>
  sharedAnalyzer().dataflow(language, code);

const unknownName = z.object({ reason: z.string(), line: z.number(), name: z.string().optional() });
const node = z.object({
  id: z.number().describe('The execution count of the cell.'),
  kind: z.enum(['execute', 'script']),
  status: z.string(),
  defs: z.array(z.string()),
  uses: z.array(z.string()),
  mutates: z.array(z.string()),
  unknown: z.array(unknownName),
  opaque: z.boolean().describe('The cell may read or define names nobody can list (exec, star import, a script).'),
  stale: z.boolean(),
  staleBecause: z.array(z.string()),
});
const edge = z.object({ from: z.number(), to: z.number(), name: z.string(), uncertain: z.boolean().optional() });

export const sessionGraphTool = defineTool({
  name: 'session_graph',
  title: 'Session dataflow graph',
  description:
    'The session as a dataflow graph: each execution with the top-level names it defines and reads, an edge from ' +
    'the cell that last defined a name to each cell that read it, and stale cells (an input was redefined after ' +
    'they ran). What static analysis cannot know (exec, star imports, globals(), objects changed in place) is ' +
    'listed as unknown. Optionally as Graphviz DOT or Mermaid text.',
  input: z.object({
    session_id: sessionId,
    format: z
      .enum(['json', 'dot', 'mermaid'])
      .default('json')
      .describe('"dot" or "mermaid" adds the graph as text in that notation.'),
  }),
  output: z.object({
    nodes: z.array(node),
    edges: z.array(edge),
    stale: z.array(z.number()),
    dot: z.string().optional(),
    mermaid: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  async handler(args, _call, env: ToolEnv) {
    const { graph } = await sessionGraph(env.sessions, args.session_id, env.owner, dataflowOf);
    const view = graph.view();
    const stale = view.nodes.filter((n) => n.stale).map((n) => n.id);
    const rendered = args.format === 'dot' ? toDot(view) : args.format === 'mermaid' ? toMermaid(view) : undefined;
    const lines = view.nodes.map(
      (n) =>
        `[${n.id}] defines ${n.defs.join(', ') || '-'}; reads ${n.uses.join(', ') || '-'}` +
        (n.stale ? `; STALE: ${n.staleBecause.join(', ')}` : '') +
        (n.unknown.length
          ? `; unknown: ${n.unknown.map((u) => u.reason + (u.name ? ` ${u.name}` : '')).join(', ')}`
          : ''),
    );
    return {
      content: text(rendered ?? (lines.join('\n') || 'no executions yet')),
      structuredContent: {
        nodes: view.nodes,
        edges: view.edges,
        stale,
        ...(args.format === 'dot' ? { dot: rendered } : {}),
        ...(args.format === 'mermaid' ? { mermaid: rendered } : {}),
      },
    };
  },
});

export const rerunDownstream = defineTool({
  name: 'rerun_downstream',
  title: 'Re-run dependent cells',
  description:
    'Re-run, in order, only the cells that depend on the given cell (they read a name it defines, directly or ' +
    'through other cells), e.g. after you changed an early step. Independent cells are not run. A cycle, or a cell ' +
    'whose names cannot be known (exec, star import), is explained and nothing runs. Stops at the first failure.',
  input: z.object({
    session_id: sessionId,
    execution_count: z.number().int().min(1).describe('The cell whose dependents to re-run (its execution count).'),
    dry_run: z.boolean().optional().describe('Only say which cells would run.'),
  }),
  output: z.object({
    planned: z.array(z.number()),
    unknown: z.array(z.object({ cell: z.number(), reason: z.string() })),
    refused: z.string().optional(),
    runs: z.array(z.object({ cell: z.number(), execution_count: z.number(), status: z.string(), stdout: z.string() })),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async handler(args, call, env: ToolEnv) {
    const { plan, runs: done } = await runDownstream(
      env.sessions,
      args.session_id,
      env.owner,
      args.execution_count,
      dataflowOf,
      { signal: call.signal, dryRun: args.dry_run === true },
    );
    const runs = done.map(({ cell, result: r }) => ({
      cell,
      execution_count: r.executionCount,
      status: r.status,
      stdout: r.stdout.slice(0, 2000),
    }));
    const lines = [
      plan.refused
        ? `nothing ran: ${plan.refused}`
        : `${args.dry_run ? 'would re-run' : 're-ran'} ${plan.cells.length ? plan.cells.map((c) => `[${c}]`).join(' ') : 'nothing (no cell depends on it)'}`,
      ...runs.map((r) => `[${r.cell}] -> [${r.execution_count}] ${r.status}`),
      ...plan.unknown.map((u) => `not re-run [${u.cell}]: ${u.reason}`),
    ];
    const failed = runs.find((r) => r.status !== 'ok');
    return {
      content: text(lines.join('\n')),
      structuredContent: {
        planned: plan.cells,
        unknown: plan.unknown,
        ...(plan.refused ? { refused: plan.refused } : {}),
        runs,
      },
      ...(failed ? { isError: true } : {}),
    };
  },
});
