/**
 * An allow-list seccomp-bpf filter (classic BPF, as bwrap's --seccomp takes it)
 * for x86_64 and arm64. Pure: returns the program's bytes.
 *
 * What is allowed: the calls ordinary Python 3 (with numpy, pandas,
 * matplotlib), Node 20 (worker threads, child_process, fs, zlib, crypto, http
 * on loopback) and bash with coreutils make. The list was derived by running
 * probes of each language under `strace -f` inside and outside the sandbox,
 * then widened by hand with the siblings of what was seen (the *at and vector
 * variants, pidfd_open, epoll_pwait2, close_range, futex2, ...) so that a
 * newer libc or runtime keeps working. Grouped below by purpose.
 *
 * Answers:
 * - a call in ALLOW: allowed;
 * - a call in DENY (known and refused: ptrace, mounts, namespaces, keyrings,
 *   bpf, io_uring, modify_ldt, memfd_secret, listmount, ...): EPERM;
 * - every other number, including calls newer than this table: ENOSYS, so libc
 *   and runtimes take the fallback they have for an older kernel (as runc does);
 * - argument checks (low 32 bits of the argument, which is the whole value for
 *   these int arguments):
 *   - clone with any namespace flag: EPERM; clone3: ENOSYS (its flags sit in
 *     memory a filter cannot read), so glibc falls back to clone;
 *   - socket only for AF_UNIX, AF_INET, AF_INET6, and AF_NETLINK with
 *     NETLINK_ROUTE (glibc's getifaddrs and getaddrinfo(AI_ADDRCONFIG), Node's
 *     os.networkInterfaces; it sees only the sandbox's own network namespace);
 *     socketpair only for AF_UNIX; any other family (AF_VSOCK, AF_PACKET,
 *     AF_ALG, other netlink protocols, ...): EAFNOSUPPORT, as from a kernel
 *     without it;
 *   - personality only to query (0xffffffff) or set PER_LINUX (0): EPERM
 *     otherwise (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, ...);
 * - a wrong architecture (i386 calls on x86_64) and x86_64's x32 ABI: EPERM.
 */
import { SYSCALL_NUMBERS, type SyscallName } from './syscall-numbers.js';

const LD_W_ABS = 0x20;
const JA = 0x05;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;
const EAFNOSUPPORT = 97;
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
/** Low 32 bits of args[i] in struct seccomp_data (little-endian). */
const argLow = (i: number): number => 16 + 8 * i;
/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME */
const CLONE_NAMESPACE_FLAGS =
  0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;
const PERSONALITY_QUERY = 0xffffffff;
const PER_LINUX = 0;

