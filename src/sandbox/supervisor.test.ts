import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LIMITS } from './limits.js';
import type { SandboxStats } from './sandbox.js';
import {
  classifyEnd,
  signalFromStatus,
  Supervision,
  type EndObservations,
  type SupervisedProcess,
} from './supervisor.js';

const base = (o: Partial<EndObservations> = {}): EndObservations => ({
  kind: 'process',
  limits: DEFAULT_LIMITS,
  started: true,
  ended: true,
  exitCode: 0,
  signal: null,
  forced: null,
  interrupted: false,
  oomKills: 0,
  pidsMaxEvents: 0,
  cpuMs: 10,
  diskFull: false,
  tmpFull: false,
  nodeHeapLimit: false,
  programFailed: false,
  ...o,
});

const kernel = (o: Partial<EndObservations> = {}) => base({ kind: 'kernel', ended: false, exitCode: null, ...o });

describe('classifyEnd: one-shot and run_script (a whole process lifetime)', () => {
  const cases: [string, Partial<EndObservations>, string][] = [
    ['exit 0 is ok', {}, 'ok'],
    ['a non-zero exit is error', { exitCode: 3 }, 'error'],
    ['a signal death the supervisor did not cause is error', { exitCode: null, signal: 'SIGSEGV' }, 'error'],
    ['not started when bwrap never reported the exec', { started: false, exitCode: 1 }, 'not_started'],
    [
      'the supervisor stop wins over everything',
      { forced: { status: 'timeout', reason: 'r' }, oomKills: 1 },
      'timeout',
    ],
    [
      'a forced stop before start is still the forced stop',
      { started: false, forced: { status: 'cancelled', reason: 'c' } },
      'cancelled',
    ],
    ['a cgroup OOM kill is memory', { exitCode: 137, signal: 'SIGKILL', oomKills: 1 }, 'memory'],
    [
      'V8 heap abort (SIGABRT from a Node program) is memory',
      { exitCode: 134, signal: 'SIGABRT', nodeHeapLimit: true },
      'memory',
    ],
    ['SIGABRT from a non-Node program is error', { exitCode: 134, signal: 'SIGABRT' }, 'error'],
    ['pids.max events are process_limit', { exitCode: 1, pidsMaxEvents: 3 }, 'process_limit'],
    ['SIGXCPU is cpu_time', { exitCode: 152, signal: 'SIGXCPU' }, 'cpu_time'],
    [
      'SIGKILL past the CPU limit (RLIMIT_CPU hard) is cpu_time',
      { signal: 'SIGKILL', exitCode: null, cpuMs: 40_000 },
      'cpu_time',
    ],
    ['SIGKILL under the CPU limit is error', { signal: 'SIGKILL', exitCode: null, cpuMs: 5 }, 'error'],
    ['SIGXFSZ is disk_limit', { exitCode: 153, signal: 'SIGXFSZ' }, 'disk_limit'],
    ['a full workspace volume and a failure is disk_limit', { exitCode: 1, diskFull: true }, 'disk_limit'],
    ['a full workspace volume and success is ok', { exitCode: 0, diskFull: true }, 'ok'],
    ['a full /tmp and a failure is disk_limit', { exitCode: 1, tmpFull: true }, 'disk_limit'],
    ['a full /tmp and success is ok', { tmpFull: true }, 'ok'],
  ];
  for (const [name, o, status] of cases) {
    it(name, () => assert.equal(classifyEnd(base(o)).status, status));
  }

  it('nothing a program prints can change its status: the classifier has no text input', () => {
    // The observations are numbers, booleans and the supervisor's own decisions; there is no stderr field.
    const keys = Object.keys(base()).sort();
    assert.deepEqual(keys, [
      'cpuMs',
      'diskFull',
      'ended',
      'exitCode',
      'forced',
      'interrupted',
      'kind',
      'limits',
      'nodeHeapLimit',
      'oomKills',
      'pidsMaxEvents',
      'programFailed',
      'signal',
      'started',
      'tmpFull',
    ]);
  });

  it('every limit status names its limit key in the reason', () => {
    const named: [Partial<EndObservations>, RegExp][] = [
      [{ oomKills: 1 }, /limits\.memoryBytes/],
      [{ pidsMaxEvents: 1 }, /limits\.processes/],
      [{ signal: 'SIGXCPU', exitCode: 152 }, /limits\.cpuMs/],
      [{ signal: 'SIGXFSZ', exitCode: 153 }, /limits\.diskBytes/],
      [{ exitCode: 1, diskFull: true }, /limits\.diskBytes/],
      [{ exitCode: 1, tmpFull: true }, /limits\.tmpBytes/],
    ];
    for (const [o, re] of named) assert.match(classifyEnd(base(o)).reason ?? '', re);
  });
});

