/**
 * The dataflow graph (pure): edges to the latest earlier definition, stale
 * marking, rerun plans with cycles and unknown names explained, DOT/Mermaid.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dataflow } from '../analysis/types.js';
import { buildGraph, planReplay, planRerun, toDot, toMermaid, type GraphCell } from './graph.js';

const cell = (n: number, defs: string[], uses: string[], unknown: Dataflow['unknown'] = []): GraphCell => ({
  executionCount: n,
  kind: 'execute',
  status: 'ok',
  dataflow: { defs, uses, unknown },
});

describe('session dataflow graph', () => {
  const notebook = [
    cell(1, ['x'], []),
    cell(2, ['y'], ['x']),
    cell(3, ['z'], ['y']),
    cell(4, ['w'], []),
    cell(5, ['x'], []),
  ];

  it('links a read to the latest earlier definition of the name', () => {
    const { edges } = buildGraph([...notebook, cell(6, ['v'], ['x'])]).view();
    assert.deepEqual(
      edges.map((e) => `${e.from}->${e.to}:${e.name}`),
      ['1->2:x', '2->3:y', '5->6:x'],
    );
  });

  it('marks cells whose inputs were redefined after they ran, and their readers', () => {
    const { nodes } = buildGraph(notebook).view();
    assert.deepEqual(
      nodes.filter((n) => n.stale).map((n) => [n.id, n.staleBecause]),
      [
        [2, ['x (redefined by [5])']],
        [3, ['y (from stale [2])']],
      ],
    );
  });

  it('plans exactly the dependents of a changed cell, in order', () => {
    assert.deepEqual(planRerun(buildGraph(notebook), 5), { cells: [2, 3], unknown: [] });
    assert.deepEqual(planRerun(buildGraph(notebook), 1).cells, [2, 3]);
    assert.deepEqual(planRerun(buildGraph(notebook), 4).cells, []);
  });

  it('mutation is an uncertain edge: its readers are listed, not re-run', () => {
    const g = buildGraph([
      cell(1, ['df'], []),
      cell(2, [], ['df'], [{ reason: 'mutation', line: 1, name: 'df' }]),
      cell(3, ['s'], ['df']),
    ]);
    assert.deepEqual(
      g.view().edges.map((e) => `${e.from}->${e.to}${e.uncertain ? '?' : ''}`),
      ['1->2', '1->3', '2->3?'],
    );
    const plan = planRerun(g, 2);
    assert.deepEqual(plan.cells, []);
    assert.match(plan.unknown[0]!.reason, /only changed in place/);
  });

  it('refuses a cell whose names cannot be known, and explains a cycle', () => {
    const exec = buildGraph([cell(1, [], [], [{ reason: 'exec', line: 1 }]), cell(2, ['a'], ['q'])]);
    assert.match(planRerun(exec, 1).refused!, /exec at line 1/);
    const cycle = buildGraph([cell(1, ['x'], []), cell(2, ['y'], ['x', 'z']), cell(3, ['z'], ['y'])]);
    assert.match(planRerun(cycle, 1).refused!, /a cycle: \[2\] reads z defined by \[3\]/);
    assert.match(planRerun(buildGraph(notebook), 99).refused!, /no execution \[99\]/);
  });

  it('renders DOT and Mermaid with stale cells marked', () => {
    const view = buildGraph(notebook).view();
    const dot = toDot(view);
    assert.match(dot, /^digraph session \{/);
    assert.match(dot, /c2 \[label="\[2\] y \(stale\)", style=dashed, color=orange\];/);
    assert.match(dot, /c1 -> c2 \[label="x"\];/);
    const mermaid = toMermaid(view);
    assert.match(mermaid, /c2\["\[2\] y \(stale\)"\]/);
    assert.match(mermaid, /class c2,c3 stale/);
  });

  it('planReplay keeps what chosen cells need, and any opaque cell before them', () => {
    assert.deepEqual(planReplay(buildGraph(notebook), [3]), { cells: [1, 2, 3], notes: [] });
    assert.deepEqual(planReplay(buildGraph(notebook), [4]).cells, [4]);
    const withExec = buildGraph([
      cell(1, ['a'], []),
      cell(2, [], [], [{ reason: 'exec', line: 1 }]),
      cell(3, ['b'], ['q']),
    ]);
    const plan = planReplay(withExec, [3]);
    assert.deepEqual(plan.cells, [2, 3]);
    assert.match(plan.notes[0] ?? '', /\[2\] is kept/);
    assert.deepEqual(planReplay(buildGraph(notebook), [99]).notes, ['no execution [99] to replay']);
  });
});
