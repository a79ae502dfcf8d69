/**
 * `codemode sessions ...` through the CLI's main() (in this process, with its
 * own streams), sharing one state directory; the sessions are made by
 * `codemode repl --json` on the real sandbox. test/e2e/repl.test.ts runs the
 * real binary.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'codemode-sessions-cli-'));
chmodSync(tmp, 0o755);

async function cli(args: string[], input = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (c: Buffer) => out.push(c.toString('utf8')));
  stderr.on('data', (c: Buffer) => err.push(c.toString('utf8')));
  const code = await main(args, {
    stdin: Readable.from([input]),
    stdout,
    stderr,
    env: { ...process.env, CODEMODE_HOME: path.join(tmp, 'home') },
    cwd: ROOT,
    stdinIsTTY: false,
  });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('codemode sessions', () => {
  let py: string;
  let sh: string;
  before(async () => {
    const a = await cli(['repl', '--json'], 'total = 40 + 2\nprint(total)\nraise KeyError("k")\n');
    py = (JSON.parse(a.stdout.split('\n')[0]!) as { sessionId: string }).sessionId;
    const b = await cli(['repl', '--json', '--lang', 'bash'], 'echo hello\n');
    assert.equal(b.code, 0, b.stderr);
    sh = (JSON.parse(b.stdout.split('\n')[0]!) as { sessionId: string }).sessionId;
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('list shows the saved sessions as a table, and as data with --json', async () => {
    const table = await cli(['sessions', 'list']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID\s+LANGUAGE\s+CELLS\s+CREATED\s+LAST USED$/);
    assert.match(table.stdout, new RegExp(`^${py}\\s+python\\s+3\\s`, 'm'));
    assert.match(table.stdout, new RegExp(`^${sh}\\s+bash\\s+1\\s`, 'm'));
    const data = JSON.parse((await cli(['sessions', 'list', '--json'])).stdout) as {
      id: string;
      executionCount: number;
    }[];
    assert.deepEqual(data.map((s) => s.id).sort(), [py, sh].sort());
  });

  it('show and history print the cells with status, output and error', async () => {
    const show = await cli(['sessions', 'show', py]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^language {2}python$/m);
    assert.match(show.stdout, /^cells {5}3 \(1 not ok\)$/m);
    const history = await cli(['sessions', 'history', py]);
    assert.match(history.stdout, /In \[2\] ok, \d+ ms\n {4}print\(total\)\n {2}│ 42/);
    assert.match(history.stdout, /In \[3\] error, \d+ ms\n {4}raise KeyError\("k"\)\n {2}✖ KeyError: 'k'/);
    const data = JSON.parse((await cli(['sessions', 'history', py, '--json'])).stdout) as { status: string }[];
    assert.deepEqual(
      data.map((r) => r.status),
      ['ok', 'ok', 'error'],
    );
  });

  it('graph shows which cell feeds which, as text, DOT, Mermaid and data', async () => {
    const text = await cli(['sessions', 'graph', py]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^\[1\] {2}defines total$/m);
    assert.match(text.stdout, /^\[2\] {2}reads total from \[1\]$/m);
    assert.match((await cli(['sessions', 'graph', py, '--format', 'dot'])).stdout, /digraph/);
    assert.match((await cli(['sessions', 'graph', py, '--format', 'mermaid'])).stdout, /graph|flowchart/);
    const data = JSON.parse((await cli(['sessions', 'graph', py, '--json'])).stdout) as {
      edges: { from: number; to: number; name: string }[];
    };
    assert.deepEqual(data.edges, [{ from: 1, to: 2, name: 'total' }]);
    assert.equal((await cli(['sessions', 'graph', py, '--format', 'svg'])).code, 2);
  });

  it('rerun runs again only the cells downstream of a cell (--dry-run says which)', async () => {
    // A session of its own: a rerun adds executions, which the other tests here count.
    const made = await cli(['repl', '--json'], 'total = 40 + 2\nprint(total)\n');
    const own = (JSON.parse(made.stdout.split('\n')[0]!) as { sessionId: string }).sessionId;
    const dry = await cli(['sessions', 'rerun', own, '1', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^would run \[2\]$/m);
    const run = await cli(['sessions', 'rerun', own, '1']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^ran \[2\]$/m);
    assert.match(run.stdout, /^\[2\] -> In \[\d+\] ok: 42$/m);
    assert.equal((await cli(['sessions', 'rerun', own, 'x'])).code, 2);
  });

  it('export writes a notebook (--out) or a script (stdout) that runs what succeeded', async () => {
    const out = path.join(tmp, 'py.ipynb');
    const nb = await cli(['sessions', 'export', py, '--format', 'ipynb', '--out', out]);
    assert.equal(nb.code, 0, nb.stderr);
    const notebook = JSON.parse(readFileSync(out, 'utf8')) as { nbformat: number; cells: unknown[] };
    assert.equal(notebook.nbformat, 4);
    assert.equal(notebook.cells.length, 3);
    const script = await cli(['sessions', 'export', py, '--format', 'script']);
    assert.match(script.stdout, /^# %% In\[1\]\ntotal = 40 \+ 2$/m);
    assert.match(script.stdout, /^# raise KeyError\("k"\)$/m);
    const ran = spawnSync('python3', ['-'], { input: script.stdout, encoding: 'utf8' });
    assert.equal(ran.stdout, '42\n');
    const bash = await cli(['sessions', 'export', sh, '--format', 'script']);
    assert.ok(bash.stdout.startsWith('#!/usr/bin/env bash\n'));
    assert.equal(spawnSync('bash', ['-c', bash.stdout], { encoding: 'utf8' }).stdout, 'hello\n');
    assert.equal((await cli(['sessions', 'export', py, '--format', 'pdf'])).code, 2);
  });

  it('resume --replay opens the REPL in the session with its variables rebuilt', async () => {
    const r = await cli(['sessions', 'resume', py, '--replay'], 'print(total + 1)\n');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Replayed 2 successful executions/);
    assert.match(r.stdout, /^In \[4\]: 43$/m, 'the new cell is number 4 of the same session');
  });

  it('close deletes the workspace: the session leaves the list, its history stays readable', async () => {
    const r = await cli(['sessions', 'close', sh]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`closed session ${sh}`));
    assert.doesNotMatch((await cli(['sessions', 'list'])).stdout, new RegExp(sh));
    assert.match((await cli(['sessions', 'show', sh])).stdout, /^state {5}closed/m);
    assert.notEqual((await cli(['sessions', 'close', sh])).code, 0, 'a closed session cannot be closed again');
    assert.notEqual((await cli(['repl', '--session', sh], 'echo x\n')).code, 0, 'nor resumed');
  });

  it('an unknown id exits 4 and says so; a missing subcommand is a usage error', async () => {
    const r = await cli(['sessions', 'show', 'no-such-session']);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /no-such-session/);
    assert.equal((await cli(['sessions'])).code, 2);
    assert.equal((await cli(['sessions', 'frobnicate'])).code, 2);
  });
});
