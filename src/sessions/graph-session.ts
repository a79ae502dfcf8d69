/**
 * A live session's dataflow graph, from its history: the function the MCP
 * tools (session_graph, rerun_downstream) and the workbench call. The
 * analyser is injected (src/analysis's Analyzer.dataflow), so sessions/ does
 * not depend on analysis/.
 */
import type { Dataflow } from '../analysis/types.js';
import type { Language } from '../sandbox/executor.js';
import type { ExecutionRecord, ExecutionSource, SessionExecResult, SessionService } from './contract.js';
import { planRerun, SessionGraph, type RerunPlan } from './graph.js';

export type DataflowOf = (language: Language, code: string) => Promise<Dataflow>;

export async function sessionGraph(
  sessions: Pick<SessionService, 'history'>,
  id: string,
  owner: string | undefined,
  dataflowOf: DataflowOf,
): Promise<{ graph: SessionGraph; records: ExecutionRecord[] }> {
  // The store's order (count, then insertion) keeps a restart after the cell that shares its count.
  const all = [...sessions.history(id, owner)];
  const flows = await Promise.all(
    all.map((r) => ((r.kind ?? 'execute') === 'execute' ? dataflowOf(r.language, r.code) : null)),
  );
  const graph = new SessionGraph();
  const records: ExecutionRecord[] = [];
  all.forEach((r, i) => {
    if (r.kind === 'restart') return graph.restart();
    records.push(r);
    graph.add({
      executionCount: r.executionCount,
      kind: r.kind ?? 'execute',
      status: r.status,
      dataflow: flows[i] ?? null,
    });
  });
  return { graph, records };
}

export interface DownstreamRun {
  plan: RerunPlan;
  /** One per cell run, in order; the last is the first failure, if any. */
  runs: { cell: number; result: SessionExecResult }[];
}

/**
 * Re-runs, in dependency order, the cells that depend on `from` (planRerun),
 * each distinct code once, stopping at the first failure; nothing runs when the plan is refused or on
 * a dry run. The one implementation behind the rerun_downstream tool and the
 * workbench's POST .../rerun-downstream.
 */
export async function rerunDownstream(
  sessions: Pick<SessionService, 'history' | 'execute'>,
  id: string,
  owner: string | undefined,
  from: number,
  dataflowOf: DataflowOf,
  options: { signal?: AbortSignal; dryRun?: boolean; source?: ExecutionSource } = {},
): Promise<DownstreamRun> {
  const { graph, records } = await sessionGraph(sessions, id, owner, dataflowOf);
  const planned = planRerun(graph, from);
  const codeOf = (cell: number) => records.find((r) => r.executionCount === cell)!.code;
  // A cell re-run before has a twin with the same code later in the plan. Running the code once, at the
  // first place, is enough: the plan has no cycle, so a later twin would read the same inputs again.
  const firstOfCode = new Map<string, number>();
  for (const c of planned.cells) if (!firstOfCode.has(codeOf(c))) firstOfCode.set(codeOf(c), c);
  const plan = { ...planned, cells: planned.cells.filter((c) => firstOfCode.get(codeOf(c)) === c) };
  const runs: DownstreamRun['runs'] = [];
  if (plan.refused || options.dryRun) return { plan, runs };
  for (const cell of plan.cells) {
    const result = await sessions.execute(id, codeOf(cell), {
      ...(owner === undefined ? {} : { owner }),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.source ? { source: options.source } : {}),
    });
    runs.push({ cell, result });
    if (result.status !== 'ok') break;
  }
  return { plan, runs };
}
