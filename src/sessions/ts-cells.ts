/**
 * TypeScript cells for the node kernel: transpiled host-side with esbuild, and
 * errors mapped back to the user's TypeScript lines through the source map
 * (esbuild drops type-only lines, so transpiled line numbers drift).
 */
import { SourceMap } from 'node:module';
import type { ExecError } from '../sandbox/executor.js';
import { transpileTypeScript } from '../sandbox/transpile.js';

const INLINE_MAP = /\n?\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

export type TranspiledCell =
  { ok: true; code: string; remap: (error: ExecError) => ExecError } | { ok: false; error: ExecError };

export async function transpileCell(source: string, filename: string): Promise<TranspiledCell> {
  const out = await transpileTypeScript(source, filename);
  if (!out.ok) return out;
  const m = INLINE_MAP.exec(out.code);
  // The kernel runs the cell as a script: the source map stays on the host.
  const code = m ? out.code.slice(0, m.index) + '\n' : out.code;
  if (!m) return { ok: true, code, remap: (e) => e };
  let map: SourceMap;
  try {
    map = new SourceMap(JSON.parse(Buffer.from(m[1]!, 'base64').toString('utf8')));
  } catch {
    return { ok: true, code, remap: (e) => e };
  }
  const locate = (line: number, column: number): { line: number; column: number } | undefined => {
    const entry = map.findEntry(line - 1, Math.max(0, column - 1)) as {
      originalLine?: number;
      originalColumn?: number;
    };
    if (typeof entry.originalLine !== 'number') return undefined;
    return { line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
  };
  const remap = (error: ExecError): ExecError => {
    const mapped: ExecError = { ...error };
    if (error.line !== undefined) {
      const at = locate(error.line, error.column ?? 1);
      if (at) {
        mapped.line = at.line;
        mapped.column = at.column;
      }
    }
    if (error.traceback) {
      const escaped = filename.replace(/[.*+?^${}()|[\]\\<>]/g, '\\$&');
      mapped.traceback = error.traceback.replace(new RegExp(`${escaped}:(\\d+):(\\d+)`, 'g'), (whole, l, c) => {
        const at = locate(Number(l), Number(c));
        return at ? `${filename}:${at.line}:${at.column}` : whole;
      });
    }
    return mapped;
  };
  return { ok: true, code, remap };
}
