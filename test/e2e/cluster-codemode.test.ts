/**
 * Code Mode and kits on a cluster: one nats-server, two `codemode worker`
 * processes in the real sandbox with different kit sets, and a gateway built by
 * `serve --nats ... --config mcp.json` in this process, holding a real upstream
 * MCP server (@modelcontextprotocol/server-memory). Then: run_code_mode on the
 * gateway, a Python cell on a worker calling the upstream through the gateway,
 * the gateway's tool service refusing a session that is not the asker's, and
 * kit-aware placement with list_kits as the union of the workers' kits.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connect } from '@nats-io/transport-node';
import { parseServeArgs } from '../../src/cli/commands/serve.js';
import type { CliIO } from '../../src/cli/io.js';
import { gatewayRuntime, type GatewayRuntime } from '../../src/cluster/gateway.js';
import { startLocalCluster, type LocalCluster } from '../../src/cluster/local-cluster.js';
import { workerInbox } from '../../src/cluster/nats-config.js';
import { PROTOCOL_VERSION, replyFrameSchema, SUBJECTS } from '../../src/cluster/protocol.js';
import { RemoteSessionService } from '../../src/cluster/remote-sessions.js';
import { isAppError } from '../../src/errors.js';
import { executorFor } from '../../src/sandbox/caching-executor.js';
import { localMcp, type LocalMcp } from '../../src/cluster/local-mcp.js';

const MODULES = path.resolve(import.meta.dirname, '../../node_modules/@modelcontextprotocol');
const MEMORY = path.join(MODULES, 'server-memory/dist/index.js');
const EVERYTHING = path.join(MODULES, 'server-everything/dist/index.js');

let cluster: LocalCluster;
/** A gateway without Code Mode (no --config), for the "nobody holds the upstreams" case. */
let plain: RemoteSessionService;
let runtime: GatewayRuntime;
let gateway: RemoteSessionService;
let mcp: LocalMcp | undefined;
let client: Client;

type ToolResult = { content: { type: string; text?: string }[]; structuredContent?: unknown; isError?: boolean };
const call = async (name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })) as ToolResult;
const textOf = (r: ToolResult) => r.content.map((c) => c.text ?? '').join('\n');

/** A worker's settings: no warm pool (CPU for the test), and its own kits. */
function workerSettings(id: string, kits: Record<string, unknown>): string {
  const file = path.join(cluster.dir, `settings-${id}.json`);
  writeFileSync(
    file,
    JSON.stringify({ sessions: { pool: { python: 0, javascript: 0, typescript: 0, bash: 0 } }, kits }),
  );
  return file;
}

