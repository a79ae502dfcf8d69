/**
 * `codemode repl`: an interactive session in the terminal (src/cli/repl/), or
 * with --json one JSON result per input line for scripts. The session lives
 * in the store like any other: `codemode sessions` lists it and
 * `codemode repl --session ID` comes back to it.
 *
 * Exit codes: 0, or with --json 1 when a cell did not end ok; 4 unknown session.
 */
import path from 'node:path';
import { AppError } from '../../errors.js';
import { LANGUAGES, type Language } from '../../sandbox/executor.js';
import type { SessionService } from '../../sessions/contract.js';
import { parse } from '../args.js';
import type { CliIO, Command } from '../io.js';
import { openSessionRuntime } from '../session-runtime.js';

const HELP = `usage: codemode repl [--lang python|js|ts|bash] [--session ID [--replay]] [--json] [--model MODEL]

An interactive session in the sandbox: variables persist between cells.

  -l, --lang LANG      python (default), javascript (js), typescript (ts) or bash
      --session ID     resume a saved session (see codemode sessions list): its files and history
      --replay         with --session: re-run its successful cells to rebuild the variables
      --json           for scripts: each input line is a cell ({"code": "..."} or the code itself);
                       each result is printed as one JSON line
  -m, --model MODEL    the model for %agent (default: $CODEMODE_AGENT_MODEL, then settings agent.models)
      --images DIR     where images from cells are saved (default ./codemode-images)

In the REPL: a blank line ends a multi-line cell; Ctrl-C interrupts the running
cell (twice at an empty prompt leaves); %help lists the %-commands.
`;

const LANGUAGE_ALIASES: Record<string, Language> = { js: 'javascript', ts: 'typescript', py: 'python', sh: 'bash' };

export function languageFlag(value: string | undefined): Language | undefined {
  if (value === undefined) return undefined;
  const lang = LANGUAGE_ALIASES[value] ?? value;
  if (!(LANGUAGES as readonly string[]).includes(lang))
    throw new AppError('INVALID_ARGUMENT', `--lang must be one of ${LANGUAGES.join(', ')} (or js, ts), got "${value}"`);
  return lang as Language;
}

export const replCommand: Command = async (argv, io) => {
  const { values, positionals } = parse(argv, {
    lang: { type: 'string', short: 'l' },
    session: { type: 'string' },
    replay: { type: 'boolean' },
    json: { type: 'boolean' },
    model: { type: 'string', short: 'm' },
    images: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw new AppError('INVALID_ARGUMENT', `unexpected argument "${positionals[0]}"`);
  if (values.replay && !values.session) throw new AppError('INVALID_ARGUMENT', '--replay only applies with --session');
  const asked = languageFlag(values.lang);
  const runtime = await openSessionRuntime(io);
  const { sessions, settings } = runtime;
  try {
    const { id, language } = await openSession(sessions, asked, values.session, Boolean(values.replay), io);
    if (values.json) {
      const { runJsonCells } = await import('../repl/json-mode.js');
      const failed = await runJsonCells({ sessions, sessionId: id, input: io.stdin, output: io.stdout });
      return failed > 0 ? 1 : 0;
    }
    const { runRepl } = await import('../repl/repl.js');
    const { replAgent } = await import('../repl/agent-run.js');
    const model = values.model ?? io.env.CODEMODE_AGENT_MODEL ?? settings.agent.models[0];
    await runRepl({
      sessions,
      sessionId: id,
      language,
      input: io.stdin,
      output: io.stdout,
      errors: io.stderr,
      terminal: io.stdinIsTTY,
      historyFile: path.join(runtime.stateDir, 'repl_history'),
      imagesDir: path.resolve(io.cwd, values.images ?? 'codemode-images'),
      cwd: io.cwd,
      ...(model
        ? { agent: replAgent({ sessions, sessionId: id, model, env: io.env }) }
        : { agentUnavailable: '%agent needs a model: start the REPL with --model or set CODEMODE_AGENT_MODEL' }),
    });
    io.stderr.write(`session ${id} is saved; resume it with: codemode repl --session ${id}\n`);
    return 0;
  } finally {
    await runtime.close();
  }
};

/** A new session, or a saved one resumed (in its own language). */
async function openSession(
  sessions: SessionService,
  asked: Language | undefined,
  resumeId: string | undefined,
  replay: boolean,
  io: CliIO,
): Promise<{ id: string; language: Language }> {
  if (resumeId === undefined) {
    const info = await sessions.create({ language: asked ?? 'python' });
    return { id: info.id, language: info.language };
  }
  const saved = sessions.listResumable().find((s) => s.id === resumeId);
  if (saved && asked && asked !== saved.language)
    throw new AppError('INVALID_ARGUMENT', `session ${resumeId} is a ${saved.language} session, not ${asked}`);
  const info = await sessions.create({
    language: saved?.language ?? asked ?? 'python',
    resumeId,
    replayHistory: replay,
  });
  if (info.note) io.stderr.write(`${info.note}\n`);
  return { id: info.id, language: info.language };
}
