/**
 * Token prices, for cost estimates and the dollar budget. Pure. Prices are USD
 * per million tokens, list prices at the time of writing; an unknown model has
 * no price (cost undefined) unless the caller supplies one.
 */
import type { Usage } from './contract.js';

export interface Price {
  inputPerMTok: number;
  outputPerMTok: number;
}

const PRICES: [RegExp, Price][] = [
  [/^claude-(opus-4|3-opus)/, { inputPerMTok: 15, outputPerMTok: 75 }],
  [/^claude-(sonnet-4|3-7-sonnet|3-5-sonnet)/, { inputPerMTok: 3, outputPerMTok: 15 }],
  [/^claude-(haiku-4|3-5-haiku)/, { inputPerMTok: 1, outputPerMTok: 5 }],
  [/^gpt-4\.1-nano/, { inputPerMTok: 0.1, outputPerMTok: 0.4 }],
  [/^gpt-4\.1-mini/, { inputPerMTok: 0.4, outputPerMTok: 1.6 }],
  [/^gpt-4\.1/, { inputPerMTok: 2, outputPerMTok: 8 }],
  [/^gpt-4o-mini/, { inputPerMTok: 0.15, outputPerMTok: 0.6 }],
  [/^gpt-4o/, { inputPerMTok: 2.5, outputPerMTok: 10 }],
  [/^gpt-5-mini/, { inputPerMTok: 0.25, outputPerMTok: 2 }],
  [/^gpt-5/, { inputPerMTok: 1.25, outputPerMTok: 10 }],
  [/^o4-mini/, { inputPerMTok: 1.1, outputPerMTok: 4.4 }],
];

/** The list price of a model, by provider; local OpenAI-compatible servers cost nothing. */
export function priceOf(provider: string, modelId: string): Price | undefined {
  if (provider === 'openai-compatible') return { inputPerMTok: 0, outputPerMTok: 0 };
  return PRICES.find(([re]) => re.test(modelId))?.[1];
}

export function addUsage(total: Usage, input: number, output: number, price: Price | undefined): Usage {
  const inputTokens = total.inputTokens + input;
  const outputTokens = total.outputTokens + output;
  return {
    inputTokens,
    outputTokens,
    costUsd: price ? (inputTokens * price.inputPerMTok + outputTokens * price.outputPerMTok) / 1e6 : undefined,
  };
}
