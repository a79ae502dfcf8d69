// Tests for the pure mcpServers config parser and the --upstream flag syntax.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  CODEMODE_CONFIG_JSON_SCHEMA,
  selfReference,
  withoutSelf,
  type SelfIdentity,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
  loadCodeModeConfig,
  needsApproval,
  parseCodeModeConfig,
  parseConfigWithUpstreams,
  parseUpstreamSpec,
  splitCommandLine,
} from './config.js';

describe('parseCodeModeConfig', () => {
  it('parses stdio and HTTP servers with defaults and our options', () => {
    const r = parseCodeModeConfig({
      mcpServers: {
        fs: { command: 'npx', args: ['-y', 'server-fs', '/tmp'], env: { TOKEN: 'x' }, cwd: '/srv' },
        api: { url: 'https://example.com/mcp', headers: { Authorization: 'Bearer t' }, timeoutMs: 5000 },
        gh: { command: 'gh-mcp', requireApproval: ['delete_repo', 'push'], approved: ['push'], disabled: true },
        all: { command: 'x', requireApproval: true },
      },
    });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(r.config.servers[0], {
      name: 'fs',
      transport: { kind: 'stdio', command: 'npx', args: ['-y', 'server-fs', '/tmp'], env: { TOKEN: 'x' }, cwd: '/srv' },
      timeoutMs: DEFAULT_UPSTREAM_TIMEOUT_MS,
      requireApproval: [],
      approved: [],
      disabled: false,
    });
    assert.deepEqual(r.config.servers[1]?.transport, {
      kind: 'http',
      url: 'https://example.com/mcp',
      headers: { Authorization: 'Bearer t' },
    });
    assert.equal(r.config.servers[1]?.timeoutMs, 5000);
    const gh = r.config.servers[2]!;
    assert.equal(gh.disabled, true);
    assert.equal(needsApproval(gh, 'delete_repo'), true);
    assert.equal(needsApproval(gh, 'push'), false);
    assert.equal(needsApproval(gh, 'list'), false);
    assert.equal(needsApproval(r.config.servers[3]!, 'anything'), true);
  });

  it('names the bad key and the reason, and keeps the good servers', () => {
    const r = parseCodeModeConfig({
      mcpServers: {
        github: { command: 42 },
        web: { url: 'ftp://x' },
        both: { command: 'a', url: 'http://b' },
        none: {},
        t: { command: 'a', timeoutMs: -1, args: 'nope', env: { A: 1 }, requireApproval: 'yes', disabled: 'no' },
        ok: { command: 'node', args: ['s.js'] },
        'bad name!': { command: 'a' },
      },
    });
    const messages = r.errors.map((e) => e.message);
    assert.ok(messages.includes('mcpServers.github.command must be a non-empty string'));
    assert.ok(messages.includes('mcpServers.web.url must be an http(s) URL'));
    assert.ok(messages.includes('mcpServers.both has both "command" and "url"; choose one'));
    assert.ok(messages.includes('mcpServers.none needs "command" (stdio) or "url" (HTTP)'));
    assert.ok(messages.includes('mcpServers.t.timeoutMs must be a positive integer (milliseconds)'));
    assert.ok(messages.includes('mcpServers.t.args must be an array of strings'));
    assert.ok(messages.includes('mcpServers.t.env.A must be a string'));
    assert.ok(messages.includes('mcpServers.t.requireApproval must be true or an array of tool names'));
    assert.ok(messages.includes('mcpServers.t.disabled must be a boolean'));
    assert.ok(r.errors.some((e) => e.path === 'mcpServers.bad name!'));
    assert.deepEqual(
      r.config.servers.map((s) => s.name),
      ['ok'],
    );
  });

  it('warns about unknown keys and approvals that change nothing', () => {
    const r = parseCodeModeConfig({
      extra: 1,
      mcpServers: { a: { command: 'x', colour: 'red', approved: ['t'], headers: { a: 'b' } } },
    });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.warnings.map((w) => w.path),
      ['extra', 'mcpServers.a.headers', 'mcpServers.a.approved', 'mcpServers.a.colour'],
    );
  });

  it('rejects documents without an mcpServers object', () => {
    assert.equal(parseCodeModeConfig(null).errors[0]?.path, '');
    assert.equal(parseCodeModeConfig({}).errors[0]?.message, 'mcpServers is missing');
    assert.equal(parseCodeModeConfig({ mcpServers: [] }).errors[0]?.path, 'mcpServers');
  });
});

describe('--upstream specs', () => {
  it('splits command lines with quotes and escapes', () => {
    assert.deepEqual(splitCommandLine(`node "my server.js" --dir '/a b' x\\ y ""`), [
      'node',
      'my server.js',
      '--dir',
      '/a b',
      'x y',
      '',
    ]);
  });

  it('parses NAME=COMMAND ARGS and NAME=URL', () => {
    assert.deepEqual(parseUpstreamSpec('fs=npx -y @modelcontextprotocol/server-filesystem /tmp'), {
      name: 'fs',
      entry: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'] },
    });
    assert.deepEqual(parseUpstreamSpec('docs=https://example.com/mcp'), {
      name: 'docs',
      entry: { url: 'https://example.com/mcp' },
    });
    assert.equal('message' in parseUpstreamSpec('nocommand'), true);
    assert.equal('message' in parseUpstreamSpec('x='), true);
  });

  it('merges flags over the file (flags win) and validates the result', () => {
    const r = parseConfigWithUpstreams({ mcpServers: { a: { command: 'old' }, b: { command: 'b' } } }, [
      'a=new --flag',
      'bad',
      'c=http://localhost:1/mcp',
    ]);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]?.path, '--upstream');
    assert.deepEqual(
      r.config.servers.map((s) => [s.name, s.transport.kind === 'stdio' ? s.transport.command : s.transport.url]),
      [
        ['a', 'new'],
        ['b', 'b'],
        ['c', 'http://localhost:1/mcp'],
      ],
    );
    assert.deepEqual(parseConfigWithUpstreams(undefined, ['x=y']).config.servers[0]?.name, 'x');
  });
});

