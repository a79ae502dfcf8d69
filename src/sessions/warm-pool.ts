/**
 * Pre-started, unassigned kernels per kernel family, each on its own fresh
 * workspace that becomes the session's. A pooled kernel serves exactly one
 * session and is never returned to the pool; the pool refills in the background.
 */
import { randomUUID } from 'node:crypto';
import type { ToolHost } from '../codemode/contract.js';
import type { Language } from '../sandbox/executor.js';
import type { Limits } from '../sandbox/limits.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import { Kernel, kernelFamily, type Interpreters, type KernelFamily } from './kernel.js';
import type { Workspace, Workspaces } from '../sandbox/workspace/workspaces.js';

export interface WarmPoolOptions {
  sandbox: Sandbox;
  workspaces: Workspaces;
  /** Kernels kept ready per family, e.g. { python: 2, node: 1 }. Missing families are not pooled. */
  size: Partial<Record<KernelFamily, number>>;
  /** The kernel-level limits pooled kernels start with; a session asking for others starts cold. */
  limits: Limits;
  toolHost?: ToolHost | undefined;
  interpreters?: Interpreters;
  /** Stop refilling a family after this many consecutive start failures. Default 3. */
  maxFailures?: number;
  /** Wait this long after a take before refilling, so the refill does not slow the session's first statement. Default 50 ms. */
  refillDelayMs?: number;
}

export interface PooledKernel {
  id: string;
  workspace: Workspace;
  kernel: Kernel;
}

/** Limits fixed for a kernel's lifetime; a pooled kernel fits a session only if these match. */
const KERNEL_LIMIT_KEYS = ['memoryBytes', 'processes', 'tmpBytes', 'openFiles', 'diskBytes'] as const;

export function sameKernelLimits(a: Limits, b: Limits): boolean {
  return KERNEL_LIMIT_KEYS.every((k) => a[k] === b[k]);
}

export class WarmPool {
  private readonly ready = new Map<KernelFamily, PooledKernel[]>();
  private readonly filling = new Map<KernelFamily, Promise<void>>();
  private readonly failures = new Map<KernelFamily, number>();
  private closed = false;

  constructor(private readonly options: WarmPoolOptions) {}

  /** Start filling every family in the background. */
  start(): void {
    for (const family of Object.keys(this.options.size) as KernelFamily[]) this.refill(family);
  }

  /** Wait until every family is filled (or gave up). For tests and benchmarks. */
  async whenFilled(): Promise<void> {
    for (const family of Object.keys(this.options.size) as KernelFamily[]) this.refill(family);
    for (let i = 0; i < 100 && this.filling.size > 0; i++) await Promise.all([...this.filling.values()]);
  }

  available(family: KernelFamily): number {
    return this.ready.get(family)?.length ?? 0;
  }

  /** Take a ready kernel for this language and limits, or undefined. Triggers a refill. */
  take(language: Language, limits: Limits): PooledKernel | undefined {
    if (this.closed || !sameKernelLimits(limits, this.options.limits)) return undefined;
    const family = kernelFamily(language);
    const list = this.ready.get(family);
    let taken: PooledKernel | undefined;
    while (list && list.length > 0) {
      const candidate = list.shift()!;
      if (candidate.kernel.alive) {
        taken = candidate;
        break;
      }
      void candidate.workspace.destroy();
    }
    const delay = this.options.refillDelayMs ?? 50;
    if (delay > 0) setTimeout(() => this.refill(family), delay).unref();
    else this.refill(family);
    return taken;
  }

  refill(family: KernelFamily): void {
    if (this.closed || this.filling.has(family)) return;
    const want = this.options.size[family] ?? 0;
    if (want <= 0 || (this.failures.get(family) ?? 0) >= (this.options.maxFailures ?? 3)) return;
    const job = this.fill(family, want).finally(() => this.filling.delete(family));
    this.filling.set(family, job);
  }

  private async fill(family: KernelFamily, want: number): Promise<void> {
    const list = this.ready.get(family) ?? [];
    this.ready.set(family, list);
    while (!this.closed && list.length < want) {
      const id = randomUUID();
      let workspace: Workspace | undefined;
      try {
        const ws = (workspace = await this.options.workspaces.create(id, this.options.limits));
        const kernel = await Kernel.start({
          sandbox: this.options.sandbox,
          language: family === 'node' ? 'javascript' : family,
          workspaceDir: ws.dir,
          uid: ws.uid,
          diskFull: () => ws.full(),
          limits: this.options.limits,
          toolHost: this.options.toolHost,
          ...(this.options.interpreters ? { interpreters: this.options.interpreters } : {}),
        });
        if (this.closed) {
          await kernel.close();
          await ws.destroy();
          return;
        }
        const entry: PooledKernel = { id, workspace: ws, kernel };
        // A pooled kernel that dies while waiting is dropped with its empty workspace.
        kernel.onExit(() => {
          const at = list.indexOf(entry);
          if (at >= 0) {
            list.splice(at, 1);
            void ws.destroy();
            this.refill(family);
          }
        });
        list.push(entry);
        this.failures.set(family, 0);
      } catch {
        await workspace?.destroy().catch(() => undefined); // the start failure is what counts
        this.failures.set(family, (this.failures.get(family) ?? 0) + 1);
        if ((this.failures.get(family) ?? 0) >= (this.options.maxFailures ?? 3)) return;
      }
    }
  }

  /** Stop every idle pooled kernel and delete its workspace. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.filling.values()]);
    const all = [...this.ready.values()].flat();
    this.ready.clear();
    await Promise.allSettled(
      all.map(async (p) => {
        await p.kernel.close();
        await p.workspace.destroy();
      }),
    );
  }
}
