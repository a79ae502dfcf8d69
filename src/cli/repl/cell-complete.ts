/**
 * When does a REPL cell end? A blank line always ends it (except inside an
 * unfinished multi-line string); otherwise a heuristic per language says
 * whether the lines typed so far are a complete statement. Python: open
 * brackets or strings, a line ending in ':' or '\', or an indented last line
 * of a block continue. JS/TS: open brackets, strings or comments continue.
 * Bash: open quotes, brackets, if/case/loops, and a trailing '\', '|', '&&' or
 * '||' continue. Pure: no I/O. It only decides when to send; the kernel still
 * judges the code.
 */
import type { Language } from '../../sandbox/executor.js';

/** `true` when the cell should run now, `false` when the REPL should ask for another line. */
export function isCellComplete(lines: readonly string[], language: Language): boolean {
  if (lines.every((l) => l.trim() === '')) return true; // nothing to wait for
  const text = lines.join('\n');
  const scan = language === 'python' ? scanPython(text) : language === 'bash' ? scanBash(text) : scanJs(text);
  if (scan.inString) return false;
  const last = lines[lines.length - 1] ?? '';
  if (last.trim() === '') return true;
  if (scan.depth > 0 || scan.continues) return false;
  if (language === 'python') {
    const code = lines.filter((l) => l.trim() !== '');
    const lastCode = code[code.length - 1] ?? '';
    // Inside a block (def/for/if...): only a blank line says the block is over.
    if (code.length > 1 && /^\s/.test(lastCode)) return false;
    if (/^\s*@/.test(lastCode)) return false; // a decorator waits for its def
  }
  return true;
}

interface Scan {
  /** Open brackets (or bash blocks) not yet closed. */
  depth: number;
  /** Inside a string (or block comment) that spans lines. */
  inString: boolean;
  /** The last line asks for another (':' in Python, '\', a trailing pipe or operator). */
  continues: boolean;
}

const OPEN = '([{';
const CLOSE = ')]}';

function scanPython(text: string): Scan {
  let depth = 0;
  let quote: string | null = null; // ' " ''' """
  let lastSignificant = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') {
        i++;
        continue;
      }
      if (text.startsWith(quote, i)) {
        i += quote.length - 1;
        quote = null;
        lastSignificant = 'q';
      } else if (c === '\n' && quote.length === 1) {
        quote = null; // an unterminated one-line string: the kernel will say so
      }
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      i--;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = text.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
      i += quote.length - 1;
      continue;
    }
    if (OPEN.includes(c)) depth++;
    else if (CLOSE.includes(c)) depth = Math.max(0, depth - 1);
    if (c === '\n') {
      if (lastSignificant !== '\\') lastSignificant = '';
    } else if (!/\s/.test(c)) lastSignificant = c;
  }
  return {
    depth,
    inString: quote !== null && quote.length === 3,
    continues: lastSignificant === ':' || lastSignificant === '\\',
  };
}

function scanJs(text: string): Scan {
  let depth = 0;
  let quote: string | null = null; // ' " `
  let blockComment = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (blockComment) {
      if (text.startsWith('*/', i)) {
        blockComment = false;
        i++;
      }
      continue;
    }
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      else if (c === '\n' && quote !== '`') quote = null; // unterminated: the kernel will say so
      continue;
    }
    if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
      i--;
      continue;
    }
    if (text.startsWith('/*', i)) {
      blockComment = true;
      i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (OPEN.includes(c)) depth++;
    else if (CLOSE.includes(c)) depth = Math.max(0, depth - 1);
  }
  return { depth, inString: quote === '`' || blockComment, continues: false };
}

const BASH_OPENERS: Record<string, string> = { if: 'fi', case: 'esac', do: 'done' };
const BASH_CLOSERS = new Set(Object.values(BASH_OPENERS));

function scanBash(text: string): Scan {
  let blocks = 0; // if/case/do not yet closed
  let parens = 0; // ( and { not yet closed; a lone ')' is a case pattern's
  let quote: string | null = null;
  let word = '';
  let wordStart = true; // a keyword only counts where a command starts
  const endWord = () => {
    if (wordStart && word in BASH_OPENERS) blocks++;
    else if (wordStart && BASH_CLOSERS.has(word)) blocks = Math.max(0, blocks - 1);
    word = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '#' && word === '') {
      while (i < text.length && text[i] !== '\n') i++;
      i--;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      wordStart = false;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      word += c;
      continue;
    }
    const wasStart: boolean = wordStart;
    if (word) {
      endWord();
      // After a keyword or `then`/`else`/`do`, the next word starts a command again.
      wordStart = wasStart && ['then', 'else', 'elif', 'do', 'if', 'while', 'until', '!', 'time'].includes(word);
    }
    if (c === '(' || c === '{') parens++;
    else if ((c === ')' || c === '}') && parens > 0) parens--;
    if (c === ';' || c === '\n' || c === '|' || c === '&' || c === '(' || c === '{' || c === ')') wordStart = true;
    else if (!/\s/.test(c)) wordStart = false;
  }
  if (word) endWord();
  const trimmed = text.replace(/\s+$/, '');
  const continues = (/\\$/.test(trimmed) && !/\\\\$/.test(trimmed)) || /(\|\||&&|\|)$/.test(trimmed) || quote !== null;
  return { depth: blocks + parens, inString: quote !== null, continues };
}
