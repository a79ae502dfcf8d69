/**
 * Resource limits: defaults, the server-wide ceiling, and the pure rule that a
 * per-call override may ask for anything up to the ceiling and nothing above it.
 */
import { AppError } from '../errors.js';

export interface Limits {
  /** Wall-clock time of one run, enforced by the host. */
  wallMs: number;
  /** CPU time of one run (RLIMIT_CPU for one-shot runs, cgroup usage for kernels). */
  cpuMs: number;
  /** Memory of the whole process tree (cgroup). */
  memoryBytes: number;
  /** Live processes and threads in the tree (cgroup pids). */
  processes: number;
  /** Bytes kept per stream (stdout, stderr); the rest is dropped and counted. */
  outputBytes: number;
  /** Bytes a run may print in total before it is stopped as an output flood. */
  outputTotalBytes: number;
  /** Workspace disk use, and the largest single file (RLIMIT_FSIZE). */
  diskBytes: number;
  /** Size of each of /tmp and /dev/shm (tmpfs). */
  tmpBytes: number;
  /** Open file descriptors (RLIMIT_NOFILE). */
  openFiles: number;
}

export const LIMIT_KEYS = [
  'wallMs',
  'cpuMs',
  'memoryBytes',
  'processes',
  'outputBytes',
  'outputTotalBytes',
  'diskBytes',
  'tmpBytes',
  'openFiles',
] as const satisfies readonly (keyof Limits)[];

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  wallMs: 30_000,
  cpuMs: 30_000,
  memoryBytes: 512 * MiB,
  processes: 64,
  outputBytes: 1 * MiB,
  outputTotalBytes: 64 * MiB,
  diskBytes: 256 * MiB,
  tmpBytes: 64 * MiB,
  openFiles: 256,
});

export const MAX_LIMITS: Readonly<Limits> = Object.freeze({
  wallMs: 600_000,
  cpuMs: 600_000,
  memoryBytes: 4096 * MiB,
  processes: 512,
  outputBytes: 16 * MiB,
  outputTotalBytes: 1024 * MiB,
  diskBytes: 4096 * MiB,
  tmpBytes: 1024 * MiB,
  openFiles: 4096,
});

/** Lower bounds below which a sandbox cannot even start an interpreter. */
const MIN_LIMITS: Readonly<Limits> = Object.freeze({
  wallMs: 10,
  cpuMs: 10,
  memoryBytes: 16 * MiB,
  processes: 4,
  outputBytes: 1024,
  outputTotalBytes: 1024,
  diskBytes: 64 * 1024,
  tmpBytes: 64 * 1024,
  openFiles: 16,
});

export type LimitOverrides = Partial<Limits>;

/**
 * The limits of one run: `base` (the server's defaults) with `overrides`
 * applied, each checked against `ceiling`. Unknown keys, non-numbers and values
 * above the ceiling are refused with an error that names the key.
 */
export function resolveLimits(
  overrides: unknown,
  base: Readonly<Limits> = DEFAULT_LIMITS,
  ceiling: Readonly<Limits> = MAX_LIMITS,
): Limits {
  const out: Limits = { ...base };
  for (const key of LIMIT_KEYS) out[key] = Math.min(out[key], ceiling[key]);
  if (overrides === undefined || overrides === null) return out;
  if (typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new AppError('INVALID_ARGUMENT', 'limits must be an object such as {"wallMs": 5000}');
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(LIMIT_KEYS as readonly string[]).includes(key)) {
      throw new AppError(
        'INVALID_ARGUMENT',
        `limits.${key} is not a known limit; known limits: ${LIMIT_KEYS.join(', ')}`,
        {
          argument: `limits.${key}`,
        },
      );
    }
    const k = key as keyof Limits;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new AppError('INVALID_ARGUMENT', `limits.${key} must be a positive number, got ${JSON.stringify(value)}`, {
        argument: `limits.${key}`,
      });
    }
    if (value > ceiling[k]) {
      throw new AppError(
        'LIMIT_EXCEEDED',
        `limits.${key} = ${value} is above this server's maximum of ${ceiling[k]}; ask for ${ceiling[k]} or less`,
        { argument: `limits.${key}`, maximum: ceiling[k] },
      );
    }
    out[k] = Math.min(Math.max(Math.floor(value), MIN_LIMITS[k]), ceiling[k]);
  }
  return out;
}
