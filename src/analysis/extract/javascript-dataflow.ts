/**
 * The top-level names a JavaScript/TypeScript cell defines and reads, from
 * tree-sitter (@ast-grep/napi), the parser the JS facts come from. Scoping is
 * lexical: a binding belongs to the nearest function, block or loop around it
 * (`var` to its function), and a read resolves to the innermost binding of its
 * name. Top-level reads count when nothing earlier in the cell binds the name;
 * reads inside functions run later, so they count when the cell binds the
 * name nowhere. `eval`, `new Function`, `globalThis[...] =` and property
 * stores (`obj.x = 1`) are reported as unknown, not guessed.
 */
import { Lang, parse, type SgNode } from '@ast-grep/napi';
import type { Dataflow, UnknownName } from '../types.js';

const FUNCTIONS = new Set([
  'function_declaration',
  'function_expression',
  'arrow_function',
  'method_definition',
  'generator_function',
  'generator_function_declaration',
]);
const BLOCKS = new Set(['statement_block', 'for_statement', 'for_in_statement', 'catch_clause', 'class_body']);
const PATTERNS = new Set([
  'object_pattern',
  'array_pattern',
  'pair_pattern',
  'assignment_pattern',
  'rest_pattern',
  'required_parameter',
  'optional_parameter',
]);
const REFERENCES = new Set(['identifier', 'shorthand_property_identifier']);
/** Globals a cell reads without defining: the runtime's, Node's and the kernel's. */
const GLOBALS = new Set([
  ...Object.getOwnPropertyNames(globalThis),
  'require',
  'module',
  'exports',
  '__dirname',
  '__filename',
  'codemode',
  'display',
  'undefined',
  'arguments',
]);

interface Binding {
  name: string;
  /** The node whose scope holds it; null for the cell's top level. */
  owner: SgNode | null;
  /** Where the name is bound in evaluation order (a declarator's end, a hoisted function's statement start). */
  at: number;
}

function pos(n: SgNode): number {
  return n.range().start.index;
}

/** The scope a declaration at `n` binds in: `var` and functions to the function, the rest to the block. */
function ownerOf(n: SgNode, functionScoped: boolean): SgNode | null {
  for (let p = n.parent(); p; p = p.parent()) {
    const k = String(p.kind());
    if (FUNCTIONS.has(k)) return p;
    if (!functionScoped && BLOCKS.has(k)) return p;
    if (k === 'program') return null;
  }
  return null;
}

/** Identifiers bound by a declaration's name or a parameter (through destructuring patterns). */
function patternNames(n: SgNode): SgNode[] {
  const k = String(n.kind());
  if (k === 'identifier' || k === 'shorthand_property_identifier_pattern') return [n];
  if (!PATTERNS.has(k)) return [];
  const out: SgNode[] = [];
  for (const c of n.children()) {
    const ck = String(c.kind());
    if (k === 'pair_pattern' && c.kind() === 'property_identifier') continue; // the key, not a binding
    if (k === 'assignment_pattern' && c !== n.children()[0]) {
      void ck; // the default value is a read, not a binding
      continue;
    }
    out.push(...patternNames(c));
  }
  return out;
}

