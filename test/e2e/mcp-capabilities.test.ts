/**
 * What the server advertises is what it does: no logging and no
 * resources.listChanged (it sends neither), and completion/complete for the
 * resource templates, answered from the caller's own sessions and files only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectHttpClient, startTestServer, type TestServer } from './mcp-harness.js';

const TOKEN_A = 'caps-token-a-0123456789';
const TOKEN_B = 'caps-token-b-0123456789';
const FILES = 'codemode://sessions/{session_id}/files/{+path}';
const HISTORY = 'codemode://sessions/{session_id}/history';

describe('capabilities and completions', () => {
  let server: TestServer;
  let a: Client;
  let b: Client;
  let sessionId: string;

  before(async () => {
    server = await startTestServer({ tokens: [TOKEN_A, TOKEN_B] });
    a = await connectHttpClient(server.http.url, TOKEN_A);
    b = await connectHttpClient(server.http.url, TOKEN_B);
    const created = await a.callTool({ name: 'create_session', arguments: { language: 'bash' } });
    sessionId = (created.structuredContent as { session: { id: string } }).session.id;
    await a.callTool({ name: 'write_file', arguments: { session_id: sessionId, path: 'data/a.txt', content: 'x' } });
    await a.callTool({ name: 'write_file', arguments: { session_id: sessionId, path: 'notes.md', content: 'y' } });
  });
  after(async () => {
    await a.close();
    await b.close();
    await server.close();
  });

  it('advertises completions, and neither logging nor resources.listChanged', () => {
    const caps = a.getServerCapabilities() ?? {};
    assert.equal(caps.logging, undefined);
    assert.notEqual(caps.resources?.listChanged, true);
    assert.deepEqual(caps.completions, {});
  });

  it('completes session ids with the caller’s own sessions only', async () => {
    const mine = await a.complete({
      ref: { type: 'ref/resource', uri: HISTORY },
      argument: { name: 'session_id', value: sessionId.slice(0, 4) },
    });
    assert.deepEqual(mine.completion.values, [sessionId]);
    const theirs = await b.complete({
      ref: { type: 'ref/resource', uri: HISTORY },
      argument: { name: 'session_id', value: '' },
    });
    assert.deepEqual(theirs.completion.values, []);
  });

  it('completes workspace paths within the chosen session, for its owner only', async () => {
    const ask = (client: Client, value: string) =>
      client.complete({
        ref: { type: 'ref/resource', uri: FILES },
        argument: { name: 'path', value },
        context: { arguments: { session_id: sessionId } },
      });
    assert.deepEqual((await ask(a, 'da')).completion.values, ['data/a.txt']);
    assert.deepEqual((await ask(a, '')).completion.values.sort(), ['data/a.txt', 'notes.md']);
    assert.deepEqual((await ask(b, '')).completion.values, [], "another principal's session lists nothing");
  });
});
