/**
 * `codemode serve` over stdio at the edges of JSON-RPC, byte by byte on the
 * spawned process: every bad line gets an error reply (never silence), a
 * 10 MiB write_file is answered and the server keeps serving, a line past the
 * message limit is refused with its own id, and closing stdin ends the process.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVE = ['--no-node-snapshot', '--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve', '--no-store'];

interface Reply {
  id: unknown;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** The server's stdout as a queue of parsed lines. */
class Wire {
  private buffer = '';
  private readonly lines: Reply[] = [];
  private waiter: (() => void) | undefined;
  stderr = '';
  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      this.buffer += s;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        this.lines.push(JSON.parse(this.buffer.slice(0, nl)) as Reply);
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.waiter?.();
    });
    child.stderr.on('data', (c: Buffer) => (this.stderr += c.toString()));
  }
  send(line: string): Promise<void> {
    return new Promise((resolve, reject) => this.child.stdin.write(`${line}\n`, (e) => (e ? reject(e) : resolve())));
  }
  /** The next reply (notifications skipped). */
  async next(): Promise<Reply> {
    for (;;) {
      const r = this.lines.shift();
      if (r !== undefined && 'id' in r) return r;
      if (r === undefined) await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
  async call(id: number, method: string, params?: unknown): Promise<Reply> {
    await this.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));
    return this.next();
  }
}

describe('codemode serve --help', () => {
  it('prints the usage to stdout and exits 0', async () => {
    const child = spawn(process.execPath, [...SERVE.slice(0, -1), '--help'], { cwd: ROOT });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    assert.match(stdout, /^usage: codemode serve /);
  });
});

describe('codemode serve over stdio: JSON-RPC edges', () => {
  let wire: Wire;
  let home: string;

  before(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'codemode-stdio-edges-'));
    chmodSync(home, 0o711); // the sandbox user must reach the workspaces below it
    const child = spawn(process.execPath, SERVE, {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, CODEMODE_HOME: home },
    });
    wire = new Wire(child);
    const init = await wire.call(0, 'initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'edges', version: '1' },
    });
    assert.equal(typeof init.result?.['protocolVersion'], 'string');
    await wire.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  });
  after(async () => {
    if (wire.child.exitCode === null) {
      // A failed test left it running: stop it as a host would, and let it unmount its sessions.
      const exited = new Promise((resolve) => wire.child.on('exit', resolve));
      wire.child.kill('SIGTERM');
      await exited;
    }
    rmSync(home, { recursive: true, force: true });
  });

  it('answers invalid JSON with -32700 Parse error (id null)', async () => {
    await wire.send('{"jsonrpc": "2.0", "id": 1, "method": "ping"');
    const r = await wire.next();
    assert.equal(r.error?.code, -32700);
    assert.equal(r.id, null);
  });

  it('answers a batch, an object id and a missing jsonrpc with -32600 Invalid Request', async () => {
    await wire.send('[{"jsonrpc":"2.0","id":2,"method":"ping"}]');
    const batch = await wire.next();
    assert.deepEqual([batch.error?.code, batch.id], [-32600, null]);
    assert.match(batch.error?.message ?? '', /batch/);

    await wire.send('{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}');
    const objectId = await wire.next();
    assert.deepEqual([objectId.error?.code, objectId.id], [-32600, null]);

    await wire.send('{"id":3,"method":"ping"}');
    const noVersion = await wire.next();
    assert.deepEqual([noVersion.error?.code, noVersion.id], [-32600, 3]);

    await wire.send('42');
    assert.equal((await wire.next()).error?.code, -32600);

    const ping = await wire.call(4, 'ping');
    assert.deepEqual(ping.result, {}, 'still serving after the bad lines');
  });

  it('writes a 10 MiB file, keeps serving, refuses a line over the limit by its id, and exits when stdin closes', async () => {
    const created = await wire.call(10, 'tools/call', { name: 'create_session', arguments: { language: 'bash' } });
    const sessionId = (created.result?.['structuredContent'] as { session: { id: string } }).session.id;
    const content = 'x'.repeat(10 * 1024 * 1024);
    const wrote = await wire.call(11, 'tools/call', {
      name: 'write_file',
      arguments: { session_id: sessionId, path: 'big.txt', content },
    });
    assert.equal(wrote.id, 11);
    assert.equal(wrote.result?.['isError'], undefined, JSON.stringify(wrote).slice(0, 500));
    assert.equal((wrote.result?.['structuredContent'] as { size: number }).size, 10 * 1024 * 1024);
    const listed = await wire.call(12, 'tools/call', { name: 'list_files', arguments: { session_id: sessionId } });
    assert.match(JSON.stringify(listed.result), /big\.txt/);

    // 17 MiB: past the 16 MiB message limit. Answered with the request's own id.
    const huge = JSON.stringify({
      jsonrpc: '2.0',
      id: 13,
      method: 'tools/call',
      params: {
        name: 'write_file',
        arguments: { session_id: sessionId, path: 'huge.txt', content: 'y'.repeat(17 << 20) },
      },
    });
    await wire.send(huge);
    const refused = await wire.next();
    assert.deepEqual([refused.id, refused.error?.code], [13, -32600]);
    assert.match(refused.error?.message ?? '', /larger than 16777216 bytes/);
    assert.deepEqual((await wire.call(14, 'ping')).result, {}, 'the line after the refused one is served');

    const exited = new Promise<number | null>((resolve) => wire.child.on('exit', (code) => resolve(code)));
    wire.child.stdin.end();
    assert.equal(await exited, 0, wire.stderr);
    assert.match(wire.stderr, /shutting down \(stdin closed\)/);
  });
});
