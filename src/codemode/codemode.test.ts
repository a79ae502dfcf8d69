// Unit tests for the Code Mode runtime over fake upstream servers: approval, results, search, summary.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '../errors.js';
import { CodeModeRuntime, rankTools, toolResultValue } from './codemode.js';
import type { CodeModeConfig, UpstreamServerConfig } from './config.js';
import type { CallToolResultLike, McpClientLike, UpstreamConnector, UpstreamToolInfo } from './upstream.js';

function server(name: string, extra: Partial<UpstreamServerConfig> = {}): UpstreamServerConfig {
  return {
    name,
    transport: { kind: 'stdio', command: name, args: [], env: {} },
    timeoutMs: 1000,
    requireApproval: [],
    approved: [],
    disabled: false,
    ...extra,
  };
}

type Handler = (args: Record<string, unknown>) => CallToolResultLike;

function connectorFor(
  servers: Record<string, { tools: UpstreamToolInfo[]; handlers?: Record<string, Handler>; fail?: string }>,
): { connector: UpstreamConnector; calls: string[] } {
  const calls: string[] = [];
  const connector: UpstreamConnector = async (config, hooks) => {
    const s = servers[config.name];
    if (!s || s.fail) {
      hooks.onStderr(s?.fail ?? 'unknown');
      throw new Error('Connection closed');
    }
    const client: McpClientLike = {
      listTools: async () => s.tools,
      callTool: async (name, args) => {
        calls.push(`${config.name}.${name}`);
        const h = s.handlers?.[name];
        return h ? h(args) : { content: [{ type: 'text', text: `called ${name}` }] };
      },
      close: async () => undefined,
    };
    return client;
  };
  return { connector, calls };
}

const NOTES_TOOLS: UpstreamToolInfo[] = [
  {
    name: 'add-note',
    description: 'Add a note to the notebook. Returns its id.',
    inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
    outputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
  },
  { name: 'list_notes', description: 'List all notes.', inputSchema: { type: 'object', properties: {} } },
  { name: 'delete_all', description: 'Delete every note.', inputSchema: { type: 'object', properties: {} } },
];

function notesRuntime(extra: Partial<UpstreamServerConfig> = {}, more: CodeModeConfig['servers'] = []) {
  const { connector, calls } = connectorFor({
    notes: {
      tools: NOTES_TOOLS,
      handlers: {
        'add-note': (args) => ({
          content: [{ type: 'text', text: '{"id":"n1"}' }],
          structuredContent: { id: `id:${String(args.text)}` },
        }),
        list_notes: () => ({
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        }),
      },
    },
    broken: { tools: [], fail: 'fatal: cannot open database\n' },
  });
  const runtime = new CodeModeRuntime(
    { servers: [server('notes', { requireApproval: ['delete_all'], ...extra }), ...more] },
    { connector },
  );
  return { runtime, calls };
}

