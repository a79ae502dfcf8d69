/**
 * A session as a dataflow graph. Pure. Executions are nodes; a name a cell
 * reads links to the latest earlier cell that defined it. A cell is stale
 * when a name it read was defined again after it ran (or when a cell it read
 * from is stale). What static reading cannot know (exec, star imports,
 * `globals()[...]`, mutation of an object) stays `unknown` on the node:
 * mutation adds an `uncertain` edge, the rest make the node `opaque` (it may
 * read or define anything). Incremental: add() costs the new cell's names.
 */
import type { Dataflow, UnknownName } from '../analysis/types.js';

export interface GraphCell {
  executionCount: number;
  kind: 'execute' | 'script';
  status: string;
  /** Names from the analyser; a script's names are not tracked (null). */
  dataflow: Dataflow | null;
}

export interface GraphNode {
  id: number;
  kind: 'execute' | 'script';
  status: string;
  defs: string[];
  uses: string[];
  /** Objects the cell changed in place (`df["a"] = ...`, `obj.x = 1`). */
  mutates: string[];
  unknown: UnknownName[];
  /** True when the cell may read or define names nobody can list (exec, star import, globals(), a script). */
  opaque: boolean;
  stale: boolean;
  /** Why it is stale: `x (redefined by [5])`, `y (from stale [2])`. */
  staleBecause: string[];
}

export interface GraphEdge {
  from: number;
  to: number;
  name: string;
  /** The source only changed the object in place (mutation): a dependency the analysis cannot confirm. */
  uncertain?: true;
}

