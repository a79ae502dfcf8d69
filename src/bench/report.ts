/**
 * The one statistics helper every benchmark uses: quantiles, interleaved A/B
 * sampling (a subject and its floor alternate in one process, so machine noise
 * hits both alike), and the row every bench prints: subject, floor, median,
 * ratio, target, verdict. Invariant: a p99 is only reported from 200+ samples;
 * fewer yield `null`, never a number that looks like a tail.
 */

/** Which subjects a run measures (`--only`): every bench asks before it samples one. */
export type SubjectFilter = (subject: string) => boolean;

/** Subjects whose name contains any of `patterns` (case-insensitive); all subjects without patterns. */
export function subjectFilter(patterns: readonly string[]): SubjectFilter {
  const wanted = patterns.map((p) => p.toLowerCase()).filter(Boolean);
  if (wanted.length === 0) return () => true;
  return (subject) => wanted.some((p) => subject.toLowerCase().includes(p));
}

/** Fewest samples from which a p99 means something. */
export const P99_MIN_SAMPLES = 200;

export interface Stats {
  n: number;
  median: number;
  min: number;
  p90: number;
  /** `null` when fewer than {@link P99_MIN_SAMPLES} samples were taken. */
  p99: number | null;
}

/** Quantile q (0..1) of samples, linear interpolation between closest ranks. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const s = [...samples].sort((a, b) => a - b);
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

export function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function stats(samples: readonly number[]): Stats {
  return {
    n: samples.length,
    median: round(median(samples)),
    min: round(samples.length ? Math.min(...samples) : NaN),
    p90: round(quantile(samples, 0.9)),
    p99: samples.length >= P99_MIN_SAMPLES ? round(quantile(samples, 0.99)) : null,
  };
}

/** How a subject is judged against its floor. */
export type Target =
  { kind: 'ratio'; max: number } | { kind: 'plus'; ms: number } | { kind: 'under'; ms: number } | { kind: 'info' };

export type Verdict = 'PASS' | 'MISS' | 'INFO';

export interface ReportRow {
  subject: string;
  /** Median of the floor measured beside the subject; null when no floor applies. */
  floor: number | null;
  median: number;
  /** median / floor; null without a floor. */
  ratio: number | null;
  target: string;
  verdict: Verdict;
  /** Extra figures (p99, n, notes) kept in the JSON, not the table. */
  detail?: Record<string, unknown>;
}

export function describeTarget(t: Target): string {
  switch (t.kind) {
    case 'ratio':
      return `<= ${round(t.max, 3)}x floor`;
    case 'plus':
      return `<= floor + ${t.ms} ms`;
    case 'under':
      return `< ${t.ms} ms`;
    case 'info':
      return '-';
  }
}

export function judge(medianMs: number, floorMs: number | null, t: Target): Verdict {
  if (!Number.isFinite(medianMs)) return 'MISS';
  switch (t.kind) {
    case 'ratio':
      return floorMs !== null && floorMs > 0 && medianMs <= floorMs * t.max ? 'PASS' : 'MISS';
    case 'plus':
      return floorMs !== null && medianMs <= floorMs + t.ms ? 'PASS' : 'MISS';
    case 'under':
      return medianMs < t.ms ? 'PASS' : 'MISS';
    case 'info':
      return 'INFO';
  }
}

export function makeRow(
  subject: string,
  subjectSamples: readonly number[],
  floorSamples: readonly number[] | null,
  target: Target,
  detail: Record<string, unknown> = {},
): ReportRow {
  const m = median(subjectSamples);
  const f = floorSamples && floorSamples.length ? median(floorSamples) : null;
  return {
    subject,
    floor: f === null ? null : round(f),
    median: round(m),
    ratio: f === null || f <= 0 ? null : round(m / f, 2),
    target: describeTarget(target),
    verdict: judge(m, f, target),
    detail: {
      subject: stats(subjectSamples),
      ...(floorSamples ? { floor: stats(floorSamples) } : {}),
      ...detail,
    },
  };
}

/**
 * Samples a subject and its floor alternately (ABAB..., order flipped every
 * round so neither always runs second) in this process. Returns both sample
 * lists, warm-up rounds dropped.
 */
export async function interleave(
  subject: () => Promise<unknown>,
  floor: () => Promise<unknown>,
  rounds: number,
  warmup = Math.min(10, Math.ceil(rounds / 10)),
): Promise<{ subject: number[]; floor: number[] }> {
  const a: number[] = [];
  const b: number[] = [];
  const time = async (fn: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  for (let i = 0; i < warmup + rounds; i++) {
    let ta: number;
    let tb: number;
    if (i % 2 === 0) {
      ta = await time(subject);
      tb = await time(floor);
    } else {
      tb = await time(floor);
      ta = await time(subject);
    }
    if (i >= warmup) {
      a.push(ta);
      b.push(tb);
    }
  }
  return { subject: a, floor: b };
}

/** Samples one function `rounds` times after `warmup` unrecorded calls. */
export async function sample(fn: () => Promise<unknown>, rounds: number, warmup = 0): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < warmup + rounds; i++) {
    const t0 = performance.now();
    await fn();
    if (i >= warmup) out.push(performance.now() - t0);
  }
  return out;
}

const fmt = (v: number | null, d = 3): string => (v === null || !Number.isFinite(v) ? '-' : v.toFixed(d));

/** The one table: subject, floor, median, ratio, target, verdict. */
export function formatTable(rows: readonly ReportRow[]): string {
  const header = ['subject', 'floor ms', 'median ms', 'ratio', 'target', 'verdict'];
  const body = rows.map((r) => [r.subject, fmt(r.floor), fmt(r.median), fmt(r.ratio, 2), r.target, r.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
