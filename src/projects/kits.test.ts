import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveSettings } from '../config/settings.js';
import {
  kitCatalogue,
  kitHint,
  kitLanguages,
  kitsSettingProblems,
  missingModule,
  moduleIndex,
  npmPackageName,
} from './kits.js';

describe('kits (pure)', () => {
  it('operator kits join the built-in catalogue and replace one by name', () => {
    const cat = kitCatalogue({
      plot: { version: '2', description: 'mine', debian: ['python3-matplotlib'] },
      dates: { version: '1', description: 'dates', npm: ['date-fns@3'] },
    });
    assert.deepEqual(
      cat.map((k) => `${k.name}@${k.version}`),
      ['data@1', 'dates@1', 'docs@1', 'plot@2'],
    );
    assert.deepEqual(kitLanguages(cat.find((k) => k.name === 'dates')!), ['javascript']);
  });

  it('settings kits are validated, naming each bad key', () => {
    assert.deepEqual(
      kitsSettingProblems({ ok: { version: '1', description: 'd', npm: ['left-pad', '@s/x@^1.0.0', '/tmp/a.tgz'] } }),
      [],
    );
    const bad = kitsSettingProblems({
      Bad: { version: '1', description: 'd', debian: ['python3-x'] },
      shell: { version: '1', description: 'd', npm: ['x; rm -rf /', 'git+https://example.com/x.git'] },
      none: { version: '1', description: 'd' },
      extra: { version: '1', description: 'd', debian: ['a1'], postinstall: 'x' },
    });
    assert.ok(bad.some((p) => p.startsWith('kits.Bad: a kit name is lowercase')));
    assert.ok(bad.some((p) => p.startsWith('kits.shell.npm must be an array of npm package specs')));
    assert.ok(bad.includes('kits.none needs debian or npm packages'));
    assert.ok(bad.some((p) => p.startsWith('kits.extra.postinstall is not a kit key')));
  });

  it('names the module a failed import wanted', () => {
    assert.deepEqual(
      missingModule({ type: 'ModuleNotFoundError', message: "No module named 'sklearn.linear_model'" }),
      {
        language: 'python',
        module: 'sklearn',
      },
    );
    assert.deepEqual(missingModule({ type: 'Error', message: "Cannot find module '@scope/pkg/sub'\nRequire stack:" }), {
      language: 'javascript',
      module: '@scope/pkg',
    });
    assert.equal(missingModule({ type: 'Error', message: "Cannot find module './local'" }), null);
    assert.equal(missingModule({ type: 'ValueError', message: "No module named 'x'" }), null);
    assert.equal(npmPackageName('@s/x@^1'), '@s/x');
    assert.equal(npmPackageName('/tmp/a.tgz'), undefined);
  });

  it('hints at the kit that provides a module: use it, or have the operator install it', () => {
    const index = moduleIndex(kitCatalogue(), { extra: ['fixture'] });
    const err = { type: 'ModuleNotFoundError', message: "No module named 'pypdf'" };
    assert.equal(
      kitHint(index, err, () => true),
      `'pypdf' is provided by kit "docs": create a session with kits: ["docs"] (see list_kits)`,
    );
    assert.equal(
      kitHint(index, err, () => false),
      '\'pypdf\' is provided by kit "docs", which is not installed on this host: the operator installs it with `codemode kits install docs`',
    );
    assert.equal(
      kitHint(index, { type: 'ModuleNotFoundError', message: "No module named 'nothing'" }, () => true),
      null,
    );
    assert.equal(
      kitHint(index, err, () => true, ['docs']),
      null,
      'the session has the kit: no hint',
    );
  });
  it('a settings file found in the working directory may not define kits or network policies', () => {
    const content = {
      kits: { evil: { version: '1', description: 'd', npm: ['left-pad'] } },
      network: { policies: { out: { allow: ['evil.example:443'], maxBytes: 1, maxRequests: 1 } } },
    };
    const untrusted = resolveSettings({ files: [{ path: 'codemode.json', content, trusted: false }], stateDir: '/s' });
    assert.equal(untrusted.errors.length, 2);
    assert.match(
      untrusted.errors[0]!,
      /kits names packages to install, so a settings file found in the working directory may not set it/,
    );
    assert.match(untrusted.errors[1]!, /network\.policies lets sandboxed code reach the network/);
    assert.deepEqual(untrusted.settings.kits, {});
    const trusted = resolveSettings({ files: [{ path: '/etc/c.json', content, trusted: true }], stateDir: '/s' });
    assert.deepEqual(trusted.errors, []);
    assert.deepEqual(Object.keys(trusted.settings.network.policies), ['out']);
    const bad = resolveSettings({
      files: [{ path: '/etc/c.json', content: { network: { policies: { x: { allow: ['*'] } } } }, trusted: true }],
      stateDir: '/s',
    });
    assert.ok(bad.errors.some((e) => e.includes('network.policies.x.allow must be an array of "host:port"')));
  });
});
