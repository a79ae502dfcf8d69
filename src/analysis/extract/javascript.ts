/**
 * JavaScript/TypeScript facts from tree-sitter (via @ast-grep/napi), and syntax
 * errors from esbuild (the parser the TypeScript run path uses), run side by
 * side. Structural rules select nodes on the Rust side, so only the few nodes
 * that matter cross into JavaScript.
 */
import { Lang, parse, type SgNode } from '@ast-grep/napi';
import { transform } from 'esbuild';
import type { ArgumentValue, Extraction, Fact, SyntaxErrorInfo } from '../types.js';

/** Names that are interesting without an import. */
const GLOBAL_ROOTS = [
  'fetch',
  'require',
  'process',
  'codemode',
  'globalThis',
  'XMLHttpRequest',
  'WebSocket',
  'EventSource',
  'Deno',
  'Bun',
];
const FUNCTION_KINDS = new Set([
  'function_declaration',
  'function_expression',
  'function',
  'arrow_function',
  'method_definition',
  'generator_function',
  'generator_function_declaration',
  'class_body',
]);
const LOOP_KINDS = new Set([
  'for_statement',
  'for_in_statement',
  'while_statement',
  'do_statement',
  'switch_statement',
]);
const IDENT_CHAIN = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/;

function pos(node: SgNode): { line: number; column: number } {
  const s = node.range().start;
  return { line: s.line + 1, column: s.column + 1 };
}

function moduleName(spec: string): string {
  return spec.startsWith('node:') ? spec.slice(5) : spec;
}

function stringValue(node: SgNode | null): string | undefined {
  if (!node) return undefined;
  const k = node.kind();
  if (k === 'string') return node.text().slice(1, -1);
  if (k === 'template_string' && !node.find({ rule: { kind: 'template_substitution' } }))
    return node.text().slice(1, -1);
  return undefined;
}

function escapeRe(s: string): string {
  return s.replace(/[$]/g, '\\$');
}

export class JsFacts {
  readonly aliases = new Map<string, string>();
  readonly facts: Fact[] = [];

  /** The resolved dotted name of an identifier/member chain (`cp.exec` → `child_process.exec`), or null. */
  dotted(node: SgNode | null): string | null {
    if (!node) return null;
    const k = node.kind();
    if (k === 'member_expression') {
      const object = node.field('object');
      const prop = node.field('property')?.text();
      if (object?.kind() === 'call_expression') {
        const mod = this.required(object);
        return mod && prop ? `${mod}.${prop}` : null;
      }
    }
    if (k === 'call_expression') {
      const mod = this.required(node);
      if (mod) return mod;
    }
    const text = node.text().replace(/\?\./g, '.').replace(/\s+/g, '');
    if (!IDENT_CHAIN.test(text)) return null;
    const dot = text.indexOf('.');
    const root = dot < 0 ? text : text.slice(0, dot);
    const alias = this.aliases.get(root);
    return alias === undefined ? text : alias + (dot < 0 ? '' : text.slice(dot));
  }

  /** `require('x')` / `import('x')` / `await import('x')`: the module, else null. */
  required(call: SgNode): string | null {
    let node: SgNode | null = call;
    if (node.kind() === 'await_expression') node = node.child(1) ?? null;
    if (!node || node.kind() !== 'call_expression') return null;
    const fn = node.field('function');
    if (!fn || (fn.text() !== 'require' && fn.kind() !== 'import')) return null;
    const arg = node.field('arguments')?.child(1) ?? null;
    const s = stringValue(arg);
    return s === undefined ? null : moduleName(s);
  }

  argument(node: SgNode): ArgumentValue {
    const s = stringValue(node);
    if (s !== undefined) return { str: s };
    const k = node.kind();
    if (k === 'array') {
      const items = node.children().filter((c) => c.isNamed());
      const strs = items.map(stringValue);
      return strs.every((x) => x !== undefined) ? { strs: strs as string[] } : {};
    }
    if (k === 'call_expression' || k === 'new_expression') {
      const callee = this.dotted(node.field(k === 'call_expression' ? 'function' : 'constructor'));
      const first = node.field('arguments')?.child(1) ?? null;
      const out: ArgumentValue = callee ? { expr: `${callee}()` } : {};
      const str = stringValue(first);
      if (str !== undefined) out.str = str;
      return out;
    }
    if (k === 'identifier' || k === 'member_expression') {
      const d = this.dotted(node);
      return d ? { expr: d } : {};
    }
    return {};
  }

  addImport(module: string, node: SgNode): void {
    this.facts.push({ kind: 'import', module: moduleName(module), ...pos(node) });
  }

