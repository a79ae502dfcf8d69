/**
 * A scripted model server on loopback for tests and the bench: it speaks the
 * OpenAI Chat Completions and Anthropic Messages wire formats (streamed over
 * SSE, tool-call arguments in fragments) and replays scripted turns, so the
 * real provider adapters and HTTP clients run. It records every request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ScriptedTurn =
  | { text?: string; tools?: { name: string; input: unknown }[]; delayMs?: number }
  | { status: number; headers?: Record<string, string>; body?: string }
  /** A turn produced from what the model was sent (e.g. echo the last tool result). */
  | { respond: (request: RecordedRequest) => ScriptedTurn };

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  at: number;
}

export interface ScriptedServer {
  url: string;
  /** Base URLs to give the providers. */
  openaiBaseURL: string;
  anthropicBaseURL: string;
  requests: RecordedRequest[];
  /** Replace the remaining script. */
  script(turns: ScriptedTurn[]): void;
  /** A turn used when the script is empty (default: a 500 naming the exhaustion). */
  fallback?: ScriptedTurn;
  close(): Promise<void>;
}

export async function startScriptedServer(turns: ScriptedTurn[] = []): Promise<ScriptedServer> {
  let queue = [...turns];
  const requests: RecordedRequest[] = [];
  let counter = 0;
  const state: ScriptedServer = {
    url: '',
    openaiBaseURL: '',
    anthropicBaseURL: '',
    requests,
    script: (t) => {
      queue = [...t];
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        // A non-JSON body is recorded as empty; the turn decides the answer.
      }
      const rec: RecordedRequest = { path: req.url ?? '', headers: req.headers, body, at: Date.now() };
      requests.push(rec);
      let turn: ScriptedTurn | undefined = queue.shift() ?? state.fallback;
      while (turn && 'respond' in turn) turn = turn.respond(rec);
      if (!turn) return sendError(res, 500, {}, '{"error":{"message":"script exhausted","type":"server_error"}}');
      if ('status' in turn) return sendError(res, turn.status, turn.headers ?? {}, turn.body ?? '');
      const t = turn;
      const id = ++counter;
      const go = () => {
        if ((req.url ?? '').endsWith('/messages')) anthropicStream(res, t, id);
        else openaiStream(res, t, id, String(body.model ?? 'scripted'));
      };
      if (t.delayMs) setTimeout(go, t.delayMs);
      else go();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${port}`;
  state.openaiBaseURL = `${state.url}/v1`;
  state.anthropicBaseURL = `${state.url}/v1`;
  return state;
}

function sendError(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body || JSON.stringify({ error: { message: `scripted ${status}`, type: 'server_error' } }));
}

/** Splits a string into fragments of a few characters, as a real server streams them. */
function fragments(s: string, size = 5): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out.length ? out : [''];
}

function sse(res: ServerResponse): (data: unknown, event?: string) => void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  // Written in one go (a scripted turn has no latency to show); the client still parses fragment by fragment.
  res.cork();
  return (data, event) => {
    res.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
  };
}

function openaiStream(
  res: ServerResponse,
  t: { text?: string; tools?: { name: string; input: unknown }[] },
  id: number,
  model: string,
): void {
  const send = sse(res);
  const base = { id: `chatcmpl-${id}`, object: 'chat.completion.chunk', created: 1_700_000_000, model };
  const chunk = (delta: unknown, finish: string | null = null) =>
    send({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] });
  chunk({ role: 'assistant', content: '' });
  for (const f of t.text ? fragments(t.text) : []) chunk({ content: f });
  for (const [i, call] of (t.tools ?? []).entries()) {
    chunk({
      tool_calls: [{ index: i, id: `call_${id}_${i}`, type: 'function', function: { name: call.name, arguments: '' } }],
    });
    for (const f of fragments(JSON.stringify(call.input), 7))
      chunk({ tool_calls: [{ index: i, function: { arguments: f } }] });
  }
  chunk({}, t.tools?.length ? 'tool_calls' : 'stop');
  send({ ...base, choices: [], usage: { prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 } });
  send('[DONE]');
  res.end();
}

function anthropicStream(
  res: ServerResponse,
  t: { text?: string; tools?: { name: string; input: unknown }[] },
  id: number,
): void {
  const send = sse(res);
  send(
    {
      type: 'message_start',
      message: {
        id: `msg_${id}`,
        type: 'message',
        role: 'assistant',
        content: [],
        model: 'scripted',
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 120, output_tokens: 1 },
      },
    },
    'message_start',
  );
  let index = 0;
  if (t.text) {
    send({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }, 'content_block_start');
    for (const f of fragments(t.text))
      send({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: f } }, 'content_block_delta');
    send({ type: 'content_block_stop', index }, 'content_block_stop');
    index++;
  }
  for (const [i, call] of (t.tools ?? []).entries()) {
    send(
      {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: `toolu_${id}_${i}`, name: call.name, input: {} },
      },
      'content_block_start',
    );
    for (const f of fragments(JSON.stringify(call.input), 7))
      send(
        { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: f } },
        'content_block_delta',
      );
    send({ type: 'content_block_stop', index }, 'content_block_stop');
    index++;
  }
  send(
    {
      type: 'message_delta',
      delta: { stop_reason: t.tools?.length ? 'tool_use' : 'end_turn', stop_sequence: null },
      usage: { output_tokens: 30 },
    },
    'message_delta',
  );
  send({ type: 'message_stop' }, 'message_stop');
  res.end();
}
