/**
 * `codemode fix FILE`: run a failing script (or a test command) in a session,
 * let the agent repair the file there, run the check again, and show a
 * unified diff. The host file is written back only with --write and only
 * when the check passes.
 *
 * Boundary: the file goes in and comes back through the session's file API
 * (the sandbox never sees a host path); what comes back must be UTF-8 text and
 * is shown as a diff before anything is written. "Fixed" means the check run
 * after the agent passed, not that the model said so.
 *
 * Exit codes: 0 the check passes (already, or after the fix), 1 still failing.
 */
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentEvent, AgentResult } from '../../agent/contract.js';
import { formatObservation } from '../../agent/feedback.js';
import { AppError, errorMessage } from '../../errors.js';
import type { SessionExecResult } from '../../sessions/contract.js';
import { numberFlag, parse } from '../args.js';
import { languageOfFile } from '../file-language.js';
import type { CliIO, Command } from '../io.js';
import {
  AGENT_RUN_OPTIONS,
  cliRecorder,
  LivePrinter,
  openAgentRuntime,
  runRecorded,
  type AgentCommandDeps,
} from './agent.js';

const HELP = `usage: codemode fix FILE [--test CMD] [--model MODEL] [--write] [--max-steps N]

Runs FILE (or CMD, a shell command run beside it) in a sandboxed session, lets
a model repair FILE until it passes, and prints a unified diff of FILE.

  --test CMD         the check to make pass, e.g. --test "python3 -c 'import calc; assert calc.add(2, 2) == 4'"
                     (default: run FILE itself: .py, .js, .mjs, .cjs or .sh)
  -m, --model MODEL  as for codemode agent (default: $CODEMODE_AGENT_MODEL)
      --write        write the fixed file back (only when the check passes)
      --max-steps N  model calls at most (default 10)
      --no-store     keep the sessions and the run's transcript in memory only
      --json         print { runId, fixed, changed, written, diff, result } as JSON

The agent's steps stream to stderr; the diff goes to stdout. The run is
recorded like any agent run (codemode runs show ID). Exit 0 when the check
passes, 1 when it still fails.
`;

/** The check script the --test command is written to (rewritten before each check). */
const CHECK_SCRIPT = '.codemode-fix-check.sh';

export type FixCommandDeps = AgentCommandDeps;

export const fixCommand: Command = (argv, io) => fixCommandWith(argv, io);

