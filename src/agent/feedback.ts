/**
 * Turns an execution result into an observation made for a model. Pure.
 * A model reads the head and tail of long output (with the bytes cut named),
 * the error and the line of its own code that raised it, references to rich
 * outputs, and a hint for failures it cannot fix by retrying the same thing.
 */
import type { ExecResult, Language } from '../sandbox/executor.js';

export interface ObservationImage {
  mediaType: string;
  /** base64 */
  data: string;
}

export interface Observation {
  text: string;
  images: ObservationImage[];
  ok: boolean;
}

export interface FeedbackOptions {
  /** Characters kept from each stream: head and tail (default 2000 + 1500). */
  headChars?: number;
  tailChars?: number;
  /** Traceback lines kept (the last ones). Default 12. */
  tracebackLines?: number;
  /** Packages the sandbox has, for the "module not installed" hint. */
  availablePackages?: string[];
}

type ResultLike = Pick<
  ExecResult,
  'status' | 'exitCode' | 'stdout' | 'stderr' | 'stdoutDroppedBytes' | 'stderrDroppedBytes' | 'error' | 'outputs'
> &
  Partial<Pick<ExecResult, 'durationMs' | 'reason' | 'limits' | 'findings'>>;

const utf8 = (s: string) => new TextEncoder().encode(s).length;

/** Head and tail of a stream, with the cut named in bytes (including what the sandbox already dropped). */
export function clip(text: string, droppedBytes: number, head = 2000, tail = 1500): string {
  let out = text;
  if (text.length > head + tail + 200) {
    const cut = text.slice(head, text.length - tail);
    out = `${text.slice(0, head)}\n... [${utf8(cut)} bytes cut] ...\n${text.slice(text.length - tail)}`;
  }
  if (droppedBytes > 0) out += `\n... [${droppedBytes} more bytes dropped by the output limit]`;
  return out;
}

export function formatObservation(
  result: ResultLike,
  code: string,
  language: Language,
  options: FeedbackOptions = {},
): Observation {
  const parts: string[] = [];
  const secs = result.durationMs !== undefined ? ` in ${(result.durationMs / 1000).toFixed(2)} s` : '';
  const exit = result.exitCode !== null && result.exitCode !== 0 ? ` (exit code ${result.exitCode})` : '';
  parts.push(`Status: ${result.status}${exit}${secs}${result.reason ? ` (${result.reason})` : ''}`);
  const head = options.headChars ?? 2000;
  const tail = options.tailChars ?? 1500;
  if (result.stdout || result.stdoutDroppedBytes)
    parts.push(`stdout:\n${clip(result.stdout, result.stdoutDroppedBytes, head, tail).replace(/\n$/, '')}`);
  const stderr = stripTracebackFromStderr(result.stderr, result.error?.traceback);
  if (stderr || result.stderrDroppedBytes)
    parts.push(`stderr:\n${clip(stderr, result.stderrDroppedBytes, head, tail).replace(/\n$/, '')}`);

  const images: ObservationImage[] = [];
  for (const [i, o] of (result.outputs ?? []).entries()) {
    const image = Object.keys(o.data).find((k) => k.startsWith('image/') && k !== 'image/svg+xml');
    if (image) {
      const data = o.data[image] ?? '';
      images.push({ mediaType: image, data });
      parts.push(
        `[${o.kind} ${i + 1}: ${image}, ${Math.round((data.length * 3) / 4 / 1024)} KB, attached as image ${images.length}]`,
      );
    } else if (o.data['text/plain'] !== undefined) {
      const label = o.kind === 'result' ? 'Result' : `Display ${i + 1}`;
      parts.push(`${label}: ${clip(o.data['text/plain'], 0, 1000, 500)}`);
    } else parts.push(`[${o.kind} ${i + 1}: ${Object.keys(o.data).join(', ')}]`);
  }

  if (result.error) {
    const e = result.error;
    parts.push(`Error: ${e.type}: ${e.message}`);
    const line = e.line !== undefined ? code.split('\n')[e.line - 1] : undefined;
    if (e.line !== undefined && line !== undefined)
      parts.push(`At line ${e.line} of your code:\n  ${e.line} | ${line}`);
    if (e.traceback) parts.push(`Traceback (last lines):\n${trimTraceback(e.traceback, options.tracebackLines ?? 12)}`);
  }
  // Static-analysis findings (src/analysis): why a run was blocked, or what it tried that cannot work.
  for (const f of result.findings ?? [])
    parts.push(`Analysis (${f.severity}) ${f.rule} at line ${f.line}: ${f.message} Hint: ${f.hint}`);
  const hint = hintFor(result, language, options.availablePackages);
  if (hint) parts.push(`Hint: ${hint}`);
  if (result.status === 'ok' && !result.stdout && !result.stderr && !(result.outputs ?? []).length)
    parts.push('(no output: print what you need to see)');
  return { text: parts.join('\n'), images, ok: result.status === 'ok' };
}

