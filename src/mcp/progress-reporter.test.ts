import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgressReporter, type ProgressNotification } from './progress-reporter.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('createProgressReporter', () => {
  it('sends nothing without a progress token', async () => {
    const sent: ProgressNotification[] = [];
    const p = createProgressReporter({ progressToken: undefined, send: async (n) => void sent.push(n), intervalMs: 5 });
    p.onOutput({ stream: 'stdout', text: 'x' });
    await sleep(30);
    p.stop();
    assert.equal(sent.length, 0);
  });

  it('coalesces output into throttled notifications with increasing progress and the output tail', async () => {
    const sent: ProgressNotification[] = [];
    const p = createProgressReporter({
      progressToken: 't',
      send: async (n) => void sent.push(n),
      intervalMs: 20,
      messageChars: 6,
    });
    for (let i = 0; i < 50; i++) p.onOutput({ stream: 'stdout', text: `${i % 10}` });
    await sleep(70);
    p.onOutput({ stream: 'stderr', text: 'END' });
    await sleep(50);
    p.stop();
    const count = sent.length;
    await sleep(50);
    assert.equal(sent.length, count, 'nothing after stop');
    assert.ok(count >= 2 && count <= 6, `throttled: ${count}`);
    assert.equal(sent[0]?.params.message, '456789');
    assert.ok(sent.some((n) => n.params.message === '789END'));
    const progress = sent.map((n) => n.params.progress);
    assert.deepEqual(
      progress,
      [...progress].sort((a, b) => a - b),
    );
    assert.equal(new Set(progress).size, progress.length, 'strictly increasing');
    assert.ok(sent.every((n) => n.params.progressToken === 't'));
  });
});
