// Lets @modelcontextprotocol/conformance (built for Node 22) load on Node 20:
// its bundle imports fs.globSync, used only by its tier-check command. Module
// hooks hand the bundle an `fs` with a globSync that says it is unavailable.
import fs from 'node:fs';
import { register } from 'node:module';

if (typeof fs.globSync !== 'function') {
  register(
    'data:text/javascript,' +
      encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if ((specifier === 'fs' || specifier === 'node:fs') && context.parentURL?.includes('/@modelcontextprotocol/conformance/')) {
    return { url: 'codemode-shim:fs', shortCircuit: true };
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url === 'codemode-shim:fs') {
    return {
      format: 'module',
      shortCircuit: true,
      source: "export * from 'node:fs'; import fs from 'node:fs'; export default fs;" +
        "export function globSync() { throw new Error('globSync needs Node 22 (conformance tier-check only)'); }",
    };
  }
  return next(url, context);
}
`),
  );
}
