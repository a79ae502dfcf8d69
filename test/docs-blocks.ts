/**
 * The fenced blocks of a Markdown file, with the docs-test directive written
 * just before each (an HTML comment `<!-- docs-test: KIND (DETAIL) -->`), and
 * how test/e2e/docs.test.ts treats each one. Pure: text in, blocks out.
 *
 * Directives: `skip (reason)` never runs (the reason is listed by the test);
 * `with-server` runs with a `codemode serve --http` started for it
 * (CODEMODE_PORT, CODEMODE_TOKEN set); `files (a.py, b.csv)` creates those
 * fixture files in the block's directory first; `code-mode (what)` runs a Code
 * Mode program against real upstream servers; `output` is example output
 * (JSON is parsed, nothing runs).
 */

export type BlockKind = 'shell' | 'python' | 'javascript' | 'typescript' | 'json' | 'jsonc' | 'other';

export interface Directive {
  kind: 'skip' | 'with-server' | 'files' | 'code-mode' | 'output';
  /** The text in parentheses: a skip's reason, the fixture files, ... */
  detail: string;
}

export interface DocBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string, first word (e.g. "sh", "ts", "json"), or "". */
  lang: string;
  kind: BlockKind;
  code: string;
  directives: Directive[];
}

const KINDS: Record<string, BlockKind> = {
  sh: 'shell',
  bash: 'shell',
  shell: 'shell',
  console: 'shell',
  py: 'python',
  python: 'python',
  js: 'javascript',
  javascript: 'javascript',
  mjs: 'javascript',
  ts: 'typescript',
  typescript: 'typescript',
  json: 'json',
  jsonc: 'jsonc',
  json5: 'jsonc',
};

const DIRECTIVE = /^<!--\s*docs-test:\s*(skip|with-server|files|code-mode|output)\b\s*(?:\((.*)\))?\s*-->$/;
const FENCE_OPEN = /^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)/;

/** Every fenced block of `text`, in order. Directives are the comment lines right above a fence. */
export function extractBlocks(file: string, text: string): DocBlock[] {
  const lines = text.split('\n');
  const blocks: DocBlock[] = [];
  let pending: Directive[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const directive = DIRECTIVE.exec(line.trim());
    if (directive) {
      pending.push({ kind: directive[1] as Directive['kind'], detail: (directive[2] ?? '').trim() });
      continue;
    }
    const open = FENCE_OPEN.exec(line);
    if (!open) {
      if (line.trim() !== '') pending = []; // a directive belongs to the very next block
      continue;
    }
    const [, indent, fence] = open;
    const lang = (open[3] ?? '').toLowerCase();
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      const t = l.trimStart();
      if (t.startsWith(fence![0]!.repeat(fence!.length)) && t.replace(/[`~]/g, '').trim() === '') break;
      body.push(indent && l.startsWith(indent) ? l.slice(indent.length) : l);
    }
    blocks.push({
      file,
      line: i + 1,
      lang,
      kind: KINDS[lang] ?? 'other',
      code: body.join('\n') + '\n',
      directives: pending,
    });
    pending = [];
    i = j;
  }
  return blocks;
}

/** JSON with comments and trailing commas (jsonc) made plain JSON. Strings are kept as written. */
export function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      i = text.indexOf('*/', i + 2) + 1;
      if (i === 0) break;
    } else out += c;
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

/** The directive of a kind on a block, if any. */
export function directive(block: DocBlock, kind: Directive['kind']): Directive | undefined {
  return block.directives.find((d) => d.kind === kind);
}
