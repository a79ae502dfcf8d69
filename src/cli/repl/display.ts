/**
 * What the REPL prints after a cell: output the stream did not already show,
 * the value of the last expression, rich outputs (images saved to files in a
 * local folder, their paths printed), the error and any status other than
 * ok/error. Output is only ever appended.
 *
 * The result crossed the sandbox boundary: file names are ours (cell and
 * output counters), the extension comes from a fixed table of image types,
 * and files are created exclusively, so nothing the code printed picks a path.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SessionExecResult } from '../../sessions/contract.js';

const IMAGE_TYPES: Record<string, { ext: string; base64: boolean }> = {
  'image/png': { ext: 'png', base64: true },
  'image/jpeg': { ext: 'jpg', base64: true },
  'image/gif': { ext: 'gif', base64: true },
  'image/webp': { ext: 'webp', base64: true },
  'image/svg+xml': { ext: 'svg', base64: false },
};

export interface ResultSinks {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Where images go (created on first use). */
  imagesDir: string;
}

/** Text the stream already showed; the result's text may hold more (captured in the kernel). */
export interface Streamed {
  stdout: string;
  stderr: string;
}

const withNewline = (s: string) => (s === '' || s.endsWith('\n') ? s : `${s}\n`);

/** The part of `full` that streaming did not show (all of it when the two disagree). */
function rest(full: string, shown: string): string {
  return full.startsWith(shown) ? full.slice(shown.length) : shown === '' ? full : '';
}

/** Print what the stream did not; returns the image files written. */
export function showResult(r: SessionExecResult, streamed: Streamed, sinks: ResultSinks): string[] {
  const moreOut = rest(r.stdout, streamed.stdout);
  const moreErr = rest(r.stderr, streamed.stderr);
  if (moreOut) sinks.out(moreOut);
  if (moreErr) sinks.err(moreErr);
  if ((streamed.stdout + moreOut).length > 0 && !(streamed.stdout + moreOut).endsWith('\n')) sinks.out('\n');
  if ((streamed.stderr + moreErr).length > 0 && !(streamed.stderr + moreErr).endsWith('\n')) sinks.err('\n');
  const saved: string[] = [];
  for (const [i, o] of (r.outputs ?? []).entries()) {
    const image = Object.keys(o.data).find((m) => m in IMAGE_TYPES);
    if (image !== undefined) {
      const file = saveImage(sinks.imagesDir, r.executionCount, i + 1, image, o.data[image]!);
      saved.push(file);
      sinks.out(`[image ${image} saved to ${file}]\n`);
      continue;
    }
    const plain = o.data['text/plain'];
    if (plain !== undefined)
      sinks.out(o.kind === 'result' ? `Out[${r.executionCount}]: ${withNewline(plain)}` : withNewline(plain));
    else sinks.out(`[${o.kind} output: ${Object.keys(o.data).join(', ')}]\n`);
  }
  if (r.error) {
    const shown = `${r.error.type}: ${r.error.message}`;
    const stderr = streamed.stderr + moreErr;
    if (!stderr.includes(r.error.message)) sinks.err(withNewline(r.error.traceback ?? shown));
  }
  if (r.status !== 'ok' && r.status !== 'error') {
    sinks.err(`[${r.status}${r.reason ? `: ${r.reason}` : ''}]\n`);
  }
  if (r.note) sinks.err(`note: ${r.note}\n`);
  for (const w of r.warnings ?? []) sinks.err(`warning: ${w}\n`);
  return saved;
}

function saveImage(dir: string, cell: number, n: number, mime: string, data: string): string {
  const type = IMAGE_TYPES[mime]!;
  mkdirSync(dir, { recursive: true });
  const bytes = type.base64 ? Buffer.from(data, 'base64') : Buffer.from(data, 'utf8');
  for (let attempt = 0; ; attempt++) {
    const file = path.join(dir, `cell-${cell}-${n}${attempt ? `-${attempt}` : ''}.${type.ext}`);
    try {
      writeFileSync(file, bytes, { flag: 'wx', mode: 0o644 }); // never overwrite or follow a planted link
      return file;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 1000) throw e;
    }
  }
}
