/**
 * Pure JSON-Schema → TypeScript declarations and Python stubs for the Code Mode API.
 * Never throws: unknown shapes, cycles and the depth limit degrade to `unknown`/`Any`.
 * Output is deterministic: same tools in, same bytes out.
 */

export interface ToolSchema {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
}

export interface ServerTools {
  name: string;
  tools: readonly ToolSchema[];
}

export interface ApiTool {
  /** The upstream tool name. */
  name: string;
  /** The function name in code: a valid identifier in JS and Python. */
  identifier: string;
  /** PascalCase base of the tool's type names (`<Base>Input`, `<Base>Output`). */
  typeName: string;
  schema: ToolSchema;
}

export interface ApiServer {
  name: string;
  identifier: string;
  typeName: string;
  tools: ApiTool[];
}

export interface TypegenOptions {
  /** Nesting depth after which a schema becomes `unknown`. Default 12. */
  maxDepth?: number;
}

const DEFAULT_MAX_DEPTH = 12;

const JS_RESERVED = [
  'arguments',
  'await',
  'break',
  'case',
  'catch',
  'class',
  'const',
  'continue',
  'debugger',
  'default',
  'delete',
  'do',
  'else',
  'enum',
  'eval',
  'export',
  'extends',
  'false',
  'finally',
  'for',
  'function',
  'if',
  'implements',
  'import',
  'in',
  'instanceof',
  'interface',
  'let',
  'new',
  'null',
  'package',
  'private',
  'protected',
  'public',
  'return',
  'static',
  'super',
  'switch',
  'this',
  'throw',
  'true',
  'try',
  'typeof',
  'var',
  'void',
  'while',
  'with',
  'yield',
];
const PY_RESERVED = [
  'False',
  'None',
  'True',
  'and',
  'as',
  'assert',
  'async',
  'def',
  'del',
  'elif',
  'except',
  'from',
  'global',
  'is',
  'lambda',
  'nonlocal',
  'not',
  'or',
  'pass',
  'raise',
];
const RESERVED = new Set([...JS_RESERVED, ...PY_RESERVED]);
/** Names the runtime itself puts on `codemode`. */
const CODEMODE_MEMBERS = new Set(['search_tools']);

/** A valid identifier in both JavaScript and Python (without collision handling). */
export function toIdentifier(name: string): string {
  let id = name.replace(/[^A-Za-z0-9_]/g, '_');
  if (id === '') id = '_';
  if (/^[0-9]/.test(id)) id = `_${id}`;
  if (RESERVED.has(id)) id = `${id}_`;
  return id;
}

function toPascal(id: string): string {
  const parts = id.split('_').filter((p) => p !== '');
  const s = parts.map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
  return s === '' ? 'Tool' : /^[0-9]/.test(s) ? `T${s}` : s;
}

function uniqueName(base: string, used: Set<string>): string {
  let name = base;
  for (let i = 2; used.has(name); i++) name = `${base}_${i}`;
  used.add(name);
  return name;
}

/**
 * Map servers and tools to identifiers. Clashes (after sanitising, or with
 * reserved words and runtime members) get `_2`, `_3`... in input order.
 */
export function buildApi(servers: readonly ServerTools[]): ApiServer[] {
  const usedServers = new Set<string>(CODEMODE_MEMBERS);
  const usedServerTypes = new Set<string>();
  return servers.map((s) => {
    const identifier = uniqueName(toIdentifier(s.name), usedServers);
    const typeName = uniqueName(toPascal(identifier), usedServerTypes);
    const usedTools = new Set<string>();
    const usedTypes = new Set<string>();
    const tools = s.tools.map((t) => {
      const id = uniqueName(toIdentifier(t.name), usedTools);
      return { name: t.name, identifier: id, typeName: uniqueName(toPascal(id), usedTypes), schema: t };
    });
    return { name: s.name, identifier, typeName, tools };
  });
}

// ---------------------------------------------------------------------------
// Schema helpers shared by both emitters

type Schema = Record<string, unknown>;

function isRecord(v: unknown): v is Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function resolvePointer(root: unknown, ref: string): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let cur: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) cur = cur[Number(key)];
    else if (isRecord(cur)) cur = Object.prototype.hasOwnProperty.call(cur, key) ? cur[key] : undefined;
    else return undefined;
  }
  return cur;
}

