/**
 * Public surface of stateful sessions: the SessionService implementation and
 * the pieces it is built from. The contract itself lives in ./contract.ts.
 */
export { DEFAULT_OWNER, SessionManager } from './session-manager.js';
export type { SessionManagerOptions } from './session-manager.js';
export { DEFAULT_INTERPRETERS, Kernel, kernelFamily, kernelScriptPath } from './kernel.js';
export type { Interpreters, KernelFamily, KernelOptions, KernelRunRequest, KernelRunResult } from './kernel.js';
export { WarmPool, sameKernelLimits } from './warm-pool.js';
export type { PooledKernel, WarmPoolOptions } from './warm-pool.js';
export { Workspace, Workspaces } from '../sandbox/workspace/workspaces.js';
export type { WorkspacesOptions } from '../sandbox/workspace/workspaces.js';
export { toNotebook } from './notebook.js';
export type {
  CreateSessionOptions,
  ExecutionRecord,
  SessionExecOptions,
  SessionExecResult,
  SessionInfo,
  SessionService,
  SessionState,
} from './contract.js';
