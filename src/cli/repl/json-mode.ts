/**
 * `codemode repl --json`: for scripts. Each input line is one cell, either
 * JSON `{"code": "..."}` (for code with newlines) or the line itself as code;
 * blank lines are skipped. Each cell's result is written as one JSON line, in
 * order. SIGINT interrupts the running cell and stops reading.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { errorMessage, isAppError } from '../../errors.js';
import type { SessionService } from '../../sessions/contract.js';

/** The code of one input line: the `code` of a JSON object, or the line as written. */
export function cellOfLine(line: string): string {
  if (line.trimStart().startsWith('{')) {
    try {
      const v = JSON.parse(line) as unknown;
      if (v !== null && typeof v === 'object' && typeof (v as { code?: unknown }).code === 'string') {
        return (v as { code: string }).code;
      }
    } catch {
      // not JSON: code that starts with a brace (a JS block, a bash group)
    }
  }
  return line;
}

/** Runs every cell; returns how many did not end ok. */
export async function runJsonCells(o: {
  sessions: SessionService;
  sessionId: string;
  input: Readable;
  output: Writable;
}): Promise<number> {
  const rl = createInterface({ input: o.input, terminal: false, crlfDelay: Infinity });
  let failed = 0;
  let stopped = false;
  let running = false;
  const onSigint = () => {
    stopped = true;
    if (running) void o.sessions.interrupt(o.sessionId).catch(() => {}); // gone already: nothing to interrupt
    rl.close();
  };
  process.on('SIGINT', onSigint);
  try {
    for await (const line of rl) {
      if (stopped) break;
      if (line.trim() === '') continue;
      running = true;
      try {
        const r = await o.sessions.execute(o.sessionId, cellOfLine(line));
        if (r.status !== 'ok') failed++;
        o.output.write(`${JSON.stringify(r)}\n`);
      } catch (e) {
        failed++;
        const error = { type: isAppError(e) ? e.code : 'Error', message: errorMessage(e) };
        o.output.write(`${JSON.stringify({ status: 'not_started', sessionId: o.sessionId, error })}\n`);
      } finally {
        running = false;
      }
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  return failed;
}