/** Allowed without conditions, by purpose. Legacy names absent on arm64 are skipped there. */
// prettier-ignore
export const ALLOW: Readonly<Record<string, readonly SyscallName[]>> = {
  fileIo: [
    'read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2',
    'lseek', 'close', 'close_range', 'dup', 'dup2', 'dup3', 'fcntl', 'ioctl', 'flock', 'fsync', 'fdatasync',
    'sync', 'syncfs', 'sync_file_range', 'fadvise64', 'fallocate', 'ftruncate', 'truncate', 'sendfile',
    'copy_file_range', 'splice', 'tee',
  ],
  paths: [
    'open', 'openat', 'openat2', 'creat', 'stat', 'fstat', 'lstat', 'newfstatat', 'statx', 'statfs', 'fstatfs',
    'access', 'faccessat', 'faccessat2', 'readlink', 'readlinkat', 'getdents', 'getdents64', 'getcwd', 'chdir',
    'fchdir', 'mkdir', 'mkdirat', 'rmdir', 'unlink', 'unlinkat', 'rename', 'renameat', 'renameat2', 'link',
    'linkat', 'symlink', 'symlinkat', 'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'fchown', 'lchown',
    'fchownat', 'umask', 'utime', 'utimes', 'futimesat', 'utimensat', 'mknod', 'mknodat',
    'getxattr', 'lgetxattr', 'fgetxattr', 'listxattr', 'llistxattr', 'flistxattr', 'setxattr', 'lsetxattr',
    'fsetxattr', 'removexattr', 'lremovexattr', 'fremovexattr',
    'inotify_init', 'inotify_init1', 'inotify_add_watch', 'inotify_rm_watch',
  ],
  memory: [
    'brk', 'mmap', 'munmap', 'mprotect', 'mremap', 'madvise', 'msync', 'mincore', 'mlock', 'munlock', 'mlock2',
    'mlockall', 'munlockall', 'membarrier', 'get_mempolicy', 'set_mempolicy', 'mbind', 'pkey_alloc', 'pkey_free',
    'pkey_mprotect', 'memfd_create', 'mseal', 'map_shadow_stack',
  ],
  /** System V IPC: private to the sandbox's IPC namespace. */
  sysvIpc: [
    'shmget', 'shmat', 'shmdt', 'shmctl', 'semget', 'semop', 'semtimedop', 'semctl',
    'msgget', 'msgsnd', 'msgrcv', 'msgctl',
  ],
  processes: [
    'fork', 'vfork', 'execve', 'execveat', 'exit', 'exit_group', 'wait4', 'waitid', 'kill', 'tkill', 'tgkill',
    'getpid', 'getppid', 'gettid', 'getuid', 'geteuid', 'getgid', 'getegid', 'getresuid', 'getresgid',
    'getgroups', 'getpgid', 'getpgrp', 'setpgid', 'getsid', 'setsid', 'prctl', 'arch_prctl', 'set_tid_address',
    'set_robust_list', 'rseq', 'capget', 'sched_yield', 'sched_getaffinity', 'sched_setaffinity',
    'sched_getparam', 'sched_getscheduler', 'sched_getattr', 'sched_get_priority_max', 'sched_get_priority_min',
    'sched_rr_get_interval', 'getpriority', 'setpriority', 'getrlimit', 'setrlimit', 'prlimit64', 'getrusage',
    'times', 'sysinfo', 'uname', 'getcpu', 'pidfd_open', 'pidfd_send_signal',
  ],
  signalsAndTimers: [
    'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigsuspend', 'rt_sigpending', 'rt_sigtimedwait',
    'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'sigaltstack', 'signalfd', 'signalfd4', 'pause', 'alarm',
    'setitimer', 'getitimer', 'timer_create', 'timer_settime', 'timer_gettime', 'timer_getoverrun',
    'timer_delete', 'timerfd_create', 'timerfd_settime', 'timerfd_gettime', 'restart_syscall',
    'clock_gettime', 'clock_getres', 'clock_nanosleep', 'nanosleep', 'gettimeofday', 'time',
    'futex', 'futex_waitv', 'futex_wake', 'futex_wait', 'futex_requeue',
  ],
  polling: [
    'poll', 'ppoll', 'select', 'pselect6', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_wait',
    'epoll_pwait', 'epoll_pwait2', 'eventfd', 'eventfd2', 'pipe', 'pipe2',
  ],
  /** Socket calls on an existing socket; creating one is checked (see socket, socketpair). */
  sockets: [
    'bind', 'listen', 'accept', 'accept4', 'connect', 'getsockname', 'getpeername', 'sendto', 'recvfrom',
    'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'shutdown', 'setsockopt', 'getsockopt',
  ],
  random: ['getrandom'],
};

