/**
 * Checks on a JSON-RPC message before the SDK parses it, shared by the stdio
 * and HTTP front ends: a nesting bound (deep JSON would overflow the stack of
 * the SDK's recursive schema checks and end as a 500), and short -32602
 * messages for requests missing the params every tool host needs (the SDK's
 * own answer is a raw zod issue dump).
 */

/** Deepest nesting of objects and arrays accepted in a message. */
export const MAX_JSON_DEPTH = 256;

/** True when `text` nests objects/arrays deeper than `limit` (strings skipped; linear, no parse). */
export function jsonDepthExceeds(text: string, limit: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The params a request must carry, by method: field name and what it is. */
const REQUIRED_PARAMS: Record<string, { field: string; what: string }> = {
  'tools/call': { field: 'name', what: '{"name": "<tool>", "arguments": {...}}' },
  'resources/read': { field: 'uri', what: '{"uri": "<resource uri>"}' },
};

/**
 * A readable Invalid params message for a request missing its required
 * params, or undefined when the message is not such a request.
 */
export function missingParamsMessage(message: unknown): string | undefined {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) return undefined;
  const { method, params, id } = message as { method?: unknown; params?: unknown; id?: unknown };
  if (typeof method !== 'string' || id === undefined) return undefined;
  const rule = REQUIRED_PARAMS[method];
  if (rule === undefined) return undefined;
  const ok =
    params !== null &&
    typeof params === 'object' &&
    typeof (params as Record<string, unknown>)[rule.field] === 'string';
  return ok ? undefined : `Invalid params: ${method} needs params ${rule.what}`;
}
