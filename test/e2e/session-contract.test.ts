// The executor contract against the two session paths (an execution in a kernel, and run_script in a
// session), through an Executor adapter; then the session-only regression tests of issue 8 (findings 2
// and 3): the kernel control channel, tool-call caps, background CPU between executions, run_script's
// statuses and close_session.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ToolHost } from '../../src/codemode/contract.js';
import type { ExecRequest, ExecResult, Executor, Language } from '../../src/sandbox/executor.js';
import { executorContract } from '../../src/sandbox/executor-contract.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { transpileTypeScript } from '../../src/sandbox/transpile.js';
import { KERNEL_IDLE_CPU_QUOTA } from '../../src/sessions/kernel.js';
import { SessionManager, type SessionManagerOptions } from '../../src/sessions/session-manager.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

async function newManager(extra: Partial<SessionManagerOptions> = {}): Promise<SessionManager> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'codemode-session-contract-'));
  chmodSync(root, 0o755);
  roots.push(root);
  return new SessionManager({
    sandbox: await createProcessSandbox(),
    store: null,
    workspaceRoot: path.join(root, 'ws'),
    pool: false,
    interruptGraceMs: 1000,
    ...extra,
  });
}

const SCRIPT_FILES: Record<Language, string> = {
  python: 'main.py',
  javascript: 'main.mjs',
  typescript: 'main.mjs',
  bash: 'main.sh',
};

/**
 * An Executor over sessions: each run gets its own session (so each run's
 * limits, memory and processes included, apply to a fresh kernel or script
 * tree), which is closed after the run.
 */
class SessionExecutor implements Executor {
  constructor(
    private readonly manager: SessionManager,
    private readonly mode: 'execute' | 'script',
  ) {}

  async run(req: ExecRequest): Promise<ExecResult> {
    const info = await this.manager.create({
      language: req.language,
      ...(req.limits ? { limits: req.limits } : {}),
    });
    try {
      for (const f of req.files ?? []) {
        const content = typeof f.content === 'string' ? Buffer.from(f.content) : f.content;
        await this.manager.writeFile(info.id, f.path, content);
      }
      const options = {
        ...(req.limits ? { limits: req.limits } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
        ...(req.onOutput ? { onOutput: req.onOutput } : {}),
      };
      if (this.mode === 'execute') return await this.manager.execute(info.id, req.code, options);
      let code = req.code;
      if (req.language === 'typescript') {
        const out = await transpileTypeScript(req.code, 'main.ts');
        if (!out.ok) throw new Error(`typescript did not compile: ${out.error.message}`);
        code = out.code;
      }
      const file = SCRIPT_FILES[req.language];
      await this.manager.writeFile(info.id, file, Buffer.from(code));
      const r = await this.manager.runScript(info.id, file, req.args ?? [], options);
      // The script file is the adapter's own, not a file the program wrote.
      if (r.files) r.files = r.files.filter((f) => f.path !== file);
      return r;
    } finally {
      await this.manager.close(info.id);
    }
  }

  async close(): Promise<void> {
    await this.manager.shutdown();
  }
}

const NO_STDIN = 'sessions give programs no stdin by design (kernels and run_script close it)';
const KERNEL_EXIT =
  'sys.exit()/exit in a kernel ends the cell, not the kernel: a kernel reports ok/error, not exit codes';
const SCRIPT_ERRORS =
  'run_script runs a file as it is and reports its exit status; the traceback is in stderr, not parsed into error';

executorContract({
  name: 'session execution (kernel)',
  make: async () => new SessionExecutor(await newManager(), 'execute'),
  skip: {
    'feeds stdin and args': `${NO_STDIN}; kernel cells take no argv`,
    'reports exit codes': KERNEL_EXIT,
  },
});

executorContract({
  name: 'run_script in a session',
  make: async () => new SessionExecutor(await newManager(), 'script'),
  skip: {
    'feeds stdin and args': NO_STDIN,
    'reports a Python exception with its type, message and line': SCRIPT_ERRORS,
    'reports a Python syntax error with its line': SCRIPT_ERRORS,
    'reports a JavaScript exception with its line and column': SCRIPT_ERRORS,
    "maps a TypeScript exception to the user's TypeScript line": `${SCRIPT_ERRORS}; and run_script has no TypeScript`,
    'reports a TypeScript syntax error with line and column before running anything':
      'run_script has no TypeScript (the adapter transpiles before writing the file)',
  },
});

// ------------------------------------------------------------------ session-only regression tests

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The largest gap between event-loop ticks while fn runs (ms). */
async function maxLoopGap<T>(fn: () => Promise<T>): Promise<{ value: T; gap: number }> {
  let last = performance.now();
  let gap = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
  }, 5);
  try {
    const value = await fn();
    return { value, gap };
  } finally {
    clearInterval(tick);
  }
}

