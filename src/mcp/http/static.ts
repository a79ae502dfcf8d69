/**
 * Serves the built workbench (dist/web) from a manifest made once at start:
 * every regular file under the root is read into memory, keyed by its URL
 * path. A request is answered only by an exact manifest hit, so no request
 * path is ever resolved against the disk (no traversal, no symlinks, no
 * files added later). Every answer carries the strict security headers.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * No inline script anywhere; frames only from us or blob: (HTML output is
 * shown in sandboxed iframes); nobody may frame the workbench. Inline styles
 * are allowed: CodeMirror injects its theme as style elements.
 */
export const WORKBENCH_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self' data:",
  "object-src 'none'",
  "frame-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': WORKBENCH_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
  immutable: boolean;
}

/** The repository's dist/web, found from this module's own location (src/mcp/http or dist/mcp/http). */
export function defaultWebRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..', '..', 'dist', 'web');
}

const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

/** URL path -> file, for every regular file under `root` (symlinks and dotfiles skipped). Empty when root is missing. */
export function buildManifest(root: string): Map<string, StaticFile> {
  const manifest = new Map<string, StaticFile>();
  let total = 0;
  const walk = (dir: string, urlPrefix: string, depth: number): void => {
    if (depth > 16) return;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // no build (yet): the manifest stays empty and `/` explains how to build
    }
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      const full = path.join(dir, name);
      const st = lstatSync(full);
      if (st.isDirectory()) walk(full, `${urlPrefix}${encodeURIComponent(name)}/`, depth + 1);
      else if (st.isFile()) {
        total += st.size;
        if (total > MAX_TOTAL_BYTES)
          throw new Error(`the web build at ${root} is larger than ${MAX_TOTAL_BYTES} bytes`);
        const body = readFileSync(full);
        manifest.set(`${urlPrefix}${encodeURIComponent(name)}`, {
          body,
          type: TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream',
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
          immutable: urlPrefix.startsWith('/assets/'),
        });
      }
    }
  };
  walk(root, '/', 0);
  return manifest;
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>codemode workbench: not built</title></head>
<body><h1>The workbench is not built</h1>
<p>This server found no web build (dist/web). Build it from the codemode checkout with</p>
<pre>npm run build</pre>
<p>and start the server again. The MCP endpoint (/mcp) and the API (/api/v1) work without it.</p>
</body></html>
`;

export interface StaticServer {
  /** Whether a build was found. */
  readonly built: boolean;
  /** Answers a GET/HEAD for a non-API path. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): void;
}

export function createStaticServer(root: string | null): StaticServer {
  const manifest = root === null ? new Map<string, StaticFile>() : buildManifest(root);
  const built = manifest.has('/index.html');
  return {
    built,
    serve(req, res, pathname) {
      const headers: Record<string, string> = { ...SECURITY_HEADERS };
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...headers, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
        res.end('method not allowed\n');
        return;
      }
      if (!built && (pathname === '/' || pathname === '/index.html')) {
        res.writeHead(503, { ...headers, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : NOT_BUILT);
        return;
      }
      // Exact hits only: the raw path is compared, never decoded into a file name.
      const file = manifest.get(pathname === '/' ? '/index.html' : pathname);
      if (file === undefined) {
        res.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : 'not found\n');
        return;
      }
      headers['content-type'] = file.type;
      headers['etag'] = file.etag;
      headers['cache-control'] = file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache';
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      headers['content-length'] = String(file.body.length);
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : file.body);
    },
  };
}