describe('classifyEnd: kernel windows (a window over a long-lived process)', () => {
  const cases: [string, Partial<EndObservations>, string][] = [
    ['the cell succeeded', {}, 'ok'],
    ['the cell failed', { programFailed: true }, 'error'],
    ['the caller interrupted and the kernel survived', { interrupted: true, programFailed: true }, 'interrupted'],
    [
      'the caller interrupted and the kernel had to be killed',
      { interrupted: true, ended: true, signal: 'SIGKILL' },
      'interrupted',
    ],
    ['the kernel died on its own', { ended: true, signal: 'SIGKILL' }, 'killed'],
    ['the kernel exited with a status of its own (os._exit, bash exit)', { ended: true, exitCode: 1 }, 'error'],
    ['an OOM kill during the window', { ended: true, signal: 'SIGKILL', oomKills: 1 }, 'memory'],
    ['an OOM kill of a child while the kernel survived', { oomKills: 1, programFailed: true }, 'memory'],
    ['pids.max hit during the window', { pidsMaxEvents: 1 }, 'process_limit'],
    ['a protocol violation', { ended: true, forced: { status: 'protocol_error', reason: 'p' } }, 'protocol_error'],
    ['a CPU stop', { forced: { status: 'cpu_time', reason: 'c' }, interrupted: false }, 'cpu_time'],
    ['a full volume and a failed cell', { diskFull: true, programFailed: true }, 'disk_limit'],
    ['a full volume and a good cell', { diskFull: true }, 'ok'],
    ['a full /tmp and a failed cell', { tmpFull: true, programFailed: true }, 'disk_limit'],
  ];
  for (const [name, o, status] of cases) {
    it(name, () => assert.equal(classifyEnd(kernel(o)).status, status));
  }

  it('a kernel saying "interrupted" without the caller asking is an error, not interrupted', () => {
    assert.equal(classifyEnd(kernel({ programFailed: true, interrupted: false })).status, 'error');
  });
});

describe('signalFromStatus', () => {
  it('decodes bwrap 128+N exit statuses', () => {
    assert.equal(signalFromStatus(137), 'SIGKILL');
    assert.equal(signalFromStatus(152), 'SIGXCPU');
    assert.equal(signalFromStatus(153), 'SIGXFSZ');
    assert.equal(signalFromStatus(0), null);
    assert.equal(signalFromStatus(1), null);
    assert.equal(signalFromStatus(null), null);
    assert.equal(signalFromStatus(300), null);
  });
});

function fakeProc(): SupervisedProcess & { kills: number; signals: string[]; cpu: number } {
  const p = {
    kills: 0,
    signals: [] as string[],
    cpu: 0,
    kill() {
      p.kills++;
    },
    signalTree(s: NodeJS.Signals) {
      p.signals.push(s);
    },
    cpuMs: () => p.cpu,
    stats: (): SandboxStats => ({ oomKilled: false, pidsLimitHit: false, cpuMs: p.cpu, memoryPeakBytes: null }),
    tmpFull: () => false,
  };
  return p;
}

describe('Supervision', () => {
  it('counts every byte and stops at limits.outputTotalBytes with a kill', () => {
    const p = fakeProc();
    const w = new Supervision(p, {
      kind: 'kernel',
      limits: { ...DEFAULT_LIMITS, outputTotalBytes: 10 },
      interruptGraceMs: 1000,
    });
    w.count(6);
    assert.equal(p.kills, 0);
    w.count(6);
    assert.equal(p.kills, 1);
    const end = w.finish({ ended: true, started: true, exitCode: null, signal: 'SIGKILL' });
    assert.equal(end.status, 'output_limit');
    assert.match(end.reason ?? '', /limits\.outputTotalBytes/);
  });

  it('stops on the wall clock (interrupt first for kernels)', async () => {
    const p = fakeProc();
    const w = new Supervision(p, { kind: 'kernel', limits: { ...DEFAULT_LIMITS, wallMs: 20 }, interruptGraceMs: 30 });
    await new Promise((r) => setTimeout(r, 35));
    assert.deepEqual(p.signals.slice(0, 1), ['SIGINT']);
    assert.equal(p.kills, 0, 'the grace period comes before the kill');
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(p.kills, 1);
    assert.equal(w.finish({ ended: true, started: true, exitCode: null, signal: 'SIGKILL' }).status, 'timeout');
  });

  it('meters CPU from the counter, from the window start', async () => {
    const p = fakeProc();
    p.cpu = 5000; // used before the window
    const w = new Supervision(p, { kind: 'process', limits: { ...DEFAULT_LIMITS, cpuMs: 100 }, pollMs: 5 });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.kills, 0);
    p.cpu = 5200;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(p.kills, 1);
    const end = w.finish({ ended: true, started: true, exitCode: null, signal: 'SIGKILL' });
    assert.equal(end.status, 'cpu_time');
    assert.equal(end.cpuMs, 200);
  });

  it('a cancellation stops the run and says so', () => {
    const p = fakeProc();
    const ac = new AbortController();
    const w = new Supervision(p, { kind: 'process', limits: DEFAULT_LIMITS, signal: ac.signal });
    ac.abort();
    assert.equal(p.kills, 1);
    assert.equal(w.finish({ ended: true, started: true, exitCode: null, signal: 'SIGKILL' }).status, 'cancelled');
  });

  it('takes OOM and pids deltas against the window baseline', () => {
    const p = fakeProc();
    p.stats = () => ({
      oomKilled: true,
      pidsLimitHit: true,
      cpuMs: 0,
      memoryPeakBytes: null,
      oomKills: 2,
      pidsMaxEvents: 4,
    });
    const w = new Supervision(p, {
      kind: 'kernel',
      limits: DEFAULT_LIMITS,
      eventsBaseline: { oomKills: 2, pidsMaxEvents: 4 },
    });
    assert.equal(w.finish({ ended: false, started: true, exitCode: null, signal: null }).status, 'ok');
  });
});