function typeList(schema: Schema): string[] {
  const t = schema.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  if (isRecord(schema.properties) || schema.additionalProperties !== undefined) return ['object'];
  if (schema.items !== undefined || schema.prefixItems !== undefined) return ['array'];
  return [];
}

function requiredSet(schema: Schema): Set<string> {
  return new Set(Array.isArray(schema.required) ? schema.required.filter((x) => typeof x === 'string') : []);
}

function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}

/** Whether a type expression has a top-level `|` or `&` (so it needs parentheses). */
function hasTopLevelOperator(t: string): boolean {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '{' || ch === '[' || ch === '(' || ch === '<') depth++;
    else if (ch === '}' || ch === ']' || ch === ')' || ch === '>') depth--;
    else if (depth === 0 && (ch === '|' || ch === '&')) return true;
  }
  return false;
}

function docLines(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .trim()
    .split('\n')
    .map((l) => l.replace(/\*\//g, '*\\/').trimEnd());
}

function jsDoc(lines: string[], indent: string): string {
  const clean = lines.filter((l, i) => l !== '' || (i > 0 && i < lines.length - 1));
  if (clean.length === 0) return '';
  if (clean.length === 1) return `${indent}/** ${clean[0]} */\n`;
  return `${indent}/**\n${clean.map((l) => (l === '' ? `${indent} *` : `${indent} * ${l}`)).join('\n')}\n${indent} */\n`;
}

function propertyDoc(schema: unknown): string[] {
  if (!isRecord(schema)) return [];
  const lines: string[] = [];
  if (typeof schema.description === 'string' && schema.description.trim() !== '') {
    lines.push(...docLines(schema.description));
  }
  if (schema.default !== undefined) {
    const d = JSON.stringify(schema.default);
    if (d !== undefined && d.length <= 80) lines.push(`@default ${d.replace(/\*\//g, '*\\/')}`);
  }
  return lines;
}

// ---------------------------------------------------------------------------
// TypeScript

interface TsCtx {
  root: unknown;
  refStack: string[];
  maxDepth: number;
}

const TS_IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function tsLiteral(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean' || v === null) return String(v);
  return 'unknown';
}

function tsUnion(members: string[]): string {
  const m = dedupe(members);
  if (m.length === 0) return 'never';
  if (m.includes('unknown')) return 'unknown';
  return m.join(' | ');
}

function tsParen(t: string): string {
  return hasTopLevelOperator(t) ? `(${t})` : t;
}

function tsType(schema: unknown, ctx: TsCtx, depth: number, indent: string): string {
  if (schema === false) return 'never';
  if (!isRecord(schema) || depth > ctx.maxDepth) return 'unknown';
  if (typeof schema.$ref === 'string') {
    const ref = schema.$ref;
    if (ctx.refStack.includes(ref)) return 'unknown';
    const target = resolvePointer(ctx.root, ref);
    if (target === undefined) return 'unknown';
    ctx.refStack.push(ref);
    const t = tsType(target, ctx, depth + 1, indent);
    ctx.refStack.pop();
    return t;
  }
  let core: string | null = null;
  if ('const' in schema) core = tsLiteral(schema.const);
  else if (Array.isArray(schema.enum)) core = tsUnion(schema.enum.map(tsLiteral));
  else {
    const types = typeList(schema);
    if (types.length > 0) core = tsUnion(types.map((t) => tsForType(t, schema, ctx, depth, indent)));
  }
  const variants = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : null;
  if (variants) {
    const members = variants.map((v) => tsType(v, ctx, depth + 1, indent));
    if (core === null) core = tsUnion(members);
    else if (!members.includes('unknown')) core = `${tsParen(core)} & (${tsUnion(members)})`;
  }
  if (Array.isArray(schema.allOf)) {
    const parts = schema.allOf.map((v) => tsType(v, ctx, depth + 1, indent)).filter((t) => t !== 'unknown');
    if (core !== null && core !== 'unknown') parts.unshift(core);
    if (parts.length > 0) core = dedupe(parts).map(tsParen).join(' & ');
  }
  if (core === null) return 'unknown';
  if (schema.nullable === true && core !== 'unknown') core = tsUnion([core, 'null']);
  return core;
}

function tsForType(type: string, schema: Schema, ctx: TsCtx, depth: number, indent: string): string {
  switch (type) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return tsArray(schema, ctx, depth, indent);
    case 'object':
      return tsObject(schema, ctx, depth, indent);
    default:
      return 'unknown';
  }
}

function tsArray(schema: Schema, ctx: TsCtx, depth: number, indent: string): string {
  const prefix = Array.isArray(schema.prefixItems)
    ? schema.prefixItems
    : Array.isArray(schema.items)
      ? schema.items
      : null;
  if (prefix) {
    const rest = Array.isArray(schema.prefixItems) ? schema.items : schema.additionalItems;
    const elems = prefix.map((p) => tsType(p, ctx, depth + 1, indent));
    const closed = rest === false || (typeof schema.maxItems === 'number' && schema.maxItems <= prefix.length);
    if (!closed) {
      const restType = rest === undefined || rest === true ? 'unknown' : tsType(rest, ctx, depth + 1, indent);
      elems.push(`...${tsParen(restType)}[]`);
    }
    return `[${elems.join(', ')}]`;
  }
  if (schema.items === undefined || schema.items === true) return 'unknown[]';
  return `${tsParen(tsType(schema.items, ctx, depth + 1, indent))}[]`;
}

function tsObject(schema: Schema, ctx: TsCtx, depth: number, indent: string): string {
  const props = isRecord(schema.properties) ? schema.properties : {};
  const keys = Object.keys(props);
  const ap = schema.additionalProperties;
  if (keys.length === 0) {
    if (isRecord(ap)) return `Record<string, ${tsType(ap, ctx, depth + 1, indent)}>`;
    if (ap === false || (isRecord(schema.properties) && ap === undefined)) return 'Record<string, never>';
    return 'Record<string, unknown>';
  }
  const required = requiredSet(schema);
  const inner = `${indent}  `;
  let body = '';
  for (const key of keys) {
    const p = props[key];
    body += jsDoc(propertyDoc(p), inner);
    const name = TS_IDENT.test(key) ? key : JSON.stringify(key);
    body += `${inner}${name}${required.has(key) ? '' : '?'}: ${tsType(p, ctx, depth + 1, inner)};\n`;
  }
  if (ap === true || isRecord(ap) || isRecord(schema.patternProperties)) body += `${inner}[key: string]: unknown;\n`;
  return `{\n${body}${indent}}`;
}

/** TypeScript type expression for one schema (root for `$ref`s is the schema itself). */
export function schemaToTypeScript(schema: unknown, options: TypegenOptions = {}, indent = ''): string {
  return tsType(schema, { root: schema, refStack: [], maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH }, 0, indent);
}

function hasRequiredArgs(inputSchema: unknown): boolean {
  if (!isRecord(inputSchema)) return false;
  return requiredSet(inputSchema).size > 0;
}

function tsNamedType(name: string, schema: unknown, options: TypegenOptions, indent: string): string {
  const t = schemaToTypeScript(schema, options, indent);
  return t.startsWith('{\n') ? `${indent}interface ${name} ${t}\n` : `${indent}type ${name} = ${t};\n`;
}

function toolDocLines(server: ApiServer, tool: ApiTool): string[] {
  const s = tool.schema;
  const lines: string[] = [];
  const text = typeof s.description === 'string' && s.description.trim() !== '' ? s.description : s.title;
  if (typeof text === 'string' && text.trim() !== '') lines.push(...docLines(text));
  if (tool.identifier !== tool.name || server.identifier !== server.name) {
    if (lines.length > 0) lines.push('');
    lines.push(`Upstream tool "${tool.name}" on server "${server.name}".`);
  }
  return lines;
}

function tsFunction(server: ApiServer, tool: ApiTool, indent: string, qualified: boolean): string {
  const q = qualified ? `codemode.${server.identifier}.` : '';
  const opt = hasRequiredArgs(tool.schema.inputSchema) ? '' : '?';
  return `${indent}function ${tool.identifier}(args${opt}: ${q}${tool.typeName}Input): Promise<${q}${tool.typeName}Output>;\n`;
}

function tsToolBlock(server: ApiServer, tool: ApiTool, options: TypegenOptions, indent: string): string {
  let out = tsNamedType(`${tool.typeName}Input`, tool.schema.inputSchema ?? {}, options, indent);
  out +=
    tool.schema.outputSchema !== undefined
      ? tsNamedType(`${tool.typeName}Output`, tool.schema.outputSchema, options, indent)
      : `${indent}type ${tool.typeName}Output = CodeModeToolResult;\n`;
  out += jsDoc(toolDocLines(server, tool), indent);
  out += tsFunction(server, tool, indent, false);
  return out;
}

const TS_PRELUDE = `// Generated by codemode typegen. Do not edit.

/** A content block returned by a tool that has no output schema (text, image, audio, resource...). */
interface CodeModeContentBlock {
  type: string;
  text?: string;
  data?: string;
  mimeType?: string;
  [key: string]: unknown;
}

/**
 * What a tool without an output schema returns: its text content joined with
 * newlines when every block is text, else the content blocks themselves.
 * Tools with an output schema return their typed structured content instead.
 */
type CodeModeToolResult = string | CodeModeContentBlock[];
`;

const SEARCH_DOC = `  /**
   * Search the available tools by keywords in names and descriptions.
   * detail: "names" (one line each), "signatures" (default) or "full" (declarations with types).
   */
  function search_tools(query: string, detail?: "names" | "signatures" | "full"): Promise<string>;
`;

/** The whole API as a TypeScript declaration file: `declare namespace codemode { namespace <server> {...} }`. */
export function generateTypeScript(api: readonly ApiServer[], options: TypegenOptions = {}): string {
  let out = `${TS_PRELUDE}\ndeclare namespace codemode {\n${SEARCH_DOC}`;
  for (const server of api) {
    out += `\n  /** Tools of the upstream MCP server "${server.name}". */\n  namespace ${server.identifier} {\n`;
    out += server.tools.map((t) => tsToolBlock(server, t, options, '    ')).join('\n');
    out += '  }\n';
  }
  return `${out}}\n`;
}

/** One line per tool: `codemode.server.tool(args: {...}): Promise<...>` with types inlined on one line. */
export function toolSignature(server: ApiServer, tool: ApiTool, options: TypegenOptions = {}): string {
  const flat = (s: unknown) =>
    schemaToTypeScript(s, { maxDepth: 4, ...options })
      .replace(/\/\*\*[\s\S]*?\*\/\n/g, '')
      .replace(/\n\s*/g, ' ')
      .replace(/; }/g, ' }');
  const input = flat(tool.schema.inputSchema ?? {});
  const output = tool.schema.outputSchema !== undefined ? flat(tool.schema.outputSchema) : 'CodeModeToolResult';
  const opt = hasRequiredArgs(tool.schema.inputSchema) ? '' : '?';
  return `codemode.${server.identifier}.${tool.identifier}(args${opt}: ${input}): Promise<${output}>`;
}

