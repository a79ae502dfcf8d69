import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALLOW, ARCHES, DENY, buildSeccompFilter, syscallNumber } from './seccomp.js';
import type { SyscallName } from './syscall-numbers.js';

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const AUDIT_ARCH_I386 = 0x40000003;
const ALLOW_RET = 0x7fff0000;
const ERRNO_EPERM = 0x00050001;
const ERRNO_ENOSYS = 0x00050026;
const ERRNO_EAFNOSUPPORT = 0x00050061;
const BPF_MAXINSNS = 4096;

interface SeccompData {
  nr: number;
  arch: number;
  /** Syscall arguments (only the low 32 bits are modelled). */
  args?: number[];
}

/** struct seccomp_data as the kernel lays it out (little-endian): nr, arch, ip (u64), args[6] (u64). */
function seccompData({ nr, arch, args = [] }: SeccompData): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(nr >>> 0, 0);
  b.writeUInt32LE(arch >>> 0, 4);
  args.forEach((a, i) => b.writeUInt32LE(a >>> 0, 16 + i * 8));
  return b;
}

/**
 * A classic-BPF interpreter for the opcodes the filter uses (LD W ABS, JA,
 * JEQ K, JGE K, JSET K, RET K). Anything else fails the test, as does running
 * off the end or jumping backwards.
 */
