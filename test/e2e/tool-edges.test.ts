// Edges of the MCP tools as a model meets them, over real HTTP and the real sandbox:
// misspelt arguments, optional language in a session, snake_case everywhere, an image
// read once, a bash cell that ends its shell, caches kept out of the workspace.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectHttpClient, firstText, startTestServer, type TestServer } from './mcp-harness.js';

type Structured = Record<string, unknown>;
const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

let server: TestServer;
let client: Client;

before(async () => {
  server = await startTestServer();
  client = await connectHttpClient(server.http.url, server.token);
});
after(async () => {
  await client.close();
  await server.close();
});

async function newSession(language: string): Promise<string> {
  const r = await client.callTool({ name: 'create_session', arguments: { language } });
  return ((r.structuredContent as Structured)['session'] as { id: string }).id;
}

describe('tool arguments', () => {
  it('refuses an unknown argument (sessionId) and names the right one, instead of running a one-shot', async () => {
    const id = await newSession('python');
    await client.callTool({ name: 'execute_code', arguments: { session_id: id, code: 'x = 1' } });
    const r = await client.callTool({ name: 'execute_code', arguments: { sessionId: id, code: 'print(x)' } });
    assert.equal(r.isError, true);
    const text = firstText(r);
    assert.match(text, /unknown argument "sessionId"; did you mean "session_id"\?/);
    assert.match(text, /\nargument: sessionId\nhint: Use "session_id" instead of "sessionId"\./);
    assert.doesNotMatch(text, /NameError/);
  });

  it('takes the language from the session when session_id is given, and refuses a different one', async () => {
    const id = await newSession('python');
    const ok = await client.callTool({ name: 'execute_code', arguments: { session_id: id, code: 'print(2 + 2)' } });
    assert.equal(ok.isError, false, firstText(ok));
    assert.equal((ok.structuredContent as Structured)['stdout'], '4\n');
    const wrong = await client.callTool({
      name: 'execute_code',
      arguments: { session_id: id, language: 'bash', code: 'echo hi' },
    });
    assert.equal(wrong.isError, true);
    assert.match(firstText(wrong), /runs python, not bash;.*\nargument: language/);
    const oneShot = await client.callTool({ name: 'execute_code', arguments: { code: 'print(1)' } });
    assert.equal(oneShot.isError, true);
    assert.match(firstText(oneShot), /language is required.*\nargument: language\nhint: /);
  });

  it('uses snake_case for limits in inputs and structured outputs', async () => {
    const r = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'bash', code: 'echo ok', limits: { wall_ms: 5000 } },
    });
    assert.equal(r.isError, false, firstText(r));
    const limits = (r.structuredContent as Structured)['limits'] as Structured;
    assert.equal(limits['wall_ms'], 5000);
    assert.equal(limits['wallMs'], undefined);
    const keys = (value: unknown): string[] =>
      value !== null && typeof value === 'object' ? Object.entries(value).flatMap(([k, v]) => [k, ...keys(v)]) : [];
    const id = await newSession('bash');
    const listed = await client.callTool({ name: 'list_sessions', arguments: {} });
    for (const k of [...keys(r.structuredContent), ...keys(listed.structuredContent)]) {
      assert.match(k, /^[a-z0-9_]+$/, `${k} is not snake_case`);
    }
    assert.ok(id);
  });
});

describe('session edges', () => {
  it('read_file sends an image once: as image content, not again as base64 in structuredContent', async () => {
    const id = await newSession('python');
    await client.callTool({
      name: 'write_file',
      arguments: { session_id: id, path: 'dot.png', content: PNG_1PX, encoding: 'base64' },
    });
    const r = await client.callTool({ name: 'read_file', arguments: { session_id: id, path: 'dot.png' } });
    const copies = JSON.stringify(r).split(PNG_1PX).length - 1;
    assert.equal(copies, 1);
    assert.equal((r.structuredContent as Structured)['content'], '');
  });

  it('a bash cell that exits the shell reports its own exit code, not a kill, and the next cell runs', async () => {
    const id = await newSession('bash');
    await client.callTool({ name: 'execute_code', arguments: { session_id: id, code: 'v=kept' } });
    const r = await client.callTool({
      name: 'execute_code',
      arguments: { session_id: id, code: 'echo before; exit 3' },
    });
    const s = r.structuredContent as Structured;
    assert.equal(s['status'], 'error', firstText(r));
    assert.equal(s['exit_code'], 3);
    assert.equal(s['signal'], null);
    assert.match(firstText(r), /exited.*status 3.*variables are lost/s);
    assert.doesNotMatch(firstText(r), /SIGKILL|resource use/);
    const strict = await client.callTool({
      name: 'execute_code',
      arguments: { session_id: id, code: 'set -e\nfalse\necho never' },
    });
    assert.equal((strict.structuredContent as Structured)['exit_code'], 1);
    const next = await client.callTool({
      name: 'execute_code',
      arguments: { session_id: id, code: 'echo "v=${v:-gone}"' },
    });
    assert.equal(next.isError, false, firstText(next));
    assert.equal((next.structuredContent as Structured)['stdout'], 'v=gone\n');
  });

  it('a matplotlib plot leaves no font or matplotlib cache in the workspace', async () => {
    const id = await newSession('python');
    const r = await client.callTool({
      name: 'execute_code',
      arguments: {
        session_id: id,
        code: 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.title("t")\nplt.savefig("p.png")',
      },
    });
    assert.equal(r.isError, false, firstText(r));
    const files = await client.callTool({ name: 'list_files', arguments: { session_id: id } });
    const paths = ((files.structuredContent as Structured)['files'] as { path: string }[]).map((f) => f.path);
    assert.deepEqual(paths, ['p.png']);
  });

  it('a one-shot run returns its matplotlib figures as images, as sessions do', async () => {
    const r = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()' },
    });
    assert.equal(r.isError, false, firstText(r));
    const images = (r.content as { type: string; mimeType?: string; data?: string }[]).filter(
      (c) => c.type === 'image',
    );
    assert.equal(images.length, 1);
    assert.equal(images[0]?.mimeType, 'image/png');
    assert.equal(
      Buffer.from(images[0]?.data ?? '', 'base64')
        .subarray(1, 4)
        .toString(),
      'PNG',
    );
  });

  it('a ModuleNotFoundError says what is installed and that pip cannot install', async () => {
    const r = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'import requests_oauth_x' },
    });
    const hint = (r.structuredContent as Structured)['hint'] as string;
    assert.match(hint, /nothing can be installed here \(no network, so pip install cannot work\)/);
    assert.match(hint, /Installed Python packages: .*\bnumpy\b.*\bpandas\b/);
  });
});
