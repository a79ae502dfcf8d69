/**
 * `codemode serve --http` as a real process from the sources (tsx), for the
 * end-to-end tests: resolves once the server says where it listens, and
 * fails with its stderr if it exits first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');

export interface ServeProcess {
  child: ChildProcess;
  url: URL;
  /** Everything it wrote to stderr so far. */
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Spawn the CLI from the sources with these arguments (stderr piped, stdout ignored). */
export function spawnCodemode(args: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** `codemode serve <args>` (give it --http), resolved when it prints `serving MCP on http(s)://…`. */
export async function spawnServe(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const child = spawnCodemode(['serve', ...args], env);
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<URL>((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      const m = /serving MCP on (https?:\/\/\S+)/.exec(stderr);
      if (m) resolve(new URL(m[1]!));
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before listening:\n${stderr}`)));
  });
  return { child, url, stderr: () => stderr, exited };
}
