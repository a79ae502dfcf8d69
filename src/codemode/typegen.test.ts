// Exact-output tests for the schema → TypeScript/Python generator; they double as its spec.
// fixtures/<server>.tools.json is the real `tools/list` of each installed reference server
// (SDK client over stdio, `JSON.stringify(tools, null, 2)`, then prettier).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import {
  buildApi,
  generatePython,
  generateTypeScript,
  schemaToTypeScript,
  toIdentifier,
  toolSignature,
  type ServerTools,
} from './typegen.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const SERVERS = ['everything', 'memory', 'filesystem'];
/** Set UPDATE_CODEMODE_FIXTURES=1 to rewrite the expected outputs after an intended change. */
const UPDATE = process.env.UPDATE_CODEMODE_FIXTURES === '1';

function realServers(): ServerTools[] {
  return SERVERS.map((name) => ({
    name,
    tools: JSON.parse(readFileSync(join(FIXTURES, `${name}.tools.json`), 'utf8')) as ServerTools['tools'],
  }));
}

function compareFixture(file: string, actual: string): void {
  const path = join(FIXTURES, file);
  if (UPDATE) writeFileSync(path, actual);
  assert.equal(
    actual,
    readFileSync(path, 'utf8'),
    `${file} differs; rerun with UPDATE_CODEMODE_FIXTURES=1 if intended`,
  );
}

/** Type-check virtual files with the real compiler; returns the diagnostics as text. */
function typeCheck(files: Record<string, string>): string[] {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    types: [],
    skipLibCheck: false,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError) =>
    name in files ? ts.createSourceFile(name, files[name] as string, lang) : getSourceFile(name, lang, onError);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name in files || fileExists(name);
  const program = ts.createProgram(Object.keys(files), options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('typegen: real tool schemas (exact output)', () => {
  it('generates the TypeScript declarations of server-everything, server-memory and server-filesystem', () => {
    compareFixture('expected-servers.d.ts.snap', generateTypeScript(buildApi(realServers())));
  });

  it('generates the Python stub of the same API', () => {
    compareFixture('expected-servers.pyi.snap', generatePython(buildApi(realServers())));
  });

  it('produces a Python stub that parses as Python', (t) => {
    const probe = spawnSync('python3', ['--version']);
    if (probe.status !== 0) return t.skip('python3 is not installed');
    const stub = generatePython(buildApi(realServers()));
    const r = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: stub });
    assert.equal(r.status, 0, r.stderr.toString());
  });

  it('is deterministic', () => {
    const api = buildApi(realServers());
    assert.equal(generateTypeScript(api), generateTypeScript(buildApi(realServers())));
    assert.equal(generatePython(api), generatePython(buildApi(realServers())));
  });

  it('produces declarations that type-check, with typed results and checked arguments', () => {
    const dts = generateTypeScript(buildApi(realServers()));
    const good = `
async function main(): Promise<number> {
  const weather = await codemode.everything.get_structured_content({ location: "Chicago" });
  const t: number = weather.temperature;
  const graph = await codemode.memory.read_graph();
  const names: string[] = graph.entities.map((e) => e.name);
  const text: CodeModeToolResult = await codemode.everything.echo({ message: "hi" });
  const listing = await codemode.filesystem.list_directory({ path: "/tmp" });
  const found: string = await codemode.search_tools("file", "names");
  return t + names.length + String(text).length + listing.content.length + found.length;
}
void main;
`;
    assert.deepEqual(typeCheck({ '/api.d.ts': dts, '/good.ts': good }), []);
    const bad = `
async function main() {
  await codemode.everything.get_structured_content({ location: "Paris" });
  await codemode.everything.get_sum({ a: 1 });
  const w = await codemode.everything.get_structured_content({ location: "Chicago" });
  const s: string = w.temperature;
  return s;
}
void main;
`;
    const errors = typeCheck({ '/api.d.ts': dts, '/bad.ts': bad });
    assert.equal(errors.length, 3, errors.join('\n'));
    assert.ok(errors.every((e) => e.startsWith('/bad.ts')));
  });
});

describe('typegen: names', () => {
  it('makes valid identifiers: get-file → get_file, digits and reserved words', () => {
    assert.equal(toIdentifier('get-file'), 'get_file');
    assert.equal(toIdentifier('3d.render'), '_3d_render');
    assert.equal(toIdentifier('delete'), 'delete_');
    assert.equal(toIdentifier('from'), 'from_');
    assert.equal(toIdentifier('héllo wörld'), 'h_llo_w_rld');
    assert.equal(toIdentifier(''), '_');
  });

  it('gives clashing names suffixes in input order, and avoids runtime members', () => {
    const api = buildApi([
      { name: 'search_tools', tools: [] },
      {
        name: 'my-server',
        tools: [{ name: 'get-file' }, { name: 'get_file' }, { name: 'get.file' }, { name: 'class' }],
      },
      { name: 'my_server', tools: [] },
    ]);
    assert.deepEqual(
      api.map((s) => s.identifier),
      ['search_tools_2', 'my_server', 'my_server_2'],
    );
    assert.deepEqual(
      api[1]?.tools.map((t) => [t.identifier, t.typeName]),
      [
        ['get_file', 'GetFile'],
        ['get_file_2', 'GetFile2'],
        ['get_file_3', 'GetFile3'],
        ['class_', 'Class'],
      ],
    );
  });
});

