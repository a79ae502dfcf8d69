/**
 * Small pure helpers the task checkers share: numbers in an answer, CSV and
 * JSON from the workspace. Every helper returns a reason string on failure,
 * so a checker reads as a list of conditions.
 */
import type { TaskWorkspace } from './contract.js';

/** Every number written in the text (commas between digits ignored). */
export function numbersIn(text: string): number[] {
  return [...text.replace(/(\d),(?=\d{3}\b)/g, '$1').matchAll(/-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi)].map((m) =>
    Number(m[0]),
  );
}

/** undefined when some number in the answer is within `tolerance` of `expected`. */
export function expectNumber(answer: string, expected: number, tolerance = 1e-6): string | undefined {
  const found = numbersIn(answer);
  if (found.some((n) => Math.abs(n - expected) <= tolerance)) return undefined;
  return `expected ${expected} in the answer, found ${found.length ? found.join(', ') : 'no number'}`;
}

/** Rows of a simple CSV (no quoted commas), header included. */
export function parseCsv(text: string): string[][] {
  return text
    .trim()
    .split(/\r?\n/)
    .map((l) => l.split(',').map((c) => c.trim()));
}

/** The parsed JSON of a workspace file, or a reason. */
export async function readJson(ws: TaskWorkspace, path: string): Promise<{ value: unknown } | { problem: string }> {
  const text = await ws.read(path);
  if (text === undefined) return { problem: `${path} was not written` };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { problem: `${path} is not valid JSON` };
  }
}

/** Order-insensitive deep equality for plain JSON values (object key order ignored). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The non-empty lines of a workspace file, or a reason. */
export async function readLines(ws: TaskWorkspace, path: string): Promise<{ lines: string[] } | { problem: string }> {
  const text = await ws.read(path);
  if (text === undefined) return { problem: `${path} was not written` };
  return { lines: text.split(/\r?\n/).filter((l) => l.trim() !== '') };
}
