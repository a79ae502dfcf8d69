/** The language a source file's extension names, for the commands that take a file (exec, check). */
import path from 'node:path';
import type { Language } from '../sandbox/executor.js';

const EXTENSIONS: Readonly<Record<string, Language>> = {
  '.py': 'python',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.ts': 'typescript',
  '.mts': 'typescript',
  '.sh': 'bash',
  '.bash': 'bash',
};

/** The language of `file` by its extension, compared as written (or lower-cased with `ignoreCase`). */
export function languageOfFile(file: string, ignoreCase = false): Language | undefined {
  const ext = path.extname(file);
  return EXTENSIONS[ignoreCase ? ext.toLowerCase() : ext];
}
