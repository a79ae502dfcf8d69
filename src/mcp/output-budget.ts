/**
 * A cap on the output the server process holds at once. Every run reserves
 * its worst case (its output limit, for stdout and stderr) before it starts
 * and returns it when it settles; a run that would pass the total gets a
 * retryable "server busy" error instead of starting. A burst of large results
 * so degrades into clear errors, never into an out-of-memory kill. What one
 * request may hold is its own output limit (limits.max.outputBytes).
 */
import { AppError } from '../errors.js';
import { executorFor, type PrincipalScopedExecutor } from '../sandbox/caching-executor.js';
import type { ExecRequest, Executor } from '../sandbox/executor.js';
import type { Limits } from '../sandbox/limits.js';
import type { SessionService } from '../sessions/contract.js';

const MiB = 1024 * 1024;

export class OutputBudget {
  private inFlight = 0;

  constructor(readonly maxBytes: number) {}

  /** Hold `bytes` while `work` runs; refused (nothing runs) when the total would pass maxBytes. */
  async hold<T>(bytes: number, work: () => Promise<T>): Promise<T> {
    if (this.inFlight > 0 && this.inFlight + bytes > this.maxBytes) {
      throw new AppError(
        'LIMIT_EXCEEDED',
        `server busy: too much output in flight (${(this.inFlight / MiB).toFixed(0)} MiB of ` +
          `${(this.maxBytes / MiB).toFixed(0)} MiB held by running executions; this one may produce ` +
          `${(bytes / MiB).toFixed(0)} MiB). Nothing ran.`,
        {
          retryable: true,
          hint: 'Retry in a few seconds, when running executions have finished, or ask for a smaller limits.output_bytes.',
        },
      );
    }
    this.inFlight += bytes;
    try {
      return await work();
    } finally {
      this.inFlight -= bytes;
    }
  }

  get heldBytes(): number {
    return this.inFlight;
  }
}

/** The worst-case output of a run with these limits: both streams at the cap. */
function worstCase(limits: Pick<Limits, 'outputBytes'>): number {
  return 2 * limits.outputBytes;
}

/** The executor and sessions, with every run holding its output worst case in `budget` while it runs. */
export function withOutputBudget(
  parts: { executor: Executor; sessions: SessionService; resolveLimits: (request: ExecRequest) => Limits },
  budget: OutputBudget,
): { executor: Executor; sessions: SessionService } {
  // Principal views (the result cache's partitions) are kept: each view's runs hold from the same budget.
  const wrap = (inner: Executor, close: () => Promise<void>): PrincipalScopedExecutor => ({
    run: (request) => budget.hold(worstCase(parts.resolveLimits(request)), () => inner.run(request)),
    close,
    forPrincipal: (principal) => wrap(executorFor(inner, principal), async () => {}),
  });
  const executor = wrap(parts.executor, () => parts.executor.close());
  const inner = parts.sessions;
  const sessions = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'execute') {
        return (id: string, code: string, options: Parameters<SessionService['execute']>[2] = {}) => {
          const own = inner.get(id, options.owner).limits.outputBytes;
          const asked = options.limits?.outputBytes;
          const bytes = worstCase({ outputBytes: typeof asked === 'number' ? Math.min(asked, own * 16) : own });
          return budget.hold(bytes, () => inner.execute(id, code, options));
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { executor, sessions };
}
