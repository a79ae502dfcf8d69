/**
 * The workbench's dataflow graph and DataFrame tables in a real browser
 * (harness: workbench-harness.ts): the Graph tab draws a node per cell, a
 * re-defined input marks dependent cells stale, "Re-run downstream" runs
 * exactly the dependents, the reactive toggle does so by itself, and a
 * 10,000-row pandas DataFrame shows in the virtualised table.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import {
  checkVirtualTable,
  cspViolations,
  runCell,
  shot,
  startWorkbench,
  type Workbench,
} from './workbench-harness.js';

let wb: Workbench;
let page: Page;

before(async () => {
  wb = await startWorkbench();
  const ctx = await wb.newContext();
  page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
});

after(async () => {
  await wb?.close();
});

/** The notebook cell showing execution `n`. */
const cellOf = (n: number) =>
  page.locator('.notebook .cell', { has: page.locator('.cell-count', { hasText: new RegExp(`^\\[${n}\\]$`) }) });

/** How many cells' outputs contain `text`. */
const cellsWith = (text: string) => page.locator('.notebook .cell .cell-outputs', { hasText: text }).count();

describe('workbench: dataflow graph and DataFrames', () => {
  it('the Graph tab draws a node per cell and an edge per dependency', async () => {
    await wb.open(page);
    await page.locator('.new-language').selectOption('python');
    await page.locator('.new-session').click();
    await page.locator('.notebook .cell').first().waitFor();
    await runCell(page, 'x = 1');
    await runCell(page, "y = x + 1\nprint('y is', y)");
    await runCell(page, "w = 10\nprint('w is', w)");
    await page.locator('.tab-graph').click();
    const canvas = page.locator('.graph-canvas');
    await page.locator('.graph-canvas[data-nodes="3"]').waitFor();
    assert.equal(await canvas.getAttribute('data-edges'), '1');
    assert.ok((await canvas.locator('canvas').count()) > 0, 'cytoscape drew on a canvas');
    assert.deepEqual(await page.locator('.graph-node').allInnerTexts(), ['[1] x', '[2] y (x ← [1])', '[3] w']);
    assert.equal(await page.locator('.notebook .cell.stale').count(), 0);
  });

  it('re-defining an input marks the dependent cell stale, in the cell list and in the graph', async () => {
    await runCell(page, 'x = 5');
    await cellOf(2).and(page.locator('.stale')).waitFor();
    assert.ok(await cellOf(2).locator('.cell-stale').isVisible(), 'a visible stale badge on the cell');
    assert.equal(await cellOf(3).locator('.cell-stale').isVisible(), false);
    await page.locator('.graph-node.stale[data-count="2"]').waitFor();
    assert.equal(await page.locator('.graph-node.stale').count(), 1);
    await page.locator('.graph-canvas[data-nodes="4"]').waitFor();
    // Selecting a node scrolls to and highlights its cell.
    await page.locator('.graph-node[data-count="2"]').click();
    await cellOf(2).and(page.locator('.highlight')).waitFor();
    assert.match(await page.locator('.graph-selected').innerText(), /\[2\] y = x \+ 1 — stale: x/);
    await shot(page, 'graph');
  });

  it('"Re-run downstream" on a cell re-runs exactly its dependents, not an independent cell', async () => {
    assert.equal(await cellsWith('w is 10'), 1);
    await cellOf(4).locator('.cell-rerun-downstream').click();
    await page.locator('.nb-notice', { hasText: 'from [4]: [2] → [5] ok' }).waitFor();
    await cellOf(5).and(page.locator('[data-state="done"]')).waitFor();
    assert.match(await cellOf(5).locator('.cell-outputs').innerText(), /y is 6/);
    assert.equal(await cellOf(5).locator('.cell-source').innerText(), 're-run');
    assert.equal(await cellsWith('w is 10'), 1, 'the independent cell did not run');
    assert.equal(await page.locator('.notebook .cell[data-state="done"]').count(), 5);
    // The panel's button, for a node nothing depends on, runs nothing.
    await page.locator('.graph-node[data-count="3"]').click();
    await page.locator('.graph-rerun').click();
    await page.locator('.nb-notice', { hasText: 'from [3]: no cell depends on it' }).waitFor();
    assert.equal(await page.locator('.notebook .cell[data-state="done"]').count(), 5);
  });

  it('reactive: after a cell runs, its dependents re-run by themselves', async () => {
    await page.locator('.session-reactive').check();
    await runCell(page, 'x = 7');
    await page.locator('.nb-notice', { hasText: /from \[6\]: .*ok/ }).waitFor();
    await page.locator('.notebook .cell .cell-outputs', { hasText: 'y is 8' }).first().waitFor();
    assert.equal(await cellsWith('w is 10'), 1, 'the independent cell did not run');
    await page.locator('.session-reactive').uncheck();
  });

  it('a 10,000-row DataFrame renders in the virtualised table, not as HTML', async () => {
    const cell = await runCell(
      page,
      "import pandas as pd\npd.DataFrame({'i': range(10000), 'name': ['row%d' % i for i in range(10000)]})",
    );
    await checkVirtualTable(page, cell);
    assert.equal(await cell.locator('iframe.out-html').count(), 0, 'the table is preferred over the HTML');
    assert.ok((await cell.locator('.vt-body .vt-row').count()) < 100);
  });

  it('no CSP violations in the page (cytoscape included)', async () => {
    assert.deepEqual(await cspViolations(page), []);
  });
});