  /** Pass 1: imports, requires and aliases (`const cp = require('child_process')`, `const fs = codemode.fs`). */
  declarations(root: SgNode): void {
    const nodes = root.findAll({
      rule: {
        any: [
          { kind: 'import_statement' },
          { kind: 'variable_declarator', has: { field: 'value', regex: '^(await\\s+)?(require|import|codemode)\\b' } },
        ],
      },
    });
    for (const n of nodes) {
      if (n.kind() === 'import_statement') {
        const source = stringValue(n.field('source'));
        if (source === undefined) continue;
        const mod = moduleName(source);
        this.addImport(mod, n);
        for (const id of n.findAll({
          rule: { kind: 'identifier', inside: { kind: 'import_clause', stopBy: 'end' } },
        })) {
          const parent = id.parent();
          const pk = parent?.kind();
          if (pk === 'import_specifier') {
            const name = parent!.field('name')?.text();
            const alias = parent!.field('alias')?.text();
            if (name && (alias ?? name) === id.text()) this.aliases.set(id.text(), `${mod}.${name}`);
          } else this.aliases.set(id.text(), mod); // default or namespace import
        }
        continue;
      }
      const value = n.field('value');
      const name = n.field('name');
      if (!value || !name) continue;
      const mod = this.required(value);
      const target = mod ?? this.dotted(value);
      if (mod) this.addImport(mod, value);
      if (!target) continue;
      if (name.kind() === 'identifier') this.aliases.set(name.text(), target);
      else if (name.kind() === 'object_pattern') {
        for (const p of name.children()) {
          if (p.kind() === 'shorthand_property_identifier_pattern') this.aliases.set(p.text(), `${target}.${p.text()}`);
          else if (p.kind() === 'pair_pattern') {
            const key = p.field('key')?.text();
            const v = p.field('value');
            if (key && v?.kind() === 'identifier') this.aliases.set(v.text(), `${target}.${key}`);
          }
        }
      }
    }
  }

  /** Pass 2: calls, `new`, member reads and loops rooted at a name that matters. */
  uses(root: SgNode): void {
    const roots = [...new Set([...GLOBAL_ROOTS, ...this.aliases.keys()])].map(escapeRe).join('|');
    const rooted = `^(?:${roots})\\b`;
    const nodes = root.findAll({
      rule: {
        any: [
          { kind: 'call_expression', has: { field: 'function', regex: rooted } },
          { kind: 'call_expression', has: { field: 'function', kind: 'import' } },
          { kind: 'new_expression', has: { field: 'constructor', regex: rooted } },
          {
            kind: 'member_expression',
            has: { field: 'object', regex: rooted },
            not: { inside: { kind: 'member_expression', field: 'object' } },
          },
          { kind: 'for_statement' },
          { kind: 'while_statement' },
          { kind: 'do_statement' },
        ],
      },
    });
    for (const n of nodes) {
      const k = n.kind();
      if (k === 'call_expression' || k === 'new_expression') {
        const mod = k === 'call_expression' ? this.required(n) : null;
        if (mod) {
          this.addImport(mod, n);
          continue;
        }
        const callee = this.dotted(n.field(k === 'call_expression' ? 'function' : 'constructor'));
        if (!callee) continue;
        const args = (n.field('arguments')?.children() ?? []).filter((c) => c.isNamed()).slice(0, 3);
        this.facts.push({ kind: 'call', callee, args: args.map((a) => this.argument(a)), ...pos(n) });
      } else if (k === 'member_expression') {
        // The outermost chain only; its prefixes (`process.env` of `process.env.HOME`) are facts too.
        const full = this.dotted(n);
        if (!full) continue;
        const parts = full.split('.');
        for (let i = 2; i <= parts.length; i++)
          this.facts.push({ kind: 'access', name: parts.slice(0, i).join('.'), ...pos(n) });
      } else if (this.endless(n)) this.facts.push({ kind: 'endless-loop', ...pos(n) });
    }
  }

  endless(loop: SgNode): boolean {
    const cond = loop.field('condition');
    const text = cond ? cond.text().replace(/[\s()]/g, '') : '';
    const constant =
      loop.kind() === 'for_statement'
        ? text === ';' || text === '' || text === 'true;'
        : text === 'true' || text === '1';
    if (!constant) return false;
    const body = loop.field('body');
    if (!body) return true;
    const exits = body.findAll({
      rule: {
        any: [
          { kind: 'break_statement' },
          { kind: 'return_statement' },
          { kind: 'throw_statement' },
          { kind: 'yield_expression' },
          { kind: 'call_expression', has: { field: 'function', regex: '^process\\.(exit|abort)$' } },
        ],
      },
    });
    const loopId = loop.id();
    for (const e of exits) {
      const labelled = e.kind() === 'break_statement' && e.children().some((c) => c.kind() === 'statement_identifier');
      let ok = true;
      for (let p = e.parent(); p && p.id() !== loopId; p = p.parent()) {
        const pk = String(p.kind());
        if (FUNCTION_KINDS.has(pk) || (e.kind() === 'break_statement' && !labelled && LOOP_KINDS.has(pk))) {
          ok = false;
          break;
        }
      }
      if (ok) return false;
    }
    return true;
  }
}

/** Facts only (no syntax check): pure, synchronous. */
export function jsFacts(code: string, typescript: boolean): Fact[] {
  const root = parse(typescript ? Lang.TypeScript : Lang.JavaScript, code).root();
  const f = new JsFacts();
  f.declarations(root);
  f.uses(root);
  return f.facts;
}

interface EsbuildFailure {
  errors?: { text: string; location?: { line: number; column: number } | null }[];
}

export async function jsSyntax(code: string, typescript: boolean): Promise<SyntaxErrorInfo | null> {
  try {
    await transform(code, {
      loader: typescript ? 'ts' : 'js',
      target: 'node20',
      supported: { 'top-level-await': true },
    });
    return null;
  } catch (e) {
    const first = (e as EsbuildFailure).errors?.[0];
    if (!first) throw e;
    return { message: first.text, line: first.location?.line ?? 1, column: (first.location?.column ?? 0) + 1 };
  }
}

export async function extractJavaScript(code: string, typescript: boolean): Promise<Extraction> {
  const syntax = jsSyntax(code, typescript); // esbuild parses in its own process meanwhile
  const facts = jsFacts(code, typescript);
  const error = await syntax;
  return error ? { syntaxError: error, facts: [] } : { facts };
}
