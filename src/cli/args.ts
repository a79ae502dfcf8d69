/** Argument parsing shared by the commands: node's parseArgs with errors that name the flag. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AppError } from '../errors.js';

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw invalidArgument(e);
  }
}

/** The same for commands that take flags only: a positional argument is an error too. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (e) {
    throw invalidArgument(e);
  }
}

const invalidArgument = (e: unknown) =>
  new AppError('INVALID_ARGUMENT', (e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));

/** A positive number from a flag, or undefined when the flag was not given. */
export function numberFlag(value: string | undefined, flag: string, scale = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new AppError('INVALID_ARGUMENT', `--${flag} must be a positive number, got "${value}"`);
  return Math.round(n * scale);
}
