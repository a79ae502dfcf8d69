/**
 * Upstream MCP server processes never outlive codemode: started through the
 * real connector, they die when the codemode process is killed outright
 * (SIGKILL, so no cleanup code runs), even a server that ignores its stdin
 * closing (the kernel's parent-death signal), and carry the marker that stops a
 * codemode started as an upstream from starting upstreams of its own.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EVERYTHING = path.join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

/** A codemode-side process that connects one upstream, prints its pid, and waits to be killed. */
const HOLDER = `
import { connectSdkClient } from ${JSON.stringify(path.join(ROOT, 'src/codemode/upstream.ts'))};
const client = await connectSdkClient(
  {
    name: 'everything',
    // A server that outlives its stdin closing: after the MCP server ends, the same process sleeps on.
    transport: { kind: 'stdio', command: 'sh', args: ['-c', ${JSON.stringify(`"${process.execPath}" "${EVERYTHING}" stdio; exec sleep 600`)}], env: {} },
    timeoutMs: 30000,
    requireApproval: [],
    approved: [],
    disabled: false,
  },
  { onStderr() {}, onClose() {}, onToolsChanged() {} },
);
process.stdout.write(String(client.pid) + '\\n');
setInterval(() => {}, 1000);
`;

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat); // a zombie has exited
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('upstream processes', () => {
  it(
    'die with codemode, even when codemode is killed with SIGKILL',
    { skip: process.platform !== 'linux' },
    async () => {
      const holder = spawn(
        process.execPath,
        ['--no-node-snapshot', '--import', 'tsx', '--input-type=module', '-e', HOLDER],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let err = '';
      holder.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const pid = await new Promise<number>((resolve, reject) => {
        let out = '';
        holder.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /^(\d+)\n/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        holder.once('exit', (code) => reject(new Error(`holder exited ${code}: ${err}`)));
      });
      try {
        assert.ok(alive(pid), 'the upstream is running');
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        assert.ok(environ.includes(`CODEMODE_UPSTREAM_OF=${holder.pid}`), 'it carries the recursion marker');
        holder.kill('SIGKILL');
        assert.ok(await waitFor(() => !alive(pid), 5000), 'the upstream died with codemode');
      } finally {
        holder.kill('SIGKILL');
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone, as it should be.
        }
      }
    },
  );
});
