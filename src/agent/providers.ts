/**
 * The provider adapters at the edge: a ModelSpec becomes an AI SDK language
 * model. The key is read here from the injected environment, handed to the
 * provider client only, and returned as a secret to redact; it never reaches
 * the sandbox (whose environment is built from scratch), the store or events.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModel } from 'ai';
import { apiKeyFor, describeModel, parseModelString, type ModelSpec } from './model-string.js';
import { priceOf, type Price } from './pricing.js';

export interface ResolvedModel {
  model: Exclude<LanguageModel, string>;
  spec: ModelSpec;
  /** A display name without secrets. */
  name: string;
  /** Values to redact from anything the agent shows or stores. */
  secrets: string[];
  /** Whether tool results may carry images for this provider. */
  supportsImages: boolean;
  price: Price | undefined;
}

export interface ResolveOptions {
  env?: Record<string, string | undefined>;
  /** HTTP client for the provider (tests, proxies). */
  fetch?: typeof globalThis.fetch;
}

export function resolveModel(text: string, options: ResolveOptions = {}): ResolvedModel {
  const env = options.env ?? process.env;
  const spec = parseModelString(text, env);
  const apiKey = apiKeyFor(spec, env);
  const common = {
    ...(spec.baseURL ? { baseURL: spec.baseURL } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  let model: Exclude<LanguageModel, string>;
  switch (spec.provider) {
    case 'anthropic':
      model = createAnthropic({ apiKey: apiKey ?? '', ...common })(spec.modelId);
      break;
    case 'openai':
      // Chat Completions: the wire format every OpenAI-compatible server shares.
      model = createOpenAI({ apiKey: apiKey ?? '', ...common }).chat(spec.modelId);
      break;
    case 'openai-compatible':
      model = createOpenAICompatible({
        name: 'openai-compatible',
        baseURL: spec.baseURL ?? '',
        ...(apiKey ? { apiKey } : {}),
        includeUsage: true,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }).chatModel(spec.modelId);
      break;
  }
  return {
    model,
    spec,
    name: describeModel(spec),
    secrets: apiKey ? [apiKey] : [],
    supportsImages: spec.provider === 'anthropic',
    price: priceOf(spec.provider, spec.modelId),
  };
}
