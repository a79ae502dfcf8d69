/**
 * The workbench in Debian's chromium (playwright-core) against `codemode serve
 * --http` on loopback, after `npm run build` (dist/web and dist/cli):
 * - first paint: a fresh tab to the app ready (token taken, sessions listed),
 *   beside the browser's first contentful paint of the same load;
 * - cell round trip: Shift+Enter to the output shown in the page, beside the
 *   same code POSTed to the API (the kernel's answer without the page);
 * - 10,000-row table: a cell displaying 10k rows shown in the page, beside its
 *   API answer; and one scroll of that table to a new place, painted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeRow, type ReportRow } from './report.js';

export interface WorkbenchBenchOptions {
  rounds?: number;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOKEN = 'workbench-bench-token-0123456789abcdef';

const TABLE_CODE = [
  "rows = [{'i': i, 'sq': i * i, 'name': 'row%d' % i} for i in range(10000)]",
  "display({'application/vnd.dataresource+json': {'schema': {'fields': [{'name': 'i'}, {'name': 'sq'}, {'name': 'name'}]}, 'data': rows}}, raw=True)",
].join('\n');

async function startServer(home: string): Promise<{ child: ChildProcess; base: string }> {
  // Compiled (npm run bench): the CLI in dist; under tsx: the sources.
  const cli = import.meta.url.endsWith('.ts')
    ? ['--no-node-snapshot', '--import', 'tsx', path.join(ROOT, 'src/cli/main.ts')]
    : [path.join(ROOT, 'bin/codemode.js')];
  const child = spawn(process.execPath, [...cli, 'serve', '--http', '--port', '0', '--no-store'], {
    cwd: ROOT,
    env: { ...process.env, CODEMODE_HOME: home, CODEMODE_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const base = await new Promise<string>((resolve, reject) => {
    const onData = (b: Buffer) => {
      log += b.toString();
      const m = /serving MCP on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${log}`)));
  });
  return { child, base };
}

/** SIGTERM, then SIGKILL after 10 s; resolves at once for a server that already exited. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(kill);
}

/** Types code in the last cell, presses Shift+Enter and resolves with the ms until `shown` matches in that cell. */
async function uiRun(page: Page, code: string, shown: string): Promise<number> {
  const cells = page.locator('.notebook .cell');
  const n = await cells.count();
  await cells.last().locator('.cm-content').click();
  await page.keyboard.insertText(code);
  // Timed inside the page: from the key press to the DOM showing the output.
  const ms = page.evaluate(
    `new Promise((resolve, reject) => {
      const cell = document.querySelectorAll('.notebook .cell')[${n - 1}];
      const t0 = performance.now();
      const check = () => cell.dataset.state === 'done' && cell.querySelector(${JSON.stringify(shown)});
      const obs = new MutationObserver(() => { if (check()) { obs.disconnect(); clearTimeout(timer); resolve(performance.now() - t0); } });
      obs.observe(cell, { subtree: true, childList: true, attributes: true });
      // A cell that never shows its output fails the bench instead of hanging it.
      const timer = setTimeout(() => { obs.disconnect(); reject(new Error('cell not shown in 60 s (state ' + cell.dataset.state + ')')); }, 60000);
    })`,
  ) as Promise<number>;
  await page.keyboard.press('Shift+Enter');
  return ms;
}

