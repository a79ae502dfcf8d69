/**
 * Bash facts from a tokenizer (not a full grammar), and syntax from `bash -n`
 * (which parses and never executes). The tokenizer understands quoting,
 * escapes, comments, here-documents, `$(...)`/backquote substitutions (their
 * commands are analysed too), redirections, assignments, reserved words,
 * `case` patterns, `bash -c "..."` and `eval "..."` strings. Limits: words built
 * at run time (`$cmd`, `${x:-y}`, aliases, functions called by name) are seen as
 * written, not as what they expand to.
 */
import { spawn } from 'node:child_process';
import type { Extraction, Fact, SyntaxErrorInfo } from '../types.js';

interface Token {
  op: boolean;
  text: string;
  line: number;
  column: number;
  /** A word with no quoting at all (reserved words and assignments must be unquoted). */
  plain: boolean;
}

const OPS = [';;&', '&>>', '<<<', '<<-', '&&', '||', ';;', ';&', '|&', '<<', '>>', '>&', '<&', '&>', '<>', '>|'];
const SINGLE_OPS = new Set([';', '&', '|', '(', ')', '<', '>', '\n']);
const REDIRECTS = new Set(['<', '>', '>>', '&>', '&>>', '<>', '>|', '>&', '<&', '<<<']);
const META = new Set([' ', '\t', '\n', ';', '&', '|', '<', '>', '(', ')']);
const SKIP_WORDS = new Set(['if', 'then', 'else', 'elif', 'fi', '{', '}', '!', 'time', 'esac', 'in', '[[', ']]']);
const NESTED_SHELLS = new Set(['bash', 'sh', 'dash', 'zsh', 'ksh']);
const MAX_DEPTH = 4;

/** Tokens of `src`; commands inside substitutions go to `sink` (analysed on their own). */
function lex(src: string, base: { line: number; column: number }, depth: number, sink: Fact[]): Token[] {
  const tokens: Token[] = [];
  const heredocs: { delim: string; strip: boolean }[] = [];
  let i = 0;
  let line = base.line;
  let col = base.column;
  const advance = (n: number) => {
    for (let k = 0; k < n && i < src.length; k++, i++) {
      if (src[i] === '\n') {
        line++;
        col = 1;
      } else col++;
    }
  };
  const substitute = (open: string, close: string) => {
    // i is at the opening text; find the matching close, honouring nesting and quotes.
    const startLine = line;
    const startCol = col + open.length;
    advance(open.length);
    const from = i;
    let level = 1;
    while (i < src.length) {
      const c = src[i]!;
      if (c === '\\') {
        advance(2);
        continue;
      }
      if (close === ')') {
        if (c === "'") {
          advance(1);
          while (i < src.length && src[i] !== "'") advance(1);
          advance(1);
          continue;
        }
        if (c === '(') level++;
        else if (c === ')' && --level === 0) break;
      } else if (c === '`') break;
      advance(1);
    }
    const inner = src.slice(from, i);
    advance(close.length);
    if (depth < MAX_DEPTH)
      sink.push(...parse(lex(inner, { line: startLine, column: startCol }, depth + 1, sink), depth + 1, sink));
    return inner;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\r') {
      advance(1);
      continue;
    }
    if (c === '\\' && src[i + 1] === '\n') {
      advance(2);
      continue;
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') advance(1);
      continue;
    }
    const startLine = line;
    const startCol = col;
    if (c === '\n') {
      tokens.push({ op: true, text: '\n', line: startLine, column: startCol, plain: true });
      advance(1);
      for (const h of heredocs.splice(0)) {
        while (i < src.length) {
          const end = src.indexOf('\n', i);
          const text = src.slice(i, end < 0 ? src.length : end);
          advance(text.length + 1);
          if ((h.strip ? text.replace(/^\t+/, '') : text) === h.delim) break;
        }
      }
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i)) ?? (SINGLE_OPS.has(c) ? c : undefined);
    if (op && !(op === '<' && src[i + 1] === '(') && !(op === '>' && src[i + 1] === '(')) {
      advance(op.length);
      tokens.push({ op: true, text: op, line: startLine, column: startCol, plain: true });
      if (op === '<<' || op === '<<-') {
        const word = lexWord();
        if (word) heredocs.push({ delim: word.text, strip: op === '<<-' });
      }
      continue;
    }
    const word = lexWord();
    if (word) tokens.push(word);
    else advance(1);
  }
  return tokens;

  function lexWord(): Token | null {
    while (src[i] === ' ' || src[i] === '\t') advance(1);
    const startLine = line;
    const startCol = col;
    let text = '';
    let plain = true;
    while (i < src.length) {
      const c = src[i]!;
      if (META.has(c)) {
        if ((c === '<' || c === '>') && src[i + 1] === '(' && text === '') {
          text += c + '(' + substitute(c + '(', ')') + ')';
          plain = false;
          continue;
        }
        break;
      }
      if (c === '\\') {
        text += src[i + 1] ?? '';
        plain = false;
        advance(2);
      } else if (c === "'") {
        plain = false;
        advance(1);
        while (i < src.length && src[i] !== "'") {
          text += src[i];
          advance(1);
        }
        advance(1);
      } else if (c === '$' && src[i + 1] === "'") {
        plain = false;
        advance(2);
        while (i < src.length && src[i] !== "'") {
          if (src[i] === '\\') {
            const e = src[i + 1] ?? '';
            text += e === 'n' ? '\n' : e === 't' ? '\t' : e;
            advance(2);
          } else {
            text += src[i];
            advance(1);
          }
        }
        advance(1);
      } else if (c === '"') {
        plain = false;
        advance(1);
        while (i < src.length && src[i] !== '"') {
          if (src[i] === '\\' && '"\\$`\n'.includes(src[i + 1] ?? '')) {
            text += src[i + 1];
            advance(2);
          } else if (src.startsWith('$(', i) && src[i + 2] !== '(') text += '$(' + substitute('$(', ')') + ')';
          else if (src[i] === '`') text += '`' + substitute('`', '`') + '`';
          else {
            text += src[i];
            advance(1);
          }
        }
        advance(1);
      } else if (src.startsWith('$((', i)) {
        text += '$((' + skipBalanced('$((', '))') + '))';
      } else if (src.startsWith('$(', i)) {
        text += '$(' + substitute('$(', ')') + ')';
      } else if (src.startsWith('${', i)) {
        text += '${' + skipBalanced('${', '}') + '}';
      } else if (c === '`') {
        text += '`' + substitute('`', '`') + '`';
      } else {
        text += c;
        advance(1);
      }
    }
    if (i === src.length && text === '' && plain) return null;
    if (text === '' && plain) return null;
    return { op: false, text, line: startLine, column: startCol, plain };
  }

  function skipBalanced(open: string, close: string): string {
    advance(open.length);
    const from = i;
    let level = 1;
    while (i < src.length) {
      if (src.startsWith(close, i) && --level === 0) break;
      if (src.startsWith(open.slice(-1), i) && open.endsWith('{')) level++;
      advance(1);
    }
    const inner = src.slice(from, i);
    advance(close.length);
    return inner;
  }
}

