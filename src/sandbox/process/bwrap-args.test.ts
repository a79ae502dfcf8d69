import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BASE_ENV,
  SANDBOX_WORKSPACE,
  buildBwrapArgs,
  buildBwrapArgsViaFd,
  buildBwrapOptions,
  type BwrapSpec,
} from './bwrap-args.js';

const SPEC: BwrapSpec = {
  system: {
    roDirs: ['/usr', '/opt/node'],
    symlinks: [
      ['usr/bin', '/bin'],
      ['usr/lib', '/lib'],
    ],
    roFiles: ['/etc/ld.so.cache'],
    generated: [{ host: '/state/etc/passwd', sandbox: '/etc/passwd' }],
  },
  workspaceDir: '/tmp/ws-1',
  tmpBytes: 1048576,
  env: { NODE_PATH: '/workspace/node_modules', LANG: 'en_US.UTF-8' },
  roBinds: [{ host: '/tmp/code-1', sandbox: '/run/codemode' }],
  uid: 65534,
  gid: 65534,
  seccompFd: 4,
  argv: ['/usr/bin/python3', '-s', '/run/codemode-runtime/python-runner.py'],
};

/** Every [flag, ...operands] group of a bwrap argv, up to `--`. */
const ARITY: Record<string, number> = {
  '--unshare-all': 0,
  '--die-with-parent': 0,
  '--new-session': 0,
  '--clearenv': 0,
  '--cap-drop': 1,
  '--hostname': 1,
  '--uid': 1,
  '--gid': 1,
  '--chdir': 1,
  '--seccomp': 1,
  '--remount-ro': 1,
  '--proc': 1,
  '--dev': 1,
  '--tmpfs': 1,
  '--size': 1,
  '--ro-bind': 2,
  '--bind': 2,
  '--symlink': 2,
  '--setenv': 2,
};
function groups(argv: string[]): string[][] {
  const out: string[][] = [];
  let i = 0;
  while (i < argv.length && argv[i] !== '--') {
    const flag = argv[i]!;
    const n = ARITY[flag];
    assert.ok(n !== undefined, `unexpected bwrap flag ${flag}`);
    out.push(argv.slice(i, i + 1 + n));
    i += 1 + n;
  }
  return out;
}
const MOUNT_FLAGS = new Set(['--ro-bind', '--bind', '--symlink', '--proc', '--dev', '--tmpfs']);

