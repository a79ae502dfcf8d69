/**
 * `codemode repl` as a user drives it: in a real terminal (tmux, a private
 * socket per run) on the real sandbox, and with --json through plain pipes.
 * Waits poll the screen until the expected text appears (or give up after a
 * generous deadline); nothing asserts on time.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startScriptedServer, type ScriptedServer } from '../../src/agent/scripted-server.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'codemode-repl-e2e-'));
chmodSync(tmp, 0o755);
const HOME = path.join(tmp, 'home');
const SOCKET = `codemode-repl-e2e-${process.pid}`;
const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
}
const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-'); // the whole scrollback: prompts are counted

/** Poll the screen until `pattern` shows up (count: how many times); the deadline only turns a hang into a failure. */
async function waitFor(pattern: RegExp, count = 1, deadlineMs = 30_000): Promise<string> {
  const end = Date.now() + deadlineMs;
  const global = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  for (;;) {
    const text = screen();
    if ((text.match(global) ?? []).length >= count) return text;
    if (Date.now() > end) throw new Error(`timed out waiting for ${pattern} (x${count}); screen:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Type one line and press Enter (literal keys, so "%" and quotes go through as typed). */
function type(line: string): void {
  if (line) tmux('send-keys', '-t', 'repl', '-l', line);
  tmux('send-keys', '-t', 'repl', 'Enter');
}

let prompts = 0;
/** Wait for the next fresh prompt "In [n]: " (counting every prompt shown so far). */
async function nextPrompt(): Promise<string> {
  prompts++;
  return waitFor(/In \[\d+\]: /, prompts);
}

describe('codemode repl in a terminal (tmux)', () => {
  let model: ScriptedServer;
  before(async () => {
    model = await startScriptedServer();
    const cmd = [
      `cd ${ROOT} &&`,
      `env CODEMODE_HOME=${HOME} OPENAI_API_KEY=sk-scripted-0123456789 OPENAI_BASE_URL=${model.openaiBaseURL}`,
      `${process.execPath} --no-node-snapshot --import tsx src/cli/main.ts repl --images ${tmp}/images`,
      '--model openai:gpt-4.1;',
      'echo REPL-EXITED-$?; sleep 600',
    ].join(' ');
    tmux('new-session', '-d', '-s', 'repl', '-x', '200', '-y', '50', cmd);
    await nextPrompt();
  });
  after(async () => {
    await model.close();
    try {
      tmux('kill-server');
    } catch {
      // already gone: nothing to clean up
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a multi-line python cell (def, body, blank line) runs as one cell, then its function is called', async () => {
    type('def double(x):');
    await waitFor(/\.\.\.:/); // the continuation prompt
    type('    return x * 2');
    await waitFor(/\.\.\.:/, 2);
    type('');
    await nextPrompt();
    type('double(21)');
    const text = await nextPrompt();
    assert.match(text, /In \[1\]: def double\(x\):\n\s+\.\.\.:\s+return x \* 2/);
    assert.match(text, /Out\[2\]: 42/);
  });

  it('Ctrl-C interrupts `while True: pass`, the prompt returns and the variables are intact', async () => {
    type('kept = "still here"');
    await nextPrompt();
    type('while True: pass');
    await waitFor(/while True: pass\n$/m);
    tmux('send-keys', '-t', 'repl', 'C-c');
    const after = await nextPrompt();
    assert.match(after, /KeyboardInterrupt/);
    type('print(kept, double(2))');
    assert.match(await nextPrompt(), /^still here 4$/m);
  });

  it('%history lists the cells run so far', async () => {
    type('%history');
    const text = await nextPrompt();
    const listing = text.slice(text.lastIndexOf('%history'));
    assert.match(listing, /In \[1\] ok:\n\s+def double\(x\):\n\s+return x \* 2/);
    assert.match(listing, /In \[4\] interrupted:\n\s+while True: pass/);
    assert.match(listing, /In \[5\] ok:\n\s+print\(kept, double\(2\)\)/);
  });

  it('%export FILE.ipynb writes a valid notebook of the session', async () => {
    const file = path.join(tmp, 'session.ipynb');
    type(`%export ${file}`);
    assert.match(await nextPrompt(), /wrote .*session\.ipynb \(notebook, 5 cells\)/);
    const nb = JSON.parse(readFileSync(file, 'utf8')) as {
      nbformat: number;
      metadata: { kernelspec: { name: string } };
      cells: { cell_type: string; source: string[]; outputs: { output_type: string; data?: object }[] }[];
    };
    assert.equal(nb.nbformat, 4);
    assert.equal(nb.metadata.kernelspec.name, 'python3');
    assert.equal(nb.cells.length, 5);
    assert.deepEqual(nb.cells[0]!.source, ['def double(x):\n', '    return x * 2']);
    assert.deepEqual(nb.cells[1]!.outputs[0]?.data, { 'text/plain': ['42'] });
  });

  it('an image a cell displays is saved to a file and its path printed', async () => {
    type(`display({"image/png": "${PNG_1PX}"}, raw=True)`);
    const text = await nextPrompt();
    const m = /\[image image\/png saved to (\S+)\]/.exec(text);
    assert.ok(m, text);
    assert.equal(path.dirname(m[1]!), path.join(tmp, 'images'));
    assert.deepEqual(readFileSync(m[1]!), Buffer.from(PNG_1PX, 'base64'));
  });

  it("%agent works in the same session: its variables are the user's afterwards", async () => {
    model.script([
      {
        text: 'Computing.',
        tools: [{ name: 'run_code', input: { code: 'from_agent = double(50)\nprint(from_agent)' } }],
      },
      { tools: [{ name: 'final_answer', input: { answer: 'from_agent is 100' } }] },
    ]);
    type('%agent set from_agent to double(50)');
    const text = await nextPrompt();
    assert.match(text, /agent · openai:gpt-4\.1 · session /);
    assert.match(text, /│ from_agent = double\(50\)/);
    assert.match(text, /== answer ==\nfrom_agent is 100/);
    type('print(from_agent + 1)');
    assert.match(await nextPrompt(), /^101$/m);
  });

  it('an unknown %-command says so and the session goes on', async () => {
    type('%nope');
    assert.match(await nextPrompt(), /unknown command %nope; %help lists them/);
  });

  it('Ctrl-C twice at an empty prompt leaves; the session is saved and the input history kept', async () => {
    tmux('send-keys', '-t', 'repl', 'C-c');
    await waitFor(/press Ctrl-C again to leave/);
    tmux('send-keys', '-t', 'repl', 'C-c');
    const text = await waitFor(/REPL-EXITED-\d+/);
    assert.match(text, /REPL-EXITED-0/);
    const id = /session (\S+) is saved; resume it with: codemode repl --session \1/.exec(text)?.[1];
    assert.ok(id, text);
    const history = readFileSync(path.join(HOME, 'repl_history'), 'utf8');
    assert.match(history, /^double\(21\)$/m);
    assert.match(history, /^%history$/m);
    assert.ok(existsSync(path.join(tmp, 'images')) && readdirSync(path.join(tmp, 'images')).length === 1);
  });
});

describe('codemode repl --json (pipes, no terminal)', () => {
  const home = path.join(tmp, 'json-home');
  const run = (input: string) =>
    spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'src/cli/main.ts', 'repl', '--json'], {
      cwd: ROOT,
      env: { ...process.env, CODEMODE_HOME: home },
      input,
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('runs one cell per line (JSON {code} or plain) and writes one JSON result per line, in order', () => {
    const r = run(['x = 6 * 7', '{"code": "for i in range(2):\\n    print(x + i)"}', '', 'print(x)'].join('\n'));
    assert.equal(r.status, 0, r.stderr);
    const results = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { status: string; stdout: string; executionCount: number; sessionId: string });
    assert.deepEqual(
      results.map((x) => [x.executionCount, x.status, x.stdout]),
      [
        [1, 'ok', ''],
        [2, 'ok', '42\n43\n'],
        [3, 'ok', '42\n'],
      ],
    );
    assert.equal(new Set(results.map((x) => x.sessionId)).size, 1, 'one session for every cell');
  });

  it('exits 1 when a cell fails, and reports the error as data', () => {
    const r = run('raise ValueError("nope")\nprint("after")\n');
    assert.equal(r.status, 1);
    const [failed, after] = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { status: string; stdout: string; error?: { type: string; message: string } });
    assert.equal(failed!.status, 'error');
    assert.deepEqual([failed!.error?.type, failed!.error?.message], ['ValueError', 'nope']);
    assert.equal(after!.stdout, 'after\n', 'later cells still run');
  });
});
