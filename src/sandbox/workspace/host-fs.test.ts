import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AppError } from '../../errors.js';
import { walkWorkspace, writeInputFiles } from './host-fs.js';
import { safeRelativePath } from './paths.js';

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codemode-wsfs-test-'));
  temps.push(dir);
  return dir;
}
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function isAppError(code: string) {
  return (e: unknown) => e instanceof AppError && e.code === code;
}

describe('safeRelativePath', () => {
  it('accepts plain and nested relative paths, normalized', () => {
    assert.equal(safeRelativePath('a.txt'), 'a.txt');
    assert.equal(safeRelativePath('data/in/a.csv'), 'data/in/a.csv');
    assert.equal(safeRelativePath('./data//in/./a.csv'), 'data/in/a.csv');
    assert.equal(safeRelativePath('a/b/../c'), 'a/c');
    assert.equal(safeRelativePath('data\\in\\a.csv'), 'data/in/a.csv');
  });

  it('rejects .. that leaves the workspace', () => {
    for (const p of ['..', '../x', 'a/../../b', 'a/b/../../../c', '..\\x']) {
      assert.throws(() => safeRelativePath(p), isAppError('PATH_ESCAPE'), p);
    }
  });

  it('rejects absolute paths', () => {
    assert.throws(() => safeRelativePath('/etc/passwd'), isAppError('PATH_ESCAPE'));
  });

  it('rejects home-relative paths starting with ~', () => {
    assert.throws(() => safeRelativePath('~/x'), isAppError('PATH_ESCAPE'));
    assert.throws(() => safeRelativePath('~'), isAppError('PATH_ESCAPE'));
  });

  it('rejects a NUL byte', () => {
    assert.throws(() => safeRelativePath('a\0b'), isAppError('PATH_ESCAPE'));
  });

  it('rejects the empty path and the workspace itself', () => {
    assert.throws(() => safeRelativePath(''), isAppError('INVALID_ARGUMENT'));
    assert.throws(() => safeRelativePath('.'), isAppError('INVALID_ARGUMENT'));
    assert.throws(() => safeRelativePath('a/..'), isAppError('INVALID_ARGUMENT'));
  });

  it('names the argument in the error', () => {
    assert.throws(
      () => safeRelativePath('../x', 'files[3].path'),
      (e: unknown) =>
        e instanceof AppError && e.data?.argument === 'files[3].path' && e.message.includes('files[3].path'),
    );
  });
});