export async function runWorkbenchBench(options: WorkbenchBenchOptions = {}): Promise<{ rows: ReportRow[] }> {
  const rounds = options.rounds ?? 15;
  const home = mkdtempSync(path.join(os.tmpdir(), 'codemode-bench-wb-'));
  const { child, base } = await startServer(home);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--proxy-server=127.0.0.1:9', '--proxy-bypass-list=127.0.0.1;localhost'],
    });
    const url = `${base}/#token=${TOKEN}`;

    // First paint: each load in a fresh context (cold caches), timed by the page from navigation start.
    const fcp: number[] = [];
    const appReady: number[] = [];
    for (let i = 0; i < rounds + 2; i++) {
      const c = await browser.newContext();
      const p = await c.newPage();
      await p.goto(url);
      await p.locator('.new-session').waitFor();
      // The paint entry is reported after its frame, so it may not exist yet when the app is ready: wait for it.
      const t = (await p.evaluate(
        `new Promise((resolve) => {
          const ready = performance.getEntriesByName('workbench-ready')[0]?.startTime ?? NaN;
          const done = (fcp) => resolve({ ready, fcp });
          new PerformanceObserver((list) => {
            const e = list.getEntriesByName('first-contentful-paint')[0];
            if (e) done(e.startTime);
          }).observe({ type: 'paint', buffered: true });
          setTimeout(() => done(NaN), 10000);
        })`,
      )) as { ready: number; fcp: number };
      if (i >= 2) {
        appReady.push(t.ready);
        fcp.push(t.fcp);
      }
      await c.close();
    }

    // Cell round trips in one session.
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(url);
    await page.locator('.new-session').click();
    await page.locator('.notebook .cell').first().waitFor();
    const sid = (await page.locator('.notebook').getAttribute('data-session'))!;
    const post = async (code: string) => {
      const r = await fetch(`${base}/api/v1/sessions/${sid}/executions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ code }),
        signal: AbortSignal.timeout(60_000),
      });
      if (!r.ok) throw new Error(`POST executions: HTTP ${r.status}: ${await r.text()}`);
      await r.json();
    };
    const ui: number[] = [];
    const kernel: number[] = [];
    for (let i = 0; i < rounds + 2; i++) {
      const u = await uiRun(page, `print(${i} * 2)`, '.out-stdout');
      const t0 = performance.now();
      await post(`print(${i} * 3)`);
      const k = performance.now() - t0;
      if (i >= 2) {
        ui.push(u);
        kernel.push(k);
      }
    }

    const tableRounds = Math.max(3, Math.ceil(rounds / 3));
    const tableUi: number[] = [];
    const tableApi: number[] = [];
    for (let i = 0; i < tableRounds; i++) {
      tableUi.push(await uiRun(page, TABLE_CODE, '.vt-viewport'));
      const t0 = performance.now();
      await post(TABLE_CODE);
      tableApi.push(performance.now() - t0);
    }
    // One scroll to a far place until its rows are painted (two frames), beside two frames without a scroll.
    const frames = (await page.evaluate(
      `(async () => {
        const v = [...document.querySelectorAll('.vt-viewport')].pop();
        const twoFrames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const scroll = [];
        const idle = [];
        for (let i = 0; i < 30; i++) {
          let t0 = performance.now();
          await twoFrames();
          idle.push(performance.now() - t0);
          const row = (i * 7919) % 10000;
          t0 = performance.now();
          v.scrollTop = row * 24;
          await twoFrames();
          if (!v.querySelector('[data-row="' + row + '"]')) throw new Error('row ' + row + ' not painted');
          scroll.push(performance.now() - t0);
        }
        return { scroll, idle };
      })()`,
    )) as { scroll: number[]; idle: number[] };
    await ctx.close();

    const rows = [
      makeRow('first paint: app ready (vs first contentful paint)', appReady, fcp, { kind: 'plus', ms: 500 }),
      makeRow('cell shown (vs kernel answer over the API)', ui, kernel, { kind: 'plus', ms: 50 }),
      makeRow('10k-row table cell shown (vs API answer)', tableUi, tableApi, { kind: 'plus', ms: 250 }),
      makeRow('10k-row table scroll painted (vs 2 idle frames)', frames.scroll, frames.idle, { kind: 'plus', ms: 16 }),
    ];
    return { rows };
  } finally {
    await browser?.close();
    await stopServer(child);
    rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { formatTable } = await import('./report.js');
  const r = await runWorkbenchBench();
  console.log(formatTable(r.rows));
}
