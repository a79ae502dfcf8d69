// The executor contract against the real bubblewrap + cgroups sandbox, and what is specific to it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';
import { executorContract } from '../../src/sandbox/executor-contract.js';
import { ProcessExecutor } from '../../src/sandbox/process/process-executor.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { detectVolumeKinds } from '../../src/sandbox/workspace/volume.js';
import { syscallNumber } from '../../src/sandbox/process/seccomp.js';
import type { SyscallName } from '../../src/sandbox/process/syscall-numbers.js';

executorContract({
  name: 'process (bubblewrap + cgroups)',
  make: async () => new ProcessExecutor(await createProcessSandbox()),
  // Without root (or loop devices) a workspace is a plain directory: only the largest file is capped.
  ...(detectVolumeKinds().ephemeral === 'directory'
    ? {
        skip: {
          'a disk fill with many files is stopped': 'no capped volume on this host: it would fill the host disk',
          'disk: 100k empty files count toward the disk limit': 'no capped volume on this host',
        },
      }
    : {}),
});

describe('process sandbox', () => {
  it('says a program never started when the sandbox setup fails', async () => {
    const sandbox = await createProcessSandbox();
    const ws = mkdtempSync(path.join(os.tmpdir(), 'codemode-ns-'));
    chmodSync(ws, 0o777);
    try {
      const proc = await sandbox.spawn({
        argv: ['/bin/true'],
        workspaceDir: ws,
        limits: DEFAULT_LIMITS,
        roBinds: [{ host: '/nonexistent/codemode-missing', sandbox: '/run/missing' }],
      });
      let stderr = '';
      proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exit = await proc.exited;
      await proc.dispose();
      assert.equal(exit.started, false);
      assert.match(stderr, /missing/);
      const ok = await sandbox.spawn({ argv: ['/bin/true'], workspaceDir: ws, limits: DEFAULT_LIMITS });
      assert.deepEqual(await ok.exited, { exitCode: 0, signal: null, started: true });
      await ok.dispose();
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  });

  it('keeps two sandboxes in one process apart (distinct run cgroups)', async () => {
    const a = new ProcessExecutor(await createProcessSandbox());
    const b = new ProcessExecutor(await createProcessSandbox());
    const results = await Promise.all([
      a.run({ language: 'bash', code: 'echo a' }),
      b.run({ language: 'bash', code: 'echo b' }),
      a.run({ language: 'bash', code: 'echo c' }),
    ]);
    await Promise.all([a.close(), b.close()]);
    assert.deepEqual(
      results.map((r) => [r.status, r.stdout]),
      [
        ['ok', 'a\n'],
        ['ok', 'b\n'],
        ['ok', 'c\n'],
      ],
    );
  });

  it('a second sandbox in the same process leaves the pre-made run cgroups of the first alone', async () => {
    const a = new ProcessExecutor(await createProcessSandbox());
    assert.equal((await a.run({ language: 'bash', code: 'echo a' })).status, 'ok'); // a's pool is filled now
    // Starting a sandbox tidies its cgroup parent: that must not be a's parent.
    const b = new ProcessExecutor(await createProcessSandbox());
    await b.close();
    for (let i = 0; i < 6; i++) {
      // more runs than the pool pre-creates, so fresh run cgroups are made under a's parent after b is gone
      const r = await a.run({ language: 'bash', code: `echo ${i}` });
      assert.deepEqual([r.status, r.stdout], ['ok', `${i}\n`], r.reason);
    }
    await a.close();
  });
});

describe('process sandbox: pre-started runners take non-default limits at hand-off', () => {
  let executor: ProcessExecutor;
  before(async () => {
    executor = new ProcessExecutor(await createProcessSandbox(), {
      prestart: { python: 1, bash: 1, javascript: 0, typescript: 0 },
    });
    await executor.ready();
  });
  after(() => executor.close());

  const limitsProbe = [
    'import resource',
    'cpu = resource.getrlimit(resource.RLIMIT_CPU)',
    'nofile = resource.getrlimit(resource.RLIMIT_NOFILE)',
    'print(cpu[0], cpu[1], nofile[0], nofile[1])',
    'try:',
    '    resource.setrlimit(resource.RLIMIT_CPU, (cpu[1] + 100, cpu[1] + 100))',
    '    print("raised")',
    'except (ValueError, OSError):',
    '    print("cannot raise")',
  ].join('\n');

  it('rlimits: a run gets exactly its cpuMs and openFiles (soft and hard), and cannot raise them', async () => {
    await executor.ready();
    const r = await executor.run({ language: 'python', code: limitsProbe, limits: { cpuMs: 3000, openFiles: 50 } });
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(r.stdout, '3 4 50 50\ncannot raise\n');
    await executor.ready();
    const d = await executor.run({ language: 'python', code: limitsProbe });
    const cpu = Math.ceil(DEFAULT_LIMITS.cpuMs / 1000);
    assert.equal(d.stdout, `${cpu} ${cpu + 1} ${DEFAULT_LIMITS.openFiles} ${DEFAULT_LIMITS.openFiles}\ncannot raise\n`);
    await executor.ready();
    const b = await executor.run({
      language: 'bash',
      code: 'echo "$(ulimit -St) $(ulimit -Ht) $(ulimit -Sn) $(ulimit -Hn)"',
      limits: { cpuMs: 2000, openFiles: 40 },
    });
    assert.equal(b.stdout, '2 3 40 40\n');
  });

  it('memory: a smaller memoryBytes set at hand-off stops a balloon with status memory', async () => {
    await executor.ready();
    const r = await executor.run({
      language: 'python',
      code: 'x = bytearray(200 * 1024 * 1024)\nfor i in range(0, len(x), 4096): x[i] = 1\nprint("survived")',
      limits: { memoryBytes: 64 * 1024 * 1024 },
    });
    assert.equal(r.status, 'memory', `${r.status}: ${r.reason} ${r.stderr}`);
  });

  it('processes: a lower processes cap set at hand-off holds (process_limit)', async () => {
    await executor.ready();
    const r = await executor.run({
      language: 'bash',
      code: 'for i in $(seq 1 30); do sleep 2 & done; wait',
      limits: { processes: 8, wallMs: 10_000 },
    });
    assert.equal(r.status, 'process_limit', `${r.status}: ${r.reason}`);
  });
});

describe('process sandbox: least privilege (seccomp allow-list, descriptors, core dumps, /proc)', () => {
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  const nr = (name: SyscallName): number => syscallNumber(arch, name)!;
  let executor: ProcessExecutor;
  before(async () => {
    executor = new ProcessExecutor(await createProcessSandbox());
  });
  after(async () => {
    await executor.close();
  });
  /** Runs Python in the sandbox and returns its stdout, failing on a non-ok run. */
  async function python(code: string): Promise<string> {
    const r = await executor.run({ language: 'python', code });
    assert.equal(r.status, 'ok', `${r.stderr}\n${JSON.stringify(r.error)}`);
    return r.stdout;
  }
  /** Python that prints the errno name a raw syscall returns, or "ok". */
  const rawSyscall = (n: number, args: number[]) =>
    `import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n` +
    `r = libc.syscall(${n}, ${args.map((a) => `ctypes.c_long(${a})`).join(', ')})\n` +
    `print("ok" if r >= 0 else errno.errorcode[ctypes.get_errno()])`;

  it('vsock: AF_VSOCK socket creation is denied', async () => {
    const out = await python(
      `import socket, errno\ntry:\n    socket.socket(40, socket.SOCK_STREAM)\n    print("CREATED")\nexcept OSError as e:\n    print(errno.errorcode[e.errno])`,
    );
    assert.equal(out, 'EAFNOSUPPORT\n');
  });

  it('io_uring: io_uring_setup is denied', async () => {
    assert.equal(await python(rawSyscall(nr('io_uring_setup'), [1, 0])), 'EPERM\n');
  });

  it('modify_ldt/memfd_secret/listmount denied', async () => {
    if (arch === 'x64') assert.equal(await python(rawSyscall(nr('modify_ldt'), [0, 0, 0])), 'EPERM\n');
    assert.equal(await python(rawSyscall(nr('memfd_secret'), [0])), 'EPERM\n');
    assert.equal(await python(rawSyscall(nr('listmount'), [0, 0, 0, 0])), 'EPERM\n');
  });

  it('personality: READ_IMPLIES_EXEC is denied, the query is allowed', async () => {
    assert.equal(await python(rawSyscall(nr('personality'), [0x0400000])), 'EPERM\n');
    assert.equal(await python(rawSyscall(nr('personality'), [0xffffffff])), 'ok\n');
  });

  it('seccomp: a syscall number the filter does not know answers ENOSYS', async () => {
    assert.equal(await python(rawSyscall(1000, [])), 'ENOSYS\n');
  });

  it('netlink: only NETLINK_ROUTE opens (audit, uevent denied); Node still lists its interfaces', async () => {
    const out = await python(
      `import socket, errno\nfor proto in (0, 9, 15):\n    try:\n        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto).close()\n        print(proto, "ok")\n    except OSError as e:\n        print(proto, errno.errorcode[e.errno])`,
    );
    assert.equal(out, '0 ok\n9 EAFNOSUPPORT\n15 EAFNOSUPPORT\n');
    const r = await executor.run({
      language: 'javascript',
      code: `console.log(Object.keys(require('os').networkInterfaces()).join(','))`,
    });
    assert.equal(r.status, 'ok', r.stderr);
    assert.equal(r.stdout, 'lo\n');
  });

  it('core dumps are off: RLIMIT_CORE is (0, 0) for Python and for bash', async () => {
    assert.equal(await python('import resource\nprint(resource.getrlimit(resource.RLIMIT_CORE))'), '(0, 0)\n');
    const r = await executor.run({ language: 'bash', code: 'echo "$(ulimit -Sc) $(ulimit -Hc)"' });
    assert.equal(r.stdout, '0 0\n');
  });

  it('/proc/cmdline does not show the host kernel command line', async () => {
    const host = readFileSync('/proc/cmdline', 'utf8').trim();
    const inside = await python('print(repr(open("/proc/cmdline").read()))');
    assert.equal(inside, "''\n");
    if (host) assert.ok(!inside.includes(host.slice(0, 20)));
  });

  it('/proc/1/cmdline and /proc/1/environ (bwrap, the sandbox init) carry no host path or launcher variable', async () => {
    const out = await python(
      'import json\nprint(json.dumps([open("/proc/1/cmdline").read().split("\\0"), open("/proc/1/environ").read().split("\\0")]))',
    );
    const [cmdline, environ] = JSON.parse(out) as [string[], string[]];
    assert.equal(cmdline[1], '--args', cmdline.join(' '));
    const all = [...cmdline, ...environ].join('\n');
    for (const host of [os.tmpdir() + '/', REPO, 'CODEMODE_', 'PWD='])
      assert.ok(!all.includes(host), `${host} in ${all}`);
  });

  it('descriptors: only stdin, stdout, stderr and the channel are open inside, even with host fds open without CLOEXEC', async () => {
    // Node opens every fd with O_CLOEXEC; a child launched with fds in its stdio array holds them without it,
    // the way a native addon's or an inherited descriptor would be. Fd 9 (single digit) is a directory, 21 a file.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-fdleak-'));
    const secret = path.join(dir, 'host-secret.txt');
    writeFileSync(secret, 'HOST-SECRET');
    const script = path.join(dir, 'child.mts');
    const src = (p: string) => pathToFileURL(path.join(REPO, 'src', p)).href;
    writeFileSync(
      script,
      `import { readlinkSync } from 'node:fs';
import { ProcessExecutor } from ${JSON.stringify(src('sandbox/process/process-executor.ts'))};
import { createProcessSandbox } from ${JSON.stringify(src('sandbox/process/process-sandbox.ts'))};
const host = [9, 21].map((fd) => readlinkSync('/proc/self/fd/' + fd));
const ex = new ProcessExecutor(await createProcessSandbox());
const code = ${JSON.stringify(FD_PROBE)};
const r = await ex.run({ language: 'python', code });
const b = await ex.run({ language: 'bash', code: 'ls /proc/self/fd; cat /proc/self/fd/9 2>&1 | head -c 40; echo' });
await ex.close();
console.log(JSON.stringify({ host, r, b }));
`,
    );
    const dirFd = openSync(dir, 'r');
    const fileFd = openSync(secret, 'r');
    try {
      const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'pipe'];
      while (stdio.length < 9) stdio.push('ignore');
      stdio.push(dirFd);
      while (stdio.length < 21) stdio.push('ignore');
      stdio.push(fileFd);
      const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', script], { cwd: REPO, stdio });
      let out = '';
      let err = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, err);
      const { host, r, b } = JSON.parse(out.trim().split('\n').pop()!) as {
        host: string[];
        r: { status: string; stdout: string; stderr: string };
        b: { status: string; stdout: string };
      };
      assert.deepEqual(host, [dir, secret], 'the child really holds the host fds');
      assert.equal(r.status, 'ok', r.stderr);
      const inside = JSON.parse(r.stdout) as { fds: [number, string][]; attack: string };
      for (const [fd, target] of inside.fds) {
        assert.ok(fd <= 4, `unexpected fd ${fd} -> ${target}`);
        assert.match(target, /^(socket|pipe):\[\d+\]$/, `fd ${fd} -> ${target}`);
      }
      assert.deepEqual(
        inside.fds.slice(0, 3).map(([fd]) => fd),
        [0, 1, 2],
      );
      assert.equal(inside.attack, 'EBADF');
      assert.doesNotMatch(b.stdout, /HOST-SECRET/);
    } finally {
      closeSync(dirFd);
      closeSync(fileFd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const REPO = fileURLToPath(new URL('../..', import.meta.url));
/** Lists the open fds (without opening one) and tries to create a file through fd 9. */
const FD_PROBE = `import os, json, errno
fds = []
for n in range(1024):
    try:
        os.fstat(n)
        fds.append((n, os.readlink(f"/proc/self/fd/{n}")))
    except OSError:
        pass
try:
    os.close(os.open("planted.txt", os.O_CREAT | os.O_WRONLY, dir_fd=9))
    attack = "CREATED"
except OSError as e:
    attack = errno.errorcode[e.errno]
print(json.dumps({"fds": fds, "attack": attack}))`;