describe('buildBwrapArgs', () => {
  it('produces exactly this argv for a fixed spec', () => {
    assert.deepEqual(buildBwrapArgs(SPEC), [
      '--unshare-all',
      '--die-with-parent',
      '--new-session',
      '--cap-drop',
      'ALL',
      '--clearenv',
      '--hostname',
      'sandbox',
      '--uid',
      '65534',
      '--gid',
      '65534',
      '--ro-bind',
      '/usr',
      '/usr',
      '--ro-bind',
      '/opt/node',
      '/opt/node',
      '--symlink',
      'usr/bin',
      '/bin',
      '--symlink',
      'usr/lib',
      '/lib',
      '--ro-bind',
      '/etc/ld.so.cache',
      '/etc/ld.so.cache',
      '--ro-bind',
      '/state/etc/passwd',
      '/etc/passwd',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--size',
      '1048576',
      '--tmpfs',
      '/tmp',
      '--size',
      '1048576',
      '--tmpfs',
      '/dev/shm',
      '--bind',
      '/tmp/ws-1',
      '/workspace',
      '--ro-bind',
      '/tmp/code-1',
      '/run/codemode',
      '--setenv',
      'PATH',
      '/usr/local/bin:/usr/bin:/bin',
      '--setenv',
      'HOME',
      '/workspace',
      '--setenv',
      'TMPDIR',
      '/tmp',
      '--setenv',
      'LANG',
      'en_US.UTF-8',
      '--setenv',
      'LC_ALL',
      'C.UTF-8',
      '--setenv',
      'USER',
      'sandbox',
      '--setenv',
      'PYTHONDONTWRITEBYTECODE',
      '1',
      '--setenv',
      'PYTHONUNBUFFERED',
      '1',
      '--setenv',
      'MPLBACKEND',
      'Agg',
      '--setenv',
      'MPLCONFIGDIR',
      '/tmp/matplotlib',
      '--setenv',
      'XDG_CACHE_HOME',
      '/tmp/.cache',
      '--setenv',
      'OPENBLAS_NUM_THREADS',
      '1',
      '--setenv',
      'OMP_NUM_THREADS',
      '1',
      '--setenv',
      'NO_COLOR',
      '1',
      '--setenv',
      'NODE_PATH',
      '/workspace/node_modules',
      '--chdir',
      '/workspace',
      '--seccomp',
      '4',
      '--remount-ro',
      '/',
      '--',
      '/usr/bin/python3',
      '-s',
      '/run/codemode-runtime/python-runner.py',
    ]);
  });

  it('unshares every namespace (no network), dies with its parent, and starts a new session', () => {
    const flags = groups(buildBwrapArgs(SPEC)).map((g) => g[0]);
    for (const f of ['--unshare-all', '--die-with-parent', '--new-session']) assert.ok(flags.includes(f), f);
    assert.ok(!flags.includes('--share-net'));
  });

  it('drops all capabilities and clears the environment before setting it', () => {
    const g = groups(buildBwrapArgs(SPEC));
    assert.ok(g.some((x) => x[0] === '--cap-drop' && x[1] === 'ALL'));
    assert.ok(!g.some((x) => x[0] === '--cap-add'));
    const clear = g.findIndex((x) => x[0] === '--clearenv');
    const firstSetenv = g.findIndex((x) => x[0] === '--setenv');
    assert.ok(clear >= 0 && clear < firstSetenv);
  });

  it('remounts / read-only after every mount, right before --', () => {
    const argv = buildBwrapArgs(SPEC);
    const g = groups(argv);
    const last = g.at(-1)!;
    assert.deepEqual(last, ['--remount-ro', '/']);
    assert.equal(argv[argv.indexOf('--') - 2], '--remount-ro');
    const lastMount = g.findLastIndex((x) => MOUNT_FLAGS.has(x[0]!));
    assert.ok(lastMount < g.length - 1);
  });

  it('binds the workspace as the only writable mount; everything else is read-only', () => {
    const g = groups(buildBwrapArgs(SPEC));
    const writable = g.filter((x) => x[0] === '--bind' || x[0] === '--dev-bind' || x[0] === '--bind-try');
    assert.deepEqual(writable, [['--bind', '/tmp/ws-1', SANDBOX_WORKSPACE]]);
    const roTargets = g.filter((x) => x[0] === '--ro-bind').map((x) => x[2]);
    assert.deepEqual(roTargets, ['/usr', '/opt/node', '/etc/ld.so.cache', '/etc/passwd', '/run/codemode']);
  });

  it('caps /tmp and /dev/shm with --size', () => {
    const g = groups(buildBwrapArgs({ ...SPEC, tmpBytes: 12345 }));
    for (const dir of ['/tmp', '/dev/shm']) {
      const i = g.findIndex((x) => x[0] === '--tmpfs' && x[1] === dir);
      assert.ok(i > 0, dir);
      assert.deepEqual(g[i - 1], ['--size', '12345'], `${dir} is size-capped`);
    }
  });

  it('passes the user argv verbatim after --, even when it looks like bwrap flags', () => {
    const argv = buildBwrapArgs({ ...SPEC, argv: ['/bin/sh', '--bind', '/', '/'] });
    assert.deepEqual(argv.slice(argv.indexOf('--') + 1), ['/bin/sh', '--bind', '/', '/']);
  });

  it('omits --seccomp when there is no filter', () => {
    assert.ok(!buildBwrapArgs({ ...SPEC, seccompFd: null }).includes('--seccomp'));
  });

  it('lets the caller env override BASE_ENV values but emits each key once', () => {
    const g = groups(buildBwrapArgs(SPEC)).filter((x) => x[0] === '--setenv');
    const keys = g.map((x) => x[1]);
    assert.equal(new Set(keys).size, keys.length);
    assert.deepEqual(
      g.find((x) => x[1] === 'LANG'),
      ['--setenv', 'LANG', 'en_US.UTF-8'],
    );
    for (const key of Object.keys(BASE_ENV)) assert.ok(keys.includes(key), key);
  });
});

describe('no host details in /proc', () => {
  it('/proc/cmdline: binds the given file over it, right after mounting /proc', () => {
    const argv = buildBwrapArgs({ ...SPEC, procCmdline: '/state/proc-cmdline' });
    const g = groups(argv);
    const proc = g.findIndex((x) => x[0] === '--proc');
    assert.deepEqual(g[proc + 1], ['--ro-bind', '/state/proc-cmdline', '/proc/cmdline']);
  });

  it('/proc/cmdline: left alone when no file is given', () => {
    assert.ok(!buildBwrapArgs(SPEC).includes('/proc/cmdline'));
    assert.ok(!buildBwrapArgs({ ...SPEC, procCmdline: null }).includes('/proc/cmdline'));
  });

  it("/proc/1/cmdline: with --args FD, bwrap's argv holds only the program, and no host path", () => {
    const spec = { ...SPEC, procCmdline: '/state/proc-cmdline' };
    const { argv, argsData } = buildBwrapArgsViaFd(spec, 7);
    assert.deepEqual(argv, ['--args', '7', '--', ...SPEC.argv]);
    for (const host of [SPEC.workspaceDir, '/tmp/code-1', '/state/etc/passwd', '/state/proc-cmdline']) {
      assert.ok(!argv.join(' ').includes(host), host);
      assert.ok(argsData.includes(host), host);
    }
  });

  it('--args data: every option of the plain argv, each ending in NUL, in order', () => {
    const { argsData } = buildBwrapArgsViaFd(SPEC, 7);
    assert.ok(argsData.endsWith('\0'));
    assert.deepEqual(argsData.slice(0, -1).split('\0'), buildBwrapOptions(SPEC));
    assert.deepEqual([...buildBwrapOptions(SPEC), '--', ...SPEC.argv], buildBwrapArgs(SPEC));
  });

  it('--args data: refuses a value with a NUL byte (it would smuggle in options of its own)', () => {
    const env = { X: 'a\0--bind\0/\0/host' };
    assert.throws(() => buildBwrapArgsViaFd({ ...SPEC, env }, 7), { code: 'INVALID_ARGUMENT' });
  });
});