/** A self-contained declaration of one tool (its types qualified), for search results. */
export function toolDeclaration(server: ApiServer, tool: ApiTool, options: TypegenOptions = {}): string {
  return `declare namespace codemode.${server.identifier} {\n${tsToolBlock(server, tool, options, '  ')}}\n`;
}

// ---------------------------------------------------------------------------
// Python

interface PyCtx {
  root: unknown;
  refStack: string[];
  maxDepth: number;
  defs: string[];
  used: Set<string>;
  imports: Set<string>;
}

const PY_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Python keywords: not usable as TypedDict class-syntax field names. */
const PY_KEYWORDS = new Set([
  ...PY_RESERVED,
  ...['await', 'break', 'class', 'continue', 'else', 'finally', 'for', 'if', 'import', 'in', 'return', 'try'],
  ...['while', 'with', 'yield'],
]);

function pyLiteral(v: unknown): string | null {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return null;
}

function pyLiterals(values: unknown[], ctx: PyCtx): string {
  const lits: string[] = [];
  let hasNull = false;
  for (const v of values) {
    if (v === null) hasNull = true;
    else {
      const l = pyLiteral(v);
      if (l === null) return 'Any';
      lits.push(l);
    }
  }
  const parts: string[] = [];
  if (lits.length > 0) {
    ctx.imports.add('Literal');
    parts.push(`Literal[${dedupe(lits).join(', ')}]`);
  }
  if (hasNull) parts.push('None');
  return parts.length === 0 ? 'Any' : parts.join(' | ');
}