// Python code that reaches the kernel's own control fd (what a hostile cell can always do).
const CTRL = 'import os\nctrl = display.__globals__["_CTRL"]\nexec_id = display.__globals__["_state"]["exec_id"]\n';

describe('the kernel control channel cannot hurt the server (issue 8, finding 2)', () => {
  let manager: SessionManager;
  before(async () => (manager = await newManager({ limits: { wallMs: 20_000 } })));
  after(() => manager.shutdown());

  it('a kernel that writes "null" on its control channel is stopped with protocol_error; the server lives', async () => {
    const s = await manager.create({ language: 'python' });
    await manager.execute(s.id, 'kept = 1');
    const r = await manager.execute(s.id, `${CTRL}os.write(ctrl, b"null\\n")\nimport time\ntime.sleep(5)`);
    assert.equal(r.status, 'protocol_error', `${r.status}: ${r.reason}`);
    assert.match(r.reason ?? '', /control protocol/);
    assert.equal(r.kernelRestarted, true);
    const next = await manager.execute(s.id, '"kept" in globals()');
    assert.equal(next.status, 'ok');
    assert.equal(next.outputs?.[0]?.data['text/plain'], 'False', 'a fresh kernel');
    await manager.close(s.id);
  });

  it('a newline-free flood on the control channel is stopped in bounded memory, and the event loop stays responsive', async () => {
    const s = await manager.create({ language: 'python' });
    const { value: r, gap } = await maxLoopGap(() =>
      manager.execute(s.id, `${CTRL}chunk = b"a" * 65536\nwhile True:\n    os.write(ctrl, chunk)`),
    );
    assert.equal(r.status, 'protocol_error', `${r.status}: ${r.reason}`);
    assert.match(r.reason ?? '', /larger than/);
    assert.ok(gap < 250, `the event loop stalled for ${Math.round(gap)} ms`);
    await manager.close(s.id);
  });

  it('output frames whose data are lists are protocol_error, never stored', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(
      s.id,
      `${CTRL}import json\nframe = {"type": "output", "id": exec_id, "kind": "display", "data": {"text/plain": ["x" * 1000] * 100}}\nos.write(ctrl, (json.dumps(frame) + "\\n").encode())\nimport time\ntime.sleep(5)`,
      { limits: { outputTotalBytes: 1024 } },
    );
    assert.ok(['protocol_error', 'output_limit'].includes(r.status), `${r.status}: ${r.reason}`);
    assert.deepEqual(r.outputs, []);
    await manager.close(s.id);
  });

  it('every byte on the control channel counts toward limits.outputTotalBytes', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(s.id, 'for i in range(1000):\n    display({"text/plain": "x" * 4096}, raw=True)', {
      limits: { outputTotalBytes: 64 * 1024 },
    });
    assert.equal(r.status, 'output_limit', `${r.status}: ${r.reason}`);
    const kept = (r.outputs ?? []).reduce((n, o) => n + (o.data['text/plain']?.length ?? 0), 0);
    assert.ok(kept <= 64 * 1024, `kept ${kept} bytes of rich output`);
    await manager.close(s.id);
  });

  it('a frame naming another execution, or a second done, is protocol_error', async () => {
    const s = await manager.create({ language: 'python' });
    const r = await manager.execute(
      s.id,
      `${CTRL}os.write(ctrl, b'{"type":"done","id":"someone-else","status":"ok"}\\n')\nimport time\ntime.sleep(5)`,
    );
    assert.equal(r.status, 'protocol_error', `${r.status}: ${r.reason}`);
    await manager.close(s.id);
  });

  it('a kernel that breaks the protocol between executions is stopped; the next execution gets a fresh kernel', async () => {
    const s = await manager.create({ language: 'python' });
    await manager.execute(
      s.id,
      `${CTRL}import threading, time\ndef later():\n    time.sleep(0.3)\n    os.write(ctrl, b"[1]\\n")\nthreading.Thread(target=later, daemon=True).start()`,
    );
    for (let i = 0; i < 60 && manager.get(s.id).state !== 'dead'; i++) await sleep(50);
    assert.equal(manager.get(s.id).state, 'dead');
    const r = await manager.execute(s.id, '1 + 1');
    assert.equal(r.status, 'ok');
    assert.equal(r.kernelRestarted, true);
    await manager.close(s.id);
  });
});

