/**
 * The codemode CLI entry: one command table, each command lazy-loaded. Only
 * this function decides the process exit code; commands return it.
 */
import { AppError, errorMessage, isAppError } from '../errors.js';
import { processIO, type CliIO, type Command } from './io.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  exec: {
    summary: 'run code (a file, a string or stdin) in the sandbox and print the result',
    load: async () => (await import('./commands/exec.js')).execCommand,
  },
  serve: {
    summary: 'serve the MCP tools over stdio (default) or Streamable HTTP (--http)',
    load: async () => (await import('./commands/serve.js')).serveCommand,
  },
  ui: {
    summary: 'open the workbench in the browser: sessions, editor, files, agent (loopback, fresh token)',
    load: async () => (await import('./commands/ui.js')).uiCommand,
  },
  agent: {
    summary: 'let a model write and run code in a session until a task is done (--model, --verify)',
    load: async () => (await import('./commands/agent.js')).agentCommand,
  },
  runs: {
    summary: 'recorded agent runs: list, show, export (json or Markdown), replay offline',
    load: async () => (await import('./commands/runs.js')).runsCommand,
  },
  fix: {
    summary: 'let a model repair a failing file (or make --test CMD pass); prints a diff, --write applies it',
    load: async () => (await import('./commands/fix.js')).fixCommand,
  },
  repl: {
    summary: 'an interactive session in the terminal (--lang, --session ID to resume, --json for scripts)',
    load: async () => (await import('./commands/repl.js')).replCommand,
  },
  sessions: {
    summary: 'saved sessions: list, show, history, export (ipynb or script), resume, close',
    load: async () => (await import('./commands/sessions.js')).sessionsCommand,
  },
  check: {
    summary: 'analyse code without running it: syntax errors and policy findings (exit 1 when something blocks)',
    load: async () => (await import('./commands/check.js')).checkCommand,
  },
  test: {
    summary: "run a project's tests (pytest or node --test) in the sandbox and report each one",
    load: async () => (await import('./commands/test.js')).testCommand,
  },
  kits: {
    summary: 'kits of packages sessions can use: list, install NAME (operator only), remove NAME',
    load: async () => (await import('./commands/kits.js')).kitsCommand,
  },
  worker: {
    summary: 'run kernels and one-shot runs for a codemode cluster over NATS (--nats URL)',
    load: async () => (await import('./commands/worker.js')).workerCommand,
  },
  cluster: {
    summary: 'a codemode cluster: status (workers, load, sessions)',
    load: async () => (await import('./commands/cluster.js')).clusterCommand,
  },
  doctor: {
    summary: 'show which isolation layers and limits are in force on this machine',
    load: async () => (await import('./commands/doctor.js')).doctorCommand,
  },
};

export const VERSION = '0.1.0';

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'codemode: run LLM-written code in a real sandbox, over MCP',
    '',
    'usage: codemode <command> [options]      (codemode <command> --help for details)',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n');
}

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`codemode ${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`codemode: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await (
      await command.load()
    )(rest, io);
  } catch (e) {
    if (isAppError(e)) {
      io.stderr.write(`codemode ${name}: ${e.message}\n`);
      return exitCodeFor(e);
    }
    io.stderr.write(`codemode ${name}: internal error: ${errorMessage(e)}\n${e instanceof Error ? e.stack : ''}\n`);
    return 70;
  }
}

/**
 * Exit codes of every command (the README's "Exit codes" table): 0 success;
 * 1 the program or the task failed; 2 usage (a bad flag, a limit above the
 * maximum, a missing --file); 3 the sandbox is unavailable; 4 not found (a
 * FILE or id that does not exist); 70 internal error (sysexits' EX_SOFTWARE).
 * `exec` also passes the program's own code through, and uses 124 timeout,
 * 125 another limit, 130 cancelled (Ctrl-C); `agent` uses 69 provider failed.
 */
export function exitCodeFor(e: AppError): number {
  switch (e.code) {
    case 'INVALID_ARGUMENT':
    case 'INVALID_CONFIG':
    case 'LIMIT_EXCEEDED':
    case 'PATH_ESCAPE':
    case 'TOO_LARGE':
      return 2;
    case 'SANDBOX_UNAVAILABLE':
      return 3;
    case 'NOT_FOUND':
      return 4;
    default:
      return 1;
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) process.exitCode = await main(process.argv.slice(2));