export async function fixCommandWith(argv: string[], io: CliIO, deps: FixCommandDeps = {}): Promise<number> {
  const { values, positionals } = parse(argv, {
    ...AGENT_RUN_OPTIONS,
    test: { type: 'string' },
    write: { type: 'boolean' },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new AppError('INVALID_ARGUMENT', `give one FILE to fix\n\n${HELP}`);
  const hostFile = path.resolve(io.cwd, positionals[0]!);
  const name = path.basename(hostFile);
  const language = languageOfFile(name, true);
  if (!language) throw new AppError('INVALID_ARGUMENT', `cannot tell the language of ${name} from its extension`);
  if (!values.test && language === 'typescript')
    throw new AppError('INVALID_ARGUMENT', `a .ts file cannot run on its own: give --test CMD`);
  const model = values.model ?? io.env.CODEMODE_AGENT_MODEL;
  if (!model) throw new AppError('INVALID_ARGUMENT', 'give --model (or set CODEMODE_AGENT_MODEL)');
  const maxSteps = numberFlag(values['max-steps'], 'max-steps') ?? 10;
  let original: Uint8Array;
  try {
    original = readFileSync(hostFile);
  } catch (e) {
    throw new AppError('NOT_FOUND', `cannot read ${hostFile}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`);
  }
  const originalText = decodeText(original, hostFile);
  const command = values.test ?? `run ${name}`;

  const { sessions: service, runs, close } = await openAgentRuntime(io, deps, Boolean(values['no-store']));
  const info = await service.create({ language });
  const check = async (): Promise<SessionExecResult> => {
    if (!values.test) return service.runScript(info.id, name, []);
    // Written again before every check, so the agent cannot weaken the check by editing it.
    await service.writeFile(info.id, CHECK_SCRIPT, new TextEncoder().encode(`cd "$(dirname "$0")"\n${values.test}\n`));
    return service.runScript(info.id, CHECK_SCRIPT, []);
  };
  try {
    await service.writeFile(info.id, name, original);
    const before = await check();
    if (before.status === 'ok') {
      if (values.json)
        io.stdout.write(JSON.stringify({ fixed: true, changed: false, written: false, diff: '' }, null, 2) + '\n');
      else io.stdout.write(`${name} already passes (${command}): nothing to fix\n`);
      return 0;
    }
    const failure = formatObservation(before, originalText, language, { headChars: 3000, tailChars: 3000 }).text;
    const task = [
      `The file ${name} in the workspace fails its check (${values.test ? `the shell command \`${values.test}\`` : `running ${name}`}):`,
      '',
      failure,
      '',
      `Fix ${name} so that the check passes: find the cause, change the file itself (write_file, or code that writes it), and run the check to confirm.`,
      'Keep the change small and keep what the file is for. Then give a one-line final answer saying what you changed.',
    ].join('\n');
    const recorder = cliRecorder(io, runs, {
      task,
      model,
      language,
      mode: 'auto',
      approval: 'auto',
      verify: false,
      budgets: { maxSteps },
      files: [{ path: name, content: original }],
    });
    const printer = values.json ? null : new LivePrinter({ ...io, stdout: io.stderr }, recorder.id);
    let result: AgentResult;
    try {
      result = await runRecorded(recorder, io, {
        task,
        model,
        env: io.env,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
        session: { service, id: info.id },
        budgets: { maxSteps },
        ...(printer ? { onEvent: (e: AgentEvent) => printer.event(e) } : {}),
      });
    } finally {
      printer?.stop();
    }
    const after = await check();
    const fixed = after.status === 'ok';
    const fixedText = decodeText(await service.readFile(info.id, name), `the fixed ${name}`);
    const changed = fixedText !== originalText;
    const diff = changed ? unifiedDiff(originalText, fixedText, `a/${name}`, `b/${name}`) : '';
    let written = false;
    if (values.write && fixed && changed) {
      writeBack(hostFile, fixedText);
      written = true;
    }
    if (values.json)
      io.stdout.write(JSON.stringify({ runId: recorder.id, fixed, changed, written, diff, result }, null, 2) + '\n');
    else {
      io.stdout.write(diff || `no change to ${name}\n`);
      const verdict = fixed ? `fixed: ${command} passes` : `still failing: ${command} ended ${after.status}`;
      const action = written
        ? `; wrote ${hostFile}`
        : values.write && changed
          ? '; not written (still failing)'
          : changed
            ? '; not written (use --write)'
            : '';
      io.stderr.write(`${verdict}${action} · run ${recorder.id}\n`);
    }
    return fixed ? 0 : 1;
  } finally {
    await service.close(info.id).catch(() => {
      // The session may have died with the run; closing it changes nothing for the result.
    });
    await close();
  }
}

function decodeText(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new AppError('INVALID_ARGUMENT', `${what} is not UTF-8 text: fix works on text files`);
  }
}

/** Replace the host file in one step (a temporary file beside it, then rename), keeping its mode. */
function writeBack(file: string, text: string): void {
  const mode = statSync(file).mode & 0o7777;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.codemode-fix-${process.pid}`);
  writeFileSync(tmp, text, { mode, flag: 'wx' });
  renameSync(tmp, file);
}

// ---- unified diff (Myers, line based) --------------------------------------------------------

type Op = { kind: ' ' | '-' | '+'; line: string };

/** Beyond this many edits the diff is shown as "all removed, all added" (Myers' trace grows as D x N). */
const MAX_EDITS = 2000;

/** A unified diff (3 lines of context) of two texts; '' when they are equal. */
export function unifiedDiff(a: string, b: string, fromName: string, toName: string, context = 3): string {
  if (a === b) return '';
  const ops = diffLines(splitLines(a), splitLines(b));
  const out = [`--- ${fromName}\n`, `+++ ${toName}\n`];
  // Walk the ops, opening a hunk at each change and closing it after `context` unchanged lines.
  let i = 0;
  let aLine = 0;
  let bLine = 0;
  while (i < ops.length) {
    if (ops[i]!.kind === ' ') {
      i++;
      aLine++;
      bLine++;
      continue;
    }
    const lead = Math.min(context, countBack(ops, i));
    const start = i - lead;
    let end = i;
    // Extend while the next change is within 2 * context unchanged lines.
    for (;;) {
      while (end < ops.length && ops[end]!.kind !== ' ') end++;
      let gap = 0;
      while (end + gap < ops.length && ops[end + gap]!.kind === ' ') gap++;
      if (end + gap < ops.length && gap <= 2 * context) end += gap;
      else {
        end += Math.min(gap, context);
        break;
      }
    }
    const hunk = ops.slice(start, end);
    const aStart = aLine - lead;
    const bStart = bLine - lead;
    const aCount = hunk.filter((o) => o.kind !== '+').length;
    const bCount = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${range(aStart, aCount)} +${range(bStart, bCount)} @@\n`);
    for (const o of hunk)
      out.push(`${o.kind}${o.line}${o.line.endsWith('\n') ? '' : '\n\\ No newline at end of file\n'}`);
    aLine = aStart + aCount;
    bLine = bStart + bCount;
    i = end;
  }
  return out.join('');
}

function range(start: number, count: number): string {
  // GNU diff: an empty range names the line before it.
  const first = count === 0 ? start : start + 1;
  return count === 1 ? `${first}` : `${first},${count}`;
}

function countBack(ops: Op[], i: number): number {
  let n = 0;
  while (i - n - 1 >= 0 && ops[i - n - 1]!.kind === ' ') n++;
  return n;
}

/** Lines with their terminators, so a missing final newline is a difference too. */
function splitLines(s: string): string[] {
  return s.split(/(?<=\n)/).filter((l) => l !== '');
}

function diffLines(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= Math.min(max, MAX_EDITS); d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b, off);
    }
  }
  return [...a.map((line) => ({ kind: '-' as const, line })), ...b.map((line) => ({ kind: '+' as const, line }))];
}

function backtrack(trace: Int32Array[], a: string[], b: string[], off: number): Op[] {
  const ops: Op[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = trace.length - 1; d >= 0; d--) {
    const v = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? k + 1 : k - 1;
    const prevX = v[off + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push({ kind: ' ', line: a[x - 1]! });
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) ops.push({ kind: '+', line: b[y - 1]! });
      else ops.push({ kind: '-', line: a[x - 1]! });
    }
    x = prevX;
    y = prevY;
  }
  return ops.reverse();
}
