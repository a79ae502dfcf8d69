/**
 * An Executor decorator that answers repeated one-shot runs from a cache.
 * Opt-in per request (`cache: true`). Only runs whose result depends on nothing
 * but the request are cached: no caller-supplied workspace, and only results the
 * program itself produced (ok or error), never ones a limit or event stopped.
 */
import type { ExecRequest, ExecResult, Executor } from './executor.js';
import type { LimitOverrides, Limits } from './limits.js';

export interface ResultCacheLike {
  get(key: string): ExecResult | undefined;
  put(key: string, result: ExecResult): boolean;
}

export interface CachingExecutorOptions {
  cache: ResultCacheLike;
  /** The key of a request with its limits resolved (e.g. resultCacheKey from src/store). */
  keyOf: (request: ExecRequest & { limits: Limits }) => string;
  /** The limits the inner executor would apply, so equal runs share a key. */
  resolveLimits: (overrides: LimitOverrides | undefined) => Limits;
}

export class CachingExecutor implements Executor {
  constructor(
    private readonly inner: Executor,
    private readonly options: CachingExecutorOptions,
  ) {}

  async run(request: ExecRequest): Promise<ExecResult> {
    if (!request.cache || request.workspaceDir !== undefined) return this.inner.run(request);
    const key = this.options.keyOf({ ...request, limits: this.options.resolveLimits(request.limits) });
    const hit = this.options.cache.get(key);
    if (hit) {
      if (hit.stdout) request.onOutput?.({ stream: 'stdout', text: hit.stdout });
      if (hit.stderr) request.onOutput?.({ stream: 'stderr', text: hit.stderr });
      return { ...hit, cached: true, durationMs: 0 };
    }
    const result = await this.inner.run(request);
    if (result.status === 'ok' || result.status === 'error') this.options.cache.put(key, result);
    return result;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
