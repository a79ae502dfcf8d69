/**
 * Model strings: one string picks the provider, the model and where its key
 * comes from. Pure: reads the environment only through the map it is given.
 *
 *   anthropic:claude-sonnet-4-5
 *   openai:gpt-4.1
 *   openai-compatible:http://127.0.0.1:11434/v1#qwen2.5-coder
 *   openai-compatible:https://vllm.internal/v1#qwen2.5-coder@VLLM_API_KEY   (key from $VLLM_API_KEY)
 */
import { AppError } from '../errors.js';

export type ProviderName = 'anthropic' | 'openai' | 'openai-compatible';

export interface ModelSpec {
  provider: ProviderName;
  modelId: string;
  /** Base URL of the API (openai-compatible always; the others when a *_BASE_URL variable is set). */
  baseURL?: string;
  /** Name of the environment variable that holds the key (never the key itself). */
  apiKeyEnv: string;
  /** Whether a missing key is an error (false for local OpenAI-compatible servers). */
  keyRequired: boolean;
}

const DEFAULT_KEY_ENV: Record<ProviderName, string> = {
  anthropic: 'ANTHROPIC_API_KEY',
  openai: 'OPENAI_API_KEY',
  'openai-compatible': 'OPENAI_COMPATIBLE_API_KEY',
};

const BASE_URL_ENV: Partial<Record<ProviderName, string>> = {
  anthropic: 'ANTHROPIC_BASE_URL',
  openai: 'OPENAI_BASE_URL',
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses a model string; `env` supplies optional base URL overrides. Throws INVALID_ARGUMENT naming the problem. */
export function parseModelString(text: string, env: Record<string, string | undefined> = {}): ModelSpec {
  const s = text.trim();
  const colon = s.indexOf(':');
  if (colon <= 0)
    throw new AppError(
      'INVALID_ARGUMENT',
      `model "${text}" has no provider: write anthropic:MODEL, openai:MODEL or openai-compatible:URL#MODEL`,
    );
  const provider = s.slice(0, colon);
  const rest = s.slice(colon + 1);
  if (provider === 'anthropic' || provider === 'openai') {
    const { id, keyEnv } = splitKeyEnv(rest, text);
    if (!id) throw new AppError('INVALID_ARGUMENT', `model "${text}" names no model after "${provider}:"`);
    const baseEnv = BASE_URL_ENV[provider];
    const baseURL = baseEnv ? env[baseEnv] : undefined;
    return {
      provider,
      modelId: id,
      ...(baseURL ? { baseURL: checkUrl(baseURL, `$${baseEnv}`) } : {}),
      apiKeyEnv: keyEnv ?? DEFAULT_KEY_ENV[provider],
      keyRequired: true,
    };
  }
  if (provider === 'openai-compatible') {
    const hash = rest.lastIndexOf('#');
    if (hash <= 0)
      throw new AppError(
        'INVALID_ARGUMENT',
        `model "${text}": write openai-compatible:URL#MODEL, e.g. openai-compatible:http://127.0.0.1:11434/v1#qwen2.5-coder`,
      );
    const { id, keyEnv } = splitKeyEnv(rest.slice(hash + 1), text);
    if (!id) throw new AppError('INVALID_ARGUMENT', `model "${text}" names no model after "#"`);
    return {
      provider,
      modelId: id,
      baseURL: checkUrl(rest.slice(0, hash), `model "${text}"`),
      apiKeyEnv: keyEnv ?? DEFAULT_KEY_ENV[provider],
      keyRequired: keyEnv !== undefined,
    };
  }
  throw new AppError(
    'INVALID_ARGUMENT',
    `model "${text}": unknown provider "${provider}" (anthropic, openai or openai-compatible)`,
  );
}

/** `model@ENV_NAME` names the variable holding the key; a model id itself may contain "@" only before a valid name. */
function splitKeyEnv(s: string, text: string): { id: string; keyEnv?: string } {
  const at = s.lastIndexOf('@');
  if (at < 0) return { id: s };
  const name = s.slice(at + 1);
  if (!ENV_NAME.test(name))
    throw new AppError('INVALID_ARGUMENT', `model "${text}": "@${name}" is not an environment variable name`);
  return { id: s.slice(0, at), keyEnv: name };
}

function checkUrl(url: string, where: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new AppError('INVALID_ARGUMENT', `${where}: "${url}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new AppError('INVALID_ARGUMENT', `${where}: the base URL must be http or https, got ${u.protocol}`);
  return url.replace(/\/+$/, '');
}

/** The key for a spec from the environment; undefined when optional and absent. Never logged. */
export function apiKeyFor(spec: ModelSpec, env: Record<string, string | undefined>): string | undefined {
  const key = env[spec.apiKeyEnv];
  if (key) return key;
  if (spec.keyRequired)
    throw new AppError('INVALID_CONFIG', `no API key: set ${spec.apiKeyEnv} in the environment for ${spec.provider}`, {
      variable: spec.apiKeyEnv,
    });
  return undefined;
}

/** A model string without any secret, for display: provider, base URL and model. */
export function describeModel(spec: ModelSpec): string {
  return spec.provider === 'openai-compatible'
    ? `${spec.provider}:${spec.baseURL}#${spec.modelId}`
    : `${spec.provider}:${spec.modelId}`;
}
