/**
 * TypeScript to JavaScript on the host, before the code enters a sandbox.
 * Type errors are not checked (like ts-node --transpile-only); syntax errors
 * come back with the user's line and column. An inline source map keeps stack
 * traces pointing at the user's TypeScript lines.
 */
import { transform } from 'esbuild';
import type { ExecError } from './executor.js';

export type TranspileResult = { ok: true; code: string } | { ok: false; error: ExecError };

interface EsbuildFailure {
  errors?: { text: string; location?: { line: number; column: number; lineText?: string } | null }[];
}

export async function transpileTypeScript(source: string, sourcefile = 'main.ts'): Promise<TranspileResult> {
  try {
    const out = await transform(source, {
      loader: 'ts',
      format: undefined,
      target: 'node20',
      sourcemap: 'inline',
      sourcefile,
      supported: { 'top-level-await': true },
    });
    return { ok: true, code: out.code };
  } catch (e) {
    const first = (e as EsbuildFailure).errors?.[0];
    if (!first) return { ok: false, error: { type: 'TranspileError', message: String(e) } };
    const loc = first.location ?? undefined;
    const error: ExecError = { type: 'SyntaxError', message: first.text };
    if (loc) {
      error.line = loc.line;
      error.column = loc.column + 1;
      error.traceback = `${sourcefile}:${loc.line}:${loc.column + 1}\n  ${loc.lineText ?? ''}\n  ${' '.repeat(loc.column)}^\nSyntaxError: ${first.text}`;
    }
    return { ok: false, error };
  }
}