function pyUnion(members: string[]): string {
  const m = dedupe(members);
  if (m.length === 0 || m.includes('Any')) return 'Any';
  return m.join(' | ');
}

function pyType(schema: unknown, ctx: PyCtx, depth: number, hint: string): string {
  if (!isRecord(schema) || depth > ctx.maxDepth) return 'Any';
  if (typeof schema.$ref === 'string') {
    const ref = schema.$ref;
    if (ctx.refStack.includes(ref)) return 'Any';
    const target = resolvePointer(ctx.root, ref);
    if (target === undefined) return 'Any';
    const refName = ref.split('/').pop() ?? '';
    ctx.refStack.push(ref);
    const t = pyType(target, ctx, depth + 1, PY_IDENT.test(refName) ? `${hint}${toPascal(refName)}` : hint);
    ctx.refStack.pop();
    return t;
  }
  let core: string | null = null;
  if ('const' in schema) core = pyLiterals([schema.const], ctx);
  else if (Array.isArray(schema.enum)) core = pyLiterals(schema.enum, ctx);
  else {
    const types = typeList(schema);
    if (types.length > 0) core = pyUnion(types.map((t) => pyForType(t, schema, ctx, depth, hint)));
  }
  const variants = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : null;
  if (variants && core === null) {
    core = pyUnion(variants.map((v, i) => pyType(v, ctx, depth + 1, `${hint}${i + 1}`)));
  }
  if (Array.isArray(schema.allOf) && core === null) {
    // Python has no intersection type: use the only typed member, else Any.
    const parts = schema.allOf.map((v, i) => pyType(v, ctx, depth + 1, `${hint}${i + 1}`)).filter((t) => t !== 'Any');
    core = parts.length === 1 ? (parts[0] as string) : 'Any';
  }
  if (core === null) return 'Any';
  if (schema.nullable === true && core !== 'Any') core = pyUnion([core, 'None']);
  return core;
}

