/**
 * The JavaScript kernel's side of the control protocol, spoken directly over
 * real pipes (no sandbox): a cell's own output travels in its one done frame,
 * and the end marker goes only to a pipe the cell wrote to itself, so a cell
 * that prints a line costs the host one wake-up instead of three.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Readable, Writable } from 'node:stream';

const KERNEL = fileURLToPath(new URL('./node-kernel.mjs', import.meta.url));
const MARKER = '\u0001test-end\u0001';

interface Frame {
  type: string;
  id?: string;
  marked?: string[];
  stdout?: string;
  stderr?: string;
  status?: string;
  kind?: string;
}

interface CellRun {
  frames: Frame[];
  done: Frame;
  /** Bytes that came through the pipes, marker included. */
  pipeOut: string;
  pipeErr: string;
  /** What the pipe held when the done frame arrived. */
  pipeOutAtDone: string;
}

class KernelProcess {
  readonly child: ChildProcess;
  private control = '';
  private out = '';
  private err = '';
  private waiters: (() => void)[] = [];
  private seq = 0;

  constructor(cwd: string) {
    this.child = spawn(process.execPath, [KERNEL], { cwd, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const wake = () => {
      for (const w of this.waiters.splice(0)) w();
    };
    this.child.stdout!.on('data', (c: Buffer) => ((this.out += c.toString()), wake()));
    this.child.stderr!.on('data', (c: Buffer) => ((this.err += c.toString()), wake()));
    (this.child.stdio[3] as Readable).on('data', (c: Buffer) => ((this.control += c.toString()), wake()));
  }

  private async until(ok: () => boolean): Promise<void> {
    while (!ok()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Resolves once `text` has come through the stdout pipe. */
  async stdoutShows(text: string): Promise<void> {
    await this.until(() => this.out.includes(text));
  }

  async ready(): Promise<void> {
    await this.until(() => this.control.includes('"ready"'));
    this.control = '';
  }

  frames(): Frame[] {
    return this.control
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Frame);
  }

  /** Runs a cell; resolves once the done frame and every marker it announced have arrived. */
  async run(code: string): Promise<CellRun> {
    this.control = '';
    this.out = '';
    this.err = '';
    const id = `e${++this.seq}`;
    (this.child.stdio[3] as Writable).write(
      JSON.stringify({ type: 'execute', id, cell: this.seq, code, marker: MARKER }) + '\n',
    );
    await this.until(() => this.frames().some((f) => f.type === 'done'));
    const pipeOutAtDone = this.out;
    const done = this.frames().find((f) => f.type === 'done')!;
    await this.until(
      () =>
        (!done.marked?.includes('stdout') || this.out.endsWith(MARKER)) &&
        (!done.marked?.includes('stderr') || this.err.endsWith(MARKER)),
    );
    return { frames: this.frames(), done, pipeOut: this.out, pipeErr: this.err, pipeOutAtDone };
  }

  close(): void {
    this.child.kill('SIGKILL');
  }
}

/** The cell's stdout as the host assembles it: the pipe's bytes (marker removed), then the done frame's text. */
function stdoutOf(r: CellRun): string {
  return r.pipeOut.replace(MARKER, '') + (r.done.stdout ?? '');
}

describe('JavaScript kernel output', () => {
  let dir: string;
  let kernel: KernelProcess;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-node-kernel-'));
    kernel = new KernelProcess(dir);
    await kernel.ready();
  });
  after(() => {
    kernel.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a cell that prints answers with one done frame carrying its output, no marker on any pipe', async () => {
    const r = await kernel.run('console.log("a"); process.stdout.write("b\\n"); console.error("c")');
    assert.deepEqual(
      r.frames.map((f) => f.type),
      ['done'],
    );
    assert.deepEqual(r.done.marked, []);
    assert.equal(r.done.stdout, 'a\nb\n');
    assert.equal(r.done.stderr, 'c\n');
    assert.equal(r.pipeOut + r.pipeErr, '');
  });

  it('a value and the done frame arrive in one write', async () => {
    const r = await kernel.run('x = 40 + 2');
    assert.deepEqual(
      r.frames.map((f) => `${f.type}${f.kind ? `:${f.kind}` : ''}`),
      ['output:result', 'done'],
    );
    assert.deepEqual(r.done.marked, []);
  });

  it("a child process's output keeps its place between the cell's own lines (both pipes marked)", async () => {
    const r = await kernel.run(
      'console.log("a"); require("child_process").execSync("echo b", { stdio: "inherit" }); console.log("c")',
    );
    assert.deepEqual(r.done.marked, ['stdout', 'stderr']);
    assert.equal(stdoutOf(r), 'a\nb\nc\n');
  });

  it('a child started through the ESM namespace spills first too', async () => {
    const r = await kernel.run(
      'console.log("a"); const { spawnSync } = await import("node:child_process"); spawnSync("echo", ["b"], { stdio: "inherit" }); console.log("c")',
    );
    assert.equal(stdoutOf(r), 'a\nb\nc\n');
  });

  it('a direct write to fd 1 keeps its order and marks stdout only', async () => {
    const r = await kernel.run('console.log("a"); require("fs").writeSync(1, "b\\n"); console.log("c")');
    assert.deepEqual(r.done.marked, ['stdout']);
    assert.equal(stdoutOf(r), 'a\nb\nc\n');
  });

  it('output past the capture bound arrives complete and in order', async () => {
    const r = await kernel.run('for (let i = 0; i < 20000; i++) console.log(i)');
    assert.deepEqual(r.done.marked, ['stdout']);
    assert.equal(stdoutOf(r), Array.from({ length: 20000 }, (_, i) => `${i}\n`).join(''));
  });

  it('an awaiting cell streams what it printed before it ends', async () => {
    const r = await kernel.run(
      'console.log("early"); await new Promise((r) => setTimeout(r, 500)); console.log("late")',
    );
    assert.equal(r.pipeOutAtDone.startsWith('early\n'), true, `pipe held ${JSON.stringify(r.pipeOutAtDone)}`);
    assert.equal(stdoutOf(r), 'early\nlate\n');
  });

  it(
    'a synchronous cell that printed, then spins, streams what it printed (the flusher thread)',
    { timeout: 20_000 },
    async () => {
      // The cell spins until the test has seen its line on the pipe: only the flusher thread can send it.
      const running = kernel.run(
        'console.log("early"); while (!require("fs").existsSync("go")) {}; console.log("late")',
      );
      await kernel.stdoutShows('early\n');
      writeFileSync(path.join(dir, 'go'), '');
      const r = await running;
      assert.equal(stdoutOf(r), 'early\nlate\n');
      assert.deepEqual(r.done.marked, ['stdout']);
    },
  );

  it("an error's traceback is the cell's stderr, in the done frame", async () => {
    const r = await kernel.run('console.log("before"); throw new Error("boom")');
    assert.equal(r.done.status, 'error');
    assert.equal(r.done.stdout, 'before\n');
    assert.match(r.done.stderr ?? '', /^Error: boom\n/);
    assert.deepEqual(r.done.marked, []);
  });
});