/** The last `max` lines of a traceback, with a marker naming how many were left out. */
export function trimTraceback(tb: string, max: number): string {
  const lines = tb.replace(/\n+$/, '').split('\n');
  if (lines.length <= max) return lines.join('\n');
  return [`... (${lines.length - max} lines above left out)`, ...lines.slice(-max)].join('\n');
}

/** Kernels often print the traceback on stderr too: do not show it twice. */
function stripTracebackFromStderr(stderr: string, traceback: string | undefined): string {
  if (!traceback || !stderr) return stderr;
  const i = stderr.indexOf(traceback.trim().split('\n')[0] ?? '\u0000');
  return i >= 0 ? stderr.slice(0, i).replace(/\s+$/, '') : stderr;
}

/** The module a "not installed" error names, or undefined. */
export function missingModule(result: Pick<ResultLike, 'error' | 'stderr'>): string | undefined {
  const text = `${result.error?.type ?? ''}: ${result.error?.message ?? ''}\n${result.stderr}`;
  return (
    /No module named '([^'.]+)/.exec(text)?.[1] ??
    /Cannot find (?:module|package) '([^']+)'/.exec(text)?.[1] ??
    /ERR_MODULE_NOT_FOUND[^']*'([^']+)'/.exec(text)?.[1]
  );
}

function hintFor(result: ResultLike, language: Language, packages: string[] | undefined): string | undefined {
  const mod = missingModule(result);
  if (mod) {
    const list = packages?.length ? ` Available: ${packages.slice(0, 60).join(', ')}.` : '';
    const how = language === 'python' ? 'pip' : 'npm';
    return `"${mod}" is not installed and the sandbox has no network, so ${how} cannot install it. Use the standard library or an available package instead.${list}`;
  }
  const limitSecs = result.limits ? ` of ${Math.round(result.limits.wallMs / 1000)} s` : '';
  switch (result.status) {
    case 'timeout':
      return `the run hit the time limit${limitSecs}: do less per step, or make it faster (no busy loops, no waiting on input).`;
    case 'cpu_time':
      return 'the run used up its CPU time: use a faster algorithm or less data per step.';
    case 'memory':
      return 'the run ran out of memory: process the data in chunks or use smaller types.';
    case 'output_limit':
      return 'the run printed too much: print a summary (head, counts, shapes) instead of everything.';
    case 'disk_limit':
      return 'the workspace is full: delete files you no longer need or write less.';
    case 'process_limit':
      return 'too many processes: do not fork in a loop.';
    case 'interrupted':
    case 'cancelled':
      return 'the run was stopped before it finished.';
    default:
      break;
  }
  if (result.error?.type === 'SyntaxError' || result.error?.type === 'IndentationError')
    return 'the code did not parse: check the quoted line, brackets and indentation.';
  return undefined;
}
