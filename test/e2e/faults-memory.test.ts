/**
 * The server's own memory under a burst: fifty concurrent runs that each print
 * 10 MiB, against a real `codemode serve --http` whose output budget
 * (server.maxOutputInFlightBytes) is 64 MiB. The server stays up, the runs it
 * admits return their output, the rest get a clear retryable "server busy"
 * error (nothing ran), and it serves normally afterwards.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { spawnServe } from './serve-process.js';

const TOKEN = 'faults-memory-token-0123456789abcdef';
const MiB = 1024 * 1024;

const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-faults-mem-'));
chmodSync(dir, 0o711);
after(() => rmSync(dir, { recursive: true, force: true }));

describe('faults: a burst of large results', () => {
  it(
    'fifty concurrent 10 MiB results: no crash, the excess gets a clear retryable error',
    { timeout: 180_000 },
    async () => {
      const settings = path.join(dir, 'settings.json');
      writeFileSync(settings, JSON.stringify({ server: { maxOutputInFlightBytes: 64 * MiB } }));
      const { child, url, exited } = await spawnServe(['--http', '--port', '0', '--no-store', '--settings', settings], {
        CODEMODE_HOME: path.join(dir, 'home'),
        CODEMODE_TOKEN: TOKEN,
      });
      try {
        const client = new Client({ name: 'codemode-faults-memory', version: '1.0.0' });
        await client.connect(
          new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }),
        );
        const code = 'import sys\nsys.stdout.write("x" * (10 * 1024 * 1024))';
        const replies = await Promise.all(
          Array.from({ length: 50 }, () =>
            client.callTool({
              name: 'execute_code',
              arguments: { language: 'python', code, limits: { output_bytes: 10 * MiB } },
            }),
          ),
        );
        const text = (r: (typeof replies)[number]) => (r.content as { type: string; text?: string }[])[0]?.text ?? '';
        const ran = replies.filter((r) => !r.isError);
        const busy = replies.filter((r) => r.isError && /server busy: too much output in flight/.test(text(r)));
        assert.equal(
          ran.length + busy.length,
          50,
          replies
            .filter((r) => r.isError)
            .map(text)
            .slice(0, 3)
            .join('\n'),
        );
        assert.ok(ran.length >= 1, 'some runs were admitted');
        assert.ok(busy.length >= 1, 'the excess was refused');
        for (const r of ran) {
          const s = r.structuredContent as { status: string; stdout: string; full_output?: { stdout?: string } };
          assert.equal(s.status, 'ok');
          assert.ok(s.stdout.length > 0);
        }
        assert.match(text(busy[0]!), /LIMIT_EXCEEDED/);
        assert.match(text(busy[0]!), /hint: Retry in a few seconds/);
        assert.ok(child.exitCode === null && child.signalCode === null, 'the server is still running');
        // And it serves normally afterwards.
        const again = await client.callTool({
          name: 'execute_code',
          arguments: { language: 'python', code: 'print(7)' },
        });
        assert.equal((again.structuredContent as { stdout: string }).stdout, '7\n');
        await client.close();
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    },
  );
});
