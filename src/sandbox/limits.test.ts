import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../errors.js';
import { DEFAULT_LIMITS, LIMIT_KEYS, MAX_LIMITS, resolveLimits, type Limits } from './limits.js';

/** Asserts that fn throws an AppError with this code whose data.argument and message name `argument`. */
function assertRefused(fn: () => unknown, code: string, argument: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AppError, 'throws an AppError');
    assert.equal(e.code, code);
    assert.equal(e.data?.argument, argument);
    assert.ok(e.message.includes(argument), `message "${e.message}" names ${argument}`);
    return true;
  });
}

describe('resolveLimits', () => {
  it('returns the defaults when there are no overrides', () => {
    assert.deepEqual(resolveLimits(undefined), { ...DEFAULT_LIMITS });
    assert.deepEqual(resolveLimits(null), { ...DEFAULT_LIMITS });
    assert.deepEqual(resolveLimits({}), { ...DEFAULT_LIMITS });
  });

  it('returns a fresh object, never the frozen defaults', () => {
    const out = resolveLimits(undefined);
    assert.notEqual(out, DEFAULT_LIMITS);
    out.wallMs = 1;
    assert.equal(DEFAULT_LIMITS.wallMs, 30_000);
  });

  it('every default is within the maximum', () => {
    for (const key of LIMIT_KEYS) assert.ok(DEFAULT_LIMITS[key] <= MAX_LIMITS[key], key);
  });

  it('accepts a tighter override and keeps the other defaults', () => {
    const out = resolveLimits({ wallMs: 5000, memoryBytes: 64 * 1024 * 1024 });
    assert.deepEqual(out, { ...DEFAULT_LIMITS, wallMs: 5000, memoryBytes: 64 * 1024 * 1024 });
  });

  it('accepts a looser override up to exactly the ceiling, for every key', () => {
    for (const key of LIMIT_KEYS) {
      assert.equal(resolveLimits({ [key]: MAX_LIMITS[key] })[key], MAX_LIMITS[key], key);
    }
  });

  it('refuses a value above the ceiling with LIMIT_EXCEEDED naming limits.<key> and the maximum', () => {
    for (const key of LIMIT_KEYS) {
      assertRefused(() => resolveLimits({ [key]: MAX_LIMITS[key] + 1 }), 'LIMIT_EXCEEDED', `limits.${key}`);
    }
    assert.throws(
      () => resolveLimits({ wallMs: 600_001 }),
      (e: unknown) => e instanceof AppError && e.data?.maximum === 600_000 && e.message.includes('600000'),
    );
  });

  it('checks against a custom ceiling, not the built-in one', () => {
    const ceiling: Limits = { ...MAX_LIMITS, wallMs: 1000 };
    assert.equal(resolveLimits({ wallMs: 1000 }, DEFAULT_LIMITS, ceiling).wallMs, 1000);
    assertRefused(() => resolveLimits({ wallMs: 1001 }, DEFAULT_LIMITS, ceiling), 'LIMIT_EXCEEDED', 'limits.wallMs');
  });

  it('clamps base values that exceed the ceiling down to it', () => {
    const ceiling: Limits = { ...MAX_LIMITS, wallMs: 1000 };
    assert.equal(resolveLimits(undefined, DEFAULT_LIMITS, ceiling).wallMs, 1000);
  });

  it('refuses an unknown key with INVALID_ARGUMENT naming it', () => {
    assertRefused(() => resolveLimits({ wallTime: 5 }), 'INVALID_ARGUMENT', 'limits.wallTime');
  });

  it('refuses non-numbers with INVALID_ARGUMENT naming the key', () => {
    for (const value of ['5000', true, {}, [], null, Number.NaN, Number.POSITIVE_INFINITY]) {
      assertRefused(() => resolveLimits({ wallMs: value }), 'INVALID_ARGUMENT', 'limits.wallMs');
    }
  });

  it('refuses zero and negative values with INVALID_ARGUMENT naming the key', () => {
    assertRefused(() => resolveLimits({ cpuMs: 0 }), 'INVALID_ARGUMENT', 'limits.cpuMs');
    assertRefused(() => resolveLimits({ processes: -1 }), 'INVALID_ARGUMENT', 'limits.processes');
  });

  it('refuses a non-object limits value', () => {
    for (const value of [5, 'fast', [1]]) {
      assert.throws(
        () => resolveLimits(value),
        (e: unknown) => e instanceof AppError && e.code === 'INVALID_ARGUMENT',
      );
    }
  });

  it('ignores keys whose value is undefined', () => {
    assert.deepEqual(resolveLimits({ wallMs: undefined }), { ...DEFAULT_LIMITS });
  });

  it('raises tiny values to the minimum a sandbox can start with', () => {
    const out = resolveLimits({
      wallMs: 1,
      cpuMs: 1,
      memoryBytes: 1,
      processes: 1,
      outputBytes: 1,
      outputTotalBytes: 1,
      diskBytes: 1,
      tmpBytes: 1,
      openFiles: 1,
    });
    assert.deepEqual(out, {
      wallMs: 10,
      cpuMs: 10,
      memoryBytes: 16 * 1024 * 1024,
      processes: 4,
      outputBytes: 1024,
      outputTotalBytes: 1024,
      diskBytes: 64 * 1024,
      tmpBytes: 64 * 1024,
      openFiles: 16,
    });
  });

  it('floors fractional values to whole numbers', () => {
    const out = resolveLimits({ wallMs: 1500.9, processes: 7.99 });
    assert.equal(out.wallMs, 1500);
    assert.equal(out.processes, 7);
  });

  it('refuses a fraction above the ceiling even though it would floor to the ceiling', () => {
    assertRefused(() => resolveLimits({ processes: 512.5 }), 'LIMIT_EXCEEDED', 'limits.processes');
  });
});
