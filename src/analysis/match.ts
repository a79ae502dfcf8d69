/**
 * Rules (data) applied to facts (from a parser). Pure: no parsing, no I/O.
 * Shell commands written as strings inside Python or JavaScript
 * (`os.system("pip install x")`, `execSync("curl ...")`) become command facts
 * here, so the command rules see them in every language.
 */
import type { Language } from '../sandbox/executor.js';
import { bashFacts } from './extract/bash.js';
import type { ArgumentTest, ArgumentValue, CodeModeToolMark, Fact, Rule } from './types.js';

export interface RawFinding {
  rule: Rule;
  line: number;
  column: number;
}

/** Callees whose first argument is a shell command string or an argv list. */
export const COMMAND_CALLS = [
  'os.system',
  'os.popen',
  'subprocess.*',
  'asyncio.create_subprocess_*',
  'os.exec*',
  'os.spawn*',
  'pty.spawn',
  'child_process.*',
  'Bun.spawn*',
];
/** Wrappers that run the command after them. */
const PREFIXES = new Set([
  'sudo',
  'doas',
  'command',
  'exec',
  'nohup',
  'time',
  'nice',
  'ionice',
  'xargs',
  'stdbuf',
  'setsid',
]);

const globCache = new Map<string, (s: string) => boolean>();
export function glob(pattern: string): (s: string) => boolean {
  let f = globCache.get(pattern);
  if (!f) {
    if (!pattern.includes('*')) f = (s) => s === pattern;
    else {
      const parts = pattern.split('*');
      f = (s) => {
        if (!s.startsWith(parts[0]!) || !s.endsWith(parts[parts.length - 1]!)) return false;
        let at = parts[0]!.length;
        for (let i = 1; i < parts.length - 1; i++) {
          const j = s.indexOf(parts[i]!, at);
          if (j < 0) return false;
          at = j + parts[i]!.length;
        }
        return at <= s.length - parts[parts.length - 1]!.length;
      };
    }
    globCache.set(pattern, f);
  }
  return f;
}

const WORKSPACE_ROOTS = new Set([
  '/workspace',
  '.',
  './',
  '*',
  './*',
  '.*',
  '/workspace/*',
  '/workspace/.',
  '/',
  '/*',
  '~',
  '~/*',
  '..',
  '$HOME',
  '${HOME}',
  '$PWD',
  '${PWD}',
  '$(pwd)',
  '`pwd`',
]);
const WORKSPACE_EXPRS = new Set([
  'os.getcwd()',
  'os.curdir',
  'process.cwd()',
  'pathlib.Path.cwd()',
  'pathlib.Path.home()',
  'os.path.expanduser()',
  '__dirname',
]);

export function argumentPasses(test: ArgumentTest, value: ArgumentValue | string | undefined): boolean {
  if (value === undefined) return false;
  const v: ArgumentValue = typeof value === 'string' ? { str: value } : value;
  switch (test) {
    case 'url':
      return v.str !== undefined && /^(https?|ftp):\/\//i.test(v.str);
    case 'proc-environ':
      return v.str !== undefined && /^\/proc\/[^/]+\/environ$/.test(v.str);
    case 'workspace-root': {
      if (v.expr !== undefined && WORKSPACE_EXPRS.has(v.expr)) return true;
      if (v.str === undefined) return false;
      const s = v.str.length > 1 ? v.str.replace(/\/+$/, '') : v.str;
      return WORKSPACE_ROOTS.has(s) || WORKSPACE_ROOTS.has(v.str);
    }
  }
}

/** argv with wrappers removed (`sudo`, `env X=1`, `python -m pip` → `pip`). */
export function normalizeArgv(argv: readonly string[]): string[] {
  let a = [...argv];
  for (let guard = 0; guard < 8 && a.length; guard++) {
    const cmd = a[0]!.split('/').pop()!;
    if (PREFIXES.has(cmd)) a = a.slice(1).filter((w, i) => i > 0 || !w.startsWith('-'));
    else if (cmd === 'env' && a.length > 1) {
      let i = 1;
      while (i < a.length && (a[i]!.startsWith('-') || /^[A-Za-z_][A-Za-z0-9_]*=/.test(a[i]!))) i++;
      if (i >= a.length) return ['env'];
      a = a.slice(i);
    } else if (cmd === 'timeout')
      a = a
        .slice(1)
        .filter((w) => !w.startsWith('-'))
        .slice(1);
    else if (/^python[0-9.]*$/.test(cmd) && a[1] === '-m' && a[2]) a = a.slice(2);
    else {
      a[0] = cmd;
      return a;
    }
  }
  return a;
}

