// The codemode CLI as a user runs it: a real process, real sandbox, real exit codes.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'codemode-cli-'));
chmodSync(tmp, 0o755); // the sandbox user must be able to reach --workspace directories
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, CODEMODE_HOME: path.join(tmp, 'home') },
    input: input ?? '',
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('codemode exec', () => {
  it('runs a code string and streams its output', () => {
    const r = cli(['exec', '--lang', 'python', '-c', 'print(6 * 7)']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '42\n');
  });

  it('runs code from stdin with arguments after --', () => {
    const r = cli(['exec', '--lang', 'js', '-', '--', 'x', 'y'], 'console.log(process.argv.slice(2).join("+"))');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'x+y\n');
  });

  it('runs a file, picking the language from its extension', () => {
    const file = path.join(tmp, 'hello.ts');
    writeFileSync(file, 'const n: number = 3;\nconsole.log(`n=${n}`);\n');
    const r = cli(['exec', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'n=3\n');
  });

  it("exits with the program's own exit code", () => {
    assert.equal(cli(['exec', '--lang', 'bash', '-c', 'exit 7']).code, 7);
  });

  it('exits 124 on a timeout and says which limit stopped the program', () => {
    const r = cli(['exec', '--lang', 'bash', '-c', 'echo before; sleep 10', '--timeout', '0.5']);
    assert.equal(r.code, 124);
    assert.equal(r.stdout, 'before\n');
    assert.match(r.stderr, /timeout: ran longer than limits\.wallMs = 500 ms/);
  });

  it('prints the whole result with --json', () => {
    const r = cli(['exec', '--lang', 'python', '-c', 'x = 1\nraise ValueError("nope")', '--json']);
    assert.equal(r.code, 1);
    const result = JSON.parse(r.stdout);
    assert.equal(result.status, 'error');
    assert.deepEqual([result.error.type, result.error.message, result.error.line], ['ValueError', 'nope', 2]);
    assert.equal(result.isolation.backend, 'bwrap');
  });

  it('copies files in and keeps the workspace with --workspace', () => {
    const input = path.join(tmp, 'in.txt');
    writeFileSync(input, 'abc');
    const ws = path.join(tmp, 'ws');
    const r = cli([
      'exec',
      '--lang',
      'python',
      '-c',
      'open("out.txt","w").write(open("data/in.txt").read().upper())',
      '--file',
      `data/in.txt=${input}`,
      '--workspace',
      ws,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(path.join(ws, 'out.txt'), 'utf8'), 'ABC');
  });

  it('--workspace copies the directory in and the results back: it is never handed to a sandbox uid, and links are not followed out', () => {
    const locked = path.join(tmp, 'locked');
    const ws = path.join(locked, 'ws');
    const outside = path.join(tmp, 'outside');
    mkdirSync(path.join(ws, '.git', 'hooks'), { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(path.join(ws, 'in.txt'), 'abc');
    chmodSync(locked, 0o700); // a sandbox uid could not even reach it: the copy is made by codemode itself
    const before = statSync(ws);
    const r = cli([
      'exec',
      '--lang',
      'bash',
      '-c',
      `tr a-z A-Z < in.txt > out.txt; rm -rf .git; ln -s ${outside} .git; echo x > ln-made.txt; ln -s ${outside}/pwned made-link`,
      '--workspace',
      ws,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(path.join(ws, 'out.txt'), 'utf8'), 'ABC');
    assert.equal(readFileSync(path.join(ws, 'ln-made.txt'), 'utf8'), 'x\n');
    const after = statSync(ws);
    assert.equal(after.uid, before.uid, 'the directory keeps its owner');
    assert.ok(statSync(path.join(ws, '.git', 'hooks')).isDirectory(), 'deletions are not mirrored back');
    assert.deepEqual(readdirSync(outside), [], 'nothing was written through a link the program made');
  });

  it('refuses bad input with a clear message and exit code 2', () => {
    const r = cli(['exec', '--lang', 'cobol', '-c', 'x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--lang must be one of python, javascript, typescript, bash; got "cobol"/);
    const limit = cli(['exec', '--lang', 'bash', '-c', 'true', '--timeout', '99999']);
    assert.equal(limit.code, 2);
    assert.match(limit.stderr, /--timeout 99999 s is above this server's maximum of \d+ s/);
    const noLang = cli(['exec', '-c', 'x']);
    assert.match(noLang.stderr, /cannot tell the language/);
  });

  it('answers a repeated run from the result cache with --cache', () => {
    const code = 'import random; print(random.random())';
    const first = cli(['exec', '--lang', 'python', '-c', code, '--cache']);
    const second = cli(['exec', '--lang', 'python', '-c', code, '--cache']);
    const uncached = cli(['exec', '--lang', 'python', '-c', code]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.stdout, first.stdout);
    assert.match(second.stderr, /result from the cache/);
    assert.notEqual(uncached.stdout, first.stdout);
  });

  it('reports a missing file as not found', () => {
    const r = cli(['exec', path.join(tmp, 'nope.py')]);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /cannot read .*nope\.py: ENOENT/);
  });
});

describe('codemode doctor', () => {
  it('reports every isolation layer in force and a working probe per language', () => {
    const r = cli(['doctor', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ready, true);
    for (const layer of report.layers) assert.equal(layer.ok, true, `${layer.name}: ${layer.detail}`);
    assert.deepEqual(
      report.languages.map((l: { name: string; ok: boolean }) => [l.name, l.ok]),
      [
        ['python', true],
        ['javascript', true],
        ['typescript', true],
        ['bash', true],
      ],
    );
  });
});

describe('codemode', () => {
  it('lists its commands and rejects an unknown one', () => {
    const help = cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /exec .*\n.*serve .*\n.*doctor/s);
    const bad = cli(['frobnicate']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command "frobnicate"/);
  });
});

describe('the quick start', () => {
  it('npm start serves MCP over HTTP from the built bin (README step one)', async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    assert.equal(pkg.scripts.start, 'node bin/codemode.js serve --http');
    const child = spawn(process.execPath, ['bin/codemode.js', 'serve', '--http', '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, CODEMODE_HOME: path.join(tmp, 'home') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let err = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (c: Buffer) => {
          err += c.toString();
          const m = /serving MCP on (http:\/\/\S+)\/mcp/.exec(err);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), {
        status: 'ok',
        sessions: 0,
        store: { state: 'ok', failing: [], pendingWrites: 0, lostWrites: 0 },
      });
      // Loopback too: the first start generates a token and prints it once; /mcp wants it.
      const token = /generated a bearer token \(saved in .*\): (\S+)/.exec(err)?.[1] ?? '';
      assert.ok(token.length >= 40, err);
      const post = (headers: Record<string, string>) =>
        fetch(`${url}/mcp`, {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json', ...headers },
        });
      assert.equal((await post({})).status, 401);
      assert.notEqual((await post({ authorization: `Bearer ${token}` })).status, 401);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