describe('typegen: schema features', () => {
  const ts1 = (schema: unknown, maxDepth?: number) => schemaToTypeScript(schema, maxDepth ? { maxDepth } : {});

  it('maps primitive types, enum, const and nullable', () => {
    assert.equal(ts1({ type: 'string' }), 'string');
    assert.equal(ts1({ type: 'integer' }), 'number');
    assert.equal(ts1({ type: ['string', 'null'] }), 'string | null');
    assert.equal(ts1({ type: 'string', nullable: true }), 'string | null');
    assert.equal(ts1({ enum: ['a', 'b', 1, true, null] }), '"a" | "b" | 1 | true | null');
    assert.equal(ts1({ const: 'x"y' }), '"x\\"y"');
    assert.equal(ts1({ const: { a: 1 } }), 'unknown');
    assert.equal(ts1(true), 'unknown');
    assert.equal(ts1(false), 'never');
    assert.equal(ts1({}), 'unknown');
  });

  it('renders objects with required/optional properties, quoted keys and descriptions', () => {
    const schema = {
      type: 'object',
      description: 'ignored at top level',
      properties: {
        id: { type: 'string', description: 'The id.\nSecond line with */ inside' },
        'content-type': { type: 'string', default: 'text/plain' },
        count: { type: 'number' },
      },
      required: ['id'],
    };
    assert.equal(
      ts1(schema),
      `{
  /**
   * The id.
   * Second line with *\\/ inside
   */
  id: string;
  /** @default "text/plain" */
  "content-type"?: string;
  count?: number;
}`,
    );
  });

  it('handles additionalProperties and empty objects', () => {
    assert.equal(ts1({ type: 'object', additionalProperties: { type: 'number' } }), 'Record<string, number>');
    assert.equal(ts1({ type: 'object', properties: {} }), 'Record<string, never>');
    assert.equal(ts1({ type: 'object' }), 'Record<string, unknown>');
    assert.equal(
      ts1({ type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: true }),
      '{\n  a: string;\n  [key: string]: unknown;\n}',
    );
  });

  it('handles arrays and tuples (prefixItems and array-form items)', () => {
    assert.equal(ts1({ type: 'array', items: { type: 'string' } }), 'string[]');
    assert.equal(ts1({ type: 'array', items: { type: ['string', 'number'] } }), '(string | number)[]');
    assert.equal(ts1({ type: 'array' }), 'unknown[]');
    assert.equal(
      ts1({ type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false }),
      '[string, number]',
    );
    assert.equal(ts1({ type: 'array', prefixItems: [{ type: 'string' }] }), '[string, ...unknown[]]');
    assert.equal(
      ts1({ type: 'array', items: [{ type: 'boolean' }], additionalItems: { type: 'string' } }),
      '[boolean, ...string[]]',
    );
    assert.equal(ts1({ type: 'array', items: [{ type: 'boolean' }], maxItems: 1 }), '[boolean]');
  });

  it('renders anyOf/oneOf as unions and allOf as intersections', () => {
    assert.equal(ts1({ anyOf: [{ type: 'string' }, { type: 'number' }] }), 'string | number');
    assert.equal(ts1({ oneOf: [{ const: 'a' }, { type: 'null' }] }), '"a" | null');
    assert.equal(
      ts1({
        allOf: [
          { type: 'object', properties: { a: { type: 'string' } } },
          { type: 'object', additionalProperties: { type: 'number' } },
        ],
      }),
      '{\n  a?: string;\n} & Record<string, number>',
    );
    assert.equal(ts1({ anyOf: [{ type: 'string' }, {}] }), 'unknown');
    // Variants that only add "required" keep the object type.
    assert.equal(
      ts1({ type: 'object', properties: { a: { type: 'string' } }, anyOf: [{ required: ['a'] }, {}] }),
      '{\n  a?: string;\n}',
    );
  });

  it('resolves local $ref to $defs and definitions, and degrades cycles to unknown', () => {
    const schema = {
      type: 'object',
      properties: {
        owner: { $ref: '#/$defs/Person' },
        tags: { type: 'array', items: { $ref: '#/definitions/Tag' } },
        missing: { $ref: '#/$defs/Nope' },
        remote: { $ref: 'https://example.com/schema.json' },
      },
      required: ['owner'],
      $defs: {
        Person: {
          type: 'object',
          properties: { name: { type: 'string' }, friend: { $ref: '#/$defs/Person' } },
          required: ['name'],
        },
      },
      definitions: { Tag: { enum: ['x', 'y'] } },
    };
    assert.equal(
      ts1(schema),
      `{
  owner: {
    name: string;
    friend?: unknown;
  };
  tags?: ("x" | "y")[];
  missing?: unknown;
  remote?: unknown;
}`,
    );
    // A schema that is nothing but a cycle.
    assert.equal(ts1({ $ref: '#' }), 'unknown');
    assert.equal(ts1({ $defs: { A: { $ref: '#/$defs/B' }, B: { $ref: '#/$defs/A' } }, $ref: '#/$defs/A' }), 'unknown');
  });

  it('degrades to unknown past the depth limit', () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 6; i++) schema = { type: 'array', items: schema };
    assert.equal(ts1(schema), 'string[][][][][][]');
    assert.equal(ts1(schema, 3), 'unknown[][][][]');
  });

  it('never throws on malformed schemas', () => {
    const junk: unknown[] = [
      null,
      42,
      'str',
      [],
      { type: 42 },
      { properties: 5 },
      { required: 'x', properties: { a: 1 } },
    ];
    junk.push(
      { anyOf: 'nope' },
      { enum: [{}, []] },
      { $ref: 5 },
      { type: 'array', items: null },
      { prefixItems: [null] },
    );
    for (const s of junk) assert.equal(typeof ts1(s), 'string');
    const tools = junk.map((s, i) => ({ name: `t${i}`, inputSchema: s, outputSchema: s }));
    const api = buildApi([{ name: 'junk', tools }]);
    assert.ok(generateTypeScript(api).includes('namespace junk'));
    assert.ok(generatePython(api).includes('class JunkServer'));
  });

  it('makes args optional when nothing is required, and one-line signatures for search', () => {
    const api = buildApi([
      {
        name: 'notes',
        tools: [
          {
            name: 'list',
            description: 'List.',
            inputSchema: { type: 'object', properties: { limit: { type: 'number' } } },
          },
          {
            name: 'add-note',
            inputSchema: {
              type: 'object',
              properties: { text: { type: 'string', description: 'Body' } },
              required: ['text'],
            },
            outputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
          },
        ],
      },
    ]);
    const server = api[0]!;
    assert.equal(
      toolSignature(server, server.tools[0]!),
      'codemode.notes.list(args?: { limit?: number }): Promise<CodeModeToolResult>',
    );
    assert.equal(
      toolSignature(server, server.tools[1]!),
      'codemode.notes.add_note(args: { text: string }): Promise<{ id: string }>',
    );
  });
});