function pyForType(type: string, schema: Schema, ctx: PyCtx, depth: number, hint: string): string {
  switch (type) {
    case 'string':
      return 'str';
    case 'number':
      return 'float';
    case 'integer':
      return 'int';
    case 'boolean':
      return 'bool';
    case 'null':
      return 'None';
    case 'array': {
      const prefix = Array.isArray(schema.prefixItems)
        ? schema.prefixItems
        : Array.isArray(schema.items)
          ? schema.items
          : null;
      if (prefix) {
        const elems = prefix.map((p, i) => pyType(p, ctx, depth + 1, `${hint}${i + 1}`));
        return `tuple[${elems.length > 0 ? elems.join(', ') : '()'}]`;
      }
      if (schema.items === undefined || schema.items === true) return 'list[Any]';
      return `list[${pyType(schema.items, ctx, depth + 1, `${hint}Item`)}]`;
    }
    case 'object':
      return pyObject(schema, ctx, depth, hint);
    default:
      return 'Any';
  }
}

function pyDocstring(lines: string[], indent: string): string {
  if (lines.length === 0) return '';
  const esc = lines.map((l) => l.replace(/\\/g, '\\\\').replace(/"""/g, '\\"\\"\\"'));
  if (esc.length === 1) return `${indent}"""${esc[0]}"""\n`;
  return `${indent}"""\n${esc.map((l) => (l === '' ? '' : `${indent}${l}`)).join('\n')}\n${indent}"""\n`;
}

function pyObject(schema: Schema, ctx: PyCtx, depth: number, hint: string): string {
  const props = isRecord(schema.properties) ? schema.properties : {};
  const keys = Object.keys(props);
  if (keys.length === 0) {
    const ap = schema.additionalProperties;
    return isRecord(ap) ? `dict[str, ${pyType(ap, ctx, depth + 1, `${hint}Value`)}]` : 'dict[str, Any]';
  }
  const name = uniqueName(hint, ctx.used);
  const required = requiredSet(schema);
  const fields = keys.map((key) => {
    const p = props[key];
    let t = pyType(p, ctx, depth + 1, `${name}${toPascal(toIdentifier(key))}`);
    if (!required.has(key)) {
      ctx.imports.add('NotRequired');
      t = `NotRequired[${t}]`;
    }
    return { key, type: t, doc: propertyDoc(p).filter((l) => !l.startsWith('@default')) };
  });
  ctx.imports.add('TypedDict');
  const classSyntax = fields.every((f) => PY_IDENT.test(f.key) && !PY_KEYWORDS.has(f.key));
  let def: string;
  if (classSyntax) {
    def = `class ${name}(TypedDict):\n`;
    def += pyDocstring(
      propertyDoc(schema).filter((l) => !l.startsWith('@default')),
      '    ',
    );
    for (const f of fields) def += `    ${f.key}: ${f.type}\n${pyDocstring(f.doc, '    ')}`;
  } else {
    def = `${name} = TypedDict(\n    ${JSON.stringify(name)},\n    {\n`;
    for (const f of fields) def += `        ${JSON.stringify(f.key)}: ${f.type},\n`;
    def += '    },\n)\n';
  }
  ctx.defs.push(def);
  return name;
}

const PY_RESULT = `ToolResult = str | list[dict[str, Any]]
"""
What a tool without an output schema returns: its text content joined with
newlines when every block is text, else the content blocks themselves.
"""
`;

/** The whole API as a Python stub (`.pyi`): TypedDicts per tool and an async `codemode` object. */
export function generatePython(api: readonly ApiServer[], options: TypegenOptions = {}): string {
  const ctx: PyCtx = {
    root: undefined,
    refStack: [],
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
    defs: [],
    used: new Set(['ToolResult', 'CodeMode', 'Any', 'Literal', 'NotRequired', 'TypedDict']),
    imports: new Set(['Any', 'Literal']),
  };
  const classes: string[] = [];
  const serverAttrs: string[] = [];
  for (const server of api) {
    const cls = uniqueName(`${server.typeName}Server`, ctx.used);
    let body = `class ${cls}:\n    """Tools of the upstream MCP server "${server.name}"."""\n\n`;
    for (const tool of server.tools) {
      const base = `${server.typeName}${tool.typeName}`;
      ctx.root = tool.schema.inputSchema;
      const input = pyType(tool.schema.inputSchema ?? {}, ctx, 0, `${base}Input`);
      ctx.root = tool.schema.outputSchema;
      const output =
        tool.schema.outputSchema !== undefined
          ? pyType(tool.schema.outputSchema, ctx, 0, `${base}Output`)
          : 'ToolResult';
      const opt = hasRequiredArgs(tool.schema.inputSchema) ? '' : ' = ...';
      body += `    async def ${tool.identifier}(self, args: ${input}${opt}, /) -> ${output}:\n`;
      body += pyDocstring(toolDocLines(server, tool), '        ');
      body += '        ...\n\n';
    }
    classes.push(body.trimEnd() + '\n');
    serverAttrs.push(`    ${server.identifier}: ${cls}\n`);
  }
  const imports = [...ctx.imports].sort().join(', ');
  let out = `# Generated by codemode typegen. Do not edit.\nfrom typing import ${imports}\n\n${PY_RESULT}`;
  for (const d of ctx.defs) out += `\n\n${d}`;
  for (const c of classes) out += `\n\n${c}`;
  out += `\n\nclass CodeMode:\n    """The upstream MCP servers as an API: \`await codemode.<server>.<tool>(args)\`."""\n\n`;
  out += serverAttrs.join('');
  if (serverAttrs.length > 0) out += '\n';
  out +=
    '    async def search_tools(self, query: str, detail: Literal["names", "signatures", "full"] = "signatures") -> str:\n' +
    '        """Search the available tools by keywords in names and descriptions."""\n' +
    '        ...\n';
  out += '\n\ncodemode: CodeMode\n';
  return out;
}