export function jsDataflow(code: string, typescript: boolean): Dataflow {
  const root = parse(typescript ? Lang.TypeScript : Lang.JavaScript, code).root();
  const bindings: Binding[] = [];
  const bindingNodes = new Set<number>();
  const unknown: UnknownName[] = [];
  const line = (n: SgNode) => n.range().start.line + 1;
  const bind = (id: SgNode, owner: SgNode | null, at: number) => {
    bindings.push({ name: id.text(), owner, at });
    bindingNodes.add(id.id());
  };

  for (const d of root.findAll({ rule: { kind: 'variable_declarator' } })) {
    const decl = d.parent();
    const isVar = decl?.kind() === 'variable_declaration';
    const name = d.field('name');
    if (!name) continue;
    for (const id of patternNames(name)) bind(id, ownerOf(d, isVar), d.range().end.index);
  }
  for (const f of root.findAll({
    rule: {
      any: [
        { kind: 'function_declaration' },
        { kind: 'generator_function_declaration' },
        { kind: 'class_declaration' },
      ],
    },
  })) {
    const name = f.field('name');
    if (!name) continue;
    const hoisted = f.kind() !== 'class_declaration';
    bind(name, ownerOf(f, hoisted), hoisted ? pos(f.parent() ?? f) : f.range().end.index);
  }
  for (const fn of root.findAll({
    rule: { any: [...FUNCTIONS].map((kind) => ({ kind })) },
  })) {
    const params = fn.field('parameters') ?? fn.field('parameter');
    if (params) {
      const list = params.kind() === 'identifier' ? [params] : params.children().flatMap(patternNames);
      for (const id of list) bind(id, fn, 0);
    }
    // A named function expression sees its own name.
    if (fn.kind() !== 'function_declaration' && fn.field('name')) bind(fn.field('name')!, fn, 0);
  }
  for (const loop of root.findAll({ rule: { kind: 'for_in_statement' } })) {
    const left = loop.field('left');
    const kw = loop.children().find((c) => ['const', 'let', 'var'].includes(String(c.kind())));
    if (!left || !kw) continue;
    const owner = kw.kind() === 'var' ? ownerOf(loop, true) : loop;
    for (const id of patternNames(left)) bind(id, owner, 0);
  }
  for (const c of root.findAll({ rule: { kind: 'catch_clause' } })) {
    const p = c.field('parameter');
    if (p) for (const id of patternNames(p)) bind(id, c, 0);
  }
  for (const imp of root.findAll({ rule: { kind: 'import_statement' } })) {
    for (const id of imp.findAll({ rule: { kind: 'identifier', inside: { kind: 'import_clause', stopBy: 'end' } } })) {
      const parent = id.parent();
      // `import { a as b }`: b is bound, a is the exported name.
      if (parent?.kind() === 'import_specifier' && parent.field('alias') && parent.field('name')?.id() === id.id())
        continue;
      bind(id, null, 0);
    }
  }
  // Plain assignments to undeclared names bind at the top level (sloppy globals, REPL cells).
  const declared = (name: string, from: SgNode) => resolve(name, from) !== undefined;
  const resolve = (name: string, from: SgNode): Binding | undefined => {
    for (let p: SgNode | null = from.parent(); p; p = p.parent()) {
      const k = String(p.kind());
      if (FUNCTIONS.has(k) || BLOCKS.has(k)) {
        const found = bindings.find((b) => b.owner?.id() === p!.id() && b.name === name);
        if (found) return found;
      }
    }
    return undefined;
  };
  const topDefs = new Set(bindings.filter((b) => b.owner === null).map((b) => b.name));
  const assigned: Binding[] = [];
  for (const a of root.findAll({
    rule: { any: [{ kind: 'assignment_expression' }, { kind: 'augmented_assignment_expression' }] },
  })) {
    const left = a.field('left');
    if (!left) continue;
    const lk = left.kind();
    if (lk === 'identifier') {
      if (!declared(left.text(), left)) {
        assigned.push({ name: left.text(), owner: null, at: a.range().end.index });
        if (a.kind() === 'assignment_expression') bindingNodes.add(left.id());
      }
    } else if (lk === 'member_expression' || lk === 'subscript_expression') {
      let r: SgNode | null = left;
      while (r && (r.kind() === 'member_expression' || r.kind() === 'subscript_expression')) r = r.field('object');
      const name = r?.kind() === 'identifier' ? r.text() : undefined;
      if (name && ['globalThis', 'window', 'global', 'self'].includes(name))
        unknown.push({ reason: `${name}[...] assignment`, line: line(a) });
      else if (name && !declared(name, r!)) unknown.push({ reason: 'mutation', line: line(a), name });
    }
  }
  bindings.push(...assigned);
  for (const b of assigned) topDefs.add(b.name);

  for (const c of root.findAll({
    rule: {
      any: [
        { kind: 'call_expression', has: { field: 'function', regex: '^eval$' } },
        { kind: 'new_expression', has: { field: 'constructor', regex: '^Function$' } },
      ],
    },
  }))
    unknown.push({ reason: c.kind() === 'new_expression' ? 'new Function' : 'eval', line: line(c) });

  const uses = new Set<string>();
  for (const ref of root.findAll({ rule: { any: [...REFERENCES].map((kind) => ({ kind })) } })) {
    if (bindingNodes.has(ref.id())) continue;
    const name = ref.text();
    const parent = ref.parent();
    // Not reads: a declared name, a label, an import's exported name.
    if (parent?.kind() === 'import_specifier' || parent?.kind() === 'export_specifier') continue;
    if (resolve(name, ref)) continue;
    const inFunction = ((): boolean => {
      for (let p = ref.parent(); p; p = p.parent()) if (FUNCTIONS.has(String(p.kind()))) return true;
      return false;
    })();
    if (inFunction) {
      if (!topDefs.has(name) && !GLOBALS.has(name)) uses.add(name);
      continue;
    }
    const at = pos(ref);
    const earlier = bindings.some((b) => b.owner === null && b.name === name && b.at <= at);
    if (!earlier && !GLOBALS.has(name)) uses.add(name);
  }
  return { defs: [...topDefs].sort(), uses: [...uses].sort(), unknown };
}
