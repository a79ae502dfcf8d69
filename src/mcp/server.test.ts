/**
 * The codemode surface is defined once (./tools/) and served by the v2 SDK to
 * every client: the v1 SDK client (2025 handshake) and the v2 client must see
 * the same tools, schemas, annotations and resource templates, and resource
 * misses as "not found" errors. The limits' maximums come from the live
 * ceiling, and schemas are converted to JSON Schema once, not per server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client as ModernClient, InMemoryTransport as ModernInMemoryTransport } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Executor } from '../sandbox/executor.js';
import type { SessionService } from '../sessions/contract.js';
import { AppError } from '../errors.js';
import { MAX_LIMITS } from '../sandbox/limits.js';
import { createCodemodeServer, type CodemodeServerOptions } from './server.js';

function options(): CodemodeServerOptions {
  const executor: Executor = { run: () => Promise.reject(new Error('not used')), close: async () => {} };
  const sessions = {
    list: () => [],
    history: (id: string) => {
      throw new AppError('NOT_FOUND', `no session ${id}`);
    },
  } as unknown as SessionService;
  return { executor, sessions, principal: 'test' };
}

interface Surface {
  tools: { name: string; inputSchema: unknown; outputSchema?: unknown; annotations?: unknown; description?: string }[];
  templates: string[];
  missing: unknown;
}

async function v1Surface(): Promise<Surface> {
  const server = await createCodemodeServer(options());
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'test', version: '1' });
  await client.connect(clientSide);
  try {
    const { tools } = await client.listTools();
    const { resourceTemplates } = await client.listResourceTemplates();
    const missing = await client.readResource({ uri: 'codemode://sessions/nope/history' }).catch((e: unknown) => e);
    return { tools, templates: resourceTemplates.map((t) => t.uriTemplate), missing };
  } finally {
    await client.close();
    await server.close();
  }
}

async function v2Surface(overrides: Partial<CodemodeServerOptions> = {}): Promise<Surface> {
  const server = await createCodemodeServer({ ...options(), ...overrides });
  const [clientSide, serverSide] = ModernInMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new ModernClient({ name: 'test', version: '1' });
  await client.connect(clientSide);
  try {
    const { tools } = await client.listTools();
    const { resourceTemplates } = await client.listResourceTemplates();
    const missing = await client.readResource({ uri: 'codemode://sessions/nope/history' }).catch((e: unknown) => e);
    return { tools, templates: resourceTemplates.map((t) => t.uriTemplate), missing };
  } finally {
    await client.close();
    await server.close();
  }
}

const byName = (s: Surface) => [...s.tools].sort((a, b) => a.name.localeCompare(b.name));

describe('the codemode surface seen by both SDK clients', () => {
  it('lists the same tools with the same input schemas, output schemas and annotations', async () => {
    const [v1, v2] = await Promise.all([v1Surface(), v2Surface()]);
    assert.equal(v1.tools.length, 21);
    assert.deepEqual(
      byName(v2).map((t) => t.name),
      byName(v1).map((t) => t.name),
    );
    for (const [a, b] of byName(v1).map((t, i) => [t, byName(v2)[i]] as const)) {
      assert.equal(b?.description, a.description, `${a.name}: description`);
      assert.deepEqual(b?.annotations, a.annotations, `${a.name}: annotations`);
      const props = (s: unknown) => (s as { properties?: Record<string, unknown> }).properties ?? {};
      assert.deepEqual(Object.keys(props(b?.inputSchema)), Object.keys(props(a.inputSchema)), `${a.name}: input`);
      assert.deepEqual(Object.keys(props(b?.outputSchema)), Object.keys(props(a.outputSchema)), `${a.name}: output`);
      assert.deepEqual(
        (b?.inputSchema as { required?: string[] }).required ?? [],
        (a.inputSchema as { required?: string[] }).required ?? [],
        `${a.name}: required arguments`,
      );
    }
  });

  it('lists the same resource templates', async () => {
    const [v1, v2] = await Promise.all([v1Surface(), v2Surface()]);
    assert.deepEqual([...v2.templates].sort(), [...v1.templates].sort());
    assert.equal(v1.templates.length, 4);
  });

  it('answers a read of a missing session with a "not found" protocol error on both', async () => {
    const [v1, v2] = await Promise.all([v1Surface(), v2Surface()]);
    for (const missing of [v1.missing, v2.missing]) {
      assert.ok(missing instanceof Error);
      assert.match(missing.message, /not found/i);
    }
  });

  it('takes the limits maximums from the live ceiling, not from constants', async () => {
    const ceiling = { ...MAX_LIMITS, wallMs: 12_345, memoryBytes: 64 * 1024 * 1024 };
    const surface = await v2Surface({ ceiling });
    const limitsOf = (name: string) => {
      const tool = surface.tools.find((t) => t.name === name);
      const props = (tool?.inputSchema as { properties: Record<string, { properties?: Record<string, unknown> }> })
        .properties;
      return props['limits']?.properties as Record<string, { maximum?: number }>;
    };
    for (const name of ['execute_code', 'run_script', 'create_session']) {
      assert.equal(limitsOf(name)['wall_ms']?.maximum, 12_345, name);
      assert.equal(limitsOf(name)['memory_bytes']?.maximum, 64 * 1024 * 1024, name);
      assert.equal(limitsOf(name)['cpu_ms']?.maximum, MAX_LIMITS.cpuMs, name);
    }
    const defaults = await v2Surface();
    const wall = (
      defaults.tools.find((t) => t.name === 'execute_code')?.inputSchema as {
        properties: { limits: { properties: { wall_ms: { maximum: number } } } };
      }
    ).properties.limits.properties.wall_ms.maximum;
    assert.equal(wall, MAX_LIMITS.wallMs);
  });
});
