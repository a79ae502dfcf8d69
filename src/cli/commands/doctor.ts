/**
 * `codemode doctor`: which isolation layers and limits are in force here, and
 * a real sandboxed run per language. Exit 0 when untrusted code can run safely.
 */
import { LANGUAGES, type Language } from '../../sandbox/executor.js';
import { loadSettings } from '../../config/load-settings.js';
import { DEFAULT_LIMITS, MAX_LIMITS, type Limits } from '../../sandbox/limits.js';

/** The limits in force: the settings' defaults and maximums (flags, env, settings files). */
export interface LimitSettings {
  defaults: Readonly<Limits>;
  max: Readonly<Limits>;
}
import { NO_PRESTART, ProcessExecutor } from '../../sandbox/process/process-executor.js';
import { createProcessSandbox, probeSandbox, type SandboxReport } from '../../sandbox/process/process-sandbox.js';
import { DEFAULT_UID_RANGE } from '../../sandbox/process/uids.js';
import { detectVolumeKinds, type VolumeKind } from '../../sandbox/workspace/volume.js';
import { parse } from '../args.js';
import type { Command } from '../io.js';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const PROBES: Record<Language, string> = {
  python: 'import numpy, pandas, matplotlib; print("ok")',
  javascript: 'console.log("ok")',
  typescript: 'const s: string = "ok"; console.log(s)',
  bash: 'echo ok',
};

export function layerChecks(
  r: SandboxReport,
  limits: LimitSettings = { defaults: DEFAULT_LIMITS, max: MAX_LIMITS },
): Check[] {
  const c = r.cgroups.controllers;
  const where = (k: keyof typeof c) => (c[k] ? `cgroup ${c[k]!.version} (${c[k]!.parent})` : 'unavailable');
  const L = limits.defaults;
  const M = limits.max;
  return [
    { name: 'bubblewrap', ok: r.bwrap !== null, detail: r.bwrap ?? 'not installed: apt-get install -y bubblewrap' },
    {
      name: 'namespaces',
      ok: r.userNamespaces,
      detail: r.userNamespaces
        ? 'all unshared: user, pid, net (no network), ipc, uts, cgroup, mount'
        : 'bwrap could not create namespaces',
    },
    {
      name: 'filesystem',
      ok: r.bwrap !== null,
      detail: 'read-only system, /workspace the only writable bind, tmpfs /tmp and /dev/shm',
    },
    {
      name: 'uid',
      ok: r.runAsUid !== 0,
      detail:
        process.getuid?.() === 0
          ? `a host uid of its own per session and per run (${DEFAULT_UID_RANGE.first}-${DEFAULT_UID_RANGE.first + DEFAULT_UID_RANGE.count - 1} by default), all capabilities dropped`
          : `runs as your uid ${r.runAsUid} (run as root for a uid per tenant), all capabilities dropped`,
    },
    diskCheck(detectVolumeKinds()),
    {
      name: 'seccomp',
      ok: r.seccomp,
      detail: r.seccomp
        ? `allow-list for ${process.arch}: only the system calls Python, Node and bash use; sockets AF_UNIX, AF_INET, AF_INET6 (and route netlink) only; ptrace, mounts, namespaces, io_uring, bpf, vsock refused`
        : `no filter for ${process.arch}`,
    },
    {
      name: 'memory limit',
      ok: Boolean(c.memory),
      detail: `${where('memory')}, default ${L.memoryBytes / 2 ** 20} MiB (maximum ${M.memoryBytes / 2 ** 20} MiB)`,
    },
    {
      name: 'process limit',
      ok: Boolean(c.pids),
      detail: `${where('pids')}, default ${L.processes} (maximum ${M.processes})`,
    },
    {
      name: 'cpu share',
      ok: Boolean(c.cpu),
      detail: `${where('cpu')}, for session kernels (short one-shot runs skip the join)`,
    },
    {
      name: 'cpu accounting',
      ok: Boolean(r.cgroups.v2Parent || c.cpuacct),
      detail: r.cgroups.v2Parent
        ? 'cgroup v2 cpu.stat'
        : c.cpuacct
          ? 'cgroup v1 cpuacct'
          : 'unavailable: CPU limit from RLIMIT_CPU only',
    },
    {
      name: 'tree kill',
      ok: true,
      detail: r.cgroups.v2Parent ? 'cgroup v2 cgroup.kill + pid namespace' : 'pid namespace + cgroup v1 sweep',
    },
    {
      name: 'rlimits',
      ok: true,
      detail: `set by the launcher before bwrap: CPU time, file size (= disk limit), open files (default ${L.openFiles}), core dumps off`,
    },
    {
      name: 'host limits',
      ok: true,
      detail: `wall time (default ${L.wallMs / 1000} s, maximum ${M.wallMs / 1000} s), CPU time (default ${L.cpuMs / 1000} s), output (${L.outputBytes / 1024} KiB kept per stream, every channel counted), workspace disk (${L.diskBytes / 2 ** 20} MiB)`,
    },
  ];
}

