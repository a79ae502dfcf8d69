/**
 * Runs the official MCP conformance suite (server mode) against the codemode
 * HTTP server. Scenarios that do not apply are listed with their reasons in
 * test/conformance/baseline.yml; any other failure, or a baselined scenario
 * that starts passing, fails this test.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer } from './mcp-harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONFORMANCE = path.join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');

describe('MCP conformance suite', () => {
  let server: TestServer;
  let outDir: string;

  before(async () => {
    // The conformance runner's client cannot send a bearer token: this is the `--no-auth` (loopback) server.
    server = await startTestServer({ noAuth: true });
    outDir = mkdtempSync(path.join(os.tmpdir(), 'codemode-conformance-'));
  });
  after(async () => {
    await server.close();
    rmSync(outDir, { recursive: true, force: true });
  });

  it('passes every applicable server scenario, matching the committed baseline exactly', async () => {
    const args = [
      '--import',
      path.join(ROOT, 'test/conformance/node20-shim.mjs'),
      CONFORMANCE,
      'server',
      '--url',
      server.http.url,
      '--expected-failures',
      path.join(ROOT, 'test/conformance/baseline.yml'),
      '-o',
      outDir,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const summary = output.slice(output.indexOf('=== SUMMARY ==='));
    assert.equal(code, 0, `conformance failed:\n${summary}`);
    assert.match(summary, /✓ server-initialize/);
    assert.match(summary, /✓ tools-list/);
    assert.match(summary, /✓ dns-rebinding-protection/);
  });
});
