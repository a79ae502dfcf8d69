/**
 * The workbench in a real browser (harness: workbench-harness.ts): Debian's
 * chromium driven by playwright-core against `codemode serve --http` (real
 * sandbox, real store) on a random loopback port, with the page built by Vite.
 * The agent talks to the scripted model server (src/agent/scripted-server.ts).
 *
 * Screenshots of the main views land in test-artifacts/ (gitignored).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { startScriptedServer, type ScriptedServer } from '../../src/agent/scripted-server.js';
import { connectHttpClient } from './mcp-harness.js';
import {
  checkVirtualTable,
  cspViolations,
  inPage,
  runCell,
  shot,
  startWorkbench,
  type Workbench,
} from './workbench-harness.js';

const TOKEN = 'wb-e2e-token-0123456789abcdef0123';
const MODEL = 'openai:gpt-4.1';

let wb: Workbench;
let model: ScriptedServer;
let ctx: BrowserContext;
let page: Page;
/** A second browser (its own storage): the token tests and the live-view test. */
let other: BrowserContext;

function sessionId(p: Page): Promise<string> {
  return p
    .locator('.notebook')
    .getAttribute('data-session')
    .then((s) => s ?? '');
}

before(async () => {
  model = await startScriptedServer();
  wb = await startWorkbench({
    token: TOKEN,
    env: {
      CODEMODE_AGENT_MODELS: MODEL,
      OPENAI_API_KEY: 'sk-scripted-0123456789',
      OPENAI_BASE_URL: model.openaiBaseURL,
    },
  });
  ctx = await wb.newContext();
  page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  other = await wb.newContext();
});

after(async () => {
  await wb?.close();
  await model?.close();
});