/** What caps a workspace's disk use on this host. */
export function diskCheck(kinds: { persistent: VolumeKind; ephemeral: VolumeKind }): Check {
  const name = 'workspace disk';
  if (kinds.persistent === 'ext4') {
    return {
      name,
      ok: true,
      detail: 'a capped filesystem per workspace (bytes and files): ext4 image per session, tmpfs per run',
    };
  }
  if (kinds.persistent === 'tmpfs') {
    return {
      name,
      ok: true,
      detail:
        'a capped tmpfs per workspace (bytes and files); no loop devices, so session files do not survive a restart',
    };
  }
  return {
    name,
    ok: false,
    detail:
      'only the largest file is capped (RLIMIT_FSIZE): run as root with loop devices for a capped filesystem per workspace',
  };
}

export const doctorCommand: Command = async (argv, io) => {
  const { values } = parse(argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.stdout.write(
      'usage: codemode doctor [--json]\n\nShows the isolation layers and limits in force, and runs a probe per language.\n',
    );
    return 0;
  }
  const { settings } = loadSettings({ env: io.env, cwd: io.cwd });
  const report = probeSandbox();
  const checks = layerChecks(report, settings.limits);
  const languages: Check[] = [];
  if (report.ready) {
    const executor = new ProcessExecutor(await createProcessSandbox(), {
      prestart: NO_PRESTART,
      defaults: settings.limits.defaults,
      ceiling: settings.limits.max,
    });
    for (const language of LANGUAGES) {
      // The configured limits, except a wall time long enough for a cold interpreter.
      const wallMs = Math.min(settings.limits.max.wallMs, Math.max(settings.limits.defaults.wallMs, 30_000));
      const r = await executor.run({ language, code: PROBES[language], limits: { wallMs } });
      const ok = r.status === 'ok' && r.stdout.trim() === 'ok';
      languages.push({
        name: language,
        ok,
        detail: ok
          ? `runs in the sandbox (${Math.round(r.durationMs)} ms cold)`
          : `${r.status}: ${(r.error?.message ?? r.stderr).trim().split('\n').at(-1) ?? ''}`,
      });
    }
    await executor.close();
  }
  const ready = report.ready && languages.every((l) => l.ok);
  const { activePolicy } = await import('../../analysis/compose.js');
  const policy = activePolicy(settings.analysis);
  const analysis = policy === null ? null : Object.fromEntries(policy);
  // The store as seen from here (a running server shows its own at /healthz); it does not change readiness.
  const { checkStore } = await import('../../store/store-check.js');
  const store = checkStore(settings.store.path, settings.store.enabled);
  if (values.json) {
    io.stdout.write(
      JSON.stringify(
        {
          ready,
          problems: report.problems,
          layers: checks,
          languages,
          limits: settings.limits,
          analysis,
          store,
          report,
        },
        null,
        2,
      ) + '\n',
    );
    return ready ? 0 : 1;
  }
  const width = Math.max(...[...checks, ...languages].map((c) => c.name.length));
  const line = (c: Check) => `  ${c.ok ? 'ok  ' : 'MISSING'.padEnd(4)} ${c.name.padEnd(width)}  ${c.detail}\n`;
  io.stdout.write('isolation layers and limits\n');
  for (const c of checks) io.stdout.write(line(c));
  if (languages.length) {
    io.stdout.write('\nlanguages\n');
    for (const c of languages) io.stdout.write(line(c));
  }
  io.stdout.write(`\nanalysis policy${analysis === null ? ': off (analysis.enabled is false)' : ' (rule: level)'}\n`);
  for (const [rule, level] of Object.entries(analysis ?? {})) io.stdout.write(`  ${level.padEnd(5)} ${rule}\n`);
  io.stdout.write(`\nstore: ${store.state}\n  ${store.path}: ${store.detail}\n`);
  io.stdout.write(
    ready
      ? '\nready: untrusted code runs sandboxed on this machine\n'
      : `\nNOT READY: codemode will refuse to run untrusted code here.\n- ${report.problems.join('\n- ') || 'a language probe failed (see above)'}\n`,
  );
  return ready ? 0 : 1;
};
