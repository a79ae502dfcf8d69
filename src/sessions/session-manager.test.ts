import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAppError } from '../errors.js';
import type { ToolHost } from '../codemode/contract.js';
import { createProcessSandbox } from '../sandbox/process/process-sandbox.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import { MemorySessionStore } from '../store/memory-session-store.js';
import type { ExecutionRecord } from './contract.js';
import { SessionManager } from './session-manager.js';

let sandbox: Sandbox;
let root: string;
let manager: SessionManager;
const toolCalls: { server: string; tool: string; args: unknown }[] = [];
const toolHost: ToolHost = {
  async callTool(server, tool, args) {
    toolCalls.push({ server, tool, args });
    if (tool === 'fail') throw new Error(`${server}.${tool} failed upstream`);
    return { echoed: args };
  },
  async searchTools(query) {
    return `found: ${query}`;
  },
  async declarations() {
    return '';
  },
};

function pngSize(b64: string): { width: number; height: number } {
  const buf = Buffer.from(b64, 'base64');
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(buf.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

before(async () => {
  sandbox = await createProcessSandbox();
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-sessions-test-'));
  chmodSync(root, 0o755);
  manager = new SessionManager({
    sandbox,
    store: null,
    workspaceRoot: path.join(root, 'ws'),
    pool: { python: 1 },
    limits: { wallMs: 8000 },
    interruptGraceMs: 1000,
    toolHost,
  });
});

after(async () => {
  await manager.shutdown();
  rmSync(root, { recursive: true, force: true });
});

describe('python sessions', () => {
  it('keeps variables between executions and returns the final expression like Jupyter', async () => {
    const s = await manager.create({ language: 'python' });
    const a = await manager.execute(s.id, 'x = 20\nprint("set")');
    assert.equal(a.status, 'ok');
    assert.equal(a.stdout, 'set\n');
    assert.deepEqual(a.outputs, []);
    const b = await manager.execute(s.id, 'y = x + 1\ny * 2');
    assert.equal(b.status, 'ok');
    assert.equal(b.executionCount, 2);
    assert.deepEqual(b.outputs, [{ kind: 'result', data: { 'text/plain': '42' } }]);
    await manager.close(s.id);
  });

  it('reports an exception with a clean traceback pointing at the user line', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(s.id, 'a = 1\n\ndef f():\n    return 1 / 0\nf()');
    assert.equal(r.status, 'error');
    assert.equal(r.error?.type, 'ZeroDivisionError');
    assert.equal(r.error?.line, 4);
    assert.match(r.error?.traceback ?? '', /File "<cell 1>", line 4, in f/);
    assert.doesNotMatch(r.error?.traceback ?? '', /python-kernel|run_cell/);
    const after = await manager.execute(s.id, 'a');
    assert.equal(after.outputs?.[0]?.data['text/plain'], '1', 'state survives an exception');
    await manager.close(s.id);
  });

  it('captures a matplotlib figure as a PNG image that decodes with real dimensions', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(
      s.id,
      'import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(4, 3), dpi=50)\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.show()',
    );
    assert.equal(r.status, 'ok', r.stderr);
    const images = (r.outputs ?? []).filter((o) => o.data['image/png']);
    assert.equal(images.length, 1, 'exactly one figure (show() displays and closes it)');
    const { width, height } = pngSize(images[0]!.data['image/png']!);
    assert.ok(width > 50 && width <= 200, `width ${width}`);
    assert.ok(height > 50 && height <= 150, `height ${height}`);
    await manager.close(s.id);
  });

  it('renders a pandas DataFrame as an HTML table and text', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(s.id, 'import pandas as pd\npd.DataFrame({"a": [1, 2], "b": ["x", "y"]})');
    assert.equal(r.status, 'ok', r.stderr);
    const out = r.outputs?.[0];
    assert.equal(out?.kind, 'result');
    assert.match(out?.data['text/html'] ?? '', /<table/);
    assert.match(out?.data['text/plain'] ?? '', /a\s+b/);
    await manager.close(s.id);
  });

  it('interrupt stops a long sleep and keeps the variables', async () => {
    const s = await manager.create({ language: 'python' });
    await manager.execute(s.id, 'x = 1');
    let started!: () => void;
    const sawStart = new Promise<void>((r) => (started = r));
    const running = manager.execute(s.id, 'import time\nprint("started")\ntime.sleep(30)', {
      onOutput: (c) => c.text.includes('started') && started(),
    });
    await sawStart;
    await manager.interrupt(s.id);
    const r = await running;
    assert.equal(r.status, 'interrupted');
    assert.equal(r.error?.type, 'KeyboardInterrupt');
    assert.ok(!r.kernelRestarted);
    const x = await manager.execute(s.id, 'x');
    assert.equal(x.outputs?.[0]?.data['text/plain'], '1');
    await manager.close(s.id);
  });

  it('wall-time expiry interrupts the execution, reports timeout and keeps the kernel', async () => {
    const s = await manager.create({ language: 'python' });
    await manager.execute(s.id, 'kept = "yes"');
    const r = await manager.execute(s.id, 'import time\ntime.sleep(20)', { limits: { wallMs: 400 } });
    assert.equal(r.status, 'timeout');
    assert.ok(r.durationMs < 3000);
    const k = await manager.execute(s.id, 'kept');
    assert.equal(k.outputs?.[0]?.data['text/plain'], "'yes'");
    await manager.close(s.id);
  });

  it('a kernel the program ends (os._exit) reports its exit code, restarts on the next call and keeps workspace files', async () => {
    const s = await manager.create({ language: 'python' });
    await manager.execute(s.id, 'v = 5\nopen("keep.txt", "w").write("kept")');
    const crash = await manager.execute(s.id, 'import os\nos._exit(1)');
    assert.equal(crash.status, 'error');
    assert.equal(crash.exitCode, 1);
    assert.equal(crash.signal, null);
    assert.equal(crash.kernelRestarted, true);
    assert.match(crash.note ?? '', /variables are lost/);
    const next = await manager.execute(s.id, 'print(open("keep.txt").read())\n"v" in globals()');
    assert.equal(next.status, 'ok');
    assert.equal(next.stdout, 'kept\n');
    assert.equal(next.outputs?.[0]?.data['text/plain'], 'False');
    await manager.close(s.id);
  });

  it('a memory balloon is stopped with status memory and the session recovers', async () => {
    const s = await manager.create({ language: 'python', limits: { memoryBytes: 64 * 1024 * 1024 } });
    assert.equal(s.pooled, false, 'non-default memory limits start a cold kernel');
    const r = await manager.execute(s.id, 'blocks = []\nwhile True:\n    blocks.append(b"x" * (8 * 1024 * 1024))');
    assert.equal(r.status, 'memory', `${r.status}: ${r.reason}`);
    const next = await manager.execute(s.id, '2 + 2');
    assert.equal(next.outputs?.[0]?.data['text/plain'], '4');
    await manager.close(s.id);
  });

  it('caps each stream with a visible truncation marker', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(s.id, 'print("a" * 50000)', { limits: { outputBytes: 2000 } });
    assert.equal(r.status, 'ok');
    assert.ok(r.stdoutDroppedBytes > 45000);
    assert.match(r.stdout, /\[\.\.\. [\d,]+ bytes truncated \.\.\.\]/);
    await manager.close(s.id);
  });

  it('stops an output flood with status output_limit', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(s.id, 'while True:\n    print("y" * 10000)', {
      limits: { outputBytes: 4096, outputTotalBytes: 200_000 },
    });
    assert.equal(r.status, 'output_limit');
    assert.ok(r.stdout.length <= 4096 + 100);
    await manager.close(s.id);
  });

  it("a cell's own output and a child process's output keep their order", async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(
      s.id,
      'import os, subprocess, sys\nprint("a")\nos.system("echo b")\nprint("c")\n' +
        'sys.stderr.write("d\\n")\nsubprocess.run(["sh", "-c", "echo e >&2"])\nsys.stderr.write("f\\n")\nprint("g")',
    );
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(r.stdout, 'a\nb\nc\ng\n');
    assert.equal(r.stderr, 'd\ne\nf\n');
    await manager.close(s.id);
  });

  it('output past the in-kernel capture bound arrives complete and in order', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(s.id, 'for i in range(30000):\n    print(i)', {
      limits: { outputBytes: 1_000_000 },
    });
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(r.stdout, Array.from({ length: 30000 }, (_, i) => `${i}\n`).join(''));
    await manager.close(s.id);
  });

  it('a long cell streams its early output before it ends', async () => {
    const s = await manager.create({ language: 'python' });
    const t0 = performance.now();
    let firstAt = -1;
    const r = await manager.execute(s.id, 'import time\nprint("early")\ntime.sleep(1.5)\nprint("late")', {
      onOutput: () => {
        if (firstAt < 0) firstAt = performance.now() - t0;
      },
    });
    assert.equal(r.status, 'ok');
    assert.equal(r.stdout, 'early\nlate\n');
    assert.ok(firstAt >= 0 && firstAt < 1000, `the first output arrived after ${firstAt} ms`);
    await manager.close(s.id);
  });

  it('the output budget counts the bytes a done frame carries (output_limit)', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(s.id, 'print("z" * 30000)', {
      limits: { outputBytes: 4096, outputTotalBytes: 20_000 },
    });
    assert.equal(r.status, 'output_limit', `${r.status}: ${r.reason}`);
    assert.ok(r.stdout.length <= 4096 + 100);
    await manager.close(s.id);
  });

  it('CPU metering stops a busy loop with status cpu_time', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(s.id, 'while True:\n    pass', { limits: { cpuMs: 300 } });
    assert.equal(r.status, 'cpu_time', `${r.status}: ${r.reason}`);
    assert.ok((r.cpuMs ?? 0) >= 300);
    await manager.close(s.id);
  });

  it('a kernel that dies while idle is reported on the next execution', async () => {
    const s = await manager.create({ language: 'python' });
    await manager.execute(s.id, 'import os, threading\nthreading.Timer(0.1, lambda: os._exit(3)).start()\nv = 1');
    for (let i = 0; i < 100 && manager.get(s.id).state !== 'dead'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(manager.get(s.id).state, 'dead');
    const r = await manager.execute(s.id, '"v" in globals()');
    assert.equal(r.status, 'ok');
    assert.equal(r.kernelRestarted, true);
    assert.match(r.note ?? '', /variables from earlier executions are gone/);
    assert.equal(r.outputs?.[0]?.data['text/plain'], 'False');
    await manager.close(s.id);
  });

  it('restart gives a fresh kernel and keeps the workspace files', async () => {
    const s = await manager.create({ language: 'python' });
    await manager.execute(s.id, 'z = 9\nopen("f.txt", "w").write("f")');
    const info = await manager.restart(s.id);
    assert.equal(info.state, 'idle');
    const r = await manager.execute(s.id, '("z" in globals(), open("f.txt").read())');
    assert.equal(r.outputs?.[0]?.data['text/plain'], "(False, 'f')");
    await manager.close(s.id);
  });

  it('calls Code Mode tools through the injected ToolHost', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(s.id, 'codemode.files.read(path="a.txt")');
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(r.outputs?.[0]?.data['text/plain'], "{'echoed': {'path': 'a.txt'}}");
    assert.deepEqual(toolCalls.at(-1), { server: 'files', tool: 'read', args: { path: 'a.txt' } });
    const failed = await manager.execute(s.id, 'codemode.files.fail()');
    assert.equal(failed.status, 'error');
    assert.equal(failed.error?.type, 'CodeModeError');
    assert.match(failed.error?.message ?? '', /files\.fail failed upstream/);
    await manager.close(s.id);
  });
});

