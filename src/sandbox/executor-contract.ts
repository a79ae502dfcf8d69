/**
 * The contract every execution path must pass, on its real runtime: one-shot
 * runs (test/e2e/process-sandbox.test.ts), and session executions and
 * run_script (test/e2e/session-contract.test.ts, through an Executor adapter).
 * Each security property and limit is a named test; a path skips a test only
 * where it differs by design, and says why.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { isAppError } from '../errors.js';
import type { ExecRequest, ExecResult, Executor } from './executor.js';

export interface ContractOptions {
  name: string;
  make: () => Promise<Executor>;
  /** Tests this path does not run because it differs by design, by title, each with the reason. */
  skip?: Readonly<Record<string, string>>;
  /** Tests that cannot pass on this path yet, by title, each with the reason. */
  todo?: Readonly<Record<string, string>>;
}

const MiB = 1024 * 1024;

export function executorContract({ name, make, skip = {}, todo = {} }: ContractOptions): void {
  const known = new Set<string>();
  const test = (title: string, fn: () => Promise<void>) => {
    known.add(title);
    const options =
      skip[title] !== undefined ? { skip: skip[title] } : todo[title] !== undefined ? { todo: todo[title] } : {};
    it(title, options, fn);
  };
  describe(`executor contract: ${name}`, () => {
    let executor: Executor;
    let secretDir: string;
    const run = (req: ExecRequest): Promise<ExecResult> => executor.run(req);

    before(async () => {
      process.env.CODEMODE_CONTRACT_SECRET = 'host-secret-value-7f3a';
      executor = await make();
      secretDir = mkdtempSync(path.join(os.tmpdir(), 'codemode-secret-'));
      writeFileSync(path.join(secretDir, 'secret.txt'), 'TOP-SECRET');
    });
    after(async () => {
      await executor.close();
      rmSync(secretDir, { recursive: true, force: true });
      delete process.env.CODEMODE_CONTRACT_SECRET;
    });

    describe('security properties', () => {
      // The host must stay healthy after every hostile program.
      afterEach(async () => {
        const r = await run({ language: 'bash', code: 'echo alive' });
        assert.equal(r.status, 'ok', `host unhealthy after the test: ${JSON.stringify(r)}`);
        assert.equal(r.stdout, 'alive\n');
      });

      test('no network: a TCP connection to a loopback server on the host fails', async () => {
        let connections = 0;
        const server = net.createServer((s) => {
          connections++;
          s.destroy();
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const port = (server.address() as net.AddressInfo).port;
        try {
          const r = await run({
            language: 'python',
            code: `import socket\ntry:\n    socket.create_connection(("127.0.0.1", ${port}), timeout=2)\n    print("CONNECTED")\nexcept OSError as e:\n    print("blocked", type(e).__name__)`,
          });
          assert.equal(r.status, 'ok', r.stderr);
          assert.match(r.stdout, /^blocked/);
          assert.equal(connections, 0);
        } finally {
          server.close();
        }
      });

      test('no network: DNS resolution fails', async () => {
        const r = await run({
          language: 'python',
          code: `import socket\ntry:\n    socket.getaddrinfo("registry.npmjs.org", 443)\n    print("RESOLVED")\nexcept OSError as e:\n    print("blocked")`,
        });
        assert.equal(r.stdout, 'blocked\n');
      });

      test('no network: only a loopback interface exists', async () => {
        const r = await run({ language: 'bash', code: 'ls /sys/class/net 2>/dev/null || cat /proc/net/dev' });
        assert.equal(r.status, 'ok');
        assert.doesNotMatch(r.stdout, /eth|ens|enp|wl|veth|docker/);
      });

      test('host files are invisible: a secret file outside the workspace cannot be read', async () => {
        const r = await run({
          language: 'python',
          code: `import os\nprint(os.path.exists(${JSON.stringify(secretDir)}))\ntry:\n    print(open(${JSON.stringify(path.join(secretDir, 'secret.txt'))}).read())\nexcept OSError as e:\n    print("denied", type(e).__name__)`,
        });
        assert.equal(r.status, 'ok', r.stderr);
        assert.doesNotMatch(r.stdout, /TOP-SECRET/);
        assert.match(r.stdout, /denied/);
      });

      test('host files are invisible: /root, /home and host /etc secrets are absent', async () => {
        const r = await run({
          language: 'bash',
          code: 'for p in /root /home /etc/shadow /etc/ssh /var /opt; do [ -e "$p" ] && echo "VISIBLE $p"; done; echo done',
        });
        assert.equal(r.stdout, 'done\n');
      });

      test("host environment is invisible: the server's own variables do not leak", async () => {
        const r = await run({ language: 'bash', code: 'env; cat /proc/1/environ 2>/dev/null | tr "\\0" "\\n"' });
        assert.equal(r.status, 'ok');
        assert.doesNotMatch(r.stdout + r.stderr, /host-secret-value-7f3a|CODEMODE_CONTRACT_SECRET|ANTHROPIC|OPENAI/);
      });

      test('the system is read-only: /usr cannot be written', async () => {
        const r = await run({
          language: 'bash',
          code: 'touch /usr/evil 2>/dev/null && echo WROTE-USR; touch /evil 2>/dev/null && echo WROTE-ROOT; echo checked',
        });
        assert.equal(r.stdout, 'checked\n');
      });

      test('runs as an unprivileged uid with no capabilities', async () => {
        const r = await run({ language: 'bash', code: 'id -u; grep CapEff /proc/self/status' });
        assert.equal(r.status, 'ok');
        const [uid, caps] = r.stdout.trim().split('\n');
        assert.notEqual(uid, '0');
        assert.match(caps ?? '', /CapEff:\s+0+$/);
      });

      test('seccomp denies namespace creation and ptrace', async () => {
        const r = await run({
          language: 'python',
          code: [
            'import ctypes, os',
            'libc = ctypes.CDLL(None, use_errno=True)',
            'print("unshare", libc.unshare(0x10000000), ctypes.get_errno())',
            'print("ptrace", libc.ptrace(16, 1, 0, 0), ctypes.get_errno())',
          ].join('\n'),
        });
        assert.equal(r.status, 'ok', r.stderr);
        assert.match(r.stdout, /unshare -1 1\n/);
        assert.match(r.stdout, /ptrace -1 1\n/);
      });

      test('a fork bomb is contained', async () => {
        const r = await run({
          language: 'bash',
          code: 'bomb() { bomb | bomb & }; bomb; sleep 1; echo survived',
          limits: { processes: 32, wallMs: 5000 },
        });
        assert.ok(['process_limit', 'timeout'].includes(r.status), `status ${r.status}`);
      });

      test('a memory balloon is contained', async () => {
        const r = await run({
          language: 'python',
          code: 'chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))',
          limits: { memoryBytes: 128 * MiB, wallMs: 20_000 },
        });
        assert.equal(r.status, 'memory', JSON.stringify({ s: r.status, e: r.stderr.slice(-300) }));
      });

      test('a JavaScript memory balloon is contained', async () => {
        const r = await run({
          language: 'javascript',
          code: 'const a = []; while (true) a.push(new Array(1e6).fill(1));',
          limits: { memoryBytes: 128 * MiB, wallMs: 20_000 },
        });
        assert.equal(r.status, 'memory');
      });

      test('an infinite loop is stopped by the wall clock', async () => {
        const r = await run({ language: 'bash', code: 'while true; do sleep 0.01; done', limits: { wallMs: 500 } });
        assert.equal(r.status, 'timeout');
        assert.ok(r.durationMs < 5000);
      });

      test('a busy loop is stopped by the CPU limit', async () => {
        const r = await run({ language: 'javascript', code: 'for (;;) {}', limits: { cpuMs: 300, wallMs: 10_000 } });
        assert.equal(r.status, 'cpu_time');
      });

      test('an output flood is stopped and truncated with a marker', async () => {
        const r = await run({
          language: 'python',
          code: 'import sys\nwhile True:\n    sys.stdout.write("x" * 65536)',
          limits: { outputBytes: 64 * 1024, outputTotalBytes: 8 * MiB },
        });
        assert.equal(r.status, 'output_limit');
        assert.ok(r.stdoutDroppedBytes > 0);
        assert.match(r.stdout, /\[\.\.\. [\d,]+ bytes truncated \.\.\.\]/);
        assert.ok(r.stdout.length < 64 * 1024 + 200);
      });

      test('a disk fill with one file is stopped', async () => {
        const r = await run({
          language: 'bash',
          code: 'dd if=/dev/zero of=big bs=1M count=200 2>&1',
          limits: { diskBytes: 8 * MiB },
        });
        assert.equal(r.status, 'disk_limit');
      });

      test('a disk fill with many files is stopped', async () => {
        const r = await run({
          language: 'python',
          code: 'i = 0\nwhile True:\n    open(f"f{i}", "wb").write(b"\\0" * (1024 * 1024))\n    i += 1',
          limits: { diskBytes: 16 * MiB, wallMs: 20_000 },
        });
        assert.equal(r.status, 'disk_limit');
      });

      test('/tmp is a size-capped tmpfs', async () => {
        const r = await run({
          language: 'bash',
          code: 'dd if=/dev/zero of=/tmp/fill bs=1M count=64',
          limits: { tmpBytes: 4 * MiB },
        });
        assert.equal(r.status, 'disk_limit');
      });

      test('disk: 100k empty files count toward the disk limit', async () => {
        const r = await run({
          language: 'python',
          code: 'for i in range(100000):\n    open(f"e{i}", "w").close()\nprint("made them all")',
          limits: { diskBytes: 16 * MiB, wallMs: 60_000 },
        });
        assert.equal(r.status, 'disk_limit', `${r.status}: ${r.reason ?? ''} ${r.stderr.slice(-200)}`);
        assert.doesNotMatch(r.stdout, /made them all/);
      });

      test('the open-files limit holds', async () => {
        const r = await run({
          language: 'python',
          code: 'fs = []\ntry:\n    while True:\n        fs.append(open("/dev/null"))\nexcept OSError as e:\n    print(len(fs), e.errno)',
          limits: { openFiles: 64 },
        });
        assert.equal(r.status, 'ok', r.stderr);
        const [count, errno] = r.stdout.trim().split(' ').map(Number);
        assert.ok((count ?? 999) < 64, r.stdout);
        assert.equal(errno, 24, 'EMFILE');
      });

      test('honest statuses: printing "bwrap: ..." does not make a run look unstarted', async () => {
        const r = await run({
          language: 'bash',
          code: 'echo "bwrap: Can\'t find source path /x: No such file" >&2; exit 1',
        });
        assert.notEqual(r.status, 'not_started', r.reason);
      });

      test('honest statuses: printing a V8 heap message does not make a run look out of memory', async () => {
        const r = await run({
          language: 'javascript',
          code: 'console.error("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"); process.exitCode = 1;',
        });
        assert.notEqual(r.status, 'memory', r.reason);
      });

      test('honest statuses: printing "No space left on device" does not make a run look out of disk', async () => {
        const r = await run({ language: 'bash', code: 'echo "write: No space left on device" >&2; exit 1' });
        assert.notEqual(r.status, 'disk_limit', r.reason);
      });

      test('orphaned background children are killed when the run ends', async () => {
        const marker = String(900000 + Math.floor(Math.random() * 99999));
        const r = await run({
          language: 'bash',
          code: `(sleep ${marker} &) ; nohup sleep ${marker} >/dev/null 2>&1 & echo started`,
        });
        assert.equal(r.status, 'ok');
        assert.equal(r.stdout, 'started\n');
        await new Promise((res) => setTimeout(res, 200));
        const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
        assert.doesNotMatch(ps, new RegExp(`sleep ${marker}`));
      });
    });

    describe('language behaviour', () => {
      test('keeps stdout and stderr apart, each in order', async () => {
        const r = await run({
          language: 'python',
          code: 'import sys\nfor i in range(5):\n    print(i)\n    print(f"e{i}", file=sys.stderr)',
        });
        assert.equal(r.stdout, '0\n1\n2\n3\n4\n');
        assert.equal(r.stderr, 'e0\ne1\ne2\ne3\ne4\n');
      });

      test('round-trips unicode in code and output', async () => {
        for (const [language, code] of [
          ['python', 'print("héllo 世界 🚀")'],
          ['javascript', 'console.log("héllo 世界 🚀")'],
          ['bash', 'echo "héllo 世界 🚀"'],
        ] as const) {
          const r = await run({ language, code });
          assert.equal(r.stdout, 'héllo 世界 🚀\n', language);
        }
      });

      test('reports exit codes', async () => {
        const py = await run({ language: 'python', code: 'import sys\nsys.exit(3)' });
        assert.equal(py.status, 'error');
        assert.equal(py.exitCode, 3);
        const sh = await run({ language: 'bash', code: 'exit 5' });
        assert.equal(sh.exitCode, 5);
        const js = await run({ language: 'javascript', code: 'process.exitCode = 0' });
        assert.equal(js.status, 'ok');
        assert.equal(js.exitCode, 0);
      });

      test('reports a Python exception with its type, message and line', async () => {
        const r = await run({ language: 'python', code: 'x = 1\n\ndef f():\n    return {}["k"]\nf()' });
        assert.equal(r.status, 'error');
        assert.equal(r.error?.type, 'KeyError');
        assert.equal(r.error?.line, 4);
        assert.doesNotMatch(r.stderr, /python-runner/);
      });

      test('reports a Python syntax error with its line', async () => {
        const r = await run({ language: 'python', code: 'x = 1\ny = (\n' });
        assert.equal(r.error?.type, 'SyntaxError');
        assert.ok(r.error?.line === 2 || r.error?.line === 3);
      });

      test('reports a JavaScript exception with its line and column', async () => {
        const r = await run({ language: 'javascript', code: 'const a = 1;\nconst b = undefined;\nb.x;' });
        assert.equal(r.error?.type, 'TypeError');
        assert.equal(r.error?.line, 3);
        assert.doesNotMatch(r.stderr, /node-runner/);
      });

      test('runs JavaScript with top-level await and ES modules', async () => {
        const r = await run({
          language: 'javascript',
          code: 'import os from "node:os";\nconst v = await Promise.resolve(os.EOL.length);\nconsole.log(v)',
        });
        assert.equal(r.status, 'ok', r.stderr);
        assert.equal(r.stdout, '1\n');
      });

      test("maps a TypeScript exception to the user's TypeScript line", async () => {
        const r = await run({
          language: 'typescript',
          code: 'interface P { x: number }\nconst p: P = { x: 1 };\n\nthrow new RangeError(`bad ${p.x}`);',
        });
        assert.equal(r.error?.type, 'RangeError');
        assert.equal(r.error?.message, 'bad 1');
        assert.equal(r.error?.line, 4);
      });

      test('reports a TypeScript syntax error with line and column before running anything', async () => {
        const r = await run({ language: 'typescript', code: 'const ok = 1;\nconst x: number = ;' });
        assert.equal(r.status, 'error');
        assert.equal(r.error?.type, 'SyntaxError');
        assert.equal(r.error?.line, 2);
        assert.equal(r.error?.column, 19);
      });

      test('feeds stdin and args', async () => {
        const r = await run({
          language: 'python',
          code: 'import sys\nprint(input().upper(), sys.argv[1:])',
          stdin: 'hello\n',
          args: ['a', 'b c'],
        });
        assert.equal(r.stdout, "HELLO ['a', 'b c']\n");
        const sh = await run({ language: 'bash', code: 'read x; echo "$x $1"', stdin: 'in\n', args: ['arg'] });
        assert.equal(sh.stdout, 'in arg\n');
      });

      test('truncates a 10 MB legitimate output correctly, keeping head and tail', async () => {
        const total = 10 * 1000 * 1000;
        const r = await run({
          language: 'python',
          code: `import sys\nsys.stdout.write("H" * 1000 + "m" * ${total - 2000} + "T" * 1000)`,
          limits: { outputBytes: 100_000 },
        });
        assert.equal(r.status, 'ok');
        assert.equal(r.stdoutDroppedBytes, total - 100_000);
        assert.ok(r.stdout.startsWith('H'.repeat(1000) + 'm'));
        assert.ok(r.stdout.endsWith('m' + 'T'.repeat(1000)));
        assert.ok(r.stdout.includes(`[... ${(total - 100_000).toLocaleString('en-US')} bytes truncated ...]`));
      });

      test('puts input files in the workspace and lists files the program wrote', async () => {
        const r = await run({
          language: 'python',
          code: 'data = open("in/data.csv").read()\nopen("out.txt", "w").write(data.upper())\nprint(len(data))',
          files: [{ path: 'in/data.csv', content: 'a,b\n1,2\n' }],
        });
        assert.equal(r.status, 'ok', r.stderr);
        assert.equal(r.stdout, '8\n');
        assert.deepEqual(
          r.files?.map((f) => f.path),
          ['in/data.csv', 'out.txt'],
        );
      });

      test('has numpy, pandas and matplotlib in Python', async () => {
        const r = await run({
          language: 'python',
          code: 'import numpy, pandas, matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nplt.plot([1,2]); plt.savefig("p.png")\nprint(numpy.arange(3).sum(), len(pandas.DataFrame({"a":[1,2]})))',
          limits: { wallMs: 60_000 },
        });
        assert.equal(r.status, 'ok', r.stderr);
        assert.equal(r.stdout, '3 2\n');
      });

      test('reports the limits that applied and the isolation in force', async () => {
        const r = await run({ language: 'bash', code: 'true', limits: { wallMs: 1234 } });
        assert.equal(r.limits.wallMs, 1234);
        assert.ok(r.isolation.backend);
      });
    });

    describe('bad requests', () => {
      test('refuses an unknown language with a clear error', async () => {
        await assert.rejects(
          run({ language: 'cobol' as never, code: '' }),
          (e: unknown) => isAppError(e, 'INVALID_ARGUMENT') && /language must be one of/.test(e.message),
        );
      });

      test('refuses a limit above the server maximum, naming it', async () => {
        await assert.rejects(
          run({ language: 'bash', code: 'true', limits: { wallMs: 10 ** 9 } }),
          (e: unknown) => isAppError(e, 'LIMIT_EXCEEDED') && /limits\.wallMs/.test(e.message),
        );
      });

      test('refuses input files that escape the workspace', async () => {
        await assert.rejects(
          run({ language: 'bash', code: 'true', files: [{ path: '../x', content: 'x' }] }),
          (e: unknown) => isAppError(e, 'PATH_ESCAPE'),
        );
      });

      test('a cancelled run stops and says so', async () => {
        const ac = new AbortController();
        setTimeout(() => ac.abort(), 300);
        const r = await run({ language: 'bash', code: 'sleep 30', signal: ac.signal });
        assert.equal(r.status, 'cancelled');
        assert.ok(r.durationMs < 5000);
      });
    });

    it('skips and todos name real tests', () => {
      for (const title of [...Object.keys(skip), ...Object.keys(todo)]) assert.ok(known.has(title), title);
    });
  });
}
