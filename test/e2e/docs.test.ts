// Docs are tests: every fenced block of README.md and docs/*.md either runs here
// and succeeds, or says in the Markdown why it cannot (<!-- docs-test: skip (why) -->).
// Shell blocks run with bash in a fresh directory, `codemode` on PATH (this
// checkout's CLI, from source); Python/JS/TS blocks run through `codemode exec`;
// Code Mode programs run through `codemode serve --config` and run_code_mode
// against the real filesystem and memory servers; mcpServers and settings JSON
// is validated with the same code codemode uses. See test/docs-blocks.ts.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { parseCodeModeConfig } from '../../src/codemode/config.js';
import { resolveSettings, settingsJsonSchema } from '../../src/config/settings.js';
import { directive, extractBlocks, stripJsonComments, type DocBlock } from '../docs-blocks.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs');
const BIN = path.join(ROOT, 'node_modules/.bin');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'codemode-docs-'));
chmodSync(tmp, 0o755); // the sandbox user reaches --workspace directories under it
after(() => {
  // A block's server that had to be killed may leave a workspace mounted: detach those first.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${tmp}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
});

// `codemode` as README's set-up leaves it on PATH (npm link), running this checkout's source.
const shimDir = path.join(tmp, 'bin');
mkdirSync(shimDir);
writeFileSync(
  path.join(shimDir, 'codemode'),
  `#!/bin/sh\nexec "${process.execPath}" --no-node-snapshot --import "${TSX}" "${ROOT}/src/cli/main.ts" "$@"\n`,
  { mode: 0o755 },
);
const PATH = `${shimDir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;

const DOC_FILES = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const blocks: DocBlock[] = DOC_FILES.flatMap((f) => extractBlocks(f, readFileSync(path.join(ROOT, f), 'utf8')));

/** Files a `files (...)` directive may ask for: small, and each does what its name says. */
const FIXTURES: Record<string, string> = {
  'script.ts': 'const args: string[] = process.argv.slice(2);\nconsole.log(`args: ${args.join(" ")}`);\n',
  'analysis.py': 'import csv\nrows = list(csv.DictReader(open("data.csv")))\nprint(len(rows), "rows")\n',
  'local.csv': 'month,revenue\n2026-01,10\n2026-02,12\n',
  'sales.csv': 'month,revenue\n2026-01,10\n2026-02,12\n',
};

let counter = 0;
function blockDir(): string {
  const dir = path.join(tmp, `block-${++counter}`);
  mkdirSync(path.join(dir, 'home'), { recursive: true });
  chmodSync(dir, 0o755);
  return dir;
}

function baseEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH,
    HOME: path.join(dir, 'home'),
    CODEMODE_HOME: path.join(dir, 'state'),
    XDG_CONFIG_HOME: path.join(dir, 'home/.config'),
  };
}

function writeFixtures(block: DocBlock, dir: string): void {
  const wanted =
    directive(block, 'files')
      ?.detail.split(/[\s,]+/)
      .filter(Boolean) ?? [];
  for (const name of wanted) {
    const content = FIXTURES[name];
    assert.ok(content !== undefined, `${block.file}:${block.line}: no fixture named ${name} in docs.test.ts`);
    writeFileSync(path.join(dir, name), content);
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `codemode serve --http` for a with-server block: CODEMODE_PORT and CODEMODE_TOKEN say where and how. */
async function startServer(env: NodeJS.ProcessEnv): Promise<{ env: NodeJS.ProcessEnv; stop(): Promise<void> }> {
  const port = await freePort();
  const serverEnv = { ...env, CODEMODE_PORT: String(port), CODEMODE_TOKEN: randomBytes(16).toString('hex') };
  const child: ChildProcess = spawn('codemode', ['serve', '--http', '--no-store'], {
    env: serverEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 300; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (child.exitCode !== null) throw new Error(`codemode serve --http exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    env: serverEnv,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
  const r = spawnSync(command, args, { ...options, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

/**
 * bash in a process group of its own: when the block ends, whatever it left in
 * the background (`serve &`, `curl -N ... &`) is stopped with it, and the
 * block's result does not wait for their pipes to close.
 */
async function runBash(code: string, options: { cwd: string; env: NodeJS.ProcessEnv }) {
  const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', code], { ...options, detached: true });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 120_000);
  const status = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  // Stop what the block left running, and wait for it to finish its own cleanup (a server unmounts its workspaces).
  const alive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false; // the group is gone
    }
  };
  if (alive()) process.kill(-child.pid!, 'SIGTERM');
  for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(-child.pid!, 'SIGKILL');
  return { code: status, out };
}

