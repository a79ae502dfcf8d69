/**
 * Static analysis wired into every run path of `codemode serve` (spawned over
 * stdio, real sandbox, the operator's settings file): one-shot execute_code,
 * session cells, run_script, per-session levels within the operator's, and
 * the corpus' clean cases never blocked by the defaults.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CORPUS } from '../../src/analysis/corpus.js';
import { firstText } from './mcp-harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
type Structured = Record<string, unknown>;
type Finding = { rule: string; severity: string; line: number };

describe('analysis on every run path of codemode serve', () => {
  let client: Client;
  let home: string;
  let stderr = '';

  const call = async (name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    return { r, s: (r.structuredContent ?? {}) as Structured };
  };
  const session = async (language: string, extra: Record<string, unknown> = {}) => {
    const { r, s } = await call('create_session', { language, ...extra });
    assert.notEqual(r.isError, true, firstText(r));
    return s['session'] as Structured;
  };
  const rules = (s: Structured) => ((s['findings'] ?? []) as Finding[]).map((f) => `${f.severity} ${f.rule}@${f.line}`);

  before(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'codemode-analysis-e2e-'));
    chmodSync(home, 0o711); // the sandbox user must reach the workspaces under it
    const settings = path.join(home, 'settings.json');
    // The operator blocks reading the environment, and lets sessions turn the loop rule off.
    writeFileSync(settings, JSON.stringify({ analysis: { rules: { env: 'block' }, sessionMinimum: { loop: 'off' } } }));
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--no-node-snapshot', '--import', 'tsx', 'src/cli/main.ts', 'serve', '--no-store', '--settings', settings],
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, CODEMODE_HOME: path.join(home, 'state') },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    client = new Client({ name: 'codemode-analysis-e2e', version: '1.0.0' });
    await client.connect(transport);
  });
  after(async () => {
    await client.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('execute_code one-shot: a workspace wipe is blocked before anything runs', async () => {
    const { r, s } = await call('execute_code', {
      language: 'python',
      code: 'import shutil\nprint("ran")\nshutil.rmtree("/workspace")\n',
    });
    assert.equal(s['status'], 'blocked', `${firstText(r)}\n${stderr}`);
    assert.equal(s['stdout'], '', 'nothing ran');
    assert.deepEqual(rules(s), ['block workspace.wipe@3']);
    assert.match(firstText(r), /Blocked by policy/);
  });

  it('execute_code one-shot: warn findings come back beside the run', async () => {
    const { s } = await call('execute_code', { language: 'python', code: 'import socket\nprint("ran")\n' });
    assert.equal(s['status'], 'ok');
    assert.equal(s['stdout'], 'ran\n');
    assert.deepEqual(rules(s), ['warn network.python@1']);
  });

  it("the operator's settings raise a rule to block (env)", async () => {
    const { s } = await call('execute_code', {
      language: 'python',
      code: 'import os\nprint(os.environ.get("HOME"))\n',
    });
    assert.equal(s['status'], 'blocked');
    assert.deepEqual(rules(s), ['block env.python@2']);
  });

  it('session cells: blocked cells take no execution count; warnings ride on the result', async () => {
    const info = await session('python');
    const id = info['id'] as string;
    const first = await call('execute_code', { session_id: id, code: 'x = 41\nimport socket\n' });
    assert.equal(first.s['status'], 'ok');
    assert.deepEqual(rules(first.s), ['warn network.python@2']);
    const blocked = await call('execute_code', { session_id: id, code: 'import shutil\nshutil.rmtree(".")\n' });
    assert.equal(blocked.s['status'], 'blocked');
    assert.equal(blocked.s['execution_count'], 1, 'the blocked cell took no count');
    const next = await call('execute_code', { session_id: id, code: 'print(x + 1)' });
    assert.equal(next.s['stdout'], '42\n', 'the session is untouched');
    const history = await call('get_history', { session_id: id });
    assert.equal((history.s['executions'] as unknown[]).length, 2, 'a blocked cell is not in the history');
  });

  it('run_script: the script file is analysed before it runs', async () => {
    const id = (await session('python'))['id'] as string;
    await call('write_file', {
      session_id: id,
      path: 'wipe.py',
      content: 'import shutil, os\nshutil.rmtree(os.getcwd())\n',
    });
    await call('write_file', { session_id: id, path: 'ok.py', content: 'import sys\nprint(sys.argv[1:])\n' });
    const blocked = await call('run_script', { session_id: id, path: 'wipe.py' });
    assert.equal(blocked.s['status'], 'blocked');
    assert.deepEqual(rules(blocked.s), ['block workspace.wipe@2']);
    const files = await call('list_files', { session_id: id });
    assert.match(JSON.stringify(files.s), /wipe\.py/, 'the workspace is untouched');
    const ok = await call('run_script', { session_id: id, path: 'ok.py', args: ['a'] });
    assert.equal(ok.s['stdout'], "['a']\n");
  });

  it('create_session analysis: a session tightens freely and loosens only within the operator minimum', async () => {
    const strict = await session('python', { analysis: { rules: { network: 'block' } } });
    const blocked = await call('execute_code', { session_id: strict['id'], code: 'import socket\n' });
    assert.equal(blocked.s['status'], 'blocked');

    const loose = await session('python', { analysis: { rules: { 'workspace.wipe': 'off', loop: 'off' } } });
    assert.match(String(loose['note']), /does not allow workspace\.wipe at "off"/);
    const still = await call('execute_code', {
      session_id: loose['id'],
      code: 'import shutil\nshutil.rmtree("/workspace")\n',
    });
    assert.equal(still.s['status'], 'blocked', 'the operator minimum holds');
    const loop = await call('execute_code', {
      session_id: loose['id'],
      code: 'while True:\n    pass\n',
      limits: { wall_ms: 1000 },
    });
    assert.deepEqual(rules(loop.s), [], 'loop.endless is off for this session');
    assert.equal(loop.s['status'], 'timeout');

    const bad = await call('create_session', { language: 'python', analysis: { rules: { 'no.such.rule': 'off' } } });
    assert.equal(bad.r.isError, true);
    assert.match(firstText(bad.r), /no\.such\.rule/);
  });

  it('the default policy never blocks the corpus clean cases (sessions, every language)', async () => {
    const clean = CORPUS.filter((c) => c.expect.length === 0);
    const ids = new Map<string, string>();
    for (const c of clean) {
      let id = ids.get(c.language);
      if (id === undefined) {
        id = (await session(c.language, { analysis: { rules: {} } }))['id'] as string;
        ids.set(c.language, id);
      }
      const { s } = await call('execute_code', { session_id: id, code: c.code, limits: { wall_ms: 5000 } });
      assert.notEqual(s['status'], 'blocked', `${c.language} ${c.name} was blocked`);
      assert.deepEqual(rules(s), [], `${c.language} ${c.name} has findings`);
    }
  });
});