/** The operands after the pattern's words, or null when argv is not that command. */
function commandOperands(argv: readonly string[], pattern: string): string[] | null {
  const words = pattern.split(' ');
  if (argv[0] !== words[0]) return null;
  let i = 1;
  for (const w of words.slice(1)) {
    while (i < argv.length && argv[i]!.startsWith('-')) i++;
    if (argv[i] !== w) return null;
    i++;
  }
  return argv.slice(i).filter((w) => !w.startsWith('-'));
}

/** Command facts hidden in calls that run a shell string or an argv list. */
export function commandsInCalls(facts: readonly Fact[]): Fact[] {
  const out: Fact[] = [];
  for (const f of facts) {
    if (f.kind !== 'call' || !COMMAND_CALLS.some((p) => glob(p)(f.callee))) continue;
    const [a0, a1] = f.args;
    if (a0?.strs && a0.strs.length) out.push({ kind: 'command', argv: a0.strs, line: f.line, column: f.column });
    else if (a0?.str !== undefined && a1?.strs)
      out.push({ kind: 'command', argv: [a0.str, ...a1.strs], line: f.line, column: f.column });
    else if (a0?.str !== undefined) {
      for (const inner of bashFacts(a0.str))
        if (inner.kind === 'command' || inner.kind === 'access') out.push({ ...inner, line: f.line, column: f.column });
    }
  }
  return out;
}

function toolMarks(tools: readonly CodeModeToolMark[] | undefined): Map<string, CodeModeToolMark> {
  const m = new Map<string, CodeModeToolMark>();
  for (const t of tools ?? []) m.set(`codemode.${t.server}.${t.tool}`, t);
  return m;
}

function matches(rule: Rule, fact: Fact, marks: Map<string, CodeModeToolMark>): boolean {
  const p = rule.pattern;
  switch (fact.kind) {
    case 'import':
      return !!p.imports?.some(
        (m) => fact.module === m || fact.module.startsWith(`${m}.`) || fact.module.startsWith(`${m}/`),
      );
    case 'call': {
      if (p.codemodeTool) {
        const mark = marks.get(fact.callee);
        return !!mark && (p.codemodeTool === 'approval' ? !!mark.needsApproval : !!mark.destructive);
      }
      if (!p.calls?.some((c) => glob(c)(fact.callee))) return false;
      return !p.argument || argumentPasses(p.argument.test, fact.args[p.argument.index]);
    }
    case 'access':
      return !!p.accesses?.some((a) => glob(a)(fact.name));
    case 'command': {
      const argv = normalizeArgv(fact.argv);
      for (const c of p.commands ?? []) {
        const operands = commandOperands(argv, c);
        if (operands === null) continue;
        if (!p.argument || operands.some((o) => argumentPasses(p.argument!.test, o))) return true;
      }
      return false;
    }
    case 'endless-loop':
      return !!p.endlessLoop;
  }
}

/** Every (rule, position) the facts trigger, once each, in source order. */
export function matchRules(
  facts: readonly Fact[],
  rules: readonly Rule[],
  language: Language,
  tools?: readonly CodeModeToolMark[],
): RawFinding[] {
  const all = [...facts, ...commandsInCalls(facts)];
  const marks = toolMarks(tools);
  const seen = new Set<string>();
  const out: RawFinding[] = [];
  for (const rule of rules) {
    if (!rule.languages.includes(language)) continue;
    if (rule.pattern.codemodeTool && marks.size === 0) continue;
    for (const f of all) {
      if (!matches(rule, f, marks)) continue;
      const key = `${rule.id}:${f.line}:${f.column}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ rule, line: f.line, column: f.column });
    }
  }
  return out.sort((a, b) => a.line - b.line || a.column - b.column || a.rule.id.localeCompare(b.rule.id));
}