describe('javascript, typescript and bash sessions', () => {
  it('javascript keeps const declarations, allows redeclaring them, and awaits at top level', async () => {
    const s = await manager.create({ language: 'javascript' });
    assert.equal((await manager.execute(s.id, 'const x = 40')).status, 'ok');
    const r = await manager.execute(s.id, 'console.log("hi")\nx + 2');
    assert.equal(r.stdout, 'hi\n');
    assert.deepEqual(r.outputs, [{ kind: 'result', data: { 'text/plain': '42' } }]);
    const again = await manager.execute(s.id, 'const x = 1; x');
    assert.equal(again.outputs?.[0]?.data['text/plain'], '1');
    const awaited = await manager.execute(s.id, 'const v = await Promise.resolve(7)\nv * x');
    assert.equal(awaited.outputs?.[0]?.data['text/plain'], '7');
    const tool = await manager.execute(s.id, 'const res = await codemode.kv.get({ key: "k" })\nres.echoed.key');
    assert.equal(tool.outputs?.[0]?.data['text/plain'], "'k'");
    const err = await manager.execute(s.id, 'function boom() {\n  throw new RangeError("nope")\n}\nboom()');
    assert.equal(err.status, 'error');
    assert.equal(err.error?.type, 'RangeError');
    assert.equal(err.error?.line, 2);
    await manager.close(s.id);
  });

  it('javascript interrupt stops a busy loop and keeps the variables', async () => {
    const s = await manager.create({ language: 'javascript' });
    await manager.execute(s.id, 'let kept = 5');
    let started!: () => void;
    const sawStart = new Promise<void>((r) => (started = r));
    const running = manager.execute(s.id, 'console.log("started")\nwhile (true) {}', {
      onOutput: (c) => c.text.includes('started') && started(),
    });
    await sawStart;
    await manager.interrupt(s.id);
    const r = await running;
    assert.equal(r.status, 'interrupted');
    assert.ok(!r.kernelRestarted);
    const k = await manager.execute(s.id, 'kept');
    assert.equal(k.outputs?.[0]?.data['text/plain'], '5');
    await manager.close(s.id);
  });

  it('typescript is transpiled and keeps state', async () => {
    const s = await manager.create({ language: 'typescript' });
    await manager.execute(s.id, 'interface P { n: number }\nconst p: P = { n: 3 }');
    const r = await manager.execute(s.id, 'const double = (q: P): number => q.n * 2\ndouble(p)');
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(r.outputs?.[0]?.data['text/plain'], '6');
    const thrown = await manager.execute(
      s.id,
      'type Id = string\ninterface Q {\n  id: Id\n}\nconst q: Q = { id: "a" }\nthrow new TypeError(`bad ${q.id}`)',
    );
    assert.equal(thrown.status, 'error');
    assert.equal(thrown.error?.line, 6, 'the line is mapped back through the source map to the TypeScript source');
    assert.match(thrown.error?.traceback ?? '', /<cell 3>:6:/);
    const bad = await manager.execute(s.id, 'const z: number = (');
    assert.equal(bad.status, 'error');
    assert.equal(bad.error?.type, 'SyntaxError');
    await manager.close(s.id);
  });

  it('bash keeps the working directory and variables', async () => {
    const s = await manager.create({ language: 'bash' });
    await manager.execute(s.id, 'mkdir -p sub && cd sub && export GREETING=hello');
    const r = await manager.execute(s.id, 'echo "$GREETING from $PWD"');
    assert.equal(r.stdout, 'hello from /workspace/sub\n');
    const fail = await manager.execute(s.id, 'false');
    assert.equal(fail.status, 'error');
    assert.equal(fail.exitCode, 1);
    await manager.close(s.id);
  });
});

