/**
 * An Executor decorator that answers repeated one-shot runs from a cache.
 * Opt-in per request (`cache: true`). Only runs whose result depends on nothing
 * but the request are cached: no caller-supplied workspace, and only results the
 * program itself produced (ok or error), never ones a limit or event stopped.
 * Entries are per principal: only the view of one principal (`forPrincipal`,
 * bound where the MCP layer builds a server for that principal) reads and
 * writes the cache, under that principal's keys; `run` itself never caches.
 */
import type { ExecRequest, ExecResult, Executor } from './executor.js';
import type { LimitOverrides, Limits } from './limits.js';

export interface ResultCacheLike {
  get(key: string): ExecResult | undefined;
  put(key: string, result: ExecResult): boolean;
}

export interface CachingExecutorOptions {
  cache: ResultCacheLike;
  /** The key of a request with its limits and principal resolved (e.g. resultCacheKey from src/store). */
  keyOf: (request: ExecRequest & { limits: Limits; principal: string }) => string;
  /** The limits the inner executor would apply, so equal runs share a key. */
  resolveLimits: (overrides: LimitOverrides | undefined) => Limits;
}

/** An executor that can hand out a view bound to one principal (e.g. a cache partitioned per principal). */
export interface PrincipalScopedExecutor extends Executor {
  forPrincipal(principal: string): Executor;
}

/** The executor as one principal should see it: its own view when the executor has one, else itself. */
export function executorFor(executor: Executor, principal: string): Executor {
  const scoped = executor as Partial<PrincipalScopedExecutor>;
  return typeof scoped.forPrincipal === 'function' ? scoped.forPrincipal(principal) : executor;
}

export class CachingExecutor implements PrincipalScopedExecutor {
  constructor(
    private readonly inner: Executor,
    private readonly options: CachingExecutorOptions,
  ) {}

  /** Without a principal there is no partition to use: run, never cache. */
  run(request: ExecRequest): Promise<ExecResult> {
    return this.inner.run(request);
  }

  /** A view that answers from, and fills, only this principal's part of the cache. */
  forPrincipal(principal: string): Executor {
    if (principal === '') throw new Error('a cache partition needs a principal');
    return {
      run: (request) => this.#run(request, principal),
      // The view shares the inner executor: closing it is the owner's job.
      close: async () => {},
    };
  }

  async #run(request: ExecRequest, principal: string): Promise<ExecResult> {
    if (!request.cache || request.workspaceDir !== undefined) return this.inner.run(request);
    const key = this.options.keyOf({ ...request, principal, limits: this.options.resolveLimits(request.limits) });
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
