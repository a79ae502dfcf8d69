import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAppError } from '../errors.js';
import { apiKeyFor, describeModel, parseModelString } from './model-string.js';

describe('parseModelString', () => {
  it('reads anthropic and openai models with their default key variables', () => {
    assert.deepEqual(parseModelString('anthropic:claude-sonnet-4-5'), {
      provider: 'anthropic',
      modelId: 'claude-sonnet-4-5',
      apiKeyEnv: 'ANTHROPIC_API_KEY',
      keyRequired: true,
    });
    assert.equal(parseModelString('openai:gpt-4.1').apiKeyEnv, 'OPENAI_API_KEY');
  });
  it('reads an OpenAI-compatible endpoint and model, key optional unless named', () => {
    const s = parseModelString('openai-compatible:http://127.0.0.1:11434/v1#qwen2.5-coder');
    assert.equal(s.baseURL, 'http://127.0.0.1:11434/v1');
    assert.equal(s.modelId, 'qwen2.5-coder');
    assert.equal(s.keyRequired, false);
    const named = parseModelString('openai-compatible:https://vllm.example/v1/#meta/llama-3:8b@VLLM_KEY');
    assert.equal(named.baseURL, 'https://vllm.example/v1');
    assert.equal(named.modelId, 'meta/llama-3:8b');
    assert.equal(named.apiKeyEnv, 'VLLM_KEY');
    assert.equal(named.keyRequired, true);
  });
  it('takes a base URL override from the environment for the hosted providers', () => {
    assert.equal(
      parseModelString('openai:gpt-4.1', { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1/' }).baseURL,
      'http://127.0.0.1:9/v1',
    );
  });
  it('rejects bad strings with a message that says what to write', () => {
    for (const bad of [
      'gpt-4',
      'anthropic:',
      'mystery:model',
      'openai-compatible:http://x/v1',
      'openai-compatible:ftp://x#m',
      'openai:gpt@1bad',
    ])
      assert.throws(
        () => parseModelString(bad),
        (e) => isAppError(e, 'INVALID_ARGUMENT') && e.message.includes(bad.split(':')[0] ?? ''),
        bad,
      );
  });
});

describe('apiKeyFor', () => {
  it('reads the key from the named variable only, and names the variable when missing', () => {
    const spec = parseModelString('anthropic:claude-sonnet-4-5');
    assert.equal(apiKeyFor(spec, { ANTHROPIC_API_KEY: 'k1' }), 'k1');
    assert.throws(
      () => apiKeyFor(spec, {}),
      (e) => isAppError(e, 'INVALID_CONFIG') && /ANTHROPIC_API_KEY/.test(e.message),
    );
    assert.equal(apiKeyFor(parseModelString('openai-compatible:http://h/v1#m'), {}), undefined);
  });
  it('describes a model without any secret', () => {
    assert.equal(
      describeModel(parseModelString('openai-compatible:http://h:1/v1#m@K')),
      'openai-compatible:http://h:1/v1#m',
    );
  });
});