async function waitUntil(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A CLI's I/O that keeps nothing, with this environment. */
const quietIO = (env: Record<string, string>): CliIO => ({
  stdin: new PassThrough(),
  stdout: new PassThrough(),
  stderr: new PassThrough(),
  env,
  cwd: process.cwd(),
  stdinIsTTY: false,
});

const kit = (name: string, debian: string) => ({
  version: '1',
  description: `The ${name} kit (test).`,
  debian: [debian],
  startup: { python: `KIT_${name.toUpperCase()} = "${name} is here"` },
});

describe('Code Mode and kits on a cluster gateway', { timeout: 120_000 }, () => {
  before(async () => {
    cluster = await startLocalCluster({ servers: 1, workerIds: ['w1', 'w2'], gatewayIds: ['g1', 'g2'] });
    // alpha only on w1, beta only on w2; gamma known to both but installed only on w2.
    await Promise.all([
      cluster.startWorker('w1', {
        CODEMODE_SETTINGS: workerSettings('w1', {
          alpha: kit('alpha', 'bash'),
          gamma: kit('gamma', 'codemode-no-such-package'),
        }),
      }),
      cluster.startWorker('w2', {
        CODEMODE_SETTINGS: workerSettings('w2', { beta: kit('beta', 'coreutils'), gamma: kit('gamma', 'bash') }),
      }),
    ]);
    plain = await RemoteSessionService.open({ link: await cluster.gatewayLink('g2'), maxWallMs: 30_000 });
  });

  after(async () => {
    await mcp?.close();
    await runtime?.close();
    await plain?.shutdown();
    await cluster?.stop();
  });

  it('a kernel tool call with no Code Mode gateway in the cluster fails clearly, as a value', async () => {
    const s = await plain.create({ language: 'python' });
    const r = await plain.execute(
      s.id,
      'try:\n    codemode.memory.read_graph()\nexcept Exception as e:\n    print(type(e).__name__, e.code, str(e))',
    );
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.match(
      r.stdout,
      /CodeModeError UPSTREAM_UNAVAILABLE codemode\.memory\.read_graph: no gateway with Code Mode/,
    );
    await plain.close(s.id);
  });

  it('serve --nats --config: run_code_mode on the gateway calls the upstream server', async () => {
    const mcpJson = path.join(cluster.dir, 'mcp.json');
    mkdirSync(path.join(cluster.dir, 'upstream'), { recursive: true });
    writeFileSync(
      mcpJson,
      JSON.stringify({
        mcpServers: {
          memory: {
            command: process.execPath,
            args: [MEMORY],
            env: { MEMORY_FILE_PATH: path.join(cluster.dir, 'upstream', 'memory.jsonl') },
            requireApproval: ['delete_entities'],
          },
          everything: { command: process.execPath, args: [EVERYTHING, 'stdio'], timeoutMs: 120_000 },
        },
      }),
    );
    const args = ['--http', '--no-store', '--nats', cluster.urls.join(','), '--gateway-id', 'g1'];
    const env = { CODEMODE_HOME: path.join(cluster.dir, 'home-g1') };
    const options = parseServeArgs(
      [...args, '--nats-credentials', cluster.credentialFile('g1'), '--config', mcpJson],
      env,
      process.cwd(),
    );
    const io = quietIO(env);
    let log = '';
    runtime = await gatewayRuntime(options.cluster!)(options, io, (m) => (log += `${m}\n`));
    assert.match(log, /Code Mode's upstream servers are here/);
    gateway = runtime.sessions;
    mcp = await localMcp(runtime, { name: 'cluster-codemode-e2e', ceiling: options.settings.limits.max });
    client = mcp.client;
    const r = await call('run_code_mode', {
      code:
        'await codemode.memory.create_entities({ entities: [{ name: "ada", entityType: "person", observations: ["set on the gateway"] }] });\n' +
        'const found = await codemode.memory.search_nodes({ query: "ada" });\n' +
        'return found.entities.map((e) => e.name);',
    });
    assert.equal(r.isError, undefined, textOf(r));
    assert.deepEqual((r.structuredContent as { value: unknown }).value, ['ada']);
    const found = await call('search_tools', { query: 'search nodes' });
    assert.match(textOf(found), /search_nodes/);
  });

  it('a Python cell on a worker calls the upstream through the gateway and gets the typed result', async () => {
    const created = await call('create_session', { language: 'python' });
    const sessionId = (created.structuredContent as { session: { id: string } }).session.id;
    assert.ok(['w1', 'w2'].includes(gateway.view.session(sessionId)?.record.worker ?? ''), 'it runs on a worker');
    const r = await call('execute_code', {
      session_id: sessionId,
      code:
        'found = codemode.memory.search_nodes(query="ada")\n' +
        'print(type(found).__name__, found["entities"][0]["observations"])\n' +
        // The same approval rules as on one machine: delete_entities is under requireApproval.
        'try:\n    codemode.memory.delete_entities(entityNames=["ada"])\n' +
        'except Exception as e:\n    print("refused:", e.code)\n' +
        'print(codemode.search("create entities")[:2000])',
    });
    const out = textOf(r);
    assert.match(out, /dict \['set on the gateway'\]/);
    assert.match(out, /refused: APPROVAL_REQUIRED/);
    assert.match(out, /create_entities/);
    // The upstream still holds ada: the refused call never reached it.
    const still = await call('run_code_mode', {
      code: 'return (await codemode.memory.search_nodes({ query: "ada" })).entities.length;',
    });
    assert.equal((still.structuredContent as { value: unknown }).value, 1);
    await call('close_session', { session_id: sessionId });
  });

  it('a tool result too large for one NATS message reaches the kernel through the transfer store', async () => {
    // About 1.2 MB of graph: over the 900 KiB inline limit of a frame.
    const made = await call('run_code_mode', {
      code:
        'const entities = Array.from({ length: 400 }, (_, i) => ({ name: `big${i}`, entityType: "blob", observations: ["x".repeat(3000)] }));\n' +
        // Two calls: one call's arguments are capped at 1 MiB of JSON.
        'for (const half of [entities.slice(0, 200), entities.slice(200)]) await codemode.memory.create_entities({ entities: half });\n' +
        'return entities.length;',
    });
    assert.equal((made.structuredContent as { value: unknown }).value, 400, textOf(made));
    const s = await gateway.create({ language: 'python' });
    const r = await gateway.execute(
      s.id,
      'g = codemode.memory.read_graph()\nbig = [e for e in g["entities"] if e["name"].startswith("big")]\n' +
        'print(len(big), sum(len(o) for e in big for o in e["observations"]))',
    );
    assert.equal(r.stdout, '400 1200000\n', JSON.stringify(r));
    await gateway.close(s.id);
  });

  it("the gateway's tool service refuses another owner's session, and a session asked for by another worker", async () => {
    const s = await gateway.create({ language: 'python', owner: 'alice' });
    const home = gateway.view.session(s.id)!.record.worker;
    const other = home === 'w1' ? 'w2' : 'w1';
    const ask = async (as: string, owner: string, subjectOf = as) => {
      const user = cluster.users.workers.find((w) => w.id === as)!;
      const nc = await connect({
        servers: cluster.urls[0]!,
        user: user.user,
        pass: user.pass,
        inboxPrefix: workerInbox(as),
      });
      try {
        const body = { op: 'searchTools', sessionId: s.id, owner, query: 'nodes', detail: 'names' };
        const msg = await nc.request(SUBJECTS.tools(subjectOf), JSON.stringify({ v: PROTOCOL_VERSION, body }), {
          timeout: 10_000,
        });
        return replyFrameSchema.parse(msg.json());
      } finally {
        await nc.close();
      }
    };
    const mallory = await ask(home, 'mallory');
    assert.equal(mallory.ok, false);
    assert.equal(!mallory.ok && mallory.error.code, 'NOT_FOUND');
    const elsewhere = await ask(other, 'alice');
    assert.equal(!elsewhere.ok && elsewhere.error.code, 'NOT_FOUND');
    // Posing as the session's worker: NATS refuses the publish (only a worker may send on its own call subject).
    await assert.rejects(ask(other, 'alice', home), /Permissions Violation for Publish to "codemode\.tools\.call\./);
    // The check is not a blanket refusal: the session's own worker, for its owner, is answered.
    const own = await ask(home, 'alice');
    assert.ok(own.ok, JSON.stringify(own));
    assert.match(String(own.result), /codemode\.memory\.search_nodes/);
    await gateway.close(s.id, 'alice');
  });

  it('interrupting a cell cancels its tool call at the gateway: the upstream call does not run on', async () => {
    const tools = runtime.tools!;
    const s = await gateway.create({ language: 'python' });
    const running = gateway.execute(
      s.id,
      'codemode.everything.trigger_long_running_operation(duration=90, steps=90)\nprint("finished")',
    );
    await waitUntil(() => tools.inFlight === 1, 'the call running at the gateway');
    await gateway.interrupt(s.id);
    const r = await running;
    assert.notEqual(r.status, 'ok', JSON.stringify(r));
    assert.doesNotMatch(r.stdout, /finished/);
    // Long before the operation's 90 s: the worker's abort reached the gateway, which stopped the upstream call.
    await waitUntil(() => tools.inFlight === 0, 'the call cancelled at the gateway', 30_000);
    await gateway.close(s.id);
  });

  it('list_kits shows the union of the workers’ kits, and a kit-requiring session lands only where the kit is', async () => {
    const r = await call('list_kits', {});
    const kits = (r.structuredContent as { kits: { name: string; installed: boolean; workers?: string[] }[] }).kits;
    const byName = new Map(kits.map((k) => [k.name, k]));
    assert.deepEqual(byName.get('alpha')?.workers, ['w1']);
    assert.deepEqual(byName.get('beta')?.workers, ['w2']);
    assert.deepEqual(byName.get('gamma')?.workers, ['w2']);
    assert.equal(byName.get('gamma')?.installed, true);
    assert.match(textOf(r), /beta@1 \[python\] installed on workers: w2/);
    for (const [name, worker] of [
      ['beta', 'w2'],
      ['alpha', 'w1'],
      ['gamma', 'w2'],
    ] as const) {
      for (let i = 0; i < 2; i++) {
        const s = await gateway.create({ language: 'python', kits: [name] });
        assert.equal(gateway.view.session(s.id)?.record.worker, worker, `a ${name} session`);
        const out = await gateway.execute(s.id, `print(KIT_${name.toUpperCase()})`);
        assert.equal(out.stdout, `${name} is here\n`);
        await gateway.close(s.id);
      }
    }
    await assert.rejects(
      gateway.create({ language: 'python', kits: ['alpha', 'beta'] }),
      (e) => isAppError(e, 'INVALID_ARGUMENT') && /no single live worker/.test(e.message),
    );
    await assert.rejects(
      gateway.create({ language: 'python', kits: ['nope'] }),
      (e) => isAppError(e, 'INVALID_ARGUMENT') && /no live worker offers a kit named "nope"/.test(e.message),
    );
  });
  it("one-shot runs with cache: true are answered from the gateway's own result cache, per principal", async () => {
    const env = { CODEMODE_HOME: path.join(cluster.dir, 'home-g2-cache') };
    const args = ['--http', '--nats', cluster.urls.join(','), '--gateway-id', 'g2'];
    const options = parseServeArgs([...args, '--nats-credentials', cluster.credentialFile('g2')], env, process.cwd());
    assert.equal(options.store, true);
    const io = quietIO(env);
    const cached = await gatewayRuntime(options.cluster!)(options, io, () => {});
    try {
      const run = (principal: string) =>
        executorFor(cached.executor, principal).run({ language: 'bash', code: 'echo $RANDOM-$RANDOM-$$', cache: true });
      const first = await run('pat');
      const again = await run('pat');
      assert.equal(first.status, 'ok', first.stderr);
      assert.equal(first.cached, undefined);
      assert.equal(again.cached, true);
      assert.equal(again.stdout, first.stdout);
      // Another principal's runs never come from pat's part of the cache.
      const other = await run('quinn');
      assert.equal(other.cached, undefined);
      assert.notEqual(other.stdout, first.stdout);
    } finally {
      await cached.close();
    }
  });
});