describe('typegen: Python stubs', () => {
  it('hoists nested objects into TypedDicts, uses functional syntax for keyword keys, and maps unions', () => {
    const api = buildApi([
      {
        name: 'kv',
        tools: [
          {
            name: 'put',
            description: 'Store """quoted""" values.',
            inputSchema: {
              type: 'object',
              properties: {
                from: { type: 'string' },
                item: {
                  type: 'object',
                  properties: {
                    n: { type: 'integer', description: 'Count' },
                    tags: { type: 'array', items: { type: 'string' } },
                  },
                  required: ['n'],
                },
                mode: { enum: ['a', 'b', null] },
                pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false },
                any: { anyOf: [{ type: 'string' }, { type: 'boolean' }] },
              },
              required: ['from'],
            },
          },
        ],
      },
    ]);
    assert.equal(
      generatePython(api),
      `# Generated by codemode typegen. Do not edit.
from typing import Any, Literal, NotRequired, TypedDict

ToolResult = str | list[dict[str, Any]]
"""
What a tool without an output schema returns: its text content joined with
newlines when every block is text, else the content blocks themselves.
"""


class KvPutInputItem(TypedDict):
    n: int
    """Count"""
    tags: NotRequired[list[str]]


KvPutInput = TypedDict(
    "KvPutInput",
    {
        "from": str,
        "item": NotRequired[KvPutInputItem],
        "mode": NotRequired[Literal["a", "b"] | None],
        "pair": NotRequired[tuple[str, float]],
        "any": NotRequired[str | bool],
    },
)


class KvServer:
    """Tools of the upstream MCP server "kv"."""

    async def put(self, args: KvPutInput, /) -> ToolResult:
        """Store \\"\\"\\"quoted\\"\\"\\" values."""
        ...


class CodeMode:
    """The upstream MCP servers as an API: \`await codemode.<server>.<tool>(args)\`."""

    kv: KvServer

    async def search_tools(self, query: str, detail: Literal["names", "signatures", "full"] = "signatures") -> str:
        """Search the available tools by keywords in names and descriptions."""
        ...


codemode: CodeMode
`,
    );
  });
});
