// Edges of `codemode exec` and `doctor` as a user meets them: top-level await,
// the unsandboxed mode, limits said in the user's units, a missing --file,
// configured limits in doctor, and a hard-killed run's leftovers cleaned.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'codemode-cli-edges-'));
chmodSync(tmp, 0o755);
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], input = '', env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, CODEMODE_HOME: path.join(tmp, 'home'), ...env },
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('codemode exec edges', () => {
  for (const lang of ['js', 'ts']) {
    it(`runs top-level await in one-shot ${lang}`, () => {
      const r = cli(['exec', '--lang', lang, '-'], 'console.log(await Promise.resolve(42))');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '42\n');
    });
  }

  it('reports a real syntax error in code that mentions await with its line', () => {
    const r = cli(['exec', '--lang', 'js', '--json', '-'], 'const x = await 1;\nconst = 2;\n');
    assert.equal(r.code, 1);
    const result = JSON.parse(r.stdout) as { error: { type: string; line: number } };
    assert.equal(result.error.type, 'SyntaxError');
    assert.equal(result.error.line, 2);
  });

  for (const [lang, code, want] of [
    ['python', 'import sys\nprint("py", sys.argv[1:])', "py ['a']\n"],
    ['bash', 'echo "sh $1"', 'sh a\n'],
    ['javascript', 'console.log("js", process.argv.slice(2).join())', 'js a\n'],
  ] as const) {
    it(`runs ${lang} with --unsandboxed-i-know-this-is-unsafe`, () => {
      const r = cli(['exec', '--lang', lang, '-c', code, '--unsandboxed-i-know-this-is-unsafe', '--', 'a']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, want);
      assert.match(r.stderr, /WITHOUT a sandbox/);
    });
  }

  it('says a limit above the maximum in the unit the user gave (seconds), exit 2', () => {
    const r = cli(['exec', '--lang', 'bash', '-c', 'true', '--timeout', '9999']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--timeout 9999 s is above this server's maximum of 600 s/);
    assert.doesNotMatch(r.stderr, /ms/);
  });

  it('a missing --file host file is a usage error (exit 2) without a stack trace', () => {
    const r = cli(['exec', '--lang', 'bash', '-c', 'true', '--file', 'a.csv=./no-such-file.csv']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--file a\.csv=\.\/no-such-file\.csv: cannot read \.\/no-such-file\.csv: ENOENT/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it("cleans a dead run's leftovers at start, and keeps a live process's", () => {
    const tmpdir = path.join(tmp, 'tmpdir');
    const dead = path.join(tmpdir, 'codemode-code-4194302-abcdef');
    const live = path.join(tmpdir, `codemode-code-${process.pid}-abcdef`);
    for (const d of [dead, live]) mkdirSync(d, { recursive: true });
    chmodSync(tmpdir, 0o755);
    const r = cli(['exec', '--lang', 'bash', '-c', 'echo ok'], '', { TMPDIR: tmpdir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(dead), false);
    assert.equal(existsSync(live), true);
  });
});

describe('codemode doctor', () => {
  it('shows the configured limits, not the built-in defaults', () => {
    const r = cli(['doctor', '--json'], '', {
      CODEMODE_LIMIT_WALL_MS: '7000',
      CODEMODE_MAX_MEMORY_BYTES: '1073741824',
    });
    const out = JSON.parse(r.stdout) as {
      limits: { defaults: { wallMs: number }; max: { memoryBytes: number } };
      layers: { name: string; detail: string }[];
    };
    assert.equal(out.limits.defaults.wallMs, 7000);
    assert.equal(out.limits.max.memoryBytes, 1073741824);
    assert.match(out.layers.find((l) => l.name === 'host limits')?.detail ?? '', /default 7 s/);
    assert.match(out.layers.find((l) => l.name === 'memory limit')?.detail ?? '', /maximum 1024 MiB/);
  });
});
