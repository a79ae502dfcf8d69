// Projects in and out of a session workspace as archives, unpacked and packed
// inside the sandbox by the workspace helper. Hostile entries are refused
// before anything is written; nothing reaches the host.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAppError } from '../../src/errors.js';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { DEFAULT_LIMITS } from '../../src/sandbox/limits.js';
import { Workspaces, type Workspace } from '../../src/sandbox/workspace/workspaces.js';

/** A tar (or zip) built by Python's own tarfile/zipfile from a list of entries, as the test describes them. */
function archive(entries: unknown[], format: 'tar' | 'tgz' | 'zip' = 'tar'): Buffer {
  const script = `
import io, json, sys, tarfile, time, zipfile
spec = json.loads(sys.stdin.read()); fmt = sys.argv[1]
buf = io.BytesIO()
if fmt == 'zip':
    z = zipfile.ZipFile(buf, 'w')
    for e in spec:
        z.writestr(e['name'], e.get('data', ''))
    z.close()
else:
    t = tarfile.open(fileobj=buf, mode='w:gz' if fmt == 'tgz' else 'w')
    for e in spec:
        i = tarfile.TarInfo(e['name']); i.mtime = time.time()
        kind = e.get('kind', 'file')
        data = ('x' * e['repeat']).encode() if 'repeat' in e else e.get('data', '').encode()
        if kind == 'file': i.size = len(data); t.addfile(i, io.BytesIO(data))
        elif kind == 'dir': i.type = tarfile.DIRTYPE; t.addfile(i)
        elif kind == 'symlink': i.type = tarfile.SYMTYPE; i.linkname = e['link']; t.addfile(i)
        elif kind == 'hardlink': i.type = tarfile.LNKTYPE; i.linkname = e['link']; t.addfile(i)
        elif kind == 'fifo': i.type = tarfile.FIFOTYPE; t.addfile(i)
    t.close()
sys.stdout.buffer.write(buf.getvalue())
`;
  return execFileSync('/usr/bin/python3', ['-c', script, format], {
    input: JSON.stringify(entries),
    maxBuffer: 256 * 1024 * 1024,
  });
}

let root: string;
let workspaces: Workspaces;
let ws: Workspace;

before(async () => {
  const sandbox = await createProcessSandbox();
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-archive-'));
  chmodSync(root, 0o755);
  workspaces = new Workspaces({ sandbox, root: path.join(root, 'ws'), maxFileBytes: DEFAULT_LIMITS.diskBytes });
  ws = await workspaces.create('archive-test', { ...DEFAULT_LIMITS, diskBytes: 64 * 1024 * 1024 });
});

after(async () => {
  await ws.destroy();
  rmSync(root, { recursive: true, force: true });
});

describe('workspace archives', () => {
  it('imports a tar.gz and a zip project, folders and in-tree links included, and exports it back', async () => {
    const tgz = archive(
      [
        { name: 'proj/src/main.py', data: 'print("hi")\n' },
        { name: 'proj/README.md', data: '# demo\n' },
        { name: 'proj/docs', kind: 'dir' },
        { name: 'proj/latest', kind: 'symlink', link: 'src/main.py' },
        { name: 'proj/copy.py', kind: 'hardlink', link: 'proj/src/main.py' },
      ],
      'tgz',
    );
    assert.deepEqual(await ws.importArchive('', tgz), { entries: 5, bytes: 12 + 7 + 12 });
    assert.equal(Buffer.from(await ws.read('proj/copy.py')).toString(), 'print("hi")\n');
    const zip = archive([{ name: 'data/a.csv', data: 'x,y\n1,2\n' }], 'zip');
    await ws.importArchive('imported', zip);
    assert.equal(Buffer.from(await ws.read('imported/data/a.csv')).toString(), 'x,y\n1,2\n');

    const out = await ws.exportArchive('proj');
    const listing = execFileSync('tar', ['-tzf', '-'], { input: Buffer.from(out) })
      .toString()
      .split('\n')
      .filter(Boolean)
      .sort();
    assert.deepEqual(listing, ['README.md', 'copy.py', 'docs/', 'latest', 'src/', 'src/main.py']);
  });

  const hostile: [string, unknown[]][] = [
    ['an absolute path', [{ name: '/etc/cron.d/evil', data: 'x' }]],
    ['a .. entry', [{ name: 'ok/../../escape.txt', data: 'x' }]],
    ['a symlink out', [{ name: 'out', kind: 'symlink', link: '/etc' }]],
    ['a relative symlink out', [{ name: 'a/out', kind: 'symlink', link: '../../../etc' }]],
    ['a hard link out', [{ name: 'pw', kind: 'hardlink', link: '/etc/passwd' }]],
    ['a FIFO', [{ name: 'pipe', kind: 'fifo' }]],
  ];
  for (const [what, entries] of hostile) {
    it(`refuses an archive with ${what} and writes nothing`, async () => {
      const before = (await ws.list()).length;
      await assert.rejects(ws.importArchive('hostile', archive(entries)), (e) =>
        isAppError(e) ? ['PATH_ESCAPE', 'INVALID_ARGUMENT'].includes(e.code) : false,
      );
      assert.equal((await ws.list()).length, before);
    });
  }

  it('refuses 100k tiny entries with a clear error', async () => {
    const many = Array.from({ length: 100_000 }, (_, i) => ({ name: `t/${i}` }));
    await assert.rejects(ws.importArchive('many', archive(many)), (e) => isAppError(e, 'TOO_LARGE'));
  });

  it('refuses an archive that unpacks past the free space, before writing', async () => {
    const big = archive([{ name: 'big.txt', repeat: 200 * 1024 * 1024 }], 'tgz');
    await assert.rejects(ws.importArchive('big', big), (e) => isAppError(e, 'TOO_LARGE'));
    await assert.rejects(ws.read('big/big.txt'), (e) => isAppError(e, 'NOT_FOUND'));
  });

  it('does not write through a link the workspace already has', async () => {
    await ws.write('real/keep.txt', Buffer.from('keep'));
    await ws.importArchive('', archive([{ name: 'lnk', kind: 'symlink', link: 'real' }]));
    await assert.rejects(ws.importArchive('', archive([{ name: 'lnk/evil.txt', data: 'x' }])), (e) =>
      isAppError(e, 'PATH_ESCAPE'),
    );
    assert.deepEqual(readdirSync(root).sort(), ['volumes', 'ws']);
  });
});
