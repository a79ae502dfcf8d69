/**
 * Finds the code a model wrote in plain text (the CodeAct fallback). Pure.
 * Forgiving by design, because a parse failure wastes a whole model turn:
 * backtick or tilde fences of any length, indented fences (lists), a language
 * tag or none (`{python}`, `py title="x"`, `main.py`), text before the fence on
 * the same line, a one-line ```code```, a fence left open at the end (cut-off
 * output), smolagents' `<end_code>` marker, and REPL prompts (`>>> `, `$ `).
 */
import type { Language } from '../sandbox/executor.js';

export interface CodeBlock {
  /** The raw tag after the opening fence ('' when none). */
  tag: string;
  /** The language the tag names; the default language when untagged; null for non-code (json, text, output...). */
  language: Language | null;
  code: string;
  /** False when the text ended before the closing fence. */
  closed: boolean;
}

const TAGS: Record<string, Language> = {
  python: 'python',
  python3: 'python',
  py: 'python',
  py3: 'python',
  ipython: 'python',
  ipython3: 'python',
  pycon: 'python',
  javascript: 'javascript',
  js: 'javascript',
  node: 'javascript',
  nodejs: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascript',
  typescript: 'typescript',
  ts: 'typescript',
  mts: 'typescript',
  tsx: 'typescript',
  deno: 'typescript',
  bash: 'bash',
  sh: 'bash',
  shell: 'bash',
  zsh: 'bash',
  console: 'bash',
  shellsession: 'bash',
};

/** Tags that are never run: data, prose and program output. */
const NOT_CODE = new Set([
  'json',
  'jsonc',
  'json5',
  'yaml',
  'yml',
  'toml',
  'ini',
  'csv',
  'tsv',
  'xml',
  'html',
  'css',
  'md',
  'markdown',
  'text',
  'txt',
  'plaintext',
  'plain',
  'output',
  'out',
  'result',
  'stdout',
  'stderr',
  'log',
  'diff',
  'patch',
  'sql',
  'traceback',
  'pytb',
  'error',
]);

/** The language a fence tag names: a Language, null for non-code, or undefined when the tag is unknown. */
export function languageOfTag(tag: string): Language | null | undefined {
  let t = tag.trim().toLowerCase();
  if (t.startsWith('{')) t = t.slice(1).replace(/}.*$/, '');
  t = t.replace(/^\./, '');
  const word = /^[a-z0-9+#_-]+(\.[a-z0-9]+)*/.exec(t)?.[0] ?? '';
  if (!word) return undefined;
  const ext = word.includes('.') ? word.slice(word.lastIndexOf('.') + 1) : word;
  if (TAGS[ext]) return TAGS[ext];
  if (TAGS[word]) return TAGS[word];
  if (NOT_CODE.has(ext) || NOT_CODE.has(word)) return null;
  return undefined;
}

interface Open {
  char: '`' | '~';
  len: number;
  indent: number;
  tag: string;
  lines: string[];
}

