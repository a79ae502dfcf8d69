import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildManifest, createStaticServer, type StaticServer } from './static.js';

let dir: string;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-static-'));
  mkdirSync(path.join(dir, 'build', 'assets'), { recursive: true });
  writeFileSync(path.join(dir, 'build', 'index.html'), '<!doctype html>');
  writeFileSync(path.join(dir, 'build', 'assets', 'a-1.css'), 'body{}');
  writeFileSync(path.join(dir, 'build', '.env'), 'SECRET=1');
  writeFileSync(path.join(dir, 'outside.txt'), 'outside');
  symlinkSync(path.join(dir, 'outside.txt'), path.join(dir, 'build', 'assets', 'out.txt'));
  symlinkSync(dir, path.join(dir, 'build', 'up'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A real server in front of one static server, so the real request and response objects are used. */
async function serve(statics: StaticServer): Promise<{ base: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => statics.serve(req, res, new URL(`http://x${req.url}`).pathname));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

describe('static manifest', () => {
  it('holds the regular files of the build, and no dotfile or symlink (to a file or a directory)', () => {
    assert.deepEqual([...buildManifest(path.join(dir, 'build')).keys()].sort(), ['/assets/a-1.css', '/index.html']);
  });

  it('is empty for a missing build', () => {
    assert.equal(buildManifest(path.join(dir, 'nope')).size, 0);
  });
});

describe('static server', () => {
  it('answers a missing build with a page saying to run npm run build (503, with the CSP)', async () => {
    const s = await serve(createStaticServer(path.join(dir, 'nope')));
    try {
      const r = await fetch(`${s.base}/`);
      assert.equal(r.status, 503);
      assert.match(await r.text(), /npm run build/);
      assert.match(r.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    } finally {
      await s.close();
    }
  });

  it('serves with types and caching, revalidates by ETag, refuses other methods', async () => {
    const s = await serve(createStaticServer(path.join(dir, 'build')));
    try {
      const css = await fetch(`${s.base}/assets/a-1.css`);
      assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
      assert.match(css.headers.get('cache-control') ?? '', /immutable/);
      const etag = css.headers.get('etag') ?? '';
      assert.equal((await fetch(`${s.base}/assets/a-1.css`, { headers: { 'if-none-match': etag } })).status, 304);
      const page = await fetch(`${s.base}/`);
      assert.equal(page.headers.get('cache-control'), 'no-cache');
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
      assert.equal((await fetch(`${s.base}/`, { method: 'POST', body: 'x' })).status, 405);
      for (const p of ['/.env', '/assets/out.txt', '/up/outside.txt', '/assets']) {
        assert.equal((await fetch(`${s.base}${p}`)).status, 404, p);
      }
    } finally {
      await s.close();
    }
  });
});
