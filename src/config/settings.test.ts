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
      file: { http: { port: 1000 }, limits: { defaults: { wallMs: 5000 } }, sessions: { maxSessions: 3 } },
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
      filePath: 'codemode.json',
      file: { http: { port: 'eighty' }, sessions: { maxSession: 2 }, store: { enabled: 'yes' } },
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
      file: { limits: { defaults: { wallMs: 100 }, max: { wallMs: 50 } } },
    });
    assert.deepEqual(errors, [
      'limits.defaults.wallMs (100) is above limits.max.wallMs (50); raise the maximum or lower the default',
    ]);
  });

  it('warns when the HTTP server would be reachable beyond loopback without a token', () => {
    const { warnings } = resolveSettings({ stateDir, flags: { http: { host: '0.0.0.0' } } });
    assert.match(warnings[0] ?? '', /reachable beyond loopback/);
    assert.deepEqual(
      resolveSettings({ stateDir, flags: { http: { host: '0.0.0.0', tokens: ['t'.repeat(16)] } } }).warnings,
      [],
    );
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