interface LoopFrame {
  kind: 'while' | 'until' | 'for';
  phase: 'cond' | 'body';
  condSeen: boolean;
  endless: boolean;
  exits: boolean;
  line: number;
  column: number;
}

/** Commands, redirection targets and endless loops from the tokens. */
function parse(tokens: Token[], depth: number, sink: Fact[]): Fact[] {
  const facts: Fact[] = [];
  const loops: LoopFrame[] = [];
  let argv: Token[] = [];
  let skipUntil: string | null = null; // a reserved word that ends a header (`for x in ...; do`)
  let casePattern = false;
  let caseHeader = false;

  const flush = () => {
    if (argv.length === 0) return;
    const words = argv.map((t) => t.text);
    const first = argv[0]!;
    facts.push({ kind: 'command', argv: words, line: first.line, column: first.column });
    const top = loops[loops.length - 1];
    if (top && top.phase === 'cond' && !top.condSeen) {
      top.condSeen = true;
      const w = words.join(' ');
      top.endless = top.kind === 'while' ? w === 'true' || w === ':' : w === 'false';
    }
    const cmd = words[0];
    if (cmd === 'break' || cmd === 'continue') {
      if (cmd === 'break') {
        const n = Number(words[1] ?? '1');
        const frame = loops[loops.length - (Number.isInteger(n) && n > 0 ? n : 1)];
        if (frame) frame.exits = true;
      }
    } else if (cmd === 'exit' || cmd === 'return' || cmd === 'exec') {
      for (const f of loops) f.exits = true;
    }
    if (depth < MAX_DEPTH) {
      const inner = nestedScript(words);
      if (inner !== null)
        facts.push(...parse(lex(inner, { line: first.line, column: first.column }, depth + 1, sink), depth + 1, sink));
    }
    argv = [];
  };

  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (skipUntil !== null) {
      if (!t.op && t.plain && t.text === skipUntil) {
        if (skipUntil === 'in' && caseHeader) {
          caseHeader = false;
          casePattern = true;
        }
        if (skipUntil === 'do') {
          const top = loops[loops.length - 1];
          if (top) top.phase = 'body';
        }
        skipUntil = null;
      }
      continue;
    }
    if (casePattern) {
      if (!t.op && t.plain && t.text === 'esac') casePattern = false;
      else if (t.op && t.text === ')') casePattern = false;
      continue;
    }
    if (t.op) {
      if (REDIRECTS.has(t.text)) {
        const target = tokens[k + 1];
        if (target && !target.op) {
          facts.push({ kind: 'access', name: target.text, line: target.line, column: target.column });
          k++;
        }
        continue;
      }
      if (t.text === '<<' || t.text === '<<-') {
        k++; // the delimiter word
        continue;
      }
      flush();
      if (t.text === ';;' || t.text === ';&' || t.text === ';;&') casePattern = true;
      continue;
    }
    if (argv.length === 0 && t.plain) {
      const w = t.text;
      if (/^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(w)) continue; // an assignment word
      if (SKIP_WORDS.has(w)) continue;
      if (w === 'while' || w === 'until') {
        loops.push({
          kind: w,
          phase: 'cond',
          condSeen: false,
          endless: false,
          exits: false,
          line: t.line,
          column: t.column,
        });
        continue;
      }
      if (w === 'for' || w === 'select') {
        loops.push({
          kind: 'for',
          phase: 'cond',
          condSeen: true,
          endless: false,
          exits: false,
          line: t.line,
          column: t.column,
        });
        skipUntil = 'do';
        continue;
      }
      if (w === 'do') {
        const top = loops[loops.length - 1];
        if (top) top.phase = 'body';
        continue;
      }
      if (w === 'done') {
        const frame = loops.pop();
        if (frame && frame.endless && !frame.exits)
          facts.push({ kind: 'endless-loop', line: frame.line, column: frame.column });
        continue;
      }
      if (w === 'case') {
        caseHeader = true;
        skipUntil = 'in';
        continue;
      }
      if (w === 'function') {
        k++; // the function's name
        continue;
      }
      const next = tokens[k + 1];
      const after = tokens[k + 2];
      if (next?.op && next.text === '(' && after?.op && after.text === ')') {
        k += 2; // `name() { ... }`: a definition, not a call
        continue;
      }
    }
    argv.push(t);
  }
  flush();
  return facts;
}

