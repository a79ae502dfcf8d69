/**
 * Code Mode end to end: the real upstream MCP servers (everything, memory,
 * filesystem) spawned over stdio, programs run in real V8 isolates, and the MCP
 * tools exercised with the real SDK client. Isolate containment is named per property.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/server';
import { CodeModeRuntime } from '../../src/codemode/codemode.js';
import { parseCodeModeConfig } from '../../src/codemode/config.js';
import { registerCodeModeTools, type CodeModeToolsHandle } from '../../src/mcp/tools/code-mode.js';
import { registryFor } from '../../src/mcp/server.js';

const MODULES = resolve(import.meta.dirname, '../../node_modules/@modelcontextprotocol');
const EVERYTHING = join(MODULES, 'server-everything/dist/index.js');
const MEMORY = join(MODULES, 'server-memory/dist/index.js');
const FILESYSTEM = join(MODULES, 'server-filesystem/dist/index.js');

let dir: string;
let runtime: CodeModeRuntime;

function makeRuntime(): CodeModeRuntime {
  const parsed = parseCodeModeConfig({
    mcpServers: {
      everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] },
      memory: {
        command: process.execPath,
        args: [MEMORY],
        env: { MEMORY_FILE_PATH: join(dir, 'memory.jsonl') },
        requireApproval: ['delete_entities'],
      },
      filesystem: { command: process.execPath, args: [FILESYSTEM, dir] },
      // Calls time out after 300 ms; the start-up (bounded by timeoutMs unless told otherwise) may take longer.
      slow: { command: process.execPath, args: [EVERYTHING, 'stdio'], timeoutMs: 300, startTimeoutMs: 30_000 },
      broken: {
        command: process.execPath,
        args: ['-e', 'console.error("fatal: config file /etc/broken.json is missing"); process.exit(3)'],
      },
      off: { command: 'does-not-exist', disabled: true },
    },
  });
  assert.deepEqual(parsed.errors, []);
  return new CodeModeRuntime(parsed.config, { limits: { timeoutMs: 10_000 } });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'codemode-e2e-'));
  writeFileSync(join(dir, 'a.txt'), 'alpha\n');
  writeFileSync(join(dir, 'b.txt'), 'bravo\nbeta\n');
  runtime = makeRuntime();
});

after(async () => {
  await runtime.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('code mode against real upstream servers', () => {
  it('runs a multi-tool program across three servers in one execution', async () => {
    const r = await runtime.run({
      language: 'typescript',
      code: `
        const files = ["a.txt", "b.txt"];
        const texts: string[] = [];
        for (const f of files) texts.push((await codemode.filesystem.read_text_file({ path: ${JSON.stringify(dir)} + "/" + f })).content);
        const lines = texts.join("").split("\\n").filter((l) => l.startsWith("b"));
        await codemode.memory.create_entities({
          entities: lines.map((l) => ({ name: l, entityType: "word", observations: ["starts with b"] })),
        });
        const found = await codemode.memory.search_nodes({ query: "word" });
        const sum = await codemode.everything.get_sum({ a: lines.length, b: 40 });
        console.log("found", found.entities.length);
        return { words: found.entities.map((e) => e.name).sort(), sum };
      `,
    });
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.deepEqual(r.value, { words: ['beta', 'bravo'], sum: 'The sum of 2 and 40 is 42.' });
    assert.deepEqual(r.logs, ['found 2']);
    assert.equal(r.toolCalls.length, 5);
    assert.ok(r.toolCalls.every((c) => c.ok));
  });

  it('returns typed structured content for tools with an output schema', async () => {
    const r = await runtime.run({
      language: 'typescript',
      code: `
        const w = await codemode.everything.get_structured_content({ location: "Chicago" });
        return { t: typeof w.temperature, h: typeof w.humidity, c: typeof w.conditions };
      `,
    });
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.deepEqual(r.value, { t: 'number', h: 'number', c: 'string' });
    const dts = await runtime.declarations('typescript');
    assert.match(
      dts,
      /interface GetStructuredContentOutput \{\n\s+\/\*\* Temperature in celsius \*\/\n\s+temperature: number;/,
    );
  });

  it('lets code catch an upstream tool error that names the tool', async () => {
    const r = await runtime.run({
      language: 'javascript',
      code: `
        try {
          await codemode.filesystem.read_text_file({ path: ${JSON.stringify(join(dir, 'missing.txt'))} });
          return "no error";
        } catch (e) {
          return { name: e.name, code: e.code, tool: e.message.startsWith("codemode.filesystem.read_text_file") };
        }
      `,
    });
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.value, { name: 'ToolError', code: 'UPSTREAM_ERROR', tool: true });
    assert.equal(r.toolCalls[0]?.ok, false);
  });

  it('times out a slow upstream call, cancels it, and keeps going', async () => {
    const started = Date.now();
    const r = await runtime.run({
      language: 'javascript',
      code: `
        let code = "none";
        try { await codemode.slow.trigger_long_running_operation({ duration: 5, steps: 5 }); }
        catch (e) { code = e.code + ": " + e.message; }
        const after = await codemode.slow.echo({ message: "still alive" });
        return { code, after };
      `,
    });
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    const value = r.value as { code: string; after: string };
    assert.match(
      value.code,
      /^TIMEOUT: codemode\.slow\.trigger_long_running_operation: slow\.trigger-long-running-operation timed out after 300 ms/,
    );
    assert.equal(value.after, 'Echo: still alive');
    assert.ok(Date.now() - started < 4000, 'the timeout must not wait for the 5 s operation');
  });

  it('reports a crashed upstream clearly and reconnects on the next call', async () => {
    await runtime.callTool('everything', 'echo', { message: 'warm' });
    const pid = runtime.upstream.pid('everything');
    assert.ok(pid);
    const run = runtime.run({
      language: 'javascript',
      code: `
        try { await codemode.everything.trigger_long_running_operation({ duration: 5, steps: 5 }); return "finished"; }
        catch (e) { return e.code + ": " + e.message; }
      `,
    });
    setTimeout(() => process.kill(pid, 'SIGKILL'), 500);
    const r = await run;
    assert.equal(r.status, 'ok');
    assert.match(
      String(r.value),
      /^UPSTREAM_UNAVAILABLE: .*upstream server "everything" disconnected during tool "trigger-long-running-operation"; it will be restarted on the next call/,
    );
    const again = await runtime.run({
      language: 'javascript',
      code: 'return await codemode.everything.echo({ message: "back" });',
    });
    assert.equal(again.value, 'Echo: back');
    assert.notEqual(runtime.upstream.pid('everything'), pid);
    assert.equal(runtime.upstream.status().find((s) => s.name === 'everything')?.connects, 2);
  });

  it('reports a server that fails to start, with its stderr, while the others work', async () => {
    const summary = await runtime.summary();
    assert.match(summary, /- broken: unavailable \(upstream server "broken" failed to start: /);
    assert.match(summary, /- memory: create_entities, /);
    assert.doesNotMatch(summary, /\boff\b/);
    const r = await runtime.run({
      language: 'javascript',
      code: `
        let err = "";
        try { await codemode.broken.anything({}); } catch (e) { err = e.message; }
        const ok = await codemode.everything.echo({ message: "fine" });
        return { err, ok };
      `,
    });
    const value = r.value as { err: string; ok: string };
    assert.match(value.err, /failed to start/);
    assert.match(value.err, /stderr:\nfatal: config file \/etc\/broken\.json is missing/);
    assert.equal(value.ok, 'Echo: fine');
  });

  it('refuses a tool that needs approval, without calling it', async () => {
    const r = await runtime.run({
      language: 'javascript',
      code: `
        await codemode.memory.create_entities({ entities: [{ name: "keep-me", entityType: "t", observations: [] }] });
        let refused = "";
        try { await codemode.memory.delete_entities({ entityNames: ["keep-me"] }); } catch (e) { refused = e.code + ": " + e.message; }
        const still = await codemode.memory.open_nodes({ names: ["keep-me"] });
        return { refused, still: still.entities.length };
      `,
    });
    const value = r.value as { refused: string; still: number };
    assert.match(
      value.refused,
      /^APPROVAL_REQUIRED: codemode\.memory\.delete_entities needs approval and was not called/,
    );
    assert.match(value.refused, /mcpServers\.memory\.approved/);
    assert.equal(value.still, 1);
  });
});

describe('isolate containment', () => {
  it('stops an infinite loop', async () => {
    const started = Date.now();
    const r = await runtime.run({ language: 'javascript', code: 'while (true) {}', limits: { timeoutMs: 300 } });
    assert.equal(r.status, 'timeout');
    assert.equal(r.toolCallsMade, false);
    assert.ok(Date.now() - started < 2000);
  });

  it('stops an infinite loop after an awaited tool call', async () => {
    const started = Date.now();
    const r = await runtime.run({
      language: 'javascript',
      code: 'await codemode.everything.echo({ message: "x" }); while (true) {}',
      limits: { timeoutMs: 500 },
    });
    assert.equal(r.status, 'timeout');
    assert.match(r.reason ?? '', /wall-clock limit of 500 ms/);
    assert.equal(r.toolCallsMade, true);
    assert.ok(Date.now() - started < 3000);
  });

  it('contains a memory balloon', async () => {
    const r = await runtime.run({
      language: 'javascript',
      code: 'const hoard = []; while (true) hoard.push(new Array(1e5).fill(Math.random()));',
      limits: { memoryMb: 32 },
    });
    assert.equal(r.status, 'memory');
    assert.match(r.reason ?? '', /memory limit of 32 MiB/);
    const after = await runtime.run({ language: 'javascript', code: 'return 1 + 1;' });
    assert.equal(after.value, 2);
  });

  it('runs isolates in a worker process outside the server, in its own cgroup when there is one', async () => {
    const r = await runtime.run({ language: 'javascript', code: 'return 1;' });
    assert.equal(r.status, 'ok');
    const info = runtime.isolates.isolation;
    assert.equal(info.backend, 'worker-process');
    const pids = runtime.isolates.stats().workers.map((w) => w.pid);
    assert.ok(pids.length > 0 && !pids.includes(process.pid));
    if (info.cgroup !== 'none') {
      const cgroups = readFileSync(`/proc/${pids[0]}/cgroup`, 'utf8');
      assert.match(cgroups, /codemode-iso-\d+\/run-/);
      assert.doesNotMatch(readFileSync(`/proc/${process.pid}/cgroup`, 'utf8'), /codemode-iso-/);
    } else assert.ok(info.problems.length > 0, 'says why there is no cgroup');
  });

  it('result size is checked after the copy even when Promise.prototype.then is replaced', async () => {
    const r = await runtime.run({
      language: 'javascript',
      code: `
        const big = "x".repeat(30 * 1024 * 1024);
        const forged = '{"ok":true,"value":"' + big + '"}';
        await codemode.everything.echo({ message: "a tool call first" });
        Promise.prototype.then = function () { return forged; };
        return big;
      `,
    });
    assert.equal(r.status, 'error');
    assert.equal(r.value, null);
    assert.match(r.error?.message ?? '', /over the 4194304 limit/);
  });

  it('has no process or require', async () => {
    const r = await runtime.run({
      language: 'javascript',
      code: `
        let dynamicImport = "blocked";
        try { await import("node:fs"); dynamicImport = "allowed"; } catch (e) {}
        return {
          process: typeof process, require: typeof require, fetch: typeof fetch, module: typeof module,
          setTimeout: typeof setTimeout, Buffer: typeof Buffer, dynamicImport,
          globals: Object.getOwnPropertyNames(globalThis).filter((k) => k.startsWith("__cm")),
        };
      `,
    });
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.deepEqual(r.value, {
      process: 'undefined',
      require: 'undefined',
      fetch: 'undefined',
      module: 'undefined',
      setTimeout: 'undefined',
      Buffer: 'undefined',
      dynamicImport: 'blocked',
      globals: [],
    });
  });

  it('cannot reach host objects through prototypes', async () => {
    const r = await runtime.run({
      language: 'javascript',
      code: `
        const graph = await codemode.memory.read_graph();
        const viaFn = codemode.memory.read_graph.constructor.constructor("return typeof process")();
        const viaConsole = console.log.constructor("return typeof require")();
        const viaResult = graph.constructor.constructor("return typeof process")();
        const sameRealm = Object.getPrototypeOf(graph) === Object.prototype;
        try { codemode.memory.read_graph = () => "hijacked"; } catch (e) {}
        const frozen = Object.isFrozen(codemode) && Object.isFrozen(codemode.memory) && !String(codemode.memory.read_graph).includes("hijacked");
        return { viaFn, viaConsole, viaResult, sameRealm, frozen };
      `,
    });
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.deepEqual(r.value, {
      viaFn: 'undefined',
      viaConsole: 'undefined',
      viaResult: 'undefined',
      sameRealm: true,
      frozen: true,
    });
  });

  it('rejects huge or cyclic tool arguments', async () => {
    const r = await runtime.run({
      language: 'javascript',
      code: `
        const out = [];
        const cyclic = { message: "x" }; cyclic.self = cyclic;
        try { await codemode.everything.echo(cyclic); } catch (e) { out.push(e.name + ": " + e.message); }
        try { await codemode.everything.echo({ message: "x".repeat(2 * 1024 * 1024) }); } catch (e) { out.push(e.name + ": " + e.message); }
        return out;
      `,
    });
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.deepEqual(r.value, [
      'TypeError: codemode.everything.echo: arguments cannot be sent as JSON (they contain a cycle); pass plain data',
      'RangeError: codemode.everything.echo: arguments are 2097166 characters of JSON, over the 1048576 limit',
    ]);
    assert.equal(r.toolCallsMade, false);
  });
});

describe('MCP tools (registerCodeModeTools) over the real SDK client', () => {
  let client: Client;
  let server: McpServer;
  let handle: CodeModeToolsHandle;

  before(async () => {
    server = new McpServer({ name: 'codemode-test', version: '0.0.0' });
    handle = registerCodeModeTools(registryFor(server), runtime, { passThrough: true });
    await handle.ready;
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    client = new Client({ name: 'e2e', version: '0.0.0' });
    await client.connect(clientSide);
  });

  after(async () => {
    await client.close();
    await server.close();
  });

  it('describes run_code_mode with the compact summary and lists pass-through tools', async () => {
    const { tools } = await client.listTools();
    const run = tools.find((t) => t.name === 'run_code_mode');
    assert.match(
      run?.description ?? '',
      /- memory: create_entities, create_relations, .*delete_entities\(needs approval\)/,
    );
    assert.ok(tools.some((t) => t.name === 'search_tools'));
    const passThrough = tools.find((t) => t.name === 'everything__get_sum');
    assert.deepEqual(Object.keys((passThrough?.inputSchema.properties ?? {}) as object).sort(), ['a', 'b']);
    assert.ok(tools.some((t) => t.name === 'filesystem__read_text_file'));
  });

  it('runs a program and returns compact text plus structuredContent', async () => {
    const res = await client.callTool({
      name: 'run_code_mode',
      arguments: { language: 'javascript', code: 'return (await codemode.everything.get_sum({ a: 2, b: 3 }));' },
    });
    assert.equal(res.isError, undefined);
    const structured = res.structuredContent as { status: string; value: unknown; tool_calls_made: boolean };
    assert.equal(structured.status, 'ok');
    assert.equal(structured.value, 'The sum of 2 and 3 is 5.');
    assert.equal(structured.tool_calls_made, true);
    const text = (res.content as { text: string }[])[0]?.text ?? '';
    assert.match(text, /^status: ok \(\d+ ms, 1 tool call\)\nvalue: "The sum of 2 and 3 is 5\."$/);
  });

  it('returns failures as isError results that say what already ran and what to try', async () => {
    const res = await client.callTool({
      name: 'run_code_mode',
      arguments: { language: 'javascript', code: 'await codemode.everything.echo({ message: "a" });\nundefinedFn();' },
    });
    assert.equal(res.isError, true);
    const text = (res.content as { text: string }[])[0]?.text ?? '';
    assert.match(text, /error: ReferenceError at line 2: undefinedFn is not defined/);
    assert.match(text, /tool calls already made: everything\.echo\. A retry runs them again/);
    assert.match(text, /hint: fix the code/);
  });

  it('searches tools and calls pass-through tools directly', async () => {
    const search = await client.callTool({
      name: 'search_tools',
      arguments: { query: 'sum numbers', detail: 'signatures' },
    });
    assert.match(
      (search.content as { text: string }[])[0]?.text ?? '',
      /codemode\.everything\.get_sum\(args: \{ a: number; b: number \}\)/,
    );
    const direct = await client.callTool({ name: 'everything__get_sum', arguments: { a: 1, b: 1 } });
    assert.equal((direct.content as { text: string }[])[0]?.text, 'The sum of 1 and 1 is 2.');
    const refused = await client.callTool({ name: 'memory__delete_entities', arguments: { entityNames: ['x'] } });
    assert.equal(refused.isError, true);
    assert.match((refused.content as { text: string }[])[0]?.text ?? '', /APPROVAL_REQUIRED/);
  });
});
