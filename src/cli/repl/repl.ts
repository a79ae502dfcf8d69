/**
 * The interactive REPL over one session: node:readline line editing with a
 * persistent input history, multi-line cells (see cell-complete.ts), output
 * streamed and appended as it comes, %-commands, and Ctrl-C that interrupts a
 * running cell (the session keeps its state) or, pressed twice at an idle
 * prompt, leaves. Lines typed while a cell runs are kept and run after it,
 * as a terminal would. Resolves when the user leaves or input ends.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { errorMessage } from '../../errors.js';
import type { Language } from '../../sandbox/executor.js';
import type { SessionService } from '../../sessions/contract.js';
import { isCellComplete } from './cell-complete.js';
import { showResult } from './display.js';
import { loadInputHistory, saveInputHistory, INPUT_HISTORY_CAP } from './input-history.js';
import { runMagic, type MagicContext } from './magics.js';

export interface ReplOptions {
  sessions: SessionService;
  sessionId: string;
  language: Language;
  input: Readable;
  output: Writable;
  errors: Writable;
  /** A terminal: raw-mode line editing, Ctrl-C as a key. Otherwise lines are read as they come. */
  terminal: boolean;
  /** Where the input history is kept across runs (none: in memory only). */
  historyFile?: string;
  /** Where images from cells are saved. */
  imagesDir: string;
  /** Base for relative paths in %export. */
  cwd: string;
  /** Runs %agent TASK in this session; absent when no model is configured (the message says how to set one). */
  agent?: MagicContext['agent'];
  /** Why %agent is unavailable, when `agent` is absent. */
  agentUnavailable?: string;
}

export async function runRepl(o: ReplOptions): Promise<void> {
  const history = o.historyFile ? safeLoad(o.historyFile, o.errors) : [];
  const rl = createInterface({
    input: o.input,
    output: o.output,
    terminal: o.terminal,
    history,
    historySize: INPUT_HISTORY_CAP,
    removeHistoryDuplicates: true,
  });
  const out = (s: string) => void o.output.write(s);
  const err = (s: string) => void o.errors.write(s);
  let buffer: string[] = [];
  const pending: string[] = [];
  let busy = false;
  let closed = false;
  let leaving = false;
  let exitArmed = false;
  let abortCurrent: (() => void) | null = null;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  if (o.historyFile) {
    const file = o.historyFile;
    rl.on('history', (entries: string[]) => {
      try {
        saveInputHistory(file, entries);
      } catch (e) {
        err(`warning: cannot save the input history to ${file}: ${errorMessage(e)}\n`);
      }
    });
  }

  const count = () => {
    try {
      return o.sessions.get(o.sessionId).executionCount;
    } catch {
      return 0; // the session went away: the next run says why
    }
  };
  const prompt = () => {
    if (closed || leaving) return;
    const n = `In [${count() + 1}]: `;
    rl.setPrompt(buffer.length === 0 ? n : `${' '.repeat(n.length - 5)}...: `);
    rl.prompt();
  };

  const ctx: MagicContext = {
    sessions: o.sessions,
    sessionId: o.sessionId,
    language: o.language,
    cwd: o.cwd,
    out,
    err,
    ...(o.agent ? { agent: o.agent } : {}),
    ...(o.agentUnavailable ? { agentUnavailable: o.agentUnavailable } : {}),
  };

  const runCell = async (code: string) => {
    const streamed = { stdout: '', stderr: '' };
    abortCurrent = () => void o.sessions.interrupt(o.sessionId).catch((e: unknown) => err(`${errorMessage(e)}\n`));
    try {
      const r = await o.sessions.execute(o.sessionId, code, {
        onOutput: (c) => {
          streamed[c.stream] += c.text;
          (c.stream === 'stdout' ? out : err)(c.text);
        },
      });
      showResult(r, streamed, { out, err, imagesDir: o.imagesDir });
    } catch (e) {
      err(`error: ${errorMessage(e)}\n`);
    }
  };

  const runLine = async (line: string) => {
    if (buffer.length === 0 && line.trim() === '') return;
    if (buffer.length === 0 && line.trimStart().startsWith('%')) {
      const ac = new AbortController();
      abortCurrent = () => ac.abort();
      try {
        const what = await runMagic(line.trim(), ctx, ac.signal);
        if (what === 'quit') leaving = true;
      } catch (e) {
        err(`error: ${errorMessage(e)}\n`);
      }
      return;
    }
    buffer.push(line);
    if (!isCellComplete(buffer, o.language)) return;
    const code = buffer.join('\n').replace(/\s+$/, '');
    buffer = [];
    if (code.trim() !== '') await runCell(code);
  };

  /** Run queued lines one after another; prompt once idle. */
  const drain = async () => {
    if (busy) return;
    busy = true;
    while (pending.length > 0 && !leaving) {
      await runLine(pending.shift()!);
      abortCurrent = null;
    }
    busy = false;
    if (leaving || closed) {
      // Input ended: a cell still open runs as it is.
      if (!leaving && buffer.length > 0) {
        pending.push('');
        return void drain();
      }
      if (!closed) return void rl.close(); // its close event comes back here
      return finish();
    }
    prompt();
  };

  rl.on('line', (line) => {
    exitArmed = false;
    pending.push(line);
    void drain();
  });

  const onInterrupt = () => {
    if (busy && abortCurrent) {
      out('^C\n');
      abortCurrent();
      return;
    }
    if (buffer.length > 0 || rl.line.length > 0) {
      buffer = [];
      exitArmed = false;
      rl.write('', { ctrl: true, name: 'e' });
      rl.write('', { ctrl: true, name: 'u' });
      out('^C\n');
      prompt();
      return;
    }
    if (exitArmed || !o.terminal) {
      leaving = true;
      out('\n');
      rl.close();
      return;
    }
    exitArmed = true;
    out('^C\n(press Ctrl-C again to leave, or type %quit)\n');
    prompt();
  };
  rl.on('SIGINT', onInterrupt);
  // Without a terminal Ctrl-C arrives as a signal, not a key.
  const onSignal = () => onInterrupt();
  if (!o.terminal) process.on('SIGINT', onSignal);

  rl.on('close', () => {
    closed = true;
    if (!busy) void drain();
  });

  const info = o.sessions.get(o.sessionId);
  out(
    `codemode repl · ${o.language} · session ${o.sessionId}${info.executionCount ? ` (${info.executionCount} earlier cells)` : ''}\n` +
      `A blank line ends a multi-line cell. %help lists commands; Ctrl-C interrupts; Ctrl-D or %quit leaves.\n`,
  );
  prompt();
  try {
    await finished;
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}

function safeLoad(file: string, errors: Writable): string[] {
  try {
    return loadInputHistory(file);
  } catch (e) {
    errors.write(`warning: cannot read the input history ${file}: ${errorMessage(e)}\n`);
    return [];
  }
}