const OPEN = /^(\s*)(?:[^`~\n]*?\S\s*)??(`{3,}|~{3,})\s*([^`\s][^`]*)?$/;

/** Every fenced block in `text`, in order. Untagged and unknown-tag blocks take `defaultLanguage`. */
export function parseCodeBlocks(text: string, defaultLanguage: Language): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let open: Open | null = null;
  const finish = (o: Open, closed: boolean) => {
    const lang = languageOfTag(o.tag);
    const language = lang === undefined ? defaultLanguage : lang;
    const code = stripPrompts(o.lines.join('\n'), language);
    if (code.trim() || o.tag) blocks.push({ tag: o.tag.trim(), language, code, closed });
  };
  for (const raw of lines) {
    const line = raw.replace(/<end_code>\s*$/, '');
    if (!open) {
      // A whole block on one line: ```print(1)``` or ```py print(1)```.
      const inline = /^\s*(?:.*?\s)?(`{3,})([^`]+)\1\s*$/.exec(line);
      if (inline?.[2] && /\S/.test(inline[2])) {
        const body = inline[2];
        const m = /^([A-Za-z0-9+#_.-]+)\s+(\S[\s\S]*)$/.exec(body);
        const tagged = m?.[1] ? languageOfTag(m[1]) : undefined;
        if (m?.[2] && tagged) blocks.push({ tag: m[1] ?? '', language: tagged, code: m[2].trim(), closed: true });
        else blocks.push({ tag: '', language: defaultLanguage, code: body.trim(), closed: true });
        continue;
      }
      const m = OPEN.exec(line);
      if (m?.[2]) {
        const fence = m[2];
        open = {
          char: fence[0] as '`' | '~',
          len: fence.length,
          indent: (m[1] ?? '').length,
          tag: (m[3] ?? '').trim(),
          lines: [],
        };
      }
      continue;
    }
    const trimmed = line.trim();
    const closing = new RegExp(`^\\${open.char}{${open.len},}$`);
    if (closing.test(trimmed)) {
      finish(open, true);
      open = null;
      continue;
    }
    // Code ending on the fence's line: `print(1)```.
    const tail = new RegExp(`^(.*\\S)\\${open.char}{${open.len},}$`).exec(line.trimEnd());
    if (tail?.[1] && open.char === '`' && !tail[1].endsWith('`')) {
      open.lines.push(dedent(tail[1], open.indent));
      finish(open, true);
      open = null;
      continue;
    }
    open.lines.push(dedent(line, open.indent));
  }
  if (open) finish(open, false);
  return blocks;
}

function dedent(line: string, indent: number): string {
  let i = 0;
  while (i < indent && (line[i] === ' ' || line[i] === '\t')) i++;
  return line.slice(i);
}

/** Drops REPL prompts when every code line carries one (a pasted session, not code that prints ">>>"). */
function stripPrompts(code: string, language: Language | null): string {
  const lines = code.split('\n');
  const nonEmpty = lines.filter((l) => l.trim());
  if (language === 'python' && nonEmpty.length && /^>>> /.test(nonEmpty[0] ?? '')) {
    const prompted = nonEmpty.every((l) => /^(>>>|\.\.\.)( |$)/.test(l) || !/^\s/.test(l));
    if (prompted)
      return lines
        .filter((l) => /^(>>>|\.\.\.)( |$)/.test(l))
        .map((l) => l.slice(4))
        .join('\n');
  }
  if (language === 'bash' && nonEmpty.length && nonEmpty.every((l) => /^\$ /.test(l)))
    return lines.map((l) => l.replace(/^\$ /, '')).join('\n');
  return code;
}

/** What a CodeAct reply asks for: the code to run (blocks of the session's language joined), or a final answer. */
export interface TextAction {
  code: string | null;
  /** Blocks in another executable language, which a session of this language cannot run. */
  skipped: CodeBlock[];
  /** The answer, when the reply has no code and reads as final. */
  finalAnswer: string | null;
}

const FINAL = /(?:^|\n)\s*(?:\*\*)?final[ _]answer(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*([\s\S]*)$/i;

export function parseTextAction(text: string, language: Language): TextAction {
  const blocks = parseCodeBlocks(text, language);
  const runnable = blocks.filter((b) => b.language === language && b.code.trim());
  const skipped = blocks.filter((b) => b.language !== null && b.language !== language);
  const finalMatch = FINAL.exec(text);
  // A fenced final_answer("...") call, smolagents style, is an answer, not code to run.
  if (runnable.length === 1 && /^\s*final_answer\(([\s\S]*)\)\s*$/.test(runnable[0]?.code ?? '')) {
    const arg = /^\s*final_answer\(([\s\S]*)\)\s*$/.exec(runnable[0]?.code ?? '')?.[1] ?? '';
    return { code: null, skipped, finalAnswer: unquote(arg.trim()) };
  }
  if (runnable.length)
    return { code: runnable.map((b) => b.code.replace(/\s+$/, '')).join('\n\n'), skipped, finalAnswer: null };
  if (finalMatch?.[1] !== undefined) return { code: null, skipped, finalAnswer: finalMatch[1].trim() };
  return { code: null, skipped, finalAnswer: null };
}

function unquote(s: string): string {
  const m = /^(?:"""([\s\S]*)"""|'''([\s\S]*)'''|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|`([^`]*)`)$/.exec(s);
  if (!m) return s;
  return m[1] ?? m[2] ?? m[5] ?? (m[3] ?? m[4] ?? '').replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
}
