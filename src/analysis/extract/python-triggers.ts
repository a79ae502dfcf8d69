/**
 * The Python helper's fast path, derived from the rules (data): which names a
 * cell's compiled code must mention before a rule could possibly match it. A
 * cell whose code objects name none of them has no findings, and the helper
 * answers after a bytecode compile (no AST walk). Pure.
 *
 * Sound by construction: every fact the AST extractor reports is built from
 * names the bytecode carries too (imports, attribute and global loads,
 * locals) or from `__import__`/`import_module` (which always take the slow
 * path); string-literal arguments are constants of the code objects.
 */
import { COMMAND_CALLS } from '../match.js';
import type { Rule } from '../types.js';

/** Every listed requirement must hold: `name`, `prefix*`, or `str:TEXT` (a string constant containing TEXT). */
export type Alternative = string[];

export interface PythonTriggers {
  /** Any of these names means the full extraction. */
  always: string[];
  /** The full extraction when any alternative holds. */
  alternatives: Alternative[];
  /** A `while` loop in the source means the full extraction (endless-loop rules). */
  loops: boolean;
}

/** `os.exec*` → ['os', 'exec*']; a lone `*` segment says nothing. */
function segments(pattern: string): string[] {
  return pattern.split('.').filter((s) => s !== '*' && s !== '');
}

const ARGUMENT_STRINGS: Record<string, string | undefined> = { url: 'str:://', 'proc-environ': 'str:environ' };

export function pythonTriggers(rules: readonly Rule[]): PythonTriggers {
  const alternatives: Alternative[] = [];
  let loops = false;
  const commandAlternatives = COMMAND_CALLS.map(segments);
  for (const rule of rules) {
    if (!rule.languages.includes('python')) continue;
    const p = rule.pattern;
    const str = p.argument ? ARGUMENT_STRINGS[p.argument.test] : undefined;
    for (const m of p.imports ?? []) alternatives.push([m.split('.')[0]!]);
    for (const c of p.calls ?? []) alternatives.push([...segments(c), ...(str ? [str] : [])]);
    for (const a of p.accesses ?? []) {
      // Paths (`/proc/*/environ`) are only seen inside shell strings handed to a command call.
      if (a.startsWith('/')) alternatives.push(...commandAlternatives);
      else alternatives.push(segments(a));
    }
    if (p.commands?.length) alternatives.push(...commandAlternatives);
    if (p.endlessLoop) loops = true;
    if (p.codemodeTool) alternatives.push(['codemode']);
  }
  const unique = [...new Map(alternatives.map((a) => [a.join('\0'), a])).values()];
  return { always: ['__import__', 'import_module'], alternatives: unique, loops };
}