describe('writeInputFiles', () => {
  it('writes nested files, creating parent directories', () => {
    const root = tempDir();
    writeInputFiles(
      root,
      [
        { path: 'a.txt', content: 'hello' },
        { path: 'x/y/z.bin', content: new Uint8Array([1, 2, 3]) },
      ],
      null,
      1024,
    );
    assert.equal(readFileSync(path.join(root, 'a.txt'), 'utf8'), 'hello');
    assert.deepEqual([...readFileSync(path.join(root, 'x/y/z.bin'))], [1, 2, 3]);
  });

  it('refuses to write through a symlinked directory that points out of the workspace', () => {
    const root = tempDir();
    const outside = tempDir();
    symlinkSync(outside, path.join(root, 'link'));
    assert.throws(
      () => writeInputFiles(root, [{ path: 'link/pwned.txt', content: 'x' }], null, 1024),
      isAppError('PATH_ESCAPE'),
    );
    assert.equal(existsSync(path.join(outside, 'pwned.txt')), false);
  });

  it('refuses a symlink out of the workspace deeper in the path', () => {
    const root = tempDir();
    const outside = tempDir();
    mkdirSync(path.join(root, 'sub'));
    symlinkSync(outside, path.join(root, 'sub', 'link'));
    assert.throws(
      () => writeInputFiles(root, [{ path: 'sub/link/deeper/pwned.txt', content: 'x' }], null, 1024),
      isAppError('PATH_ESCAPE'),
    );
    assert.equal(existsSync(path.join(outside, 'deeper')), false);
  });

  it('refuses to write through a final-component symlink that points out of the workspace', () => {
    const root = tempDir();
    const outside = tempDir();
    writeFileSync(path.join(outside, 'victim'), 'original');
    symlinkSync(path.join(outside, 'victim'), path.join(root, 'x.txt'));
    assert.throws(
      () => writeInputFiles(root, [{ path: 'x.txt', content: 'overwritten' }], null, 1024),
      isAppError('PATH_ESCAPE'),
    );
    assert.equal(readFileSync(path.join(outside, 'victim'), 'utf8'), 'original');
  });

  it('refuses input files whose total exceeds the limit, naming the file', () => {
    const root = tempDir();
    assert.throws(
      () =>
        writeInputFiles(
          root,
          [
            { path: 'a', content: 'x'.repeat(60) },
            { path: 'b', content: 'x'.repeat(41) },
          ],
          null,
          100,
        ),
      (e: unknown) => e instanceof AppError && e.code === 'TOO_LARGE' && e.data?.argument === 'files[1]',
    );
    assert.equal(existsSync(path.join(root, 'b')), false);
  });

  it('accepts input files adding up to exactly the limit', () => {
    const root = tempDir();
    writeInputFiles(
      root,
      [
        { path: 'a', content: 'x'.repeat(60) },
        { path: 'b', content: 'x'.repeat(40) },
      ],
      null,
      100,
    );
    assert.equal(readFileSync(path.join(root, 'b'), 'utf8').length, 40);
  });

  it('refuses an escaping path, naming its index', () => {
    const root = tempDir();
    assert.throws(
      () =>
        writeInputFiles(
          root,
          [
            { path: 'ok', content: '' },
            { path: '../x', content: '' },
          ],
          null,
          100,
        ),
      (e: unknown) => e instanceof AppError && e.code === 'PATH_ESCAPE' && e.data?.argument === 'files[1].path',
    );
  });
});

describe('walkWorkspace', () => {
  it('sums file sizes recursively and lists files sorted', async () => {
    const root = tempDir();
    writeFileSync(path.join(root, 'b.txt'), 'x'.repeat(10));
    mkdirSync(path.join(root, 'd/e'), { recursive: true });
    writeFileSync(path.join(root, 'd/a.txt'), 'x'.repeat(20));
    writeFileSync(path.join(root, 'd/e/c.txt'), 'x'.repeat(30));
    const out = await walkWorkspace(root);
    assert.equal(out.bytes, 60);
    assert.equal(out.truncated, false);
    assert.deepEqual(out.entries, [
      { path: 'b.txt', size: 10 },
      { path: 'd/a.txt', size: 20 },
      { path: 'd/e/c.txt', size: 30 },
    ]);
  });

  it('does not follow symlinks to directories or files outside the workspace', async () => {
    const root = tempDir();
    const outside = tempDir();
    writeFileSync(path.join(outside, 'big.bin'), Buffer.alloc(100_000));
    writeFileSync(path.join(root, 'own.txt'), 'abc');
    symlinkSync(outside, path.join(root, 'dirlink'));
    symlinkSync(path.join(outside, 'big.bin'), path.join(root, 'filelink'));
    const out = await walkWorkspace(root);
    assert.deepEqual(out.entries, [{ path: 'own.txt', size: 3 }]);
    // Only the link inodes themselves are counted: far less than the 100 KB target.
    assert.ok(out.bytes < 1000, `bytes ${out.bytes}`);
    assert.ok(!out.entries.some((e) => e.path.startsWith('dirlink/')));
  });

  it('stops listing at maxEntries and says so, while still summing every size', async () => {
    const root = tempDir();
    for (let i = 0; i < 5; i++) writeFileSync(path.join(root, `f${i}`), 'x'.repeat(i + 1));
    const out = await walkWorkspace(root, 2);
    assert.equal(out.entries.length, 2);
    assert.equal(out.truncated, true);
    assert.equal(out.bytes, 15);
  });

  it('returns zero for a missing directory instead of throwing', async () => {
    const out = await walkWorkspace(path.join(tempDir(), 'missing'));
    assert.deepEqual(out, { bytes: 0, entries: [], truncated: false });
  });
});
