import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActionRecord } from './contract.js';
import {
  DEFAULT_RETRY,
  actionSignature,
  assessStuck,
  checkBudgets,
  classifyProviderError,
  isWaitingAction,
  parseRetryAfter,
  retryDelay,
} from './control.js';

const usage = (i = 0, o = 0, c?: number) => ({ inputTokens: i, outputTokens: o, costUsd: c });

describe('checkBudgets', () => {
  it('goes on under every budget and stops at each one with a reason', () => {
    const base = { steps: 1, usage: usage(10, 10, 0.01), startedAt: 0, now: 100 };
    assert.equal(checkBudgets(base, { maxSteps: 5, maxInputTokens: 100, maxCostUsd: 1, maxWallMs: 1000 }), null);
    assert.equal(checkBudgets({ ...base, steps: 5 }, { maxSteps: 5 })?.reason, 'max_steps');
    assert.equal(checkBudgets({ ...base, steps: 20 }, {})?.reason, 'max_steps', 'default step budget');
    assert.equal(checkBudgets(base, { maxInputTokens: 10 })?.reason, 'max_input_tokens');
    assert.equal(checkBudgets(base, { maxOutputTokens: 5 })?.reason, 'max_output_tokens');
    assert.equal(checkBudgets(base, { maxCostUsd: 0.01 })?.reason, 'max_cost');
    assert.equal(checkBudgets(base, { maxWallMs: 100 })?.reason, 'max_wall_time');
    assert.match(checkBudgets({ ...base, steps: 3 }, { maxSteps: 3 })?.message ?? '', /after 3 steps.*budget is 3/);
  });
});

const act = (signature: string, outcome: string, failed = true, waiting = false): ActionRecord => ({
  step: 0,
  tool: 'run_code',
  signature,
  outcome,
  failed,
  waiting,
});

describe('assessStuck', () => {
  it('asks to re-plan when the same failing action repeats, then stops if it repeats again', () => {
    const a = [act('x', 'error:NameError')];
    assert.equal(assessStuck(a, undefined).kind, 'ok');
    a.push(act('x', 'error:NameError'));
    assert.equal(assessStuck(a, undefined).kind, 'replan');
    const replanAt = a.length;
    assert.equal(assessStuck(a, replanAt).kind, 'replan', 'nothing new happened since the re-plan');
    a.push(act('x', 'error:NameError'));
    const v = assessStuck(a, replanAt);
    assert.equal(v.kind, 'stop');
    assert.match(v.kind === 'stop' ? v.message : '', /same action failed 3 times/);
  });
  it('a success or a different action breaks the streak', () => {
    assert.equal(assessStuck([act('x', 'e'), act('y', 'ok', false), act('x', 'e')], undefined).kind, 'ok');
    assert.equal(assessStuck([act('x', 'e1'), act('x', 'e2')], undefined).kind, 'ok');
  });
  it('deliberate waiting is not stuck: waiting actions neither count nor break a streak', () => {
    const waits = Array.from({ length: 10 }, () => act('time.sleep(5); check()', 'error:NotReady', true, true));
    assert.equal(assessStuck(waits, undefined).kind, 'ok');
    assert.equal(assessStuck([act('x', 'e'), ...waits, act('x', 'e')], undefined).kind, 'replan');
    assert.equal(isWaitingAction('import time\ntime.sleep(2)\nprint(job.status)'), true);
    assert.equal(isWaitingAction('await new Promise(r => setTimeout(r, 1000))'), true);
    assert.equal(isWaitingAction('print(1/0)'), false);
  });
  it('the same error from different code four times in a row also triggers', () => {
    const a = ['a', 'b', 'c', 'd'].map((s) => act(s, 'error:ModuleNotFoundError'));
    assert.equal(assessStuck(a.slice(0, 3), undefined).kind, 'ok');
    assert.equal(assessStuck(a, undefined).kind, 'replan');
  });
  it('identical successful actions with identical output four times trigger too', () => {
    const a = Array.from({ length: 4 }, () => act('print(1)', 'ok:abc', false));
    assert.equal(assessStuck(a.slice(0, 3), undefined).kind, 'ok');
    assert.equal(assessStuck(a, undefined).kind, 'replan');
  });
  it('signatures ignore whitespace and comments', () => {
    assert.equal(actionSignature('run_code', 'x = 1  # try\n\n  y = 2'), actionSignature('run_code', 'x = 1\ny = 2'));
  });
});

describe('provider errors', () => {
  const apiError = (statusCode: number, headers: Record<string, string> = {}, body = '') => ({
    name: 'AI_APICallError',
    message: 'x',
    statusCode,
    responseHeaders: headers,
    responseBody: body,
  });
  it('retries 429 with the server retry-after, 5xx and timeouts; not 400 or 401', () => {
    const r429 = classifyProviderError(apiError(429, { 'Retry-After': '2' }));
    assert.equal(r429.retryable, true);
    assert.equal(r429.retryAfterMs, 2000);
    assert.equal(retryDelay(1, r429, DEFAULT_RETRY), 2000);
    assert.equal(classifyProviderError(apiError(503)).retryable, true);
    assert.equal(classifyProviderError(apiError(401)).retryable, false);
    assert.match(classifyProviderError(apiError(500, {}, 'boom')).message, /server error \(500\): boom/);
    assert.equal(classifyProviderError({ name: 'TimeoutError', message: 't' }).retryable, true);
    assert.equal(classifyProviderError({ name: 'AI_JSONParseError', message: 'bad json' }).retryable, true);
    assert.equal(classifyProviderError(new TypeError('fetch failed')).retryable, true);
    assert.equal(classifyProviderError(new Error('weird')).retryable, false);
  });
  it('notices a server that does not support tools', () => {
    const e = apiError(400, {}, '{"error":"model does not support tools"}');
    assert.equal(classifyProviderError(e).toolsUnsupported, true);
  });
  it('parses retry-after as ms, seconds or a date, and backs off exponentially without one', () => {
    assert.equal(parseRetryAfter({ 'retry-after-ms': '150' }), 150);
    assert.equal(parseRetryAfter({ 'retry-after': 'Thu, 01 Jan 1970 00:00:10 GMT' }, 4000), 6000);
    assert.equal(parseRetryAfter({}), undefined);
    const info = { retryable: true, message: '', toolsUnsupported: false };
    const mid = () => 0.5;
    assert.deepEqual(
      [1, 2, 3, 10].map((a) => retryDelay(a, info, DEFAULT_RETRY, mid)),
      [500, 1000, 2000, 30_000],
    );
  });
});
