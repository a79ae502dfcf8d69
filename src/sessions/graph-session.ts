/**
 * A live session's dataflow graph, from its history: the function the MCP
 * tools (session_graph, rerun_downstream) and the workbench call. The
 * analyser is injected (src/analysis's Analyzer.dataflow), so sessions/ does
 * not depend on analysis/.
 */
import type { Dataflow } from '../analysis/types.js';
import type { Language } from '../sandbox/executor.js';
import type { ExecutionRecord, SessionService } from './contract.js';
import { SessionGraph } from './graph.js';

export type DataflowOf = (language: Language, code: string) => Promise<Dataflow>;

export async function sessionGraph(
  sessions: Pick<SessionService, 'history'>,
  id: string,
  owner: string | undefined,
  dataflowOf: DataflowOf,
): Promise<{ graph: SessionGraph; records: ExecutionRecord[] }> {
  const records = [...sessions.history(id, owner)].sort((a, b) => a.executionCount - b.executionCount);
  const flows = await Promise.all(
    records.map((r) => ((r.kind ?? 'execute') === 'execute' ? dataflowOf(r.language, r.code) : null)),
  );
  const graph = new SessionGraph();
  records.forEach((r, i) =>
    graph.add({
      executionCount: r.executionCount,
      kind: r.kind ?? 'execute',
      status: r.status,
      dataflow: flows[i] ?? null,
    }),
  );
  return { graph, records };
}
