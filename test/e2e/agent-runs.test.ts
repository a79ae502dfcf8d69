/**
 * Agent transcripts and `codemode fix` end to end: the real CLI commands,
 * provider adapters and HTTP clients against the scripted model server on
 * loopback, a real SessionManager on the real sandbox, and the SQLite store in
 * a temporary state directory (CODEMODE_HOME).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { startScriptedServer, type ScriptedServer } from '../../src/agent/scripted-server.js';
import type { AgentRunRecord } from '../../src/agent/transcript.js';
import { agentCommandWith } from '../../src/cli/commands/agent.js';
import { fixCommandWith } from '../../src/cli/commands/fix.js';
import { runsCommandWith } from '../../src/cli/commands/runs.js';
import { main } from '../../src/cli/main.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { SessionManager } from '../../src/sessions/session-manager.js';
import { SqliteAgentRunStore } from '../../src/store/agent-runs.js';

let manager: SessionManager;
let server: ScriptedServer;
let root: string;
let home: string;
const KEY = 'sk-planted-runs-e2e-5a4b3c2d1e0f';
const env = () => ({
  OPENAI_API_KEY: KEY,
  OPENAI_BASE_URL: server.openaiBaseURL,
  CODEMODE_HOME: home,
  PATH: process.env.PATH,
});
const call = (name: string, input: unknown) => ({ tools: [{ name, input }] });

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return {
    io: { stdin: new PassThrough(), stdout, stderr, env: env(), cwd: root, stdinIsTTY: false },
    out: () => out,
    err: () => err,
  };
}

before(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-runs-'));
  chmodSync(root, 0o755);
  home = path.join(root, 'home');
  manager = new SessionManager({
    sandbox: await createProcessSandbox(),
    store: null,
    workspaceRoot: path.join(root, 'ws'),
    pool: false,
  });
  server = await startScriptedServer();
});

after(async () => {
  await manager.shutdown();
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

let runId = '';

describe('agent transcripts through the CLI', () => {
  it('codemode agent records the run and prints its id; runs list/show/export --format md show it', async () => {
    server.script([
      { text: `Computing (I was told ${KEY}).`, ...call('run_code', { code: 'total = sum(range(10))\nprint(totl)' }) },
      call('run_code', { code: `print(total)\nprint("${KEY}")` }),
      call('final_answer', { answer: '45' }),
    ]);
    const a = io();
    const code = await agentCommandWith(['sum 0..9', '--model', 'openai:gpt-4.1'], a.io, { sessions: manager });
    assert.equal(code, 0, a.err());
    runId = /· run (run_[0-9a-f]{16})\n/.exec(a.out())?.[1] ?? '';
    assert.ok(runId, `the summary names the run: ${a.out()}`);

    const list = io();
    assert.equal(await main(['runs', 'list'], list.io), 0, list.err());
    assert.match(list.out(), /^ID +CREATED +OUTCOME +STEPS +TOKENS +COST +MODEL +TASK\n/);
    assert.match(
      list.out(),
      new RegExp(`${runId} +\\S+ \\S+ +done +3 +360/90 +\\$0\\.\\d{4} +openai:gpt-4\\.1 +sum 0\\.\\.9`),
    );

    const show = io();
    assert.equal(await main(['runs', 'show', runId.slice(0, 10)], show.io), 0, show.err());
    assert.match(
      show.out(),
      /step 1 \(120 in \/ 30 out\)\n {2}Computing \(I was told \[redacted\]\)\.\n {2}✖ run_code: error/,
    );
    assert.match(show.out(), /✔ run_code: ok .*\n.*\n {2}✔ final_answer: accepted/);
    assert.match(show.out(), /done \(final_answer\): 45\n3 steps · 360 tokens in \/ 90 out/);

    const md = io();
    assert.equal(await main(['runs', 'export', runId, '--format', 'md'], md.io), 0, md.err());
    const text = md.out();
    assert.match(text, /## Task\n\nsum 0\.\.9\n/);
    assert.match(
      text,
      /## Step 1\n\nComputing \(I was told \[redacted\]\)\.\n\n### `run_code` → error\n\n```python\ntotal = sum\(range\(10\)\)\nprint\(totl\)\n```/,
    );
    assert.match(text, /NameError/);
    assert.match(
      text,
      /### `run_code` → ok\n\n```python\nprint\(total\)\nprint\("\[redacted\]"\)\n```\n\nOutput:\n\n```text\n45\n\[redacted\]\n```/,
    );
    assert.match(
      text,
      /## Result\n\n45\n\n- outcome: done \(final_answer\).*\n- steps: 3\n- tokens: 360 in \/ 90 out\n- cost: \$0\.\d{4}\n- time: [\d.]+ s\n$/,
    );

    const json = io();
    const out = path.join(root, 'run.json');
    assert.equal(await main(['runs', 'export', runId, '--out', out], json.io), 0, json.err());
    const rec = JSON.parse(readFileSync(out, 'utf8')) as AgentRunRecord;
    assert.equal(rec.id, runId);
    assert.equal(rec.owner, 'local');
    assert.deepEqual(
      rec.messages.map((m) => m.role),
      ['user', 'assistant', 'tool', 'assistant', 'tool', 'assistant', 'tool'],
    );

    const missing = io();
    assert.equal(await main(['runs', 'show', 'run_nosuch'], missing.io), 4);
  });

  it('no byte of the planted key is in the state directory (database, WAL) or the export', () => {
    const files = readdirSync(home, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    assert.ok(
      files.some((f) => f.name === 'codemode.db'),
      'the store exists',
    );
    for (const f of files) {
      const bytes = readFileSync(path.join(f.parentPath, f.name));
      assert.equal(bytes.indexOf('sk-planted'), -1, `${f.name} holds the key`);
    }
    assert.equal(readFileSync(path.join(root, 'run.json')).indexOf('sk-planted'), -1);
  });

  it('runs replay re-drives the loop offline (no model server) and the outcomes match', async () => {
    const before = server.requests.length;
    const r = io();
    assert.equal(
      await runsCommandWith(['replay', runId, '--quiet'], r.io, { sessions: manager }),
      0,
      r.out() + r.err(),
    );
    assert.match(r.out(), new RegExp(`replay of ${runId}: matches \\(3 steps, final_answer\\)`));
    assert.equal(server.requests.length, before, 'the replay asked no model');
  });
});

describe('codemode fix', () => {
  const broken = 'def add(a, b):\n    return a - b\n\n\nassert add(2, 2) == 4, "add is wrong"\nprint("ok")\n';
  const fixed = broken.replace('a - b', 'a + b');
  const script = () => [
    call('read_file', { path: 'calc.py' }),
    call('write_file', { path: 'calc.py', content: fixed }),
    call('final_answer', { answer: 'add() subtracted; it adds now' }),
  ];

  it('without --write: prints the diff, exits 0 (fixed) and leaves the file untouched', async () => {
    const file = path.join(root, 'calc.py');
    writeFileSync(file, broken);
    server.script(script());
    const from = server.requests.length;
    const f = io();
    const code = await fixCommandWith([file, '--model', 'openai:gpt-4.1'], f.io, { sessions: manager });
    assert.equal(code, 0, f.err());
    assert.equal(
      f.out(),
      '--- a/calc.py\n+++ b/calc.py\n@@ -1,5 +1,5 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n \n \n assert add(2, 2) == 4, "add is wrong"\n',
    );
    assert.match(f.err(), /fixed: run calc\.py passes; not written \(use --write\) · run run_/);
    assert.equal(readFileSync(file, 'utf8'), broken, 'the host file is untouched');
    const task = JSON.stringify((server.requests[from]?.body.messages as unknown[])[1]);
    assert.match(task, /calc\.py.*fails its check.*AssertionError.*add is wrong/, 'the task quotes the failure');
    assert.ok(!task.includes(root), 'the model is never told the host path');
  });

  it('--write writes the fixed file back; a file that stays broken is not written and exits 1', async () => {
    const file = path.join(root, 'calc2.py');
    writeFileSync(file, broken);
    server.script(script().map((t, i) => (i === 1 ? call('write_file', { path: 'calc2.py', content: fixed }) : t)));
    const f = io();
    assert.equal(await fixCommandWith([file, '--model', 'openai:gpt-4.1', '--write'], f.io, { sessions: manager }), 0);
    assert.equal(readFileSync(file, 'utf8'), fixed);
    assert.match(f.err(), /; wrote .*calc2\.py/);

    const still = path.join(root, 'calc3.py');
    writeFileSync(still, broken);
    const worse = broken.replace('a - b', 'a * b + 1');
    server.script([call('write_file', { path: 'calc3.py', content: worse }), call('final_answer', { answer: 'done' })]);
    const g = io();
    assert.equal(await fixCommandWith([still, '--model', 'openai:gpt-4.1', '--write'], g.io, { sessions: manager }), 1);
    assert.equal(readFileSync(still, 'utf8'), broken, 'a file that still fails is not written');
    assert.match(g.out(), /\+ {4}return a \* b \+ 1/);
    assert.match(g.err(), /still failing: .*not written \(still failing\)/);
  });

  it('--test CMD: the command is the check, and the agent cannot weaken it by editing the check script', async () => {
    const file = path.join(root, 'lib.py');
    writeFileSync(file, 'def double(x):\n    return x + 1\n');
    server.script([
      call('write_file', { path: '.codemode-fix-check.sh', content: 'exit 0\n' }),
      call('final_answer', { answer: 'the check passes now' }),
    ]);
    const f = io();
    const check = `python3 -c 'import lib; assert lib.double(5) == 10'`;
    assert.equal(
      await fixCommandWith([file, '--test', check, '--model', 'openai:gpt-4.1'], f.io, { sessions: manager }),
      1,
    );
    assert.match(f.err(), /still failing/);
  });
});

// Last: main() starts a second sandbox in this process, and closing it tears down the cgroup
// parent the two share (codemode-<pid>), which breaks the first one's later runs.
describe('runs replay on its own runtime', () => {
  it('runs replay through main() on its own runtime, and names what differs from a doctored record', async () => {
    const db = path.join(home, 'codemode.db');
    const store = new SqliteAgentRunStore(db);
    const rec = store.get(runId);
    assert.ok(rec);
    const doctored = structuredClone(rec);
    doctored.id = 'run_doctored00000000';
    doctored.transcript[0]!.actions[0]!.status = 'ok';
    store.save(doctored);
    store.close();
    const r = io();
    assert.equal(await main(['runs', 'replay', 'run_doctored', '--json'], r.io), 1, r.err());
    const report = JSON.parse(r.out()) as { matches: boolean; differences: string[] };
    assert.deepEqual(report.differences, ['step 1, run_code: recorded ok, replayed error']);
  });
});
