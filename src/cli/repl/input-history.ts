/**
 * The REPL's input history, kept across runs in one file in the state
 * directory: one entry a line, oldest first (like ~/.bash_history), capped,
 * private (0600). readline holds it newest first.
 */
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export const INPUT_HISTORY_CAP = 1000;

/** Entries newest first, as readline's `history` option wants them; none when the file is missing or unreadable. */
export function loadInputHistory(file: string, cap = INPUT_HISTORY_CAP): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-cap)
    .reverse();
}

/** Save readline's entries (newest first), keeping the newest `cap`; written whole then renamed into place. */
export function saveInputHistory(file: string, newestFirst: readonly string[], cap = INPUT_HISTORY_CAP): void {
  const lines = newestFirst
    .filter((l) => l.trim() !== '' && !l.includes('\n'))
    .slice(0, cap)
    .reverse();
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, lines.length ? `${lines.join('\n')}\n` : '', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
