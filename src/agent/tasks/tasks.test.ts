// The suite's checkers without a sandbox: each rejects a plausible wrong answer over the inputs alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expectNumber, numbersIn, sameJson } from './checks.js';
import type { TaskWorkspace } from './contract.js';
import { scriptedSolution } from './runner.js';
import { AGENT_TASKS } from './tasks.js';

function inputsOnly(files: { path: string; content: string }[]): TaskWorkspace {
  const map = new Map(files.map((f) => [f.path, f.content]));
  return { read: async (p) => map.get(p) };
}

describe('agent task suite', () => {
  it('has at least 15 tasks with distinct ids', () => {
    assert.ok(AGENT_TASKS.length >= 15, `${AGENT_TASKS.length} tasks`);
    assert.equal(new Set(AGENT_TASKS.map((t) => t.id)).size, AGENT_TASKS.length);
  });

  for (const task of AGENT_TASKS) {
    it(`${task.id}: the checker rejects a wrong answer (with a reason)`, async () => {
      const reason = await task.check(task.wrongAnswer ?? 'I could not do it', inputsOnly(task.files));
      assert.equal(typeof reason, 'string');
      assert.ok(reason!.length > 5);
    });
  }

  it('a scripted solution runs each step, then answers', () => {
    const turns = scriptedSolution(AGENT_TASKS[0]!);
    assert.equal(turns.length, AGENT_TASKS[0]!.solution.code.length + 1);
    assert.deepEqual(turns.at(-1), {
      tools: [{ name: 'final_answer', input: { answer: AGENT_TASKS[0]!.solution.answer } }],
    });
  });

  it('number helpers read thousands separators and reject near misses', () => {
    assert.deepEqual(numbersIn('total: 5,736,396 and -2.5e3'), [5736396, -2500]);
    assert.equal(expectNumber('about 12.35', 12.345, 0.006), undefined);
    assert.match(expectNumber('12.36', 12.345, 0.006) ?? '', /expected 12.345/);
    assert.ok(sameJson({ a: [1, { b: 2 }], c: 1 }, { c: 1, a: [1, { b: 2 }] }));
    assert.ok(!sameJson({ a: [1, 2] }, { a: [2, 1] }));
  });
});