describe('workspaces, isolation and ownership', () => {
  it('two sessions share neither files nor variables', async () => {
    const a = await manager.create({ language: 'python' });
    const b = await manager.create({ language: 'python' });
    await manager.execute(a.id, 'secret = 1\nopen("mine.txt", "w").write("a")');
    const r = await manager.execute(b.id, 'import os\nprint(sorted(os.listdir(".")))\n"secret" in globals()');
    assert.equal(r.stdout, '[]\n');
    assert.equal(r.outputs?.[0]?.data['text/plain'], 'False');
    assert.deepEqual(
      (await manager.listFiles(a.id)).map((f) => f.path),
      ['mine.txt'],
    );
    await assert.rejects(manager.readFile(b.id, 'mine.txt'), (e) => isAppError(e, 'NOT_FOUND'));
    await manager.close(a.id);
    await manager.close(b.id);
  });

  it('files written through the API are binary-safe and visible to the kernel', async () => {
    const s = await manager.create({ language: 'python' });
    const bytes = new Uint8Array([0, 255, 1, 2, 0x89, 0x50]);
    await manager.writeFile(s.id, 'data/blob.bin', bytes);
    const r = await manager.execute(s.id, 'list(open("data/blob.bin", "rb").read())');
    assert.equal(r.outputs?.[0]?.data['text/plain'], '[0, 255, 1, 2, 137, 80]');
    assert.deepEqual([...(await manager.readFile(s.id, 'data/blob.bin'))], [...bytes]);
    await manager.deleteFile(s.id, 'data/blob.bin');
    await assert.rejects(manager.readFile(s.id, 'data/blob.bin'), (e) => isAppError(e, 'NOT_FOUND'));
    await manager.close(s.id);
  });

  it('rejects names that escape the workspace: .., absolute, NUL, and symlinks planted by the kernel', async () => {
    const s = await manager.create({ language: 'python' });
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a\0b']) {
      await assert.rejects(manager.writeFile(s.id, bad, new Uint8Array([1])), (e) => isAppError(e, 'PATH_ESCAPE'), bad);
      await assert.rejects(manager.readFile(s.id, bad), (e) => isAppError(e, 'PATH_ESCAPE'), bad);
    }
    await manager.execute(s.id, 'import os\nos.symlink("/etc", "etc")\nos.symlink("/etc/hostname", "host")');
    await assert.rejects(manager.readFile(s.id, 'host'), (e) => isAppError(e, 'PATH_ESCAPE'));
    await assert.rejects(manager.readFile(s.id, 'etc/hostname'), (e) => isAppError(e, 'PATH_ESCAPE'));
    await assert.rejects(manager.writeFile(s.id, 'etc/evil', new Uint8Array([1])), (e) => isAppError(e, 'PATH_ESCAPE'));
    await assert.rejects(manager.writeFile(s.id, 'host', new Uint8Array([1])), (e) => isAppError(e, 'PATH_ESCAPE'));
    await manager.close(s.id);
  });

  it('a session is invisible to other owners', async () => {
    const s = await manager.create({ language: 'bash', owner: 'alice' });
    assert.throws(
      () => manager.get(s.id, 'bob'),
      (e) => isAppError(e, 'NOT_FOUND'),
    );
    await assert.rejects(manager.execute(s.id, 'echo hi', { owner: 'bob' }), (e) => isAppError(e, 'NOT_FOUND'));
    await assert.rejects(manager.readFile(s.id, 'x', 'bob'), (e) => isAppError(e, 'NOT_FOUND'));
    await assert.rejects(manager.close(s.id, 'bob'), (e) => isAppError(e, 'NOT_FOUND'));
    assert.throws(
      () => manager.history(s.id, 'bob'),
      (e) => isAppError(e, 'NOT_FOUND'),
    );
    assert.deepEqual(manager.list('bob'), []);
    assert.equal(manager.list('alice').length, 1);
    await manager.close(s.id, 'alice');
  });

  it('runScript runs a workspace file with arguments in the session sandbox', async () => {
    const s = await manager.create({ language: 'python' });
    await manager.writeFile(s.id, 'tool.py', Buffer.from('import sys\nprint("args", sys.argv[1:])\n'));
    const r = await manager.runScript(s.id, 'tool.py', ['one', 'two words']);
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(r.stdout, "args ['one', 'two words']\n");
    const hist = manager.history(s.id);
    assert.equal(hist.at(-1)?.kind, 'script');
    await manager.close(s.id);
  });

  it('an idle-timed-out session is suspended, not deleted: it is resumable with its files', async () => {
    let now = Date.now();
    const local = new SessionManager({
      sandbox,
      store: null,
      workspaceRoot: path.join(root, 'idle-ws'),
      pool: false,
      idleTimeoutMs: 1000,
      now: () => now,
    });
    try {
      const s = await local.create({ language: 'bash' });
      await local.execute(s.id, 'echo kept > notes.txt');
      now += 5000;
      assert.equal(await local.closeIdle(), 1);
      assert.throws(
        () => local.get(s.id),
        (e) => isAppError(e, 'SESSION_CLOSED') && /resume_session_id/.test((e as Error).message),
      );
      assert.deepEqual(
        local.listResumable().map((r) => r.id),
        [s.id],
      );
      const resumed = await local.create({ language: 'bash', resumeId: s.id });
      assert.equal(resumed.id, s.id);
      assert.equal(Buffer.from(await local.readFile(s.id, 'notes.txt')).toString(), 'kept\n');
      const r = await local.execute(s.id, 'cat notes.txt');
      assert.equal(r.stdout, 'kept\n');
    } finally {
      await local.shutdown();
    }
  });

  it('at the per-principal cap, creating one more suspends that principal’s own longest-idle session', async () => {
    let now = Date.now();
    const local = new SessionManager({
      sandbox,
      store: null,
      workspaceRoot: path.join(root, 'cap-ws'),
      pool: false,
      maxSessionsPerOwner: 2,
      now: () => now,
    });
    try {
      const a = await local.create({ language: 'bash' });
      now += 10;
      const b = await local.create({ language: 'bash' });
      await local.writeFile(b.id, 'b.txt', Buffer.from('b'));
      now += 10;
      await local.execute(a.id, 'true'); // a is now the most recently used
      now += 10;
      const c = await local.create({ language: 'bash' });
      assert.deepEqual(
        local
          .list()
          .map((s) => s.id)
          .sort(),
        [a.id, c.id].sort(),
      );
      assert.throws(
        () => local.get(b.id),
        (e) => isAppError(e, 'SESSION_CLOSED'),
      );
      await local.close(c.id);
      await local.create({ language: 'bash', resumeId: b.id });
      assert.equal(Buffer.from(await local.readFile(b.id, 'b.txt')).toString(), 'b');
    } finally {
      await local.shutdown();
    }
  });

  it('tenancy: a second principal’s create_session at the server cap never touches the first principal’s sessions or files', async () => {
    const local = new SessionManager({
      sandbox,
      store: null,
      workspaceRoot: path.join(root, 'tenancy-ws'),
      pool: false,
      maxSessions: 2,
    });
    try {
      const a1 = await local.create({ language: 'bash', owner: 'alice' });
      const a2 = await local.create({ language: 'bash', owner: 'alice' });
      await local.writeFile(a1.id, 'alice.txt', Buffer.from('mine'), 'alice');
      await assert.rejects(local.create({ language: 'bash', owner: 'bob' }), (e) => isAppError(e, 'LIMIT_EXCEEDED'));
      assert.deepEqual(
        local
          .list('alice')
          .map((s) => s.state)
          .sort(),
        ['idle', 'idle'],
      );
      assert.equal(Buffer.from(await local.readFile(a1.id, 'alice.txt', 'alice')).toString(), 'mine');
      const r = await local.execute(a2.id, 'echo still here', { owner: 'alice' });
      assert.equal(r.stdout, 'still here\n');
    } finally {
      await local.shutdown();
    }
  });

  it('the pool serves a warm kernel and never hands the same one out twice', async () => {
    await manager.warmPool?.whenFilled();
    const a = await manager.create({ language: 'python' });
    await manager.warmPool?.whenFilled();
    const b = await manager.create({ language: 'python' });
    assert.equal(a.pooled, true);
    assert.equal(b.pooled, true);
    assert.notEqual(a.id, b.id);
    await manager.execute(a.id, 'mark = "a"');
    const r = await manager.execute(b.id, '"mark" in globals()');
    assert.equal(r.outputs?.[0]?.data['text/plain'], 'False');
    await manager.close(a.id);
    await manager.close(b.id);
  });
});

