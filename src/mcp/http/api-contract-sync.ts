/**
 * api-contract.ts imports nothing, so the web bundle takes it as is; it
 * therefore repeats a few server types. This module makes any drift between
 * the copies a compile error (the build runs tsc), so they cannot disagree.
 */
import type { ErrorCode } from '../../errors.js';
import type { ExecStatus, Language } from '../../sandbox/executor.js';
import type { Limits } from '../../sandbox/limits.js';
import type * as Api from './api-contract.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Snake<S extends string> = S extends `${infer H}${infer T}`
  ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${Snake<T>}`
  : S;

/** Codes only the HTTP layer gives (auth, media type, method, rate). */
type HttpOnlyCode = 'UNAUTHORIZED' | 'UNSUPPORTED_MEDIA_TYPE' | 'METHOD_NOT_ALLOWED' | 'RATE_LIMITED';

export const API_CONTRACT_IN_SYNC: [
  Same<Api.Language, Language>,
  Same<Api.ExecStatus, ExecStatus>,
  Same<Api.ApiErrorCode, ErrorCode | HttpOnlyCode>,
  Same<keyof Api.LimitsJson, Snake<keyof Limits & string>>,
] = [true, true, true, true];