describe('workbench in chromium', () => {
  it('no token: the API refuses (401) and the page asks for one; a wrong token is refused', async () => {
    assert.equal((await wb.api('GET', '/info', undefined, '')).status, 401);
    assert.equal((await wb.api('GET', '/sessions', undefined, 'not-the-token')).status, 401);
    const p = await other.newPage();
    await p.goto(`${wb.base}/`);
    await p.locator('.token-form').waitFor();
    await p.locator('.token-input').fill('wrong-token');
    await p.locator('.token-form button').click();
    await p.getByText('That token was refused').waitFor();
    assert.equal(await p.locator('.new-session').count(), 0);
    await p.close();
  });

  it('takes the token from the fragment, removes it from the address bar, keeps it in sessionStorage', async () => {
    await wb.open(page);
    assert.ok(!page.url().includes(TOKEN), `the token is gone from ${page.url()}`);
    assert.equal(await inPage(page, "sessionStorage.getItem('codemode.token')"), TOKEN);
  });

  it('creates a python session, runs a cell and streams its output while it runs', async () => {
    await page.locator('.new-language').selectOption('python');
    await page.locator('.new-session').click();
    await page.locator('.notebook .cell').first().waitFor();
    const sid = await sessionId(page);
    assert.ok(sid);
    const code =
      "import os, time\nprint('waiting', flush=True)\nwhile not os.path.exists('go'):\n    time.sleep(0.05)\nprint('went')";
    const cell = await runCell(page, code, { wait: false });
    // Shown while still running: the run waits for a file only the test writes.
    await cell.and(page.locator('[data-state="running"]')).locator('.out-live', { hasText: 'waiting' }).waitFor();
    const put = await fetch(`${wb.base}/api/v1/sessions/${sid}/files/content?path=go`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: 'x',
    });
    assert.equal(put.status, 200);
    await cell.and(page.locator('[data-state="done"]')).waitFor();
    assert.equal(await cell.getAttribute('data-status'), 'ok');
    assert.match(await cell.locator('.cell-outputs').innerText(), /waiting\s+went/);
    assert.match(await cell.locator('.cell-count').innerText(), /\[1\]/);
    assert.match(await cell.locator('.cell-status').innerText(), /ok · \d/);
    await shot(page, 'notebook');
  });

  it('a matplotlib plot renders as an image with non-blank pixels', async () => {
    const cell = await runCell(
      page,
      "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2], linewidth=4)\nplt.show()",
    );
    const img = cell.locator('img.out-image');
    await img.waitFor();
    const ink = await inPage<{ n: number; w: number; h: number; src: string }>(
      page,
      `(async () => {
        const imgs = document.querySelectorAll('.notebook img.out-image');
        const el = imgs[imgs.length - 1];
        await el.decode();
        const c = document.createElement('canvas');
        c.width = el.naturalWidth;
        c.height = el.naturalHeight;
        const g = c.getContext('2d');
        g.drawImage(el, 0, 0);
        const px = g.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && (px[i] < 200 || px[i + 1] < 200)) n++;
        return { n, w: c.width, h: c.height, src: el.src.slice(0, 22) };
      })()`,
    );
    assert.equal(ink.src, 'data:image/png;base64,');
    assert.ok(ink.w > 100 && ink.h > 100, `image ${ink.w}x${ink.h}`);
    assert.ok(ink.n > 500, `coloured pixels: ${ink.n}`);
    await shot(page, 'plot');
  });

  it('an error shows its traceback and marks the failing line in the editor', async () => {
    const cell = await runCell(page, 'a = 1\nb = 0\nc = a / b\nprint(c)');
    assert.equal(await cell.getAttribute('data-status'), 'error');
    assert.match(await cell.locator('.out-error').innerText(), /ZeroDivisionError/);
    const marked = cell.locator('.cm-error-line');
    assert.equal(await marked.count(), 1);
    assert.equal(await marked.innerText(), 'c = a / b');
  });

  it('interrupts a running cell and keeps the session usable', async () => {
    const cell = await runCell(page, "import time\nkept = 'yes'\nwhile True:\n    time.sleep(0.05)", { wait: false });
    await cell.and(page.locator('[data-state="running"]')).waitFor();
    await cell.locator('.cell-stop').click();
    await cell.and(page.locator('[data-state="done"]')).waitFor({ timeout: 20_000 });
    assert.equal(await cell.getAttribute('data-status'), 'interrupted');
    const next = await runCell(page, 'print(kept)');
    assert.match(await next.locator('.cell-outputs').innerText(), /yes/);
  });

  it('uploads a CSV by drag and drop and reads it with pandas', async () => {
    await page.locator('.tab-files').click();
    await inPage(
      page,
      `(() => {
        const dt = new DataTransfer();
        dt.items.add(new File(['a,b\\n1,2\\n3,4\\n'], 'data.csv', { type: 'text/csv' }));
        document.querySelector('.drop-zone').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      })()`,
    );
    await page.locator('.file[data-path="data.csv"]').waitFor();
    await page.locator('.file[data-path="data.csv"] .file-name').click();
    assert.match(await page.locator('.preview-text').innerText(), /a,b\s+1,2/);
    const cell = await runCell(page, "import pandas as pd\ndf = pd.read_csv('data.csv')\nprint('sum', df['b'].sum())");
    assert.match(await cell.locator('.cell-outputs').innerText(), /sum 6/);
    await shot(page, 'files');
  });

  it('HTML output runs no script in the page: sandboxed iframe without allow-scripts', async () => {
    const title = await page.title();
    const cell = await runCell(
      page,
      'display({\'text/html\': \'<b id="x">bold</b><script>document.body.dataset.ran = "1"; top.document.title = "pwned";</script><img src=x onerror="top.document.body.dataset.pwned=1">\'}, raw=True)',
    );
    const frame = cell.locator('iframe.out-html');
    await frame.waitFor();
    assert.equal(await frame.getAttribute('sandbox'), '', 'sandbox with no permissions at all');
    const inner = cell.frameLocator('iframe.out-html');
    assert.equal(await inner.locator('#x').innerText(), 'bold', 'the HTML itself is shown');
    assert.equal(await page.title(), title);
    assert.equal(await inPage(page, 'document.body.dataset.pwned ?? null'), null);
    assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline script entered the page');
  });

  it('renders 10,000 table rows virtualised and JSON as a tree', async () => {
    const cell = await runCell(
      page,
      [
        'import json',
        "rows = [{'i': i, 'sq': i * i, 'name': 'row%d' % i} for i in range(10000)]",
        "fields = [{'name': 'i'}, {'name': 'sq'}, {'name': 'name'}]",
        "display({'application/vnd.dataresource+json': {'schema': {'fields': fields}, 'data': rows}}, raw=True)",
        "display({'application/json': {'a': [1, 2, {'b': None}], 'c': 'text'}}, raw=True)",
      ].join('\n'),
    );
    await checkVirtualTable(page, cell);
    assert.ok((await cell.locator('.json-tree details').count()) >= 2);
    assert.match(await cell.locator('.json-tree').innerText(), /"text"/);
  });

  it('a second browser sees the first one’s run live', async () => {
    const sid = await sessionId(page);
    const p2 = await other.newPage();
    await wb.open(p2, `token=${TOKEN}&session=${sid}`);
    await p2.locator(`.notebook[data-session="${sid}"]`).waitFor();
    await p2.locator('.stream-state[data-state="live"]').waitFor();
    const before = await p2.locator('.notebook .cell[data-execution-id]').count();
    await runCell(page, "print('from the first browser')");
    const seen = p2.locator('.notebook .cell', { hasText: 'from the first browser' }).last();
    await seen.locator('.cell-outputs', { hasText: 'from the first browser' }).waitFor();
    assert.equal(await seen.locator('.cell-source').innerText(), 'other tab');
    assert.equal(await p2.locator('.notebook .cell[data-execution-id]').count(), before + 1);
    // An MCP client using the same token runs code in the session: both pages show it as it happens.
    const mcp = await connectHttpClient(`${wb.base}/mcp`, TOKEN);
    try {
      await mcp.callTool({ name: 'execute_code', arguments: { session_id: sid, code: "print('from an MCP client')" } });
    } finally {
      await mcp.close();
    }
    for (const p of [page, p2]) {
      const cell = p.locator('.notebook .cell', { hasText: 'from an MCP client' }).last();
      await cell.locator('.cell-outputs', { hasText: 'from an MCP client' }).waitFor();
      assert.equal(await cell.locator('.cell-source').innerText(), 'mcp');
    }
    await shot(p2, 'second-browser');
    assert.deepEqual(await cspViolations(p2), []);
    await p2.close();
  });

  it('reload: the session reopens and its history is there', async () => {
    const sid = await sessionId(page);
    await page.reload();
    await page.locator(`.notebook[data-session="${sid}"] .cell[data-execution-id]`).first().waitFor();
    const text = await page.locator('.notebook').innerText();
    assert.match(text, /sum 6/);
    assert.match(text, /ZeroDivisionError/);
    await page.locator('.tab-history').click();
    await page.locator('.history-item').first().waitFor();
    await page.locator('.history-search').fill('read_csv');
    await page.locator('.history-item').first().waitFor();
    await page.locator('.history-item').nth(1).waitFor({ state: 'detached' });
    assert.equal(await page.locator('.history-item').count(), 1);
    assert.match(await page.locator('.history-item .hi-code').innerText(), /read_csv/);
    await shot(page, 'history');
    const cells = await page.locator('.notebook .cell').count();
    await page.locator('.history-item .hi-rerun').click();
    const rerun = page.locator('.notebook .cell').nth(cells - 1);
    await rerun.locator('.cell-outputs', { hasText: 'sum 6' }).waitFor();
    assert.match(await rerun.locator('.cm-content').innerText(), /read_csv/);
  });

  it('exports the session as a valid nbformat 4 notebook', async () => {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('.export-ipynb').click()]);
    const file = path.join(wb.home, 'export.ipynb');
    await dl.saveAs(file);
    const nb = JSON.parse(readFileSync(file, 'utf8')) as {
      nbformat: number;
      nbformat_minor: number;
      metadata: Record<string, unknown>;
      cells: { cell_type: string; source: string[] | string; outputs?: { output_type: string }[]; metadata: object }[];
    };
    assert.equal(nb.nbformat, 4);
    assert.ok(nb.nbformat_minor >= 4);
    assert.equal(typeof nb.metadata, 'object');
    assert.ok(nb.cells.length >= 6);
    for (const c of nb.cells) {
      assert.ok(['code', 'markdown', 'raw'].includes(c.cell_type));
      assert.equal(typeof c.metadata, 'object');
      if (c.cell_type === 'code') assert.ok(Array.isArray(c.outputs));
    }
    const all = JSON.stringify(nb.cells);
    assert.match(all, /read_csv/);
    assert.match(all, /image\/png/);
    assert.match(all, /"output_type":"error"/);
  });

  it('a huge output is capped in the page, with a link to the full copy', async () => {
    const cell = await runCell(page, "print('x' * 300000)\nprint('tail-marker')");
    const capped = cell.locator('.out-capped', { hasText: 'more characters' });
    await capped.waitFor();
    const shown = (await cell.locator('.out-stdout').first().innerText()).length;
    assert.ok(shown < 300_000, `shown ${shown} characters`);
    const [dl] = await Promise.all([page.waitForEvent('download'), capped.locator('a.full-output').click()]);
    const file = path.join(wb.home, 'full.txt');
    await dl.saveAs(file);
    const full = readFileSync(file, 'utf8');
    assert.ok(full.includes('x'.repeat(300_000)), `full copy: ${full.length} characters`);
    assert.match(full, /tail-marker/);
  });

  it('imports a .ipynb: its code cells run in the session and appear as cells', async () => {
    await page.locator('.tab-history').click();
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [
        { cell_type: 'markdown', metadata: {}, source: ['# notes'] },
        { cell_type: 'code', metadata: {}, source: ['imported = 41\n'], outputs: [], execution_count: null },
        {
          cell_type: 'code',
          metadata: {},
          source: ['print("imported", imported + 1)'],
          outputs: [],
          execution_count: null,
        },
      ],
    };
    await page
      .locator('.import-input')
      .setInputFiles({ name: 'in.ipynb', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(nb)) });
    await page.locator('.notebook .cell .cell-outputs', { hasText: 'imported 42' }).waitFor();
    await page.locator('.panel-note', { hasText: 'Imported in.ipynb: 2 cell(s) run' }).waitFor();
  });

  it('files: download and delete', async () => {
    await page.locator('.tab-files').click();
    const row = page.locator('.file[data-path="data.csv"]');
    await row.waitFor();
    const [dl] = await Promise.all([page.waitForEvent('download'), row.locator('.file-download').click()]);
    const file = path.join(wb.home, 'dl.csv');
    await dl.saveAs(file);
    assert.equal(readFileSync(file, 'utf8'), 'a,b\n1,2\n3,4\n');
    page.once('dialog', (d) => void d.accept());
    await row.locator('.file-delete').click();
    await row.waitFor({ state: 'detached' });
    const listed = (await (await wb.api('GET', `/sessions/${await sessionId(page)}/files`)).json()) as {
      files: { path: string }[];
    };
    assert.ok(!listed.files.some((f) => f.path === 'data.csv'));
  });

  it('the agent panel runs a task against the scripted model and shows each step; its code runs as cells', async () => {
    model.script([
      { text: 'Computing it.', tools: [{ name: 'run_code', input: { code: "print('agent says', 6 * 7)" } }] },
      { tools: [{ name: 'final_answer', input: { answer: '42' } }] },
    ]);
    await page.locator('.tab-agent').click();
    assert.deepEqual(await page.locator('.agent-model option').allInnerTexts(), [MODEL]);
    await page.locator('.agent-task').fill('What is 6 * 7? Compute it.');
    await page.locator('.agent-start').click();
    const run = page.locator('.agent-run').first();
    await run.and(page.locator('[data-state="finished"]')).waitFor({ timeout: 30_000 });
    assert.equal(await run.locator('.agent-answer').innerText(), '42');
    assert.match(await run.locator('.agent-step[data-step="1"]').innerText(), /Computing it\./);
    assert.match(await run.locator('.agent-step[data-step="1"] .step-result').innerText(), /agent says 42/);
    const agentCell = page.locator('.notebook .cell', { has: page.locator('.cell-source.src-agent') }).last();
    await agentCell.locator('.cell-outputs', { hasText: 'agent says 42' }).waitFor();
    await shot(page, 'agent');
  });

  it('the agent asks for approval when told to, and a denial is respected', async () => {
    model.script([
      { tools: [{ name: 'run_code', input: { code: "open('approved.txt', 'w').write('x')" } }] },
      { tools: [{ name: 'final_answer', input: { answer: 'done' } }] },
    ]);
    await page.locator('.agent-approval').selectOption('ask');
    await page.locator('.agent-task').fill('Write a file');
    await page.locator('.agent-start').click();
    const run = page.locator('.agent-run').first();
    await run.locator('.agent-deny').waitFor({ timeout: 20_000 });
    assert.match(await run.locator('.approval-summary').innerText(), /approved\.txt/);
    await run.locator('.agent-deny').click();
    await run.and(page.locator('[data-state="finished"]')).waitFor({ timeout: 30_000 });
    assert.match(await run.innerText(), /denied/);
    const files = (await (await wb.api('GET', `/sessions/${await sessionId(page)}/files`)).json()) as {
      files: { path: string }[];
    };
    assert.ok(!files.files.some((f) => f.path === 'approved.txt'), 'the denied code did not run');
  });

  it('restart keeps files but not variables; a javascript session gets its grammar; close removes a session', async () => {
    const sid = await sessionId(page);
    await runCell(page, 'before_restart = 1');
    await page.locator('.session-restart').click();
    await page.locator(`.session-item[data-session="${sid}"][data-state="idle"]`).waitFor();
    const gone = await runCell(page, "print('before_restart' in globals())");
    assert.match(await gone.locator('.cell-outputs').innerText(), /False/);

    await page.locator('.new-language').selectOption('javascript');
    await page.locator('.new-session').click();
    await page.locator(`.notebook:not([data-session="${sid}"])`).waitFor();
    const js = await sessionId(page);
    const cell = await runCell(page, 'const n = [1, 2, 3].map((x) => x * 2);\nconsole.log(n.join("-"));');
    assert.match(await cell.locator('.cell-outputs').innerText(), /2-4-6/);
    // Highlighted by the javascript grammar: keywords get their own token spans.
    assert.ok((await cell.locator('.cm-content span').count()) > 0);
    await page.locator('.session-close').click();
    await page.locator('.main .empty', { hasText: 'Session closed.' }).waitFor();
    await page.locator(`.session-item[data-session="${js}"]`).waitFor({ state: 'detached' });
    assert.equal((await wb.api('GET', `/sessions/${js}`)).status, 404);
    await page.locator(`.session-item[data-session="${sid}"] .session-open`).click();
    await page.locator(`.notebook[data-session="${sid}"] .cell[data-execution-id]`).first().waitFor();
  });

  it('after a server restart a saved session is listed, resumes with its history and variables', async () => {
    await page.locator('.new-language').selectOption('python');
    const old = await sessionId(page);
    await page.locator('.new-session').click();
    await page.locator(`.notebook:not([data-session="${old}"])`).waitFor();
    const sid = await sessionId(page);
    await runCell(page, "saved_var = 5\nprint('saved run')");
    assert.deepEqual(await cspViolations(page), []);
    // Restart the server on the same store: live sessions end, saved ones stay resumable.
    await wb.restart();
    await wb.open(page, `token=${TOKEN}&session=${sid}`);
    await page.locator(`.notebook[data-session="${sid}"] .cell[data-execution-id]`).first().waitFor();
    assert.match(await page.locator('.notebook').innerText(), /saved run/);
    const cell = await runCell(page, 'print(saved_var * 2)');
    assert.match(await cell.locator('.cell-outputs').innerText(), /10/);
    await page.locator(`.resumable-item[data-session="${old}"]`).waitFor();
  });

  it('no CSP violations in the page', async () => {
    assert.deepEqual(await cspViolations(page), []);
  });
});
