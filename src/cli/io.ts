/**
 * The CLI's view of the outside world, injected so commands can be tested
 * without a terminal: streams, environment and working directory.
 */
import type { Readable, Writable } from 'node:stream';

export interface CliIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** True when stdin is a terminal (no piped input). */
  stdinIsTTY: boolean;
}

export function processIO(): CliIO {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stdinIsTTY: Boolean(process.stdin.isTTY),
  };
}

/** A command: parses its own argv, prints, and returns the process exit code. */
export type Command = (argv: string[], io: CliIO) => Promise<number>;
