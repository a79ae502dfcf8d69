import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { writeLauncherPage } from './ui-launcher.js';

describe('codemode ui --open launcher page', () => {
  it('keeps the token off the command line: a private page redirects to the tokened address', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'launcher-test-'));
    try {
      const target = 'http://127.0.0.1:4321/#token=s3cr3t-</script>';
      const page = writeLauncherPage(target, dir);
      assert.match(page.url, /^file:\/\//);
      assert.doesNotMatch(page.url, /s3cr3t/);
      const file = fileURLToPath(page.url);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
      const html = readFileSync(file, 'utf8');
      // The address is a JSON string inside the script, with `<` escaped so it cannot close the tag.
      const m = /location\.replace\((.*?)\);<\/script>/.exec(html);
      assert.ok(m, html);
      assert.equal(JSON.parse(m[1]!), target);
      page.remove();
      assert.equal(existsSync(path.dirname(file)), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