describe('history writes', () => {
  it('are queued after the reply; a write the full disk refuses is reported, kept, retried and lands', async () => {
    class FailingStore extends MemorySessionStore {
      fail = true;
      override addExecution(record: ExecutionRecord): void {
        if (this.fail) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        super.addExecution(record);
      }
    }
    const store = new FailingStore();
    const failures: string[] = [];
    const m = new SessionManager({
      sandbox,
      store,
      workspaceRoot: path.join(root, 'ws-store'),
      pool: false,
      onStoreError: (e, w) => failures.push(`${w.operation}: ${(e as Error).message}`),
    });
    try {
      const s = await m.create({ language: 'python' });
      const first = await m.execute(s.id, 'x = 1');
      assert.equal(first.status, 'ok');
      assert.equal(first.warnings, undefined);
      assert.deepEqual(failures, [], 'the write runs after the reply');
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(failures, ['addExecution: database or disk is full']);
      assert.equal(m.storeStatus.health().state, 'degraded');
      // While the store fails, history shows the execution, marked unsaved.
      const during = m.history(s.id);
      assert.deepEqual(
        during.map((h) => [h.code, h.unsaved]),
        [['x = 1', 'no space left on device (SQLITE_FULL)']],
      );
      const second = await m.execute(s.id, 'x');
      assert.equal(second.status, 'ok');
      assert.match(second.warnings?.join('\n') ?? '', /history not saved: no space left on device \(SQLITE_FULL\)/);
      store.fail = false;
      assert.deepEqual(
        m.history(s.id).map((h) => [h.code, h.unsaved]),
        [
          ['x = 1', undefined],
          ['x', undefined],
        ],
        'the kept writes landed, in order, once space returned',
      );
      assert.equal(m.storeStatus.health().state, 'ok');
      const third = await m.execute(s.id, 'x + 1');
      assert.match(third.warnings?.join('\n') ?? '', /history saved again/);
      const fourth = await m.execute(s.id, 'x + 2');
      assert.equal(fourth.warnings, undefined, 'said once');
    } finally {
      await m.shutdown();
    }
  });
});