/** The script a command runs as a string: `bash -c "..."`, `sh -c '...'`, `eval ...`. */
function nestedScript(words: string[]): string | null {
  const [cmd, ...rest] = words;
  if (cmd === 'eval') return rest.join(' ');
  if (cmd && NESTED_SHELLS.has(cmd.split('/').pop()!)) {
    const c = rest.findIndex((w) => /^-[a-z]*c[a-z]*$/.test(w));
    if (c >= 0 && rest[c + 1] !== undefined) return rest[c + 1]!;
  }
  return null;
}

/** Commands, redirection targets and endless loops in a bash script. Pure. */
export function bashFacts(src: string): Fact[] {
  const sink: Fact[] = [];
  const facts = parse(lex(src, { line: 1, column: 1 }, 0, sink), 0, sink);
  return [...facts, ...sink];
}

/** `bash -n`: parse only, never execute. Resolves null when the script parses. */
export function bashSyntax(
  src: string,
  options: { bash?: string; timeoutMs?: number } = {},
): Promise<SyntaxErrorInfo | null | 'unanalysed'> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(options.bash ?? '/bin/bash', ['--norc', '--noprofile', '-O', 'extglob', '-n'], {
        env: { PATH: '/usr/bin:/bin' },
        stdio: ['pipe', 'ignore', 'pipe'],
        timeout: options.timeoutMs ?? 2000,
        killSignal: 'SIGKILL',
      });
    } catch {
      resolve('unanalysed'); // no bash: syntax is then checked by the run itself
      return;
    }
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (err.length < 4096) err += d;
    });
    child.on('error', () => resolve('unanalysed'));
    child.stdin.on('error', () => {
      /* bash exited before reading everything: its exit status says what happened */
    });
    child.on('close', (code, signal) => {
      if (signal) return resolve('unanalysed');
      if (code === 0) return resolve(null);
      const first = err.split('\n').find((l) => /line \d+:/.test(l)) ?? err.split('\n')[0] ?? 'syntax error';
      const m = /line (\d+): (.*)$/.exec(first);
      resolve({ message: (m?.[2] ?? first).trim(), line: m ? Number(m[1]) : 1, column: 1 });
    });
    child.stdin.end(src);
  });
}

export async function extractBash(src: string): Promise<Extraction> {
  const syntax = await bashSyntax(src);
  if (syntax && syntax !== 'unanalysed') return { syntaxError: syntax, facts: [] };
  const out: Extraction = { facts: bashFacts(src) };
  if (syntax === 'unanalysed') out.unanalysed = 'bash -n could not run: syntax not checked';
  return out;
}