function runFilter(prog: Buffer, data: Buffer): number {
  const n = prog.length / 8;
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps <= n; steps++) {
    assert.ok(pc < n, `pc ${pc} ran off the end of a ${n}-instruction program`);
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    switch (code) {
      case 0x20: // BPF_LD | BPF_W | BPF_ABS
        assert.ok(k % 4 === 0 && k + 4 <= data.length, `aligned in-bounds load at ${k}`);
        a = data.readUInt32LE(k);
        pc++;
        break;
      case 0x05: // BPF_JMP | BPF_JA
        pc += 1 + k;
        break;
      case 0x15: // BPF_JMP | BPF_JEQ | BPF_K
        pc += 1 + (a === k ? jt : jf);
        break;
      case 0x35: // BPF_JMP | BPF_JGE | BPF_K
        pc += 1 + (a >= k ? jt : jf);
        break;
      case 0x45: // BPF_JMP | BPF_JSET | BPF_K
        pc += 1 + ((a & k) >>> 0 !== 0 ? jt : jf);
        break;
      case 0x06: // BPF_RET | BPF_K
        return k;
      default:
        assert.fail(`unexpected opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  return assert.fail('the program did not terminate');
}

function x64(nr: number, args?: number[], arch = AUDIT_ARCH_X86_64): number {
  return runFilter(buildSeccompFilter('x64')!, seccompData({ nr, arch, args: args ?? [] }));
}
function arm64(nr: number, args?: number[], arch = AUDIT_ARCH_AARCH64): number {
  return runFilter(buildSeccompFilter('arm64')!, seccompData({ nr, arch, args: args ?? [] }));
}

describe('buildSeccompFilter: program shape', () => {
  for (const arch of ['x64', 'arm64'] as const) {
    it(`${arch}: is whole 8-byte sock_filter instructions, at most ${BPF_MAXINSNS}, and first loads the arch`, () => {
      const prog = buildSeccompFilter(arch);
      assert.ok(prog);
      assert.equal(prog.length % 8, 0);
      assert.ok(prog.length / 8 > 0 && prog.length / 8 <= BPF_MAXINSNS);
      assert.equal(prog.readUInt16LE(0), 0x20, 'LD W ABS');
      assert.equal(prog.readUInt32LE(4), 4, 'offsetof(struct seccomp_data, arch)');
      assert.equal(prog.readUInt16LE(8), 0x15, 'then JEQ on the arch');
      assert.equal(prog.readUInt32LE(12), ARCHES[arch].auditArch);
    });
  }

  it('has no filter for an architecture without a table', () => {
    assert.equal(buildSeccompFilter('ia32'), null);
    assert.equal(buildSeccompFilter('riscv64'), null);
  });

  it('defaults to the running architecture', () => {
    const own = buildSeccompFilter();
    if (process.arch === 'x64' || process.arch === 'arm64') assert.deepEqual(own, buildSeccompFilter(process.arch));
    else assert.equal(own, null);
  });
});

type Arch = 'x64' | 'arm64';
const AUDIT = { x64: AUDIT_ARCH_X86_64, arm64: AUDIT_ARCH_AARCH64 };
const FILTERS = { x64: buildSeccompFilter('x64')!, arm64: buildSeccompFilter('arm64')! };
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const AF_PACKET = 17;
const AF_ALG = 38;
const AF_VSOCK = 40;
const NETLINK_ROUTE = 0;
const NETLINK_AUDIT = 9;
const NETLINK_KOBJECT_UEVENT = 15;
const NETLINK_NETFILTER = 12;
const READ_IMPLIES_EXEC = 0x0400000;
const ADDR_NO_RANDOMIZE = 0x0040000;

/** The filter's answer to a named call on an architecture. */
function decide(arch: Arch, name: SyscallName, args: number[] = []): number {
  const nr = syscallNumber(arch, name);
  assert.notEqual(nr, null, `${name} has a number on ${arch}`);
  return runFilter(FILTERS[arch], seccompData({ nr: nr!, arch: AUDIT[arch], args }));
}
function decideNr(arch: Arch, nr: number): number {
  return runFilter(FILTERS[arch], seccompData({ nr, arch: AUDIT[arch] }));
}

for (const arch of ['x64', 'arm64'] as const) {
  describe(`seccomp allow-list (${arch})`, () => {
    it('allows ordinary calls: read, write, openat, close, mmap, execve, exit_group, futex, getrandom, statx', () => {
      const names: SyscallName[] = ['read', 'write', 'openat', 'close', 'mmap', 'execve', 'exit_group', 'futex'];
      for (const name of [...names, 'getrandom', 'statx', 'epoll_pwait2', 'close_range', 'faccessat2'] as const)
        assert.equal(decide(arch, name), ALLOW_RET, name);
    });
    it('allows every call in the allow-list that the architecture has', () => {
      for (const name of Object.values(ALLOW).flat()) {
        if (syscallNumber(arch, name) !== null) assert.equal(decide(arch, name), ALLOW_RET, name);
      }
    });
    it('denies every call in the deny list with EPERM', () => {
      for (const name of DENY) {
        if (syscallNumber(arch, name) !== null) assert.equal(decide(arch, name), ERRNO_EPERM, name);
      }
    });
    it('allows exactly the allow-list: every other number up to 1024 is denied', () => {
      const allowed = new Set(
        Object.values(ALLOW)
          .flat()
          .map((n) => syscallNumber(arch, n))
          .filter((n) => n !== null),
      );
      // With all-zero arguments: clone(0) is a plain fork, personality(0) sets PER_LINUX.
      allowed.add(syscallNumber(arch, 'clone')!);
      allowed.add(syscallNumber(arch, 'personality')!);
      for (let nr = 0; nr <= 1024; nr++) {
        const answer = decideNr(arch, nr);
        if (allowed.has(nr)) assert.equal(answer, ALLOW_RET, `nr ${nr}`);
        else assert.notEqual(answer, ALLOW_RET, `nr ${nr} must not be allowed`);
      }
    });
    it('io_uring: io_uring_setup, io_uring_enter and io_uring_register are denied', () => {
      for (const name of ['io_uring_setup', 'io_uring_enter', 'io_uring_register'] as const)
        assert.equal(decide(arch, name), ERRNO_EPERM, name);
    });
    it('memfd_secret, listmount and statmount are denied', () => {
      for (const name of ['memfd_secret', 'listmount', 'statmount'] as const)
        assert.equal(decide(arch, name), ERRNO_EPERM, name);
    });
    it('ptrace, process_vm_readv and pidfd_getfd (reaching another process) are denied', () => {
      for (const name of ['ptrace', 'process_vm_readv', 'pidfd_getfd'] as const)
        assert.equal(decide(arch, name), ERRNO_EPERM, name);
    });
    it('unshare, setns, mount and the new mount API are denied', () => {
      for (const name of ['unshare', 'setns', 'mount', 'umount2', 'fsopen', 'open_tree', 'mount_setattr'] as const)
        assert.equal(decide(arch, name), ERRNO_EPERM, name);
    });
    it('bpf, userfaultfd, perf_event_open and keyctl are denied', () => {
      for (const name of ['bpf', 'userfaultfd', 'perf_event_open', 'keyctl'] as const)
        assert.equal(decide(arch, name), ERRNO_EPERM, name);
    });
    it('personality: only the query (0xffffffff) and PER_LINUX (0) are allowed', () => {
      assert.equal(decide(arch, 'personality', [0xffffffff]), ALLOW_RET);
      assert.equal(decide(arch, 'personality', [0]), ALLOW_RET);
      assert.equal(decide(arch, 'personality', [READ_IMPLIES_EXEC]), ERRNO_EPERM);
      assert.equal(decide(arch, 'personality', [ADDR_NO_RANDOMIZE]), ERRNO_EPERM);
    });
    it('vsock: socket(AF_VSOCK) is denied with EAFNOSUPPORT', () =>
      assert.equal(decide(arch, 'socket', [AF_VSOCK, 1, 0]), ERRNO_EAFNOSUPPORT));
    it('socket families: AF_PACKET, AF_ALG and AF_UNSPEC are denied', () => {
      for (const family of [AF_PACKET, AF_ALG, 0, 44 /* AF_XDP */])
        assert.equal(decide(arch, 'socket', [family, 3, 0]), ERRNO_EAFNOSUPPORT, String(family));
    });
    it('socket families: AF_UNIX, AF_INET and AF_INET6 are allowed', () => {
      for (const family of [AF_UNIX, AF_INET, AF_INET6])
        assert.equal(decide(arch, 'socket', [family, 1, 0]), ALLOW_RET, String(family));
    });
    it('netlink: only NETLINK_ROUTE (getifaddrs, os.networkInterfaces) is allowed; audit, uevent, netfilter are denied', () => {
      assert.equal(decide(arch, 'socket', [AF_NETLINK, 3, NETLINK_ROUTE]), ALLOW_RET);
      for (const protocol of [NETLINK_AUDIT, NETLINK_KOBJECT_UEVENT, NETLINK_NETFILTER])
        assert.equal(decide(arch, 'socket', [AF_NETLINK, 3, protocol]), ERRNO_EAFNOSUPPORT, String(protocol));
    });
    it('socketpair is allowed for AF_UNIX only', () => {
      assert.equal(decide(arch, 'socketpair', [AF_UNIX, 1, 0]), ALLOW_RET);
      for (const family of [AF_INET, AF_VSOCK, AF_NETLINK])
        assert.equal(decide(arch, 'socketpair', [family, 1, 0]), ERRNO_EAFNOSUPPORT, String(family));
    });
    it('clone: fork and threads are allowed; any namespace flag is denied', () => {
      assert.equal(decide(arch, 'clone', [0x01200011]), ALLOW_RET);
      assert.equal(decide(arch, 'clone', [0x003d0f00]), ALLOW_RET);
      for (const flag of [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x80])
        assert.equal(decide(arch, 'clone', [0x01200011 | flag]), ERRNO_EPERM, `0x${flag.toString(16)}`);
    });
    it('clone3 answers ENOSYS so glibc falls back to clone', () => assert.equal(decide(arch, 'clone3'), ERRNO_ENOSYS));
    it('an unknown or future syscall number answers ENOSYS (the fallback path of an older kernel)', () => {
      for (const nr of [499, 1000, 4095, 0x3fffffff]) assert.equal(decideNr(arch, nr), ERRNO_ENOSYS, String(nr));
    });
  });
}

describe('seccomp filter: architecture checks', () => {
  it('x64: modify_ldt, iopl and ioperm are denied', () => {
    for (const name of ['modify_ldt', 'iopl', 'ioperm'] as const) assert.equal(decide('x64', name), ERRNO_EPERM, name);
  });
  it('x64: denies x32 ABI syscalls wholesale', () => {
    assert.equal(x64(0x40000000 | 1), ERRNO_EPERM);
    assert.equal(x64(0x40000000 | 0), ERRNO_EPERM);
    assert.equal(x64(0xffffffff), ERRNO_EPERM);
  });
  it('x64: denies every syscall from a wrong architecture (i386 read)', () =>
    assert.equal(x64(3, [], AUDIT_ARCH_I386), ERRNO_EPERM));
  it('x64: ptrace(101) is denied; on arm64 101 is nanosleep and is allowed', () => {
    assert.equal(x64(101), ERRNO_EPERM);
    assert.equal(arm64(101), ALLOW_RET);
  });
  it('arm64: denies a wrong architecture (x86_64 data on the arm64 filter)', () =>
    assert.equal(arm64(63, [], AUDIT_ARCH_X86_64), ERRNO_EPERM));
  it('arm64: has no x32 rule; a large syscall number is unknown (ENOSYS)', () =>
    assert.equal(arm64(0x40000001), ERRNO_ENOSYS));
  it('arm64: the legacy calls x86_64 keeps (open, fork, stat) have no number there', () => {
    for (const name of ['open', 'fork', 'stat', 'modify_ldt'] as const)
      assert.equal(syscallNumber('arm64', name), null);
  });
  it('no call is both allowed and denied', () => {
    const allowed = new Set<string>(Object.values(ALLOW).flat());
    for (const name of DENY) assert.ok(!allowed.has(name), name);
  });
});
