import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { resolveSettings, settingsJsonSchema } from './settings.js';

const stateDir = '/var/lib/codemode';

describe('resolveSettings', () => {
  it('gives complete defaults rooted in the state directory', () => {
    const { settings, errors } = resolveSettings({ stateDir });
    assert.deepEqual(errors, []);
    assert.equal(settings.store.path, '/var/lib/codemode/codemode.db');
    assert.equal(settings.workspaces.root, '/var/lib/codemode/workspaces');
    assert.equal(settings.http.host, '127.0.0.1');
    assert.equal(settings.limits.defaults.wallMs, 30_000);
  });

  it('applies file, then environment, then flags, later winning', () => {
    const { settings, errors } = resolveSettings({
      stateDir,
      files: [
        {
          path: 'codemode.json',
          trusted: false,
          content: { http: { port: 1000 }, limits: { defaults: { wallMs: 5000 } }, sessions: { maxSessions: 3 } },
        },
      ],
      env: { CODEMODE_PORT: '2000', CODEMODE_LIMIT_WALL_MS: '6000' },
      flags: { http: { port: 3000 } },
    });
    assert.deepEqual(errors, []);
    assert.equal(settings.http.port, 3000);
    assert.equal(settings.limits.defaults.wallMs, 6000);
    assert.equal(settings.sessions.maxSessions, 3);
  });

  it('names the bad key and the reason', () => {
    const { errors } = resolveSettings({
      stateDir,
      files: [
        {
          path: 'codemode.json',
          trusted: true,
          content: { http: { port: 'eighty' }, sessions: { maxSession: 2 }, store: { enabled: 'yes' } },
        },
      ],
      env: { CODEMODE_MAX_MEMORY_BYTES: '-5' },
    });
    assert.deepEqual(errors, [
      'codemode.json: http.port must be an integer from 0 to 65535, got "eighty"',
      'codemode.json: unknown key "sessions.maxSession" (did you mean "sessions.maxSessions"?)',
      'codemode.json: store.enabled must be true or false, got "yes"',
      'CODEMODE_MAX_MEMORY_BYTES="-5": must be a number from 1 up',
    ]);
  });

  it('refuses a default above its maximum', () => {
    const { errors } = resolveSettings({
      stateDir,
      files: [
        { path: 'c.json', trusted: false, content: { limits: { defaults: { wallMs: 100 }, max: { wallMs: 50 } } } },
      ],
    });
    assert.deepEqual(errors, [
      'limits.defaults.wallMs (100) is above limits.max.wallMs (50); raise the maximum or lower the default',
    ]);
  });

  it('requires auth by default, and refuses auth off beyond loopback', () => {
    assert.equal(resolveSettings({ stateDir }).settings.http.auth, true);
    const off = resolveSettings({ stateDir, env: { CODEMODE_AUTH: 'off' } });
    assert.deepEqual(off.errors, []);
    assert.equal(off.settings.http.auth, false);
    const open = resolveSettings({ stateDir, flags: { http: { host: '0.0.0.0', auth: false } } });
    assert.match(open.errors[0] ?? '', /http\.auth is off but http\.host 0\.0\.0\.0 is reachable beyond loopback/);
  });
});

describe('what a settings file found in the working directory may set', () => {
  const own = '/home/me/.config/codemode/config.json';
  const found = (content: unknown) =>
    resolveSettings({
      stateDir,
      userSettingsFile: own,
      files: [{ path: '/src/cloned/codemode.json', trusted: false, content }],
    });

  it('a codemode.json in a cloned folder that names a command does not run it: mcpServersFile is refused, naming where it belongs', () => {
    const { settings, errors } = found({ mcpServersFile: './evil-servers.json', sessions: { maxSessions: 3 } });
    assert.equal(settings.mcpServersFile, null, 'no upstream command comes from it');
    assert.equal(settings.sessions.maxSessions, 32, 'and nothing else of the file is half-applied');
    assert.deepEqual(errors, [
      '/src/cloned/codemode.json (found in the working directory, so not trusted): mcpServersFile names commands to run, so a settings file found in the working directory may not set it (a cloned repository could). Put it in /home/me/.config/codemode/config.json, or pass --config FILE or CODEMODE_MCP_SERVERS',
    ]);
  });

  it('refuses a bind beyond loopback, tokens, auth off, moved state, extra hosts, inline servers and sandbox switches', () => {
    const { errors } = found({
      http: {
        host: '0.0.0.0',
        tokens: ['attacker-knows-this-token'],
        tokenFile: 't',
        auth: false,
        allowedHosts: ['evil.example'],
      },
      store: { path: '/tmp/x.db' },
      workspaces: { root: '/tmp/ws' },
      mcpServers: { x: { command: 'sh' } },
      unsandboxed: true,
    });
    const keys = errors.map((e) => /: (\S+) /.exec(e.replace(/^[^)]*\)/, ''))?.[1]);
    assert.deepEqual(keys.sort(), [
      'http.allowedHosts',
      'http.auth',
      'http.host',
      'http.tokenFile',
      'http.tokens',
      'mcpServers',
      'store.path',
      'unsandboxed',
      'workspaces.root',
    ]);
  });

  it('may lower a maximum but not raise it above the built-in one', () => {
    assert.deepEqual(found({ limits: { max: { wallMs: 1000 }, defaults: { wallMs: 1000 } } }).errors, []);
    assert.match(
      found({ limits: { max: { memoryBytes: 1e15 } } }).errors[0] ?? '',
      /limits\.max\.memoryBytes = 1000000000000000 raises the built-in maximum/,
    );
  });

  it("the same keys are accepted from the user's own (trusted) file, with relative paths from its directory", () => {
    const { settings, errors } = resolveSettings({
      stateDir,
      files: [
        {
          path: own,
          trusted: true,
          content: { mcpServersFile: 'servers.json', http: { host: '0.0.0.0', tokens: ['t'.repeat(16)] } },
        },
      ],
    });
    assert.deepEqual(errors, []);
    assert.equal(settings.mcpServersFile, '/home/me/.config/codemode/servers.json');
    assert.equal(settings.http.host, '0.0.0.0');
  });

  it('flags and the environment may set them too', () => {
    const { settings, errors } = resolveSettings({
      stateDir,
      env: { CODEMODE_MCP_SERVERS: '/etc/codemode/mcp.json', CODEMODE_TOKEN_FILE: '/run/secrets/codemode' },
      flags: { http: { host: '::1' } },
    });
    assert.deepEqual(errors, []);
    assert.equal(settings.mcpServersFile, '/etc/codemode/mcp.json');
    assert.equal(settings.http.tokenFile, '/run/secrets/codemode');
  });
});

describe('settings JSON Schema', () => {
  it('is published and matches the settings the code accepts', () => {
    const published = JSON.parse(
      readFileSync(new URL('../../schema/codemode.settings.schema.json', import.meta.url), 'utf8'),
    );
    assert.deepEqual(published, settingsJsonSchema(), 'run: npm run schema');
  });
});
