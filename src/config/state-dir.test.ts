import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultStateDir as storeStateDir } from '../store/session-store.js';
import { defaultStateDir, userSettingsFile } from './state-dir.js';

describe('defaultStateDir', () => {
  it('is $CODEMODE_HOME (absolute), else /var/lib/codemode for root, else ~/.codemode', () => {
    assert.equal(defaultStateDir({ CODEMODE_HOME: '/srv/cm' }, 1000, '/home/me'), '/srv/cm');
    assert.equal(defaultStateDir({}, 0, '/root'), '/var/lib/codemode');
    assert.equal(defaultStateDir({}, 1000, '/home/me'), '/home/me/.codemode');
  });

  it('is the one definition: the store re-exports it', () => {
    assert.equal(storeStateDir, defaultStateDir);
  });
});

describe('userSettingsFile', () => {
  it('is under $XDG_CONFIG_HOME, else ~/.config', () => {
    assert.equal(userSettingsFile({ XDG_CONFIG_HOME: '/x/cfg' }, '/home/me'), '/x/cfg/codemode/config.json');
    assert.equal(
      userSettingsFile({ XDG_CONFIG_HOME: 'relative' }, '/home/me'),
      '/home/me/.config/codemode/config.json',
    );
    assert.equal(userSettingsFile({}, '/home/me'), '/home/me/.config/codemode/config.json');
  });
});
