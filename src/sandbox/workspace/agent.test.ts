// The host side of the workspace agent treats every reply as hostile: these
// tests play a misbehaving helper over in-memory pipes and check that the host
// stays bounded, fails the call, and kills that helper only.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { isAppError } from '../../errors.js';
import { DEFAULT_LIMITS } from '../limits.js';
import type { Sandbox, SandboxProcess, SpawnSpec } from '../sandbox.js';
import { WorkspaceAgent } from './agent.js';

function frame(header: unknown, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const p = Buffer.alloc(8);
  p.writeUInt32BE(h.length, 0);
  p.writeUInt32BE(payload.length, 4);
  return Buffer.concat([p, h, payload]);
}

/** A sandbox whose one "helper" answers each request with `respond`. */
function fakeSandbox(respond: (stdout: PassThrough, request: Buffer) => void) {
  const state = { spawned: 0, killed: 0, specs: [] as SpawnSpec[] };
  const sandbox: Sandbox = {
    info: { backend: 'bwrap', cgroup: 'none', seccomp: true, uid: 65534 },
    acquireUid: () => 4242,
    releaseUid: () => undefined,
    async spawn(spec) {
      state.spawned++;
      state.specs.push(spec);
      const stdin = new PassThrough();
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let resolveExit!: () => void;
      const exited = new Promise<void>((r) => (resolveExit = r));
      const kill = () => {
        state.killed++;
        stdout.end();
        resolveExit();
      };
      // One reply per complete request frame, however the host split its writes.
      let pending = Buffer.alloc(0);
      stdin.on('data', (c: Buffer) => {
        pending = Buffer.concat([pending, c]);
        while (pending.length >= 8) {
          const size = 8 + pending.readUInt32BE(0) + pending.readUInt32BE(4);
          if (pending.length < size) break;
          const request = pending.subarray(0, size);
          pending = pending.subarray(size);
          respond(stdout, request);
        }
      });
      stdout.write(frame({ ok: true, ready: true }));
      const proc = {
        pid: 1,
        stdin,
        stdout,
        stderr,
        extra: [],
        exited: exited.then(() => ({ exitCode: null, signal: 'SIGKILL' as const, started: true })),
        signalTree: () => undefined,
        kill,
        stats: () => ({ oomKilled: false, pidsLimitHit: false, cpuMs: null, memoryPeakBytes: null }),
        cpuMs: () => null,
        dispose: async () => kill(),
      };
      return proc as unknown as SandboxProcess;
    },
  };
  return { sandbox, state };
}

function agent(sandbox: Sandbox, extra: Partial<ConstructorParameters<typeof WorkspaceAgent>[0]> = {}) {
  return new WorkspaceAgent({
    sandbox,
    dir: '/nonexistent',
    uid: 4242,
    limits: DEFAULT_LIMITS,
    maxFileBytes: 1024,
    requestTimeoutMs: 500,
    ...extra,
  });
}

describe('workspace agent: the host side of the protocol', () => {
  it('runs the helper as the workspace’s uid, bound to its directory', async () => {
    const { sandbox, state } = fakeSandbox((out) => out.write(frame({ ok: true, type: 'file', size: 3 })));
    const a = agent(sandbox);
    assert.deepEqual(await a.stat('x'), { ok: true, type: 'file', size: 3 });
    assert.equal(state.specs[0]?.uid, 4242);
    assert.equal(state.specs[0]?.workspaceDir, '/nonexistent');
    await a.close();
  });

  it('a refusal from the helper becomes an AppError with its code; unknown codes become INTERNAL', async () => {
    let code = 'PATH_ESCAPE';
    const { sandbox } = fakeSandbox((out) => out.write(frame({ ok: false, code, message: 'no' })));
    const a = agent(sandbox);
    await assert.rejects(a.read('x'), (e) => isAppError(e, 'PATH_ESCAPE'));
    code = 'SOMETHING_ELSE';
    await assert.rejects(a.read('x'), (e) => isAppError(e, 'INTERNAL'));
    await a.close();
  });

  it('a flood on the helper’s stdout is not buffered: the helper is killed and the call fails', async () => {
    const { sandbox, state } = fakeSandbox((out) => {
      const junk = Buffer.alloc(1024 * 1024, 0x41);
      for (let i = 0; i < 40; i++) out.write(junk);
    });
    const a = agent(sandbox);
    await assert.rejects(a.read('x'));
    assert.ok(state.killed >= 1);
    await a.close();
  });

  it('a reply payload larger than asked for fails the call and kills the helper', async () => {
    const { sandbox, state } = fakeSandbox((out) =>
      out.write(frame({ ok: true, path: 'x', size: 4096 }, Buffer.alloc(4096))),
    );
    const a = agent(sandbox);
    await assert.rejects(a.read('x', 100), (e) => isAppError(e, 'INTERNAL'));
    assert.ok(state.killed >= 1);
    await a.close();
  });

  it('a reply whose shape is wrong is refused (schema check)', async () => {
    const { sandbox } = fakeSandbox((out) => out.write(frame({ ok: true, entries: 'not a list', truncated: 1 })));
    const a = agent(sandbox);
    await assert.rejects(a.list(''));
    await a.close();
  });

  it('a helper that never answers times out; the next call starts a fresh helper', async () => {
    let silent = true;
    const { sandbox, state } = fakeSandbox((out) => {
      if (!silent) out.write(frame({ ok: true, path: 'x' }));
    });
    const a = agent(sandbox);
    await assert.rejects(a.delete('x'), (e) => isAppError(e, 'TIMEOUT'));
    silent = false;
    await a.delete('x');
    assert.equal(state.spawned, 2);
    await a.close();
  });
});
