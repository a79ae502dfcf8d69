/**
 * Shared setup for browser tests of the workbench: builds the page with Vite
 * when its sources changed, starts `codemode serve --http` (real sandbox,
 * real store) on a random loopback port, and drives Debian's chromium with
 * playwright-core, kept off the network (a dead proxy for all but loopback).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

/** Newest modification time under dir (ms). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(path.join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** Builds the page with Vite unless dist/web is newer than every source it is built from. */
export async function buildWeb(): Promise<void> {
  const built = path.join(ROOT, 'dist/web/index.html');
  const sources = Math.max(
    newest(path.join(ROOT, 'web')),
    statSync(path.join(ROOT, 'src/mcp/http/api-contract.ts')).mtimeMs,
  );
  if (existsSync(built) && statSync(built).mtimeMs > sources) return;
  const { build } = await import('vite');
  await build({ configFile: path.join(ROOT, 'web/vite.config.ts'), logLevel: 'warn' });
}

const CSP_RECORDER = `if (window.top === window) {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));
}`;

/**
 * Runs a JavaScript expression in the page. Browser-side code is written as
 * text because tests are type-checked without the DOM library.
 */
export function inPage<T>(p: Page, expression: string): Promise<T> {
  return p.evaluate(expression) as Promise<T>;
}

/** CSP violations reported in the top document (a sandboxed frame's own blocks do not count). */
export function cspViolations(p: Page): Promise<string[]> {
  return inPage<string[]>(p, 'window.__csp ?? []');
}

export interface Workbench {
  /** The server's address; a restart() changes it. */
  readonly base: string;
  token: string;
  home: string;
  browser: Browser;
  newContext(): Promise<BrowserContext>;
  /** Opens the workbench with `fragment` (default: the token) and waits for the app. */
  open(p: Page, fragment?: string): Promise<void>;
  /** A call to the REST API with `token` (default: the server's; '' for none). */
  api(method: string, route: string, body?: unknown, token?: string): Promise<Response>;
  log(): string;
  /** Stops the server and starts it again on the same home and store. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startWorkbench(
  options: { token?: string; env?: Record<string, string> } = {},
): Promise<Workbench> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const token = options.token ?? 'wb-harness-token-0123456789abcdef';
  const home = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-wbh-'));
  await buildWeb();
  let log = '';
  let server: ChildProcess;
  const startServer = (): Promise<string> => {
    log = '';
    const child = spawn(
      process.execPath,
      [
        '--no-node-snapshot',
        '--import',
        'tsx',
        'src/cli/main.ts',
        'serve',
        '--http',
        '--port',
        '0',
        '--db',
        path.join(home, 'codemode.db'),
      ],
      {
        cwd: ROOT,
        env: { ...process.env, CODEMODE_HOME: home, CODEMODE_TOKEN: token, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    server = child;
    return new Promise<string>((resolve, reject) => {
      const onData = (b: Buffer) => {
        log += b.toString();
        const m = /serving MCP on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
        if (m) resolve(m[1]!);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('exit', (code) => reject(new Error(`server exited (${code}):\n${log}`)));
    });
  };
  const stopServer = async (): Promise<void> => {
    if (server.exitCode !== null) return;
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  };
  let base = await startServer();
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--proxy-server=127.0.0.1:9', '--proxy-bypass-list=127.0.0.1;localhost'],
  });
  return {
    get base() {
      return base;
    },
    token,
    home,
    browser,
    async newContext() {
      const c = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
      await c.addInitScript(CSP_RECORDER);
      return c;
    },
    async open(p, fragment = `token=${token}`) {
      await p.goto(`${base}/#${fragment}`);
      await p.locator('.new-session').waitFor();
    },
    api(method, route, body, as = token) {
      return fetch(`${base}/api/v1${route}`, {
        method,
        headers: {
          ...(as ? { authorization: `Bearer ${as}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    },
    log: () => log,
    async restart() {
      await stopServer();
      base = await startServer();
    },
    async close() {
      await browser.close();
      await stopServer();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Types code into the notebook's last cell and runs it with Shift+Enter; resolves with the cell when it is done. */
export async function runCell(p: Page, code: string, opts: { wait?: boolean } = {}): Promise<Locator> {
  const cell = p.locator('.notebook .cell').last();
  await cell.locator('.cm-content').click();
  await p.keyboard.insertText(code);
  await p.keyboard.press('Shift+Enter');
  const ran = p.locator('.notebook .cell').nth((await p.locator('.notebook .cell').count()) - 2);
  if (opts.wait !== false) await ran.and(p.locator('[data-state="done"]')).waitFor({ timeout: 30_000 });
  return ran;
}

export async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: path.join(ARTIFACTS, `workbench-${name}.png`), fullPage: false });
}

/**
 * Checks a cell's virtualised table of 10,000 rows (the last one showing "row9999"): only a window of
 * rows is in the DOM, and scrolling the table to its end brings the last row.
 */
export async function checkVirtualTable(p: Page, cell: Locator): Promise<void> {
  assert.equal(await cell.locator('.vt-viewport').getAttribute('data-rows'), '10000');
  const inDom = await cell.locator('.vt-body .vt-row').count();
  assert.ok(inDom > 0 && inDom < 100, `rows in the DOM: ${inDom}`);
  await inPage(
    p,
    `(() => { const v = [...document.querySelectorAll('.vt-viewport')].pop(); v.scrollTop = v.scrollHeight; })()`,
  );
  await cell.locator('.vt-row[data-row="9999"]').waitFor();
  assert.match(await cell.locator('.vt-row[data-row="9999"]').innerText(), /row9999/);
}