describe('loadCodeModeConfig', () => {
  it('reads, parses and reports unreadable or invalid files', async () => {
    const files: Record<string, string> = { '/ok.json': '{"mcpServers":{"a":{"command":"x"}}}', '/bad.json': '{nope' };
    const read = async (p: string) => {
      const f = files[p];
      if (f === undefined) throw new Error('ENOENT');
      return f;
    };
    assert.equal((await loadCodeModeConfig('/ok.json', read)).config.servers.length, 1);
    assert.match((await loadCodeModeConfig('/bad.json', read)).errors[0]?.message ?? '', /is not valid JSON/);
    assert.match((await loadCodeModeConfig('/missing.json', read)).errors[0]?.message ?? '', /cannot read .*ENOENT/);
  });
});

describe('published mcpServers JSON Schema', () => {
  it('matches the schema in the code (run: npm run schema)', () => {
    const published = JSON.parse(
      readFileSync(new URL('../../schema/mcp-servers.schema.json', import.meta.url), 'utf8'),
    );
    assert.deepEqual(published, JSON.parse(JSON.stringify(CODEMODE_CONFIG_JSON_SCHEMA)));
  });
});

describe('selfReference: an upstream that is codemode itself', () => {
  const ENTRY = '/opt/codemode/bin/codemode.js';
  const MAIN = '/opt/codemode/dist/cli/main.js';
  const self: SelfIdentity = {
    entryPoints: [ENTRY, MAIN, '/opt/codemode/src/cli/main.ts'],
    packageName: 'codemode',
    resolve: (command, cwd) => {
      const table: Record<string, string> = {
        'my-cm': ENTRY, // a PATH name (e.g. npm link) that resolves to our bin
        '/usr/local/bin/cm': ENTRY,
        node: '/usr/bin/node',
        './bin/codemode.js': ENTRY,
        './dist/cli/main.js': MAIN,
        './src/cli/main.ts': '/opt/codemode/src/cli/main.ts',
        './server.js': '/srv/other/server.js',
      };
      return cwd === '/elsewhere' ? null : (table[command] ?? null);
    },
  };
  const is = (command: string, ...args: string[]) => selfReference(command, args, self);

  it('spots codemode by name, by PATH, through package runners, node, env and sh -c', () => {
    for (const [command, args] of [
      ['codemode', ['serve']],
      ['/home/me/.npm-global/bin/codemode', ['serve']],
      ['my-cm', ['serve']],
      ['/usr/local/bin/cm', ['serve', '--http']],
      ['npx', ['-y', 'codemode', 'serve']],
      ['npx', ['--yes', 'codemode@latest', 'serve']],
      ['npx', ['-p', 'codemode', 'codemode', 'serve']],
      ['npm', ['exec', '--', 'codemode', 'serve']],
      ['pnpm', ['dlx', 'codemode', 'serve']],
      ['bunx', ['codemode']],
      ['node', ['bin/codemode.js', 'serve']],
      ['node', ['--no-node-snapshot', 'dist/cli/main.js', 'serve']],
      ['node', ['--import', 'tsx', 'src/cli/main.ts', 'serve']],
      ['env', ['FOO=1', 'codemode', 'serve']],
      ['sh', ['-c', 'exec npx -y codemode serve --config x.json']],
      ['bash', ['-lc', 'codemode serve']],
    ] as const) {
      assert.notEqual(is(command, ...args), null, `${command} ${args.join(' ')}`);
    }
  });

  it('leaves other servers alone', () => {
    for (const [command, args] of [
      ['npx', ['-y', '@modelcontextprotocol/server-filesystem', '/tmp']],
      ['npx', ['-y', 'codemode-helper']],
      ['node', ['server.js']],
      ['node', ['-e', 'require("codemode")']],
      ['node', ['--import', 'codemode', 'server.js']],
      ['uvx', ['mcp-server-fetch']],
      ['sh', ['-c', 'exec ./run.sh']],
    ] as const) {
      assert.equal(is(command, ...args), null, `${command} ${args.join(' ')}`);
    }
  });

  it('withoutSelf drops those servers with a message naming each and keeps the rest', () => {
    const parsed = parseCodeModeConfig({
      mcpServers: {
        me: { command: 'npx', args: ['-y', 'codemode', 'serve'] },
        fs: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'] },
        web: { url: 'https://example.com/mcp' },
      },
    });
    const { config, skipped } = withoutSelf(parsed.config, self);
    assert.deepEqual(
      config.servers.map((s) => s.name),
      ['fs', 'web'],
    );
    assert.deepEqual(skipped, [
      {
        path: 'mcpServers.me',
        message:
          'mcpServers.me is skipped: it runs the codemode package, and codemode would start itself over and over',
      },
    ]);
  });
});