/** Known calls refused with EPERM: they reach other processes, the host's mounts, namespaces, or wide kernel surface. */
// prettier-ignore
export const DENY: readonly SyscallName[] = [
  // other processes' memory and files
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd', 'process_madvise', 'kcmp',
  // mounts and namespaces
  'mount', 'umount2', 'pivot_root', 'chroot', 'unshare', 'setns', 'open_tree', 'move_mount', 'fsopen',
  'fsconfig', 'fsmount', 'fspick', 'mount_setattr', 'listmount', 'statmount', 'name_to_handle_at',
  'open_by_handle_at',
  // kernel surface with a record of exploits
  'keyctl', 'add_key', 'request_key', 'bpf', 'userfaultfd', 'perf_event_open', 'io_uring_setup',
  'io_uring_enter', 'io_uring_register', 'modify_ldt', 'memfd_secret',
  // the machine itself
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'acct', 'swapon', 'swapoff',
  'reboot', 'iopl', 'ioperm', 'quotactl', 'syslog',
];

interface ArchTable {
  auditArch: number;
  /** Index into SYSCALL_NUMBERS' pairs. */
  column: 0 | 1;
  /** x86_64's x32 ABI sets this bit in the syscall number; deny it wholesale. */
  x32Bit?: number;
}

export const ARCHES: Record<'x64' | 'arm64', ArchTable> = {
  x64: { auditArch: 0xc000003e, column: 0, x32Bit: 0x40000000 },
  arm64: { auditArch: 0xc00000b7, column: 1 },
};

/** The syscall number on an architecture, or null where it has none. */
export function syscallNumber(arch: keyof typeof ARCHES, name: SyscallName): number | null {
  return SYSCALL_NUMBERS[name][ARCHES[arch].column];
}

type Insn = [code: number, jt: number, jf: number, k: number];
/** A jump target inside a block: a return, or an instruction index counted from the block's start. */
type Target = 'allow' | 'deny' | number;
type BlockInsn = [code: number, jt: Target, jf: Target, k: number];

const ret = (value: number): Insn => [RET_K, 0, 0, value >>> 0];
const errno = (e: number): number => RET_ERRNO | e;

/**
 * A leaf of the decision tree: straight-line code ending in returns. Jumps name
 * 'allow' or 'deny' (two returns appended at the end) or a local index.
 */
function block(insns: BlockInsn[], deny: number): Insn[] {
  const allowAt = insns.length;
  const denyAt = insns.length + 1;
  const at = (t: Target): number => (t === 'allow' ? allowAt : t === 'deny' ? denyAt : t);
  const out: Insn[] = insns.map(([code, jt, jf, k], i) => {
    if (code === RET_K || code === LD_W_ABS) return [code, 0, 0, k];
    return [code, at(jt) - i - 1, at(jf) - i - 1, k];
  });
  out.push(ret(RET_ALLOW), ret(deny));
  return out;
}

/** The argument checks, keyed by call. Each leaves A clobbered and always returns. */
const ARG_RULES: Partial<Record<SyscallName, () => Insn[]>> = {
  clone: () =>
    block(
      [
        [LD_W_ABS, 0, 0, argLow(0)],
        [JSET_K, 'deny', 'allow', CLONE_NAMESPACE_FLAGS],
      ],
      errno(EPERM),
    ),
  clone3: () => [ret(errno(ENOSYS))],
  socket: () =>
    block(
      [
        [LD_W_ABS, 0, 0, argLow(0)],
        [JEQ_K, 'allow', 2, AF_UNIX],
        [JEQ_K, 'allow', 3, AF_INET],
        [JEQ_K, 'allow', 4, AF_INET6],
        [JEQ_K, 5, 'deny', AF_NETLINK],
        [LD_W_ABS, 0, 0, argLow(2)],
        [JEQ_K, 'allow', 'deny', NETLINK_ROUTE],
      ],
      errno(EAFNOSUPPORT),
    ),
  socketpair: () =>
    block(
      [
        [LD_W_ABS, 0, 0, argLow(0)],
        [JEQ_K, 'allow', 'deny', AF_UNIX],
      ],
      errno(EAFNOSUPPORT),
    ),
  personality: () =>
    block(
      [
        [LD_W_ABS, 0, 0, argLow(0)],
        [JEQ_K, 'allow', 2, PERSONALITY_QUERY],
        [JEQ_K, 'allow', 'deny', PER_LINUX],
      ],
      errno(EPERM),
    ),
};

