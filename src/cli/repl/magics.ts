/**
 * The REPL's %-commands: %files, %history, %export, %restart, %agent, %help
 * and %quit. Each prints and returns; `quit` tells the REPL to leave. They
 * work through the SessionService only, like every other client.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../../errors.js';
import type { Language } from '../../sandbox/executor.js';
import type { SessionService } from '../../sessions/contract.js';
import { exportSession } from '../../sessions/notebook-script.js';

export interface MagicContext {
  sessions: SessionService;
  sessionId: string;
  language: Language;
  cwd: string;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Runs the agent on a task in this session, printing its steps; aborted by Ctrl-C. */
  agent?: (task: string, signal: AbortSignal, print: { out: (t: string) => void }) => Promise<void>;
  agentUnavailable?: string;
}

export const MAGIC_HELP = `%files [DIR]         list the workspace files
%history [N]         the cells run in this session (the last N)
%export FILE         save the session: FILE.ipynb is a notebook, any other name a script (.py, .js, .ts, .sh)
%restart             a fresh kernel: variables are cleared, files are kept
%agent TASK          let the model work on TASK in this session (--model or CODEMODE_AGENT_MODEL)
%help                this list
%quit                leave (the session is saved: codemode repl --session ID resumes it)
`;

export async function runMagic(line: string, c: MagicContext, signal: AbortSignal): Promise<'quit' | void> {
  const [, name = '', rest = ''] = /^%(\S*)\s*([\s\S]*)$/.exec(line) ?? [];
  const arg = rest.trim();
  switch (name) {
    case 'quit':
    case 'exit':
      return 'quit';
    case 'help':
    case '?':
      c.out(MAGIC_HELP);
      return;
    case 'files': {
      const files = await c.sessions.listFiles(c.sessionId, arg || undefined);
      if (files.length === 0) c.out('(no files)\n');
      const width = Math.max(0, ...files.map((f) => String(f.size).length));
      for (const f of files) c.out(`${String(f.size).padStart(width)}  ${f.path}\n`);
      return;
    }
    case 'history': {
      const n = arg ? Number(arg) : Infinity;
      if (!(n > 0)) throw new AppError('INVALID_ARGUMENT', `%history takes a positive number, got "${arg}"`);
      const cells = c.sessions.history(c.sessionId).slice(Number.isFinite(n) ? -n : 0);
      if (cells.length === 0) c.out('(no cells yet)\n');
      for (const r of cells) {
        c.out(`In [${r.executionCount}] ${r.kind === 'script' ? 'script ' : ''}${r.status}:\n`);
        c.out(`${r.code.replace(/\n$/, '').replace(/^/gm, '    ')}\n`);
      }
      return;
    }
    case 'export': {
      if (!arg) throw new AppError('INVALID_ARGUMENT', '%export needs a file name, e.g. %export analysis.ipynb');
      const file = path.resolve(c.cwd, arg);
      const format = file.toLowerCase().endsWith('.ipynb') ? 'ipynb' : 'script';
      const exported = exportSession(c.sessions, c.sessionId, format);
      writeFileSync(file, exported.text);
      const cells = c.sessions.history(c.sessionId).length;
      c.out(`wrote ${file} (${format === 'ipynb' ? 'notebook' : 'script'}, ${cells} cells)\n`);
      return;
    }
    case 'restart': {
      await c.sessions.restart(c.sessionId);
      c.out('kernel restarted: variables are cleared, workspace files are kept\n');
      return;
    }
    case 'agent': {
      if (!arg) throw new AppError('INVALID_ARGUMENT', '%agent needs a task, e.g. %agent plot data.csv');
      if (!c.agent) throw new AppError('INVALID_ARGUMENT', c.agentUnavailable ?? '%agent is not available');
      await c.agent(arg, signal, { out: c.out });
      return;
    }
    default:
      throw new AppError('INVALID_ARGUMENT', `unknown command %${name}; %help lists them`);
  }
}
