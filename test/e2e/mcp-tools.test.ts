/**
 * Every codemode MCP tool through the official SDK client over real Streamable
 * HTTP, against the real sandboxed executor: structured output, text for
 * text-only models, images, clipped output with links, actionable errors,
 * progress notifications, cancellation and resources.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectHttpClient, firstText, startTestServer, type TestServer } from './mcp-harness.js';

type Structured = Record<string, unknown>;
const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

describe('codemode MCP tools over Streamable HTTP', () => {
  let server: TestServer;
  let client: Client;

  before(async () => {
    server = await startTestServer({ replyChars: 2000 });
    client = await connectHttpClient(server.http.url, server.token);
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  for (const [asked, agreed] of [
    ['2025-11-25', '2025-11-25'],
    ['2025-06-18', '2025-06-18'],
    // initialize is the 2025 handshake: it agrees on the latest 2025 revision. 2026-07-28 has no
    // initialize; clients get it through server/discover (test/e2e/mcp-modern.test.ts, docs/mcp.md).
    ['2026-07-28', '2025-11-25'],
  ] as const) {
    it(`initialize asking for ${asked} negotiates ${agreed}`, async () => {
      const res = await fetch(server.http.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${server.token}`,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: asked, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
        }),
      });
      assert.equal(res.status, 200);
      const body = await res.text();
      // SSE: the last data line (2025-11-25 opens with an empty priming event that carries an event id).
      const json = body.startsWith('{') ? body : ([...body.matchAll(/^data: (.+)$/gm)].at(-1)?.[1] ?? '');
      const reply = JSON.parse(json) as { result: { protocolVersion: string; serverInfo: { name: string } } };
      assert.equal(reply.result.protocolVersion, agreed);
      assert.equal(reply.result.serverInfo.name, 'codemode');
      const sessionId = res.headers.get('mcp-session-id') ?? '';
      await fetch(server.http.url, {
        method: 'DELETE',
        headers: {
          'mcp-session-id': sessionId,
          'mcp-protocol-version': agreed,
          authorization: `Bearer ${server.token}`,
        },
      });
    });
  }

  it('lists every tool with an input schema, an output schema and annotations', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    assert.deepEqual(names, [
      'check_code',
      'close_session',
      'create_session',
      'delete_file',
      'execute_code',
      'export_archive',
      'export_notebook',
      'get_history',
      'git',
      'import_archive',
      'interrupt_session',
      'list_files',
      'list_kits',
      'list_sessions',
      'read_file',
      'rerun_downstream',
      'restart_session',
      'run_script',
      'run_tests',
      'session_graph',
      'write_file',
    ]);
    for (const tool of tools) {
      assert.ok(tool.description && tool.description.length > 20, `${tool.name} has a description`);
      assert.equal(tool.outputSchema?.type, 'object', `${tool.name} has an output schema`);
      assert.ok(tool.annotations, `${tool.name} has annotations`);
    }
    const exec = tools.find((t) => t.name === 'execute_code');
    const props = exec?.inputSchema.properties as Record<string, { description?: string }>;
    assert.ok(props['language']?.description?.includes('python'));
    // language may be left out with session_id (the session's own), so only code is required
    assert.deepEqual(exec?.inputSchema.required?.slice().sort(), ['code']);
  });

  it('execute_code one-shot returns stdout as structured content and a status line', async () => {
    const result = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'print(6*7)' },
    });
    assert.equal(result.isError, false);
    const s = result.structuredContent as Structured;
    assert.equal(s['status'], 'ok');
    assert.equal(s['stdout'], '42\n');
    assert.equal(s['exit_code'], 0);
    assert.match(firstText(result), /^status: ok, \d+ ms\n--- stdout ---\n42$/);
  });

  it('execute_code with cache: true answers a repeated one-shot run from the result cache', async () => {
    const args = { language: 'python', code: 'import random\nprint(random.random())', cache: true };
    const first = await client.callTool({ name: 'execute_code', arguments: args });
    const second = await client.callTool({ name: 'execute_code', arguments: args });
    const s1 = first.structuredContent as Structured;
    const s2 = second.structuredContent as Structured;
    assert.equal(s1['cached'], undefined);
    assert.equal(s2['cached'], true);
    assert.equal(s2['stdout'], s1['stdout']);
    assert.match(firstText(second), /^status: ok, from the result cache/);
    const uncached = await client.callTool({ name: 'execute_code', arguments: { ...args, cache: false } });
    assert.notEqual((uncached.structuredContent as Structured)['stdout'], s1['stdout']);
  });

  it('execute_code reports a failing program as isError with the error type, line and a hint', async () => {
    const result = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'x = 1\ny = x / 0\n' },
    });
    assert.equal(result.isError, true);
    const s = result.structuredContent as Structured;
    assert.equal(s['status'], 'error');
    assert.deepEqual((s['error'] as Structured)['type'], 'ZeroDivisionError');
    assert.equal((s['error'] as Structured)['line'], 2);
    const text = firstText(result);
    assert.match(text, /error: ZeroDivisionError: division by zero \(line 2\)/);
    assert.match(text, /hint: .*line 2/);
  });

  it('execute_code passes stdin and input files (utf8 and base64) to the program', async () => {
    const result = await client.callTool({
      name: 'execute_code',
      arguments: {
        language: 'bash',
        code: 'read line; echo "stdin=$line"; cat a.txt; wc -c < b.bin',
        stdin: 'hello\n',
        files: [
          { path: 'a.txt', content: 'file-a\n' },
          { path: 'b.bin', content: Buffer.from([0, 1, 2, 3]).toString('base64'), encoding: 'base64' },
        ],
      },
    });
    assert.equal((result.structuredContent as Structured)['stdout'], 'stdin=hello\nfile-a\n4\n');
  });

  it('a bad argument is a tool error naming the argument, not a protocol error', async () => {
    const badLimit = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'print(1)', limits: { wall_ms: 10_000_000 } },
    });
    assert.equal(badLimit.isError, true);
    assert.match(firstText(badLimit), /\nargument: limits\.wall_ms\nhint: /);

    const unknownLanguage = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'cobol', code: 'x' },
    });
    assert.equal(unknownLanguage.isError, true);
    assert.match(firstText(unknownLanguage), /language/);

    const badBase64 = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'bash', code: 'true', files: [{ path: 'x', content: '***', encoding: 'base64' }] },
    });
    assert.equal(badBase64.isError, true);
    assert.match(
      firstText(badBase64),
      /INVALID_ARGUMENT: files\[0\]\.content is not valid base64\nargument: files\[0\]\.content\nhint: /,
    );
  });

  it('an input file outside the workspace is refused as PATH_ESCAPE naming the file argument', async () => {
    const r = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'bash', code: 'true', files: [{ path: '../escape.txt', content: 'x' }] },
    });
    assert.equal(r.isError, true);
    assert.match(
      firstText(r),
      /PATH_ESCAPE: .*leaves the workspace\nargument: files\[0\]\.path\nhint: Use a relative path/,
    );
  });

  it('a timeout says which limit stopped the run and what to try', async () => {
    const result = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'import time\ntime.sleep(30)', limits: { wall_ms: 500 } },
    });
    assert.equal(result.isError, true);
    assert.equal((result.structuredContent as Structured)['status'], 'timeout');
    assert.match(firstText(result), /hint: The run exceeded the wall-clock limit of 500 ms/);
  });

  it('clips long one-shot output in the reply and links the full copy as a readable resource', async () => {
    const result = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'for i in range(2000): print(f"line {i}")' },
    });
    const s = result.structuredContent as Structured;
    assert.ok((s['stdout_omitted_chars'] as number) > 0);
    assert.ok((s['stdout'] as string).includes('line 1999'), 'the tail is kept');
    const link = (result.content as { type: string; uri?: string }[]).find((c) => c.type === 'resource_link');
    assert.ok(link?.uri?.startsWith('codemode://outputs/'));
    const full = await client.readResource({ uri: link?.uri ?? '' });
    const fullText = (full.contents[0] as { text: string }).text;
    assert.equal(fullText.split('\n').length, 2001);
  });

  it('session tools: create, keep variables, list, run_script with args, restart (files kept, variables gone), close', async () => {
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'python' } });
    const session = (created.structuredContent as { session: Structured }).session;
    const id = session['id'] as string;
    assert.equal(session['language'], 'python');

    const run = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'open("keep.txt","w").write("kept")\nx = 41', session_id: id },
    });
    assert.equal((run.structuredContent as Structured)['session_id'], id);
    assert.equal((run.structuredContent as Structured)['execution_count'], 1);
    const second = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'print(x + 1)', session_id: id },
    });
    assert.equal((second.structuredContent as Structured)['stdout'], '42\n');
    assert.equal((second.structuredContent as Structured)['execution_count'], 2);

    const wrongLanguage = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'bash', code: 'echo hi', session_id: id },
    });
    assert.equal(wrongLanguage.isError, true);
    assert.match(firstText(wrongLanguage), /runs python, not bash/);

    const listed = await client.callTool({ name: 'list_sessions', arguments: {} });
    const ids = (listed.structuredContent as { sessions: Structured[] }).sessions.map((s) => s['id']);
    assert.ok(ids.includes(id));

    await client.callTool({
      name: 'write_file',
      arguments: {
        session_id: id,
        path: 'bin/args.py',
        content: 'import sys\nprint(open("keep.txt").read(), sys.argv[1:])',
      },
    });
    const script = await client.callTool({
      name: 'run_script',
      arguments: { session_id: id, path: 'bin/args.py', args: ['--n', '3'] },
    });
    assert.equal((script.structuredContent as Structured)['stdout'], "kept ['--n', '3']\n");

    const restarted = await client.callTool({ name: 'restart_session', arguments: { session_id: id } });
    assert.equal(restarted.isError, undefined);
    const after = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'print(open("keep.txt").read())\nprint(x)', session_id: id },
    });
    assert.equal((after.structuredContent as Structured)['stdout'], 'kept\n', 'files survive a restart');
    assert.equal(((after.structuredContent as Structured)['error'] as Structured)['type'], 'NameError');

    const closed = await client.callTool({ name: 'close_session', arguments: { session_id: id } });
    assert.deepEqual(closed.structuredContent, { session_id: id, done: true });
    const gone = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: '1', session_id: id },
    });
    assert.equal(gone.isError, true);
    assert.match(firstText(gone), /NOT_FOUND/);
    assert.match(firstText(gone), /hint: .*list_sessions/);
  });

  it('interrupt_session stops the running execution and keeps the session and its variables', async () => {
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'python' } });
    const id = (created.structuredContent as { session: Structured }).session['id'] as string;
    await client.callTool({ name: 'execute_code', arguments: { language: 'python', code: 'y = 7', session_id: id } });
    let progressed = false;
    const long = client.callTool(
      {
        name: 'execute_code',
        arguments: { language: 'python', code: 'import time\nprint("go", flush=True)\ntime.sleep(30)', session_id: id },
      },
      CallToolResultSchema,
      { onprogress: () => (progressed = true) },
    );
    assert.ok(await waitFor(async () => progressed, 10_000), 'the run started');
    const interrupted = await client.callTool({ name: 'interrupt_session', arguments: { session_id: id } });
    assert.deepEqual(interrupted.structuredContent, { session_id: id, done: true });
    const result = await long;
    assert.equal((result.structuredContent as Structured)['status'], 'interrupted');
    assert.equal(result.isError, true);
    const still = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'print(y)', session_id: id },
    });
    assert.equal((still.structuredContent as Structured)['stdout'], '7\n');
    await client.callTool({ name: 'close_session', arguments: { session_id: id } });
  });

  it('runs in one session queue in order', async () => {
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'bash' } });
    const id = (created.structuredContent as { session: Structured }).session['id'] as string;
    const finished: string[] = [];
    const run = (code: string, tag: string) =>
      client.callTool({ name: 'execute_code', arguments: { language: 'bash', code, session_id: id } }).then((r) => {
        finished.push(tag);
        return r.structuredContent as Structured;
      });
    const slowRun = run('sleep 0.5; echo slow', 'slow');
    await new Promise((r) => setTimeout(r, 100)); // the second request arrives second
    const [slow, fast] = await Promise.all([slowRun, run('echo fast', 'fast')]);
    assert.deepEqual(finished, ['slow', 'fast']);
    assert.equal(slow['execution_count'], 1);
    assert.equal(fast['execution_count'], 2);
    await client.callTool({ name: 'close_session', arguments: { session_id: id } });
  });

  it('file tools: write, list, read text, read binary as base64, read an image as image content, delete', async () => {
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'bash' } });
    const id = ((created.structuredContent as { session: Structured }).session['id'] as string) ?? '';
    const wrote = await client.callTool({
      name: 'write_file',
      arguments: { session_id: id, path: 'notes/a.txt', content: 'héllo' },
    });
    assert.deepEqual(wrote.structuredContent, { session_id: id, path: 'notes/a.txt', size: 6 });
    await client.callTool({
      name: 'write_file',
      arguments: {
        session_id: id,
        path: 'blob.bin',
        content: Buffer.from([0, 255, 1]).toString('base64'),
        encoding: 'base64',
      },
    });
    await client.callTool({
      name: 'write_file',
      arguments: { session_id: id, path: 'dot.png', content: PNG_1PX, encoding: 'base64' },
    });

    const listed = await client.callTool({ name: 'list_files', arguments: { session_id: id } });
    const paths = (listed.structuredContent as { files: { path: string }[] }).files.map((f) => f.path).sort();
    assert.deepEqual(paths, ['blob.bin', 'dot.png', 'notes/a.txt']);

    const text = await client.callTool({ name: 'read_file', arguments: { session_id: id, path: 'notes/a.txt' } });
    assert.equal((text.structuredContent as Structured)['content'], 'héllo');
    assert.equal((text.structuredContent as Structured)['encoding'], 'utf8');

    const binary = await client.callTool({ name: 'read_file', arguments: { session_id: id, path: 'blob.bin' } });
    assert.equal((binary.structuredContent as Structured)['encoding'], 'base64');
    assert.equal((binary.structuredContent as Structured)['content'], Buffer.from([0, 255, 1]).toString('base64'));

    const image = await client.callTool({ name: 'read_file', arguments: { session_id: id, path: 'dot.png' } });
    const imagePart = (image.content as { type: string; data?: string; mimeType?: string }[]).find(
      (c) => c.type === 'image',
    );
    assert.equal(imagePart?.mimeType, 'image/png');
    assert.equal(imagePart?.data, PNG_1PX);

    const escape = await client.callTool({
      name: 'read_file',
      arguments: { session_id: id, path: '../../etc/passwd' },
    });
    assert.equal(escape.isError, true);
    assert.match(firstText(escape), /PATH_ESCAPE/);

    const deleted = await client.callTool({ name: 'delete_file', arguments: { session_id: id, path: 'blob.bin' } });
    assert.equal(deleted.isError, undefined);
    const missing = await client.callTool({ name: 'read_file', arguments: { session_id: id, path: 'blob.bin' } });
    assert.equal(missing.isError, true);
    assert.match(firstText(missing), /NOT_FOUND/);
    await client.callTool({ name: 'close_session', arguments: { session_id: id } });
  });

  it('archive tools: a project goes in as a tar.gz and comes back out; a hostile entry is refused', async () => {
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'bash' } });
    const id = ((created.structuredContent as { session: Structured }).session['id'] as string) ?? '';
    await client.callTool({
      name: 'execute_code',
      arguments: { session_id: id, language: 'bash', code: 'mkdir -p p/src && echo hi > p/src/a.txt' },
    });
    const out = await client.callTool({ name: 'export_archive', arguments: { session_id: id, path: 'p' } });
    const packed = (out.structuredContent as Structured)['content'] as string;
    const back = await client.callTool({
      name: 'import_archive',
      arguments: { session_id: id, path: 'copy', content: packed },
    });
    assert.equal(back.isError, undefined, firstText(back));
    const read = await client.callTool({ name: 'read_file', arguments: { session_id: id, path: 'copy/src/a.txt' } });
    assert.equal((read.structuredContent as Structured)['content'], 'hi\n');
    const evil = execFileSync('tar', ['-cf', '-', '-P', '--transform', 's,^,../,', '-C', '/etc', 'hostname']);
    const refused = await client.callTool({
      name: 'import_archive',
      arguments: { session_id: id, content: evil.toString('base64') },
    });
    assert.equal(refused.isError, true);
    assert.match(firstText(refused), /PATH_ESCAPE|leaves its folder/);
    await client.callTool({ name: 'close_session', arguments: { session_id: id } });
  });

  it('check_code reports a syntax error and what the sandbox cannot do, without running anything', async () => {
    const r = await client.callTool({
      name: 'check_code',
      arguments: { language: 'python', code: 'import requests\nrequests.get("https://example.com")\n' },
    });
    const findings = (r.structuredContent as { findings: { rule: string; line: number }[] }).findings;
    assert.ok(findings.length >= 1, firstText(r));
    assert.ok(findings.every((f) => f.line >= 1));
    const bad = await client.callTool({ name: 'check_code', arguments: { language: 'python', code: 'def f(:\n' } });
    assert.equal((bad.structuredContent as { syntax_error?: { line: number } }).syntax_error?.line, 1);
  });

  it('clipped session output is saved in the workspace and linked', async () => {
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'bash' } });
    const id = (created.structuredContent as { session: Structured }).session['id'] as string;
    const result = await client.callTool({
      name: 'execute_code',
      arguments: { language: 'bash', code: 'seq 1 3000', session_id: id },
    });
    const link = (result.content as { type: string; uri?: string; description?: string }[]).find(
      (c) => c.type === 'resource_link',
    );
    assert.match(
      link?.uri ?? '',
      new RegExp(`^codemode://sessions/${id}/files/\\.codemode/outputs/.+\\.stdout\\.txt$`),
    );
    assert.match(link?.description ?? '', /saved in the workspace as \.codemode\/outputs\//);
    const full = await client.readResource({ uri: link?.uri ?? '' });
    assert.equal((full.contents[0] as { text: string }).text.trim().split('\n').length, 3000);
    await client.callTool({ name: 'close_session', arguments: { session_id: id } });
  });

  it('sends throttled progress notifications carrying the output so far', async () => {
    const messages: string[] = [];
    const result = await client.callTool(
      {
        name: 'execute_code',
        arguments: {
          language: 'python',
          code: 'import time\nfor i in range(5):\n    print(f"tick {i}", flush=True)\n    time.sleep(0.25)',
        },
      },
      CallToolResultSchema,
      { onprogress: (p) => messages.push(p.message ?? '') },
    );
    assert.equal((result.structuredContent as Structured)['status'], 'ok');
    assert.ok(messages.length >= 2, `expected several progress notifications, got ${messages.length}`);
    assert.ok(messages.length <= 15, `progress is throttled, got ${messages.length}`);
    assert.ok(messages.some((m) => m.includes('tick 0')));
    assert.ok(
      messages.some((m) => m.includes('tick 3')),
      'later messages carry later output',
    );
  });

  it('cancelling the request stops the run: status cancelled in the history and the process is gone', async () => {
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'bash' } });
    const id = (created.structuredContent as { session: Structured }).session['id'] as string;
    const controller = new AbortController();
    const marker = `cancel-${Date.now()}`;
    let started = false;
    const call = client.callTool(
      {
        name: 'execute_code',
        arguments: { language: 'bash', code: `echo started; exec -a ${marker} sleep 30`, session_id: id },
      },
      CallToolResultSchema,
      { signal: controller.signal, onprogress: () => (started = true), resetTimeoutOnProgress: true },
    );
    call.catch(() => {});
    assert.ok(await waitFor(async () => started && (await processAlive(marker)), 10_000), 'the run is going');
    controller.abort('user cancelled');
    await assert.rejects(call, /cancel/i);
    // The server aborts the run when notifications/cancelled arrives.
    assert.ok(
      await waitFor(async () => !(await processAlive(marker)), 5000),
      'the cancelled run left no process behind',
    );
    const historyUri = `codemode://sessions/${id}/history`;
    const statuses = async () => (await readJson(client, historyUri)).map((r) => r['status']);
    assert.ok(await waitFor(async () => (await statuses()).length === 1, 5000));
    assert.deepEqual(await statuses(), ['cancelled']);
    await client.callTool({ name: 'close_session', arguments: { session_id: id } });
  });

  it('runs in different sessions, from different clients, execute concurrently', async () => {
    const other = await connectHttpClient(server.http.url, server.token);
    try {
      const ids: string[] = [];
      for (const c of [client, other]) {
        const created = await c.callTool({ name: 'create_session', arguments: { language: 'bash' } });
        ids.push((created.structuredContent as { session: Structured }).session['id'] as string);
      }
      const started = Date.now();
      const results = await Promise.all(
        [client, other].map((c, i) =>
          c.callTool({
            name: 'execute_code',
            arguments: { language: 'bash', code: 'sleep 1; echo done', session_id: ids[i] },
          }),
        ),
      );
      const elapsed = Date.now() - started;
      for (const r of results) assert.equal((r.structuredContent as Structured)['stdout'], 'done\n');
      assert.ok(elapsed < 1900, `two 1 s runs took ${elapsed} ms: they did not overlap`);
      await client.callTool({ name: 'close_session', arguments: { session_id: ids[0] } });
      await other.callTool({ name: 'close_session', arguments: { session_id: ids[1] } });
    } finally {
      await other.close();
    }
  });

  it('resources: session history and workspace files are listed by template and readable', async () => {
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'bash' } });
    const id = (created.structuredContent as { session: Structured }).session['id'] as string;
    await client.callTool({
      name: 'execute_code',
      arguments: { language: 'bash', code: 'echo hi > out.txt', session_id: id },
    });

    const templates = await client.listResourceTemplates();
    const uris = templates.resourceTemplates.map((t) => t.uriTemplate);
    assert.ok(uris.includes('codemode://sessions/{session_id}/history'));
    assert.ok(uris.includes('codemode://sessions/{session_id}/files/{+path}'));

    const { resources } = await client.listResources();
    const historyUri = `codemode://sessions/${id}/history`;
    const fileUri = `codemode://sessions/${id}/files/out.txt`;
    assert.ok(resources.some((r) => r.uri === historyUri));
    assert.ok(resources.some((r) => r.uri === fileUri));

    const history = await readJson(client, historyUri);
    assert.equal(history.length, 1);
    assert.equal(history[0]?.['code'], 'echo hi > out.txt');
    const file = await client.readResource({ uri: fileUri });
    assert.equal((file.contents[0] as { text: string }).text, 'hi\n');
    await assert.rejects(client.readResource({ uri: `codemode://sessions/${id}/files/nope.txt` }), /not found/i);
    await client.callTool({ name: 'close_session', arguments: { session_id: id } });
  });

  it('resources: a session exports as a Jupyter notebook with its outputs', async () => {
    const created = await client.callTool({ name: 'create_session', arguments: { language: 'python' } });
    const id = (created.structuredContent as { session: Structured }).session['id'] as string;
    await client.callTool({
      name: 'execute_code',
      arguments: { language: 'python', code: 'x = 2\nx * 21', session_id: id },
    });
    const templates = await client.listResourceTemplates();
    assert.ok(templates.resourceTemplates.some((t) => t.uriTemplate === 'codemode://sessions/{session_id}/notebook'));
    const read = await client.readResource({ uri: `codemode://sessions/${id}/notebook` });
    assert.equal(read.contents[0]?.mimeType, 'application/x-ipynb+json');
    const nb = JSON.parse((read.contents[0] as { text: string }).text);
    assert.equal(nb.nbformat, 4);
    const cell = nb.cells.find((c: { cell_type: string }) => c.cell_type === 'code');
    assert.equal([cell.source].flat().join(''), 'x = 2\nx * 21');
    const result = cell.outputs.find((o: { output_type: string }) => o.output_type === 'execute_result');
    assert.equal([result.data['text/plain']].flat().join(''), '42');
    await client.callTool({ name: 'close_session', arguments: { session_id: id } });
  });

  it('list_sessions shows resumable saved sessions, and resuming an unknown one names the problem', async () => {
    const list = await client.callTool({ name: 'list_sessions', arguments: {} });
    assert.ok(Array.isArray((list.structuredContent as Structured)['resumable']));
    const resumed = await client.callTool({
      name: 'create_session',
      arguments: { language: 'python', resume_session_id: 'no-such-session' },
    });
    assert.equal(resumed.isError, true);
    assert.match(firstText(resumed), /NOT_FOUND/);
  });
});

async function readJson(client: Client, uri: string): Promise<Structured[]> {
  const read = await client.readResource({ uri });
  return JSON.parse((read.contents[0] as { text: string }).text) as Structured[];
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function processAlive(marker: string): Promise<boolean> {
  const { readdirSync, readFileSync } = await import('node:fs');
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === marker) return true;
    } catch {
      // exited meanwhile
    }
  }
  return false;
}
