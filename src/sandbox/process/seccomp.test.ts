import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ARCHES, buildSeccompFilter } from './seccomp.js';

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const AUDIT_ARCH_I386 = 0x40000003;
const ALLOW = 0x7fff0000;
const ERRNO_EPERM = 0x00050001;
const ERRNO_ENOSYS = 0x00050026;
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
 * A classic-BPF interpreter for the opcodes the filter uses (LD W ABS, JEQ K,
 * JGE K, JSET K, RET K). Anything else fails the test, as does running off the end.
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

describe('seccomp filter decisions (x86_64)', () => {
  it('denies ptrace with EPERM', () => assert.equal(x64(101), ERRNO_EPERM));
  it('allows read', () => assert.equal(x64(0), ALLOW));
  it('allows write, openat, execve, exit_group', () => {
    for (const nr of [1, 257, 59, 231]) assert.equal(x64(nr), ALLOW, String(nr));
  });
  it('allows clone for fork (SIGCHLD|CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID)', () =>
    assert.equal(x64(56, [0x01200011]), ALLOW));
  it('allows clone for a thread (CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|...)', () =>
    assert.equal(x64(56, [0x003d0f00]), ALLOW));
  it('blocks creating a user namespace with clone(CLONE_NEWUSER)', () =>
    assert.equal(x64(56, [0x01200011 | 0x10000000]), ERRNO_EPERM));
  it('blocks every namespace flag on clone', () => {
    for (const flag of [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x80]) {
      assert.equal(x64(56, [flag]), ERRNO_EPERM, `0x${flag.toString(16)}`);
    }
  });
  it('answers clone3 with ENOSYS so libc falls back to clone', () => assert.equal(x64(435), ERRNO_ENOSYS));
  it('denies x32 ABI syscalls wholesale', () => {
    assert.equal(x64(0x40000000 | 1), ERRNO_EPERM);
    assert.equal(x64(0x40000000 | 0), ERRNO_EPERM);
  });
  it('denies every syscall from a wrong architecture (i386 read)', () =>
    assert.equal(x64(3, [], AUDIT_ARCH_I386), ERRNO_EPERM));
  it('denies every syscall in the deny table', () => {
    for (const [name, nr] of Object.entries(ARCHES.x64.deny)) assert.equal(x64(nr), ERRNO_EPERM, name);
  });
  it('denies mount, unshare, setns, bpf, keyctl, and the new mount API', () => {
    for (const nr of [165, 272, 308, 321, 250, 428, 429, 430, 431, 432, 433, 442]) {
      assert.equal(x64(nr), ERRNO_EPERM, String(nr));
    }
  });
});

describe('seccomp filter decisions (arm64)', () => {
  it('denies ptrace(117) with EPERM', () => assert.equal(arm64(117), ERRNO_EPERM));
  it('allows read(63)', () => assert.equal(arm64(63), ALLOW));
  it('allows clone(220) for fork and blocks it with CLONE_NEWUSER', () => {
    assert.equal(arm64(220, [0x01200011]), ALLOW);
    assert.equal(arm64(220, [0x10000000]), ERRNO_EPERM);
  });
  it('answers clone3 with ENOSYS', () => assert.equal(arm64(435), ERRNO_ENOSYS));
  it('denies a wrong architecture (x86_64 data on the arm64 filter)', () =>
    assert.equal(arm64(63, [], AUDIT_ARCH_X86_64), ERRNO_EPERM));
  it('has no x32 rule: a large syscall number is allowed on arm64', () => assert.equal(arm64(0x40000001), ALLOW));
  it('denies every syscall in the deny table', () => {
    for (const [name, nr] of Object.entries(ARCHES.arm64.deny)) assert.equal(arm64(nr), ERRNO_EPERM, name);
  });
  it('allows nanosleep(101) on arm64, though 101 is ptrace on x86_64', () => assert.equal(arm64(101), ALLOW));
});