async function runShell(block: DocBlock): Promise<void> {
  const dir = blockDir();
  writeFixtures(block, dir);
  // A free port of its own, for a block that starts a server (`--port ${CODEMODE_PORT:-8765}`): tests run side by side.
  let env: NodeJS.ProcessEnv = { ...baseEnv(dir), CODEMODE_PORT: String(await freePort()) };
  const server = directive(block, 'with-server') ? await startServer(env) : undefined;
  if (server) env = server.env;
  try {
    const r = await runBash(block.code, { cwd: dir, env });
    assert.equal(r.code, 0, `${block.file}:${block.line} failed:\n${block.code}\n--- output ---\n${r.out}`);
  } finally {
    await server?.stop();
  }
}

const LANG: Record<string, string> = { python: 'py', javascript: 'js', typescript: 'ts' };

function runProgram(block: DocBlock): void {
  const dir = blockDir();
  writeFixtures(block, dir);
  const file = path.join(dir, `main.${LANG[block.kind]}`);
  writeFileSync(file, block.code);
  const r = run('codemode', ['exec', file], { cwd: dir, env: baseEnv(dir) });
  assert.equal(r.code, 0, `${block.file}:${block.line} failed:\n${r.out}`);
}

/**
 * A Code Mode program, run by `codemode serve --config` through run_code_mode,
 * with the real filesystem server over a directory of customer records (the
 * docs' `/data`) and the real memory server.
 */
