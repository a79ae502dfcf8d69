/**
 * The dataflow graph drawn with cytoscape. This module is only reached by a
 * dynamic import (graph-panel.ts), so cytoscape is its own chunk and the main
 * bundle does not carry it. Cytoscape draws on a canvas and sizes its
 * container through element.style (CSSOM), which the page's CSP allows.
 * Labels are data, drawn as canvas text: nothing from the sandbox enters the
 * DOM as markup.
 */
import cytoscape from 'cytoscape';
import type { GraphResponse } from '../../src/mcp/http/api-contract.js';

export interface GraphView {
  update(graph: GraphResponse, selected: number | undefined): void;
  destroy(): void;
}

/** At most this many names in a node's label; the rest is "…". */
const LABEL_NAMES = 4;

function nodeLabel(n: GraphResponse['nodes'][number]): string {
  const names = n.defs.slice(0, LABEL_NAMES).join(', ') + (n.defs.length > LABEL_NAMES ? ', …' : '');
  return `[${n.execution_count}]${names ? `\n${names}` : ''}${n.stale ? '\nstale' : ''}`;
}

export function createGraphView(container: HTMLElement, onSelect: (count: number) => void): GraphView {
  const cy = cytoscape({
    container,
    wheelSensitivity: 0.3,
    maxZoom: 1.5,
    boxSelectionEnabled: false,
    style: [
      {
        selector: 'node',
        style: {
          label: 'data(label)',
          'text-wrap': 'wrap',
          'text-valign': 'center',
          'font-size': 11,
          'font-family': 'ui-monospace, monospace',
          shape: 'round-rectangle',
          width: 'label',
          height: 'label',
          padding: '6px',
          'background-color': '#e8eefb',
          'border-width': 1,
          'border-color': '#2557c7',
        },
      },
      {
        selector: 'node.stale',
        style: { 'background-color': '#fff4d6', 'border-color': '#9a6700', 'border-width': 2 },
      },
      { selector: 'node.failed', style: { 'border-color': '#b3261e' } },
      { selector: 'node.opaque', style: { 'border-style': 'dashed' } },
      { selector: 'node:selected', style: { 'border-width': 3, 'border-color': '#1d1d1b' } },
      {
        selector: 'edge',
        style: {
          label: 'data(label)',
          'font-size': 10,
          'curve-style': 'bezier',
          'target-arrow-shape': 'triangle',
          width: 1.5,
          'line-color': '#8a8984',
          'target-arrow-color': '#8a8984',
          'text-background-color': '#fbfbfa',
          'text-background-opacity': 1,
        },
      },
      { selector: 'edge.uncertain', style: { 'line-style': 'dashed' } },
    ],
  });
  cy.on('tap', 'node', (e) => onSelect(Number(e.target.id().slice(1))));

  return {
    update(graph, selected) {
      // Edges between the same pair are merged, their names joined.
      const pairs = new Map<string, { from: number; to: number; names: string[]; uncertain: boolean }>();
      for (const e of graph.edges) {
        const key = `${e.from}-${e.to}`;
        const p = pairs.get(key) ?? { from: e.from, to: e.to, names: [], uncertain: true };
        p.names.push(e.name);
        p.uncertain &&= e.uncertain === true;
        pairs.set(key, p);
      }
      cy.batch(() => {
        cy.elements().remove();
        cy.add(
          graph.nodes.map((n) => ({
            group: 'nodes' as const,
            data: { id: `n${n.execution_count}`, label: nodeLabel(n) },
            classes: [n.stale ? 'stale' : '', n.opaque ? 'opaque' : '', n.status === 'ok' ? '' : 'failed']
              .filter(Boolean)
              .join(' '),
          })),
        );
        cy.add(
          [...pairs.values()].map((p) => ({
            group: 'edges' as const,
            data: { id: `e${p.from}-${p.to}`, source: `n${p.from}`, target: `n${p.to}`, label: p.names.join(', ') },
            classes: p.uncertain ? 'uncertain' : '',
          })),
        );
      });
      cy.layout({ name: 'breadthfirst', directed: true, spacingFactor: 1.1, padding: 10 }).run();
      if (selected !== undefined) cy.$id(`n${selected}`).select();
      container.dataset.nodes = String(cy.nodes().length);
      container.dataset.edges = String(cy.edges().length);
    },
    destroy() {
      cy.destroy();
    },
  };
}