export interface GraphView {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** Reasons that name one object (mutation, a star import's module) do not make a node opaque. */
const NAMED_ONLY = new Set(['mutation']);

export class SessionGraph {
  readonly #nodes: GraphNode[] = [];
  readonly #edges: GraphEdge[] = [];
  readonly #byId = new Map<number, GraphNode>();
  /** Every cell that defined each name, in order. */
  readonly #defsOf = new Map<string, number[]>();
  /** Cells that mutated a name since its last definition. */
  readonly #mutatedSince = new Map<string, number[]>();

  /** A fresh kernel: later cells cannot read what earlier ones defined, so no edge crosses a restart. */
  restart(): void {
    this.#defsOf.clear();
    this.#mutatedSince.clear();
  }

  add(cell: GraphCell): GraphNode {
    const df = cell.dataflow;
    const unknown = df?.unknown ?? [{ reason: 'a script: its names are not tracked', line: 1 }];
    const mutates = [...new Set(unknown.filter((u) => u.reason === 'mutation' && u.name).map((u) => u.name!))];
    const node: GraphNode = {
      id: cell.executionCount,
      kind: cell.kind,
      status: cell.status,
      defs: df?.defs ?? [],
      uses: df?.uses ?? [],
      mutates,
      unknown,
      opaque: df === null || unknown.some((u) => !NAMED_ONLY.has(u.reason)),
      stale: false,
      staleBecause: [],
    };
    for (const name of node.uses) {
      const defs = this.#defsOf.get(name);
      const from = defs?.at(-1);
      if (from !== undefined) this.#edges.push({ from, to: node.id, name });
      for (const m of this.#mutatedSince.get(name) ?? [])
        if (m !== node.id) this.#edges.push({ from: m, to: node.id, name, uncertain: true });
    }
    for (const name of node.defs) {
      const list = this.#defsOf.get(name);
      if (list) list.push(node.id);
      else this.#defsOf.set(name, [node.id]);
      this.#mutatedSince.delete(name);
    }
    for (const name of mutates) {
      const list = this.#mutatedSince.get(name);
      if (list) list.push(node.id);
      else this.#mutatedSince.set(name, [node.id]);
    }
    this.#nodes.push(node);
    this.#byId.set(node.id, node);
    return node;
  }

  node(id: number): GraphNode | undefined {
    return this.#byId.get(id);
  }

  /** The nodes with staleness computed, and the edges. */
  view(): GraphView {
    const incoming = new Map<number, GraphEdge[]>();
    for (const e of this.#edges) {
      const list = incoming.get(e.to);
      if (list) list.push(e);
      else incoming.set(e.to, [e]);
    }
    for (const n of this.#nodes) {
      const why: string[] = [];
      for (const name of n.uses) {
        const later = (this.#defsOf.get(name) ?? []).find((d) => d > n.id);
        if (later !== undefined) why.push(`${name} (redefined by [${later}])`);
      }
      for (const e of incoming.get(n.id) ?? [])
        if (!e.uncertain && this.#byId.get(e.from)?.stale) why.push(`${e.name} (from stale [${e.from}])`);
      n.staleBecause = why;
      n.stale = why.length > 0;
    }
    return { nodes: this.#nodes.map((n) => ({ ...n })), edges: [...this.#edges] };
  }
}

export function buildGraph(cells: readonly GraphCell[]): SessionGraph {
  const g = new SessionGraph();
  for (const c of [...cells].sort((a, b) => a.executionCount - b.executionCount)) g.add(c);
  return g;
}

export interface RerunPlan {
  /** Cells to run again, in order. Empty when `refused` is set. */
  cells: number[];
  /** Cells that may depend on the given one but the analysis cannot tell (not rerun). */
  unknown: { cell: number; reason: string }[];
  /** Why nothing will run: a cycle, or a cell whose names cannot be known. */
  refused?: string;
}

/**
 * The cells that depend on `from`, in the order to run them again: cells that
 * read a name `from` defines (or changes) — earlier readers too, since a
 * changed cell is usually run again at the end — then, transitively, the
 * cells that read from those.
 */
export function planRerun(graph: SessionGraph, from: number): RerunPlan {
  const { nodes, edges } = graph.view();
  const start = nodes.find((n) => n.id === from);
  if (!start) return { cells: [], unknown: [], refused: `no execution [${from}] in this session` };
  if (start.opaque)
    return {
      cells: [],
      unknown: [],
      refused: `[${from}] ${start.unknown.map((u) => `${u.reason} at line ${u.line}`).join(', ')}: the names it defines cannot be known, so neither can its dependents`,
    };
  const names = new Set([...start.defs, ...start.mutates]);
  const picked = new Set<number>();
  const unknown = new Map<number, string>();
  for (const n of nodes) {
    if (n.id === from || n.kind === 'script') continue;
    const reads = n.uses.filter((u) => names.has(u));
    if (reads.length === 0) continue;
    // A later reader counts only when `from` is where its value came from.
    const certain =
      n.id < from || edges.some((e) => e.to === n.id && e.from === from && !e.uncertain && names.has(e.name));
    if (certain) picked.add(n.id);
    else if (edges.some((e) => e.to === n.id && e.from === from))
      unknown.set(n.id, `reads ${reads.join(', ')} that [${from}] only changed in place`);
  }
  // Transitively along forward edges from what is picked.
  const byTarget = [...edges].sort((a, b) => a.to - b.to);
  let grew = true;
  while (grew) {
    grew = false;
    for (const e of byTarget) {
      if (!picked.has(e.from) || picked.has(e.to) || e.to === from) continue;
      if (e.uncertain) {
        if (!unknown.has(e.to)) unknown.set(e.to, `reads ${e.name} that [${e.from}] only changed in place`);
        continue;
      }
      picked.add(e.to);
      unknown.delete(e.to);
      grew = true;
    }
  }
  for (const n of nodes) {
    if (n.opaque && n.id !== from && !picked.has(n.id))
      unknown.set(n.id, `${n.unknown.map((u) => u.reason).join(', ')}: it may read anything`);
  }
  const cells = [...picked].sort((a, b) => a - b);
  // A cycle: a picked cell reads a name that a later picked cell defines, so no order reproduces both.
  for (const a of cells) {
    const na = graph.node(a)!;
    for (const b of cells) {
      if (b <= a) continue;
      const shared = na.uses.filter((u) => graph.node(b)!.defs.includes(u) && !na.defs.includes(u));
      if (shared.length && edges.some((e) => e.from === a && e.to === b && !e.uncertain))
        return {
          cells: [],
          unknown: [...unknown].map(([cell, reason]) => ({ cell, reason })),
          refused: `a cycle: [${a}] reads ${shared.join(', ')} defined by [${b}], which reads from [${a}]; run them by hand in the order you mean`,
        };
    }
  }
  return { cells, unknown: [...unknown].map(([cell, reason]) => ({ cell, reason })) };
}

/**
 * The cells to replay so that `targets` can run again: the targets and,
 * transitively, every cell they read from (uncertain edges included: for a
 * replay, one cell too many is cheaper than a NameError). A cell whose names
 * cannot be known (exec, star import, a script) before a needed cell might
 * define anything it reads, so it is kept too, and said.
 */
export function planReplay(graph: SessionGraph, targets: readonly number[]): { cells: number[]; notes: string[] } {
  const { nodes, edges } = graph.view();
  const notes: string[] = [];
  const need = new Set<number>();
  const queue: number[] = [];
  for (const t of targets) {
    if (!graph.node(t)) notes.push(`no execution [${t}] to replay`);
    else queue.push(t);
  }
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (need.has(id)) continue;
    need.add(id);
    for (const e of edges) if (e.to === id && !need.has(e.from)) queue.push(e.from);
    for (const n of nodes) {
      if (n.id < id && n.opaque && !need.has(n.id)) {
        notes.push(`[${n.id}] is kept: its names cannot be known, and [${id}] may read from it`);
        queue.push(n.id);
      }
    }
  }
  return { cells: [...need].sort((a, b) => a - b), notes };
}

function label(n: GraphNode): string {
  const defs = n.defs.length ? n.defs.join(', ') : '-';
  return `[${n.id}] ${defs}${n.stale ? ' (stale)' : ''}${n.opaque ? ' ?' : ''}`;
}

/** Graphviz DOT text. */
export function toDot(view: GraphView): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = ['digraph session {', '  rankdir=TB;', '  node [shape=box, fontname="monospace"];'];
  for (const n of view.nodes)
    lines.push(
      `  c${n.id} [label=${q(label(n))}${n.stale ? ', style=dashed, color=orange' : ''}${n.status !== 'ok' ? ', color=red' : ''}];`,
    );
  for (const e of view.edges)
    lines.push(`  c${e.from} -> c${e.to} [label=${q(e.name)}${e.uncertain ? ', style=dotted' : ''}];`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** Mermaid flowchart text. */
export function toMermaid(view: GraphView): string {
  const esc = (s: string) => s.replace(/"/g, '#quot;');
  const lines = ['flowchart TD'];
  for (const n of view.nodes) lines.push(`  c${n.id}["${esc(label(n))}"]`);
  for (const e of view.edges) lines.push(`  c${e.from} ${e.uncertain ? '-.->' : '-->'}|${esc(e.name)}| c${e.to}`);
  const stale = view.nodes.filter((n) => n.stale).map((n) => `c${n.id}`);
  if (stale.length)
    lines.push('  classDef stale stroke-dasharray: 5 5,stroke:orange', `  class ${stale.join(',')} stale`);
  return lines.join('\n') + '\n';
}
