/**
 * Fault injection on the sandbox's cgroups: pre-made run cgroups (CgroupPool)
 * removed from outside, and the sandbox's whole cgroup parent removed. A run
 * must then either work (a fresh cgroup) or fail at once with a clear reason,
 * never hang. Each test has a timeout, so a hang fails it instead of stalling.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ProcessExecutor } from '../../src/sandbox/process/process-executor.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';

const NO_PRESTART = { python: 0, javascript: 0, typescript: 0, bash: 0 };

/** This process's run cgroups (`run-<pid>-*`) under /sys/fs/cgroup, in every hierarchy. */
function ownRunCgroups(): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 6) return;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // a cgroup removed while we looked
    }
    for (const name of names) {
      const p = path.join(dir, name);
      try {
        if (!statSync(p).isDirectory()) continue;
      } catch {
        continue;
      }
      if (name.startsWith(`run-${process.pid}-`)) found.push(p);
      else walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

/** rmdir each (a cgroup with live tasks is busy and stays); returns how many went. */
function removeIdle(dirs: string[]): number {
  let n = 0;
  for (const d of dirs) {
    try {
      rmdirSync(d);
      n++;
    } catch {
      // busy: a process is in it
    }
  }
  return n;
}

describe(
  'faults: vanished cgroups',
  { skip: process.getuid?.() === 0 ? false : 'needs root to create cgroups' },
  () => {
    it(
      'a pre-made run cgroup removed from outside: the run gets a fresh one (no hang)',
      { timeout: 60_000 },
      async () => {
        const executor = new ProcessExecutor(await createProcessSandbox(), { prestart: NO_PRESTART });
        try {
          assert.equal((await executor.run({ language: 'bash', code: 'echo warm' })).status, 'ok');
          await new Promise((r) => setTimeout(r, 200)); // the pool refills in the background (setImmediate)
          const removed = removeIdle(ownRunCgroups());
          assert.ok(removed > 0, 'the pool had idle run cgroups to remove');
          for (let i = 0; i < 6; i++) {
            const r = await executor.run({ language: 'bash', code: `echo ${i}` });
            assert.deepEqual([r.status, r.stdout], ['ok', `${i}\n`], r.reason);
          }
        } finally {
          await executor.close();
        }
      },
    );

    it(
      'the sandbox cgroup parent removed: runs fail at once as not_started, naming the cgroup',
      { timeout: 60_000 },
      async () => {
        const executor = new ProcessExecutor(await createProcessSandbox(), { prestart: NO_PRESTART });
        try {
          assert.equal((await executor.run({ language: 'bash', code: 'echo warm' })).status, 'ok');
          await new Promise((r) => setTimeout(r, 200));
          const runs = ownRunCgroups();
          const parents = [...new Set(runs.map((d) => path.dirname(d)))];
          // Only this sandbox's own parents (codemode-<pid>-<hex>): no other process's cgroups are touched.
          assert.ok(
            parents.every((p) => path.basename(p).startsWith(`codemode-${process.pid}-`)),
            parents.join(', '),
          );
          // A used cgroup is released a few ms after its run: retry until the children are gone.
          for (let i = 0; i < 50 && ownRunCgroups().length > 0; i++) {
            removeIdle(ownRunCgroups());
            await new Promise((r) => setTimeout(r, 20));
          }
          assert.equal(removeIdle(parents), parents.length, 'every parent was removed');
          for (let i = 0; i < 3; i++) {
            const r = await executor.run({ language: 'bash', code: 'echo never' });
            assert.equal(r.status, 'not_started');
            assert.match(r.reason ?? '', /cgroup/);
            assert.equal(r.stdout, '');
          }
        } finally {
          await executor.close();
        }
      },
    );
  },
);
