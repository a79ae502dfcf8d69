/**
 * A seccomp-bpf filter (classic BPF, as bwrap's --seccomp takes it) that denies
 * the syscalls a sandboxed program never needs and that widen the kernel's
 * attack surface: ptrace, mounts, new namespaces, keyrings, bpf, module
 * loading, and the like. Pure: returns the program's bytes.
 */

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const OFFSET_ARG0_LOW = 16;
/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME */
const CLONE_NAMESPACE_FLAGS =
  0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080;

interface ArchTable {
  auditArch: number;
  /** Syscalls answered with EPERM. */
  deny: Record<string, number>;
  clone: number;
  clone3: number;
  /** x86_64's x32 ABI sets this bit in the syscall number; deny it wholesale. */
  x32Bit?: number;
}

/** Syscalls numbered alike on every architecture (424 and up). */
const COMMON_NEW = {
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  mount_setattr: 442,
};

export const ARCHES: Record<'x64' | 'arm64', ArchTable> = {
  x64: {
    auditArch: 0xc000003e,
    clone: 56,
    clone3: 435,
    x32Bit: 0x40000000,
    deny: {
      ptrace: 101,
      mount: 165,
      umount2: 166,
      pivot_root: 155,
      chroot: 161,
      unshare: 272,
      setns: 308,
      keyctl: 250,
      add_key: 248,
      request_key: 249,
      bpf: 321,
      userfaultfd: 323,
      perf_event_open: 298,
      kexec_load: 246,
      kexec_file_load: 320,
      init_module: 175,
      finit_module: 313,
      delete_module: 176,
      acct: 163,
      swapon: 167,
      swapoff: 168,
      reboot: 169,
      open_by_handle_at: 304,
      name_to_handle_at: 303,
      iopl: 172,
      ioperm: 173,
      process_vm_readv: 310,
      process_vm_writev: 311,
      ...COMMON_NEW,
    },
  },
  arm64: {
    auditArch: 0xc00000b7,
    clone: 220,
    clone3: 435,
    deny: {
      ptrace: 117,
      mount: 40,
      umount2: 39,
      pivot_root: 41,
      chroot: 51,
      unshare: 97,
      setns: 268,
      keyctl: 219,
      add_key: 217,
      request_key: 218,
      bpf: 280,
      userfaultfd: 282,
      perf_event_open: 241,
      kexec_load: 104,
      kexec_file_load: 294,
      init_module: 105,
      finit_module: 273,
      delete_module: 106,
      acct: 89,
      swapon: 224,
      swapoff: 225,
      reboot: 142,
      open_by_handle_at: 265,
      name_to_handle_at: 264,
      process_vm_readv: 270,
      process_vm_writev: 271,
      ...COMMON_NEW,
    },
  },
};

type Insn = [code: number, jt: number, jf: number, k: number];

/** The filter for one architecture, or null where we have no table (then no filter is applied). */
export function buildSeccompFilter(arch: string = process.arch): Buffer | null {
  const table = ARCHES[arch as keyof typeof ARCHES];
  if (!table) return null;
  const denied = Object.values(table.deny);
  const prog: Insn[] = [];
  const errno = (e: number): Insn => [RET_K, 0, 0, RET_ERRNO | e];

  prog.push([LD_W_ABS, 0, 0, OFFSET_ARCH]);
  // Wrong architecture (e.g. 32-bit syscalls on x86_64): deny everything.
  prog.push([JEQ_K, 1, 0, table.auditArch]);
  prog.push(errno(EPERM));
  prog.push([LD_W_ABS, 0, 0, OFFSET_NR]);
  if (table.x32Bit) {
    prog.push([JGE_K, 0, 1, table.x32Bit]);
    prog.push(errno(EPERM));
  }
  // clone3 hides its flags in memory we cannot inspect: ENOSYS makes libc fall back to clone.
  prog.push([JEQ_K, 0, 1, table.clone3]);
  prog.push(errno(ENOSYS));
  // clone with any namespace flag: EPERM; without one (fork, threads): allow.
  prog.push([JEQ_K, 0, 4, table.clone]);
  prog.push([LD_W_ABS, 0, 0, OFFSET_ARG0_LOW]);
  prog.push([JSET_K, 0, 1, CLONE_NAMESPACE_FLAGS]);
  prog.push(errno(EPERM));
  prog.push([RET_K, 0, 0, RET_ALLOW]);
  for (const nr of denied) {
    prog.push([JEQ_K, 0, 1, nr]);
    prog.push(errno(EPERM));
  }
  prog.push([RET_K, 0, 0, RET_ALLOW]);

  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach(([code, jt, jf, k], i) => {
    buf.writeUInt16LE(code, i * 8);
    buf.writeUInt8(jt, i * 8 + 2);
    buf.writeUInt8(jf, i * 8 + 3);
    buf.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return buf;
}
