import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { MAX_LIMITS } from '../../sandbox/limits.js';
import { compileSchema, compileTool, defineTool } from './define-tool.js';

describe('defineTool schemas', () => {
  it('converts a zod schema to JSON Schema once, however often the SDK asks', () => {
    const schema = z.object({ n: z.number().max(3) });
    let conversions = 0;
    const std = schema['~standard'] as unknown as { jsonSchema: { input: (o: unknown) => unknown } };
    const original = std.jsonSchema.input.bind(std.jsonSchema);
    std.jsonSchema.input = (o) => {
      conversions++;
      return original(o);
    };
    const a = compileSchema(schema);
    const first = a['~standard'].jsonSchema.input({ target: 'draft-2020-12' });
    const second = compileSchema(schema)['~standard'].jsonSchema.input({ target: 'draft-2020-12' });
    assert.equal(second, first);
    assert.equal(conversions, 1);
    assert.deepEqual((first as { properties: unknown }).properties, { n: { type: 'number', maximum: 3 } });
  });

  it('validates with the zod source, defaults applied', async () => {
    const compiled = compileSchema(z.object({ n: z.number().default(2) }));
    assert.deepEqual(await compiled['~standard'].validate({}), { value: { n: 2 } });
    const bad = await compiled['~standard'].validate({ n: 'x' });
    assert.ok('issues' in bad && bad.issues !== undefined && bad.issues.length > 0);
  });

  it('rebuilds a settings-dependent schema only when the settings change', () => {
    const tool = defineTool({
      name: 't',
      description: 'd',
      input: ({ ceiling }) => z.object({ wallMs: z.number().max(ceiling.wallMs) }),
      handler: async () => ({ content: [] }),
    });
    const a = compileTool(tool, { ceiling: MAX_LIMITS });
    assert.equal(compileTool(tool, { ceiling: { ...MAX_LIMITS } }), a);
    const b = compileTool(tool, { ceiling: { ...MAX_LIMITS, wallMs: 5 } });
    assert.notEqual(b, a);
    const json = b.input['~standard'].jsonSchema.input({ target: 'draft-2020-12' }) as {
      properties: { wallMs: { maximum: number } };
    };
    assert.equal(json.properties.wallMs.maximum, 5);
  });

  it('refuses an unknown argument and names the closest right one, with argument: and hint: lines', async () => {
    const tool = defineTool({
      name: 't',
      description: 'd',
      input: z.object({ session_id: z.string().optional(), code: z.string() }),
      handler: async () => ({ content: [] }),
    });
    const input = compileTool(tool, { ceiling: MAX_LIMITS }).input;
    const json = input['~standard'].jsonSchema.input({ target: 'draft-2020-12' }) as Record<string, unknown>;
    assert.equal(json['additionalProperties'], false);
    const bad = await input['~standard'].validate({ code: 'x', sessionId: 's1' });
    assert.ok('issues' in bad && bad.issues);
    assert.equal(
      bad.issues[0]!.message,
      'INVALID_ARGUMENT: unknown argument "sessionId"; did you mean "session_id"?\nargument: sessionId\nhint: Use "session_id" instead of "sessionId".',
    );
    const ok = await input['~standard'].validate({ code: 'x', session_id: 's1' });
    assert.deepEqual(ok, { value: { code: 'x', session_id: 's1' } });
  });

  it('names a nested argument at fault and the limit hint when a limit is too big', async () => {
    const tool = defineTool({
      name: 't',
      description: 'd',
      input: z.object({ limits: z.strictObject({ wall_ms: z.number().max(5) }).optional() }),
      handler: async () => ({ content: [] }),
    });
    const input = compileTool(tool, { ceiling: MAX_LIMITS }).input;
    const big = await input['~standard'].validate({ limits: { wall_ms: 9 } });
    assert.ok('issues' in big && big.issues);
    assert.match(big.issues[0]!.message, /\nargument: limits\.wall_ms\nhint: Ask for a value at or below/);
    const camel = await input['~standard'].validate({ limits: { wallMs: 1 } });
    assert.ok('issues' in camel && camel.issues);
    assert.match(camel.issues[0]!.message, /unknown argument "limits\.wallMs"; did you mean "wall_ms"\?/);
  });
});