describe('toolResultValue', () => {
  it('returns structuredContent for tools with an output schema', () => {
    const r = { content: [{ type: 'text', text: '{}' }], structuredContent: { a: 1 } };
    assert.deepEqual(toolResultValue('x', { outputSchema: {} }, r), { a: 1 });
  });
  it('joins text content, keeps mixed content blocks, and throws on isError naming the tool', () => {
    assert.equal(
      toolResultValue(
        'x',
        {},
        {
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
      ),
      'a\nb',
    );
    const blocks = [
      { type: 'text', text: 'a' },
      { type: 'image', data: 'AA==', mimeType: 'image/png' },
    ];
    assert.deepEqual(toolResultValue('x', {}, { content: blocks }), blocks);
    assert.throws(
      () => toolResultValue('codemode.s.t', {}, { isError: true, content: [{ type: 'text', text: 'no such file' }] }),
      (e) => isAppError(e, 'UPSTREAM_ERROR') && e.message === 'codemode.s.t failed: no such file',
    );
  });
});

describe('CodeModeRuntime', () => {
  it('calls tools by identifier or upstream name and converts results', async () => {
    const { runtime, calls } = notesRuntime();
    assert.deepEqual(await runtime.callTool('notes', 'add_note', { text: 'hi' }), { id: 'id:hi' });
    assert.deepEqual(await runtime.callTool('notes', 'add-note', { text: 'yo' }), { id: 'id:yo' });
    assert.equal(await runtime.callTool('notes', 'list_notes', {}), 'a\nb');
    assert.deepEqual(calls, ['notes.add-note', 'notes.add-note', 'notes.list_notes']);
    await assert.rejects(
      runtime.callTool('notes', 'nope', {}),
      (e) => isAppError(e, 'NOT_FOUND') && /search_tools/.test(e.message),
    );
    await assert.rejects(
      runtime.callTool('ghost', 'x', {}),
      (e) => isAppError(e, 'NOT_FOUND') && /not a configured server/.test(e.message),
    );
    await runtime.close();
  });

  it('refuses tools that need approval unless the config allows them', async () => {
    const { runtime, calls } = notesRuntime();
    await assert.rejects(runtime.callTool('notes', 'delete_all', {}), (e) => {
      assert.ok(isAppError(e, 'APPROVAL_REQUIRED'));
      assert.match(e.message, /codemode\.notes\.delete_all needs approval and was not called/);
      assert.match(e.message, /add "delete_all" to mcpServers\.notes\.approved/);
      return true;
    });
    assert.deepEqual(calls, []);
    await runtime.close();
    const allowed = notesRuntime({ approved: ['delete_all'] });
    assert.equal(await allowed.runtime.callTool('notes', 'delete_all', {}), 'called delete_all');
    await allowed.runtime.close();
    const all = notesRuntime({ requireApproval: true });
    await assert.rejects(all.runtime.callTool('notes', 'list_notes', {}), (e) => isAppError(e, 'APPROVAL_REQUIRED'));
    await all.runtime.close();
  });

  it('summarises servers and tools, marking approval and unavailable servers', async () => {
    const { runtime } = notesRuntime({}, [server('broken')]);
    const summary = await runtime.summary();
    assert.equal(
      summary,
      [
        'Upstream MCP servers, callable as `await codemode.<server>.<tool>(args)`:',
        '- notes: add_note, list_notes, delete_all(needs approval)',
        '- broken: unavailable (upstream server "broken" failed to start: Connection closed)',
        'Get argument/result types with search_tools (or `await codemode.search_tools(query, "signatures")` in code). ' +
          'Tools with an output schema return typed objects; others return their text.',
      ].join('\n'),
    );
    await assert.rejects(
      runtime.callTool('broken', 'x', {}),
      (e) => isAppError(e, 'UPSTREAM_UNAVAILABLE') && /cannot open database/.test(e.message),
    );
    await runtime.close();
  });

  it('searches with names, signatures or full declarations', async () => {
    const { runtime } = notesRuntime();
    assert.equal(
      await runtime.searchTools('add note', 'names'),
      [
        '3 of 3 tools match "add note".',
        'codemode.notes.add_note - Add a note to the notebook.',
        'codemode.notes.list_notes - List all notes.',
        'codemode.notes.delete_all [needs approval] - Delete every note.',
      ].join('\n'),
    );
    assert.equal(
      await runtime.searchTools('add', 'signatures'),
      '1 of 3 tools match "add".\n// Add a note to the notebook.\ncodemode.notes.add_note(args: { text: string }): Promise<{ id: string }>',
    );
    const full = await runtime.searchTools('delete', 'full');
    assert.match(full, /\/\/ \[needs approval\]\ndeclare namespace codemode\.notes \{/);
    assert.match(full, /function delete_all\(args\?: DeleteAllInput\): Promise<DeleteAllOutput>;/);
    assert.match(await runtime.searchTools('zebra'), /^No tools match "zebra"\. Servers: notes \(3\)\./);
    await runtime.close();
  });

  it('ranks among 1000 tools: names before descriptions', () => {
    const tools: UpstreamToolInfo[] = [];
    for (let i = 0; i < 1000; i++)
      tools.push({ name: `tool_${i}`, description: i === 500 ? 'Send an invoice email.' : `Does thing ${i}.` });
    tools.push({ name: 'send_invoice', description: 'Create and send.' });
    const entries = tools.map((info) => ({
      server: { name: 's', identifier: 's', typeName: 'S', tools: [] },
      tool: { name: info.name, identifier: info.name, typeName: 'X', schema: info },
      config: server('s'),
      info,
      needsApproval: false,
    }));
    // How fast is the bench's question, not the test's (a timed assertion fails on a loaded machine).
    const ranked = rankTools(entries, 'send invoice');
    assert.deepEqual(
      ranked.map((e) => e.tool.name),
      ['send_invoice', 'tool_500'],
    );
  });

  it('serves declarations in both languages and runs programs against the API', async () => {
    const { runtime } = notesRuntime();
    assert.match(
      await runtime.declarations('typescript'),
      /function add_note\(args: AddNoteInput\): Promise<AddNoteOutput>;/,
    );
    assert.match(
      await runtime.declarations('python'),
      /async def add_note\(self, args: NotesAddNoteInput, \/\) -> NotesAddNoteOutput:/,
    );
    const r = await runtime.run({
      language: 'typescript',
      code: `
        const ids: string[] = [];
        for (const text of ["a", "b"]) ids.push((await codemode.notes.add_note({ text })).id);
        let refused = "";
        try { await codemode.notes.delete_all(); } catch (e) { refused = (e as Error).message; }
        return { ids, refused: refused.slice(0, 45) };
      `,
    });
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.deepEqual(r.value, { ids: ['id:a', 'id:b'], refused: 'codemode.notes.delete_all needs approval and ' });
    assert.deepEqual(
      r.toolCalls.map((c) => [c.name, c.ok]),
      [
        ['notes.add_note', true],
        ['notes.add_note', true],
        ['notes.delete_all', false],
      ],
    );
    await runtime.close();
  });
});