async function runCodeMode(block: DocBlock): Promise<void> {
  const dir = blockDir();
  const data = path.join(dir, 'data');
  mkdirSync(path.join(data, 'customers'), { recursive: true });
  const customers = [
    { name: 'acme', region: 'EU', plan: 'pro', mrr: 120 },
    { name: 'globex', region: 'EU', plan: 'pro', mrr: 80 },
    { name: 'initech', region: 'US', plan: 'pro', mrr: 300 },
    { name: 'umbrella', region: 'EU', plan: 'free', mrr: 0 },
  ];
  for (const c of customers) writeFileSync(path.join(data, 'customers', `${c.name}.json`), JSON.stringify(c));
  writeFileSync(path.join(data, 'customers', 'README.txt'), 'not a record');
  const config = path.join(dir, 'mcp.json');
  writeFileSync(
    config,
    JSON.stringify({
      mcpServers: {
        filesystem: { command: path.join(BIN, 'mcp-server-filesystem'), args: [data] },
        memory: {
          command: path.join(BIN, 'mcp-server-memory'),
          env: { MEMORY_FILE_PATH: path.join(dir, 'memory.jsonl') },
        },
      },
    }),
  );
  const client = new Client({ name: 'codemode-docs-test', version: '1.0.0' });
  const transport = new StdioClientTransport({
    command: 'codemode',
    args: ['serve', '--config', config, '--no-store'],
    env: baseEnv(dir) as Record<string, string>,
    cwd: dir,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    // Generous: the server lists both upstreams before its first answer, and CI machines are shared.
    await client.connect(transport, { timeout: 180_000 });
  } catch (e) {
    throw new Error(`codemode serve --config did not start: ${String(e)}\n${stderr}`, { cause: e });
  }
  try {
    // The docs write /data; the fixture directory stands in for it.
    const code = block.code.replaceAll("'/data", `'${data}`).replaceAll('`/data', `\`${data}`);
    const r = await client
      .callTool({ name: 'run_code_mode', arguments: { code, language: 'typescript' } }, { timeout: 180_000 })
      .catch((e: unknown) => {
        throw new Error(`run_code_mode failed: ${String(e)}\n${stderr}`, { cause: e });
      });
    const text = (r.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
    assert.notEqual(r.isError, true, `${block.file}:${block.line} failed:\n${text}`);
    assert.deepEqual((r.structuredContent as { value?: unknown }).value, { count: 2, mrr: 200 }, text);
    assert.match(readFileSync(path.join(dir, 'memory.jsonl'), 'utf8'), /eu-pro/);
  } finally {
    await client.close();
  }
}

const SETTINGS_KEYS = new Set(Object.keys((settingsJsonSchema() as { properties: object }).properties));

/** An mcpServers file is checked as codemode reads one, and each command exists after the README's set-up. */
function checkJson(block: DocBlock): void {
  const text = block.kind === 'jsonc' ? stripJsonComments(block.code) : block.code;
  const value = JSON.parse(text) as Record<string, unknown>;
  if (directive(block, 'output')) return;
  if ('mcpServers' in value) {
    const parsed = parseCodeModeConfig(value);
    assert.deepEqual(parsed.errors, [], `${block.file}:${block.line}`);
    for (const server of Object.values(value['mcpServers'] as Record<string, { command?: string; args?: string[] }>)) {
      if (server.command === undefined) continue;
      const found = run('bash', ['-c', 'command -v "$0"', server.command], { cwd: tmp, env: { ...process.env, PATH } });
      assert.equal(found.code, 0, `${block.file}:${block.line}: "${server.command}" is not on PATH after set-up`);
      if (server.command === 'codemode') {
        const help = run('codemode', [...(server.args ?? []), '--help'], { cwd: tmp, env: baseEnv(blockDir()) });
        assert.equal(help.code, 0, `${block.file}:${block.line}: codemode ${server.args?.join(' ')}: ${help.out}`);
      }
    }
    return;
  }
  const schema = typeof value['$schema'] === 'string' && value['$schema'].includes('codemode.settings');
  if (schema || Object.keys(value).some((k) => SETTINGS_KEYS.has(k) && k !== '$schema')) {
    const r = resolveSettings({ files: [{ path: block.file, content: value, trusted: true }], stateDir: tmp });
    assert.deepEqual(r.errors, [], `${block.file}:${block.line}: not valid settings`);
  }
  // Anything else is example data (a result, an API body): parsing it is the check.
}

const skipped = blocks.filter((b) => directive(b, 'skip'));

describe('docs are tests', { concurrency: 2 }, () => {
  it('finds the blocks of README.md and docs/*.md, and every skip says why', (t) => {
    assert.ok(blocks.length >= 10, `only ${blocks.length} blocks found`);
    for (const b of skipped) {
      const why = directive(b, 'skip')?.detail ?? '';
      assert.notEqual(why, '', `${b.file}:${b.line}: a skip needs a reason: <!-- docs-test: skip (why) -->`);
      t.diagnostic(`skipped ${b.file}:${b.line} (${b.lang}): ${why}`);
    }
    t.diagnostic(`${blocks.length} blocks, ${skipped.length} skipped`);
  });

  for (const block of blocks) {
    const name = `${block.file}:${block.line} ${block.lang || 'text'}`;
    const skip = directive(block, 'skip');
    if (skip) {
      it(name, { skip: skip.detail }, () => {});
      continue;
    }
    if (block.kind === 'shell') it(name, () => runShell(block));
    else if (block.kind === 'json' || block.kind === 'jsonc') it(name, () => checkJson(block));
    else if (directive(block, 'code-mode')) it(name, () => runCodeMode(block));
    else if (block.kind in LANG && !directive(block, 'output')) it(name, () => runProgram(block));
  }

  it('the docs-test directives parse (a typo would silently run or skip a block)', () => {
    for (const f of DOC_FILES) {
      const text = readFileSync(path.join(ROOT, f), 'utf8');
      for (const m of text.matchAll(/<!--\s*docs-test:([^>]*)-->/g)) {
        assert.match(m[1]!.trim(), /^(skip|with-server|files|code-mode|output)\b(\s*\(.*\))?$/, `${f}: ${m[0]}`);
      }
    }
    assert.ok(existsSync(path.join(shimDir, 'codemode')));
  });
});
