import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { operatorPolicy } from '../../analysis/policy.js';
import type { Executor } from '../../sandbox/executor.js';
import type { SessionService } from '../../sessions/contract.js';
import { createCodemodeServer, type CodemodeServerOptions } from '../server.js';

interface CheckResult {
  findings: { rule: string; severity: string }[];
  note?: string;
}

async function checkCode(options: Partial<CodemodeServerOptions>, code: string): Promise<CheckResult> {
  const executor: Executor = { run: () => Promise.reject(new Error('not used')), close: async () => {} };
  const server = await createCodemodeServer({
    executor,
    sessions: { list: () => [] } as unknown as SessionService,
    principal: 'test',
    ...options,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'test', version: '1' });
  await client.connect(clientSide);
  try {
    const r = await client.callTool({ name: 'check_code', arguments: { language: 'python', code } });
    return r.structuredContent as unknown as CheckResult;
  } finally {
    await client.close();
    await server.close();
  }
}

const NETWORK = 'import socket\n';

describe('check_code answers with the policy runs are checked against', () => {
  it("uses the operator's levels: a rule the operator blocks is a block finding here too", async () => {
    const byDefault = await checkCode({}, NETWORK);
    assert.equal(byDefault.findings.find((f) => f.rule === 'network.python')?.severity, 'warn');
    const strict = await checkCode({ analysisPolicy: operatorPolicy({ rules: { network: 'block' } }) }, NETWORK);
    assert.equal(strict.findings.find((f) => f.rule === 'network.python')?.severity, 'block');
    const relaxed = await checkCode({ analysisPolicy: operatorPolicy({ rules: { network: 'off' } }) }, NETWORK);
    assert.equal(
      relaxed.findings.some((f) => f.rule === 'network.python'),
      false,
    );
    assert.equal(strict.note, undefined);
  });

  it('says so when analysis is off on the server (runs are not checked)', async () => {
    const off = await checkCode({ analysisPolicy: null }, NETWORK);
    assert.match(off.note ?? '', /analysis is off on this server/);
    assert.ok(off.findings.some((f) => f.rule === 'network.python'));
  });
});