describe('kernel tool calls are capped and counted', () => {
  let manager: SessionManager;
  let inFlight = 0;
  let maxInFlight = 0;
  const toolHost: ToolHost = {
    async callTool() {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(200);
      inFlight--;
      return { ok: true };
    },
    async searchTools() {
      return '';
    },
    async declarations() {
      return '';
    },
  };
  before(async () => (manager = await newManager({ toolHost })));
  after(() => manager.shutdown());

  it('at most 8 tool calls are in flight per kernel; the rest are refused at once, and the result counts the calls made', async () => {
    const s = await manager.create({ language: 'javascript' });
    const r = await manager.execute(
      s.id,
      'const rs = await Promise.allSettled(Array.from({ length: 20 }, () => codemode.kv.get({ key: "k" })))\n' +
        'rs.filter((x) => x.status === "rejected" && x.reason.code === "LIMIT_EXCEEDED").length',
    );
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(r.outputs?.[0]?.data['text/plain'], '12');
    assert.equal(maxInFlight, 8);
    assert.equal(r.toolCalls, 8);
    await manager.close(s.id);
  });
});

describe('session limits hold like one-shot limits (issue 8, finding 3)', () => {
  let manager: SessionManager;
  before(async () => (manager = await newManager()));
  after(() => manager.shutdown());

  it("background processes between executions are held to the kernel's idle CPU quota", async () => {
    const s = await manager.create({ language: 'python' });
    const start = await manager.execute(
      s.id,
      'import subprocess, sys\nfor _ in range(2):\n    subprocess.Popen([sys.executable, "-c", "while True: pass"])',
    );
    assert.equal(start.status, 'ok', start.stderr);
    await sleep(300); // let the idle quota take hold
    await manager.execute(s.id, 'pass'); // the window closes the measurement's start
    await sleep(2000);
    assert.equal(manager.get(s.id).state, 'idle');
    const r = await manager.execute(s.id, 'pass');
    const idle = r.idleCpuMs ?? -1;
    // Two spinning processes would use ~4000 ms of CPU in 2 s on 2 cores; the quota allows ~200 ms.
    const allowed = 2000 * KERNEL_IDLE_CPU_QUOTA;
    assert.ok(idle > 0, `the background processes ran (idle CPU ${idle} ms)`);
    assert.ok(idle <= allowed * 1.5 + 50, `idle CPU ${idle} ms over 2 s; the quota allows ~${allowed} ms`);
    await manager.close(s.id);
  });

  it('run_script: a CPU-limit kill says cpu_time (one-shot does too)', async () => {
    const s = await manager.create({ language: 'python' });
    await manager.writeFile(s.id, 'spin.py', Buffer.from('while True:\n    pass\n'));
    const r = await manager.runScript(s.id, 'spin.py', [], { limits: { cpuMs: 500, wallMs: 10_000 } });
    assert.equal(r.status, 'cpu_time', `${r.status}: ${r.reason}`);
    assert.match(r.reason ?? '', /limits\.cpuMs/);
    await manager.close(s.id);
  });

  it('close_session kills a running run_script tree at once', async () => {
    const s = await manager.create({ language: 'python' });
    const marker = String(800000 + Math.floor(Math.random() * 99999));
    await manager.writeFile(
      s.id,
      'child.py',
      Buffer.from(`import subprocess\nsubprocess.Popen(["sleep", "${marker}"]).wait()\n`),
    );
    const running = manager.runScript(s.id, 'child.py', [], { limits: { wallMs: 60_000 } });
    const alive = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(`sleep ${marker}`);
    for (let i = 0; i < 100 && !alive(); i++) await sleep(50);
    assert.ok(alive(), 'the script started its child');
    const closedAt = performance.now();
    await manager.close(s.id);
    while (alive() && performance.now() - closedAt < 1000) await sleep(20);
    assert.ok(!alive(), 'the child is gone within 1 s of close_session');
    const r = await running.catch((e: unknown) => e);
    assert.ok(!(r instanceof Error) || /closed/.test(r.message), String(r));
  });
});
