import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { secretFileWarning } from './secret-file.js';

describe('secret file exposure', () => {
  it('is quiet for 0600 and 0400, names group access apart from world access', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'secret-file-'));
    try {
      const file = path.join(dir, 'tokens');
      writeFileSync(file, 'x');
      const at = (mode: number) => {
        chmodSync(file, mode);
        return secretFileWarning(file, 'token file');
      };
      assert.equal(at(0o600), undefined);
      assert.equal(at(0o400), undefined);
      assert.match(at(0o440) ?? '', /readable by its group \(440\).*Kubernetes Secret/);
      assert.match(at(0o644) ?? '', /readable by other users; chmod 600 it$/);
      assert.match(at(0o604) ?? '', /readable by other users/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
