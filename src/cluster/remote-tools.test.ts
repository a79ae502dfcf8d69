import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewayPermissions, workerPermissions } from './nats-config.js';
import { PROTOCOL_VERSION, requestFrameSchema, toolRequestSchema } from './protocol.js';
import { workerOfCall, workerOfReply } from './remote-tools.js';

describe('kernel tool calls across the cluster', () => {
  it('names the asking worker from its reply inbox, and nothing else', () => {
    assert.equal(workerOfReply('_INBOX_W.w1.ABCDEF.7'), 'w1');
    assert.equal(workerOfReply('_INBOX_W.w-2_x.ABC'), 'w-2_x');
    assert.equal(workerOfReply('_INBOX_G.g1.ABC'), undefined, 'a gateway inbox is no worker');
    assert.equal(workerOfReply('_INBOX.ABC.1'), undefined, 'a plain inbox is no worker');
    assert.equal(workerOfReply('_INBOX_W.*.ABC'), undefined, 'a wildcard is no worker id');
    assert.equal(workerOfReply(undefined), undefined, 'a publish without a reply subject');
  });

  it('names the worker a call subject is for, and nothing else', () => {
    assert.equal(workerOfCall('codemode.tools.call.w1'), 'w1');
    assert.equal(workerOfCall('codemode.tools.call.*'), undefined);
    assert.equal(workerOfCall('codemode.tools.cancel.w1.t1'), undefined);
    assert.equal(workerOfCall('codemode.tools'), undefined);
  });

  it('lets workers send tool calls but not take them (no worker reads another worker’s calls)', () => {
    const w = workerPermissions('w1');
    assert.ok(w.publish.includes('codemode.tools.call.w1'));
    assert.ok(w.publish.includes('codemode.tools.cancel.w1.*'));
    assert.ok(!w.publish.some((s) => s.startsWith('codemode.tools.call.') && s !== 'codemode.tools.call.w1'));
    assert.ok(!w.subscribe.some((s) => s.startsWith('codemode.tools') || s === '>' || s === 'codemode.>'));
  });

  it('lets gateways take tool calls but not send them (a gateway cannot pose as a worker’s kernel)', () => {
    const g = gatewayPermissions('g1');
    assert.ok(g.subscribe.includes('codemode.tools.call.*'));
    assert.ok(g.subscribe.includes('codemode.tools.cancel.*.*'));
    assert.ok(!g.publish.some((s) => s.startsWith('codemode.tools')));
  });

  it('checks a tool request frame before use: ids cannot address other subjects, sizes are bounded', () => {
    const ok = {
      op: 'callTool',
      callId: 't0123',
      sessionId: 'c0123',
      owner: 'alice',
      server: 'memory',
      tool: 'read_graph',
      args: {},
      timeoutMs: 1000,
    };
    assert.ok(toolRequestSchema.safeParse(ok).success);
    assert.ok(!toolRequestSchema.safeParse({ ...ok, callId: 'x.>' }).success);
    assert.ok(!toolRequestSchema.safeParse({ ...ok, sessionId: 'c1.*' }).success);
    assert.ok(!toolRequestSchema.safeParse({ ...ok, timeoutMs: 0 }).success);
    assert.ok(!toolRequestSchema.safeParse({ ...ok, server: 'x'.repeat(300) }).success);
    assert.ok(!toolRequestSchema.safeParse({ ...ok, op: 'shell' }).success);
    assert.ok(requestFrameSchema.safeParse({ v: PROTOCOL_VERSION, body: ok }).success);
    assert.ok(!requestFrameSchema.safeParse({ v: 2, body: ok }).success, 'another protocol version');
  });
});