/** A run of syscall numbers [start, next range's start) that get the same code. */
interface Range {
  start: number;
  code: Insn[];
}

/** The numbered decisions for one architecture, as sorted ranges covering 0..2^32-1 (default ENOSYS). */
function decisionRanges(arch: keyof typeof ARCHES): Range[] {
  const decisions = new Map<number, { key: string; code: () => Insn[] }>();
  const put = (name: SyscallName, key: string, code: () => Insn[]): void => {
    const nr = syscallNumber(arch, name);
    if (nr === null) return;
    if (decisions.has(nr)) throw new Error(`seccomp: ${name} (${nr}) has two decisions on ${arch}`);
    decisions.set(nr, { key, code });
  };
  for (const name of Object.values(ALLOW).flat()) put(name, 'allow', () => [ret(RET_ALLOW)]);
  for (const name of DENY) put(name, 'deny', () => [ret(errno(EPERM))]);
  for (const [name, rule] of Object.entries(ARG_RULES)) put(name as SyscallName, `arg:${name}`, rule);

  const ranges: Range[] = [];
  let lastKey: string | null = null;
  const unknown = { key: 'unknown', code: () => [ret(errno(ENOSYS))] };
  const numbers = [...decisions.keys()].sort((a, b) => a - b);
  const push = (start: number, d: { key: string; code: () => Insn[] }): void => {
    // Neighbouring numbers with the same constant answer share one range; argument rules never merge.
    if (d.key === lastKey && !d.key.startsWith('arg:')) return;
    ranges.push({ start, code: d.code() });
    lastKey = d.key;
  };
  let expected = 0;
  for (const nr of numbers) {
    if (nr !== expected) push(expected, unknown);
    push(nr, decisions.get(nr)!);
    expected = nr + 1;
  }
  push(expected, unknown);
  return ranges;
}

/**
 * A binary search over the ranges, with the syscall number in A. Each node is
 * JGE start (true: the upper half, which follows; false: JA over it to the
 * lower half). JA's 32-bit offset keeps long programs within reach, where the
 * conditional jumps' 8-bit offsets would not.
 */
function searchTree(ranges: Range[]): Insn[] {
  if (ranges.length === 1) return ranges[0]!.code;
  const mid = Math.ceil(ranges.length / 2);
  const lower = searchTree(ranges.slice(0, mid));
  const upper = searchTree(ranges.slice(mid));
  const split = ranges[mid]!.start;
  if (upper.length <= 255) return [[JGE_K, 0, upper.length, split], ...upper, ...lower];
  return [[JGE_K, 1, 0, split], [JA, 0, 0, upper.length], ...upper, ...lower];
}

/** The filter for one architecture, or null where we have no table (then no filter is applied). */
export function buildSeccompFilter(arch: string = process.arch): Buffer | null {
  if (arch !== 'x64' && arch !== 'arm64') return null;
  const table = ARCHES[arch];
  const prog: Insn[] = [];

  prog.push([LD_W_ABS, 0, 0, OFFSET_ARCH]);
  // Wrong architecture (e.g. 32-bit syscalls on x86_64): deny everything.
  prog.push([JEQ_K, 1, 0, table.auditArch]);
  prog.push(ret(errno(EPERM)));
  prog.push([LD_W_ABS, 0, 0, OFFSET_NR]);
  if (table.x32Bit) {
    prog.push([JGE_K, 0, 1, table.x32Bit]);
    prog.push(ret(errno(EPERM)));
  }
  prog.push(...searchTree(decisionRanges(arch)));

  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach(([code, jt, jf, k], i) => {
    buf.writeUInt16LE(code, i * 8);
    buf.writeUInt8(jt, i * 8 + 2);
    buf.writeUInt8(jf, i * 8 + 3);
    buf.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return buf;
}
