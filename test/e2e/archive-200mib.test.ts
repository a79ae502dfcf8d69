// A 200 MiB project through import_archive and export_archive on the real
// sandbox: half incompressible (random), half compressible (text). Every file
// comes back byte for byte, and the code in the session sees the same bytes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createProcessSandbox } from '../../src/sandbox/process/process-sandbox.js';
import { SessionManager } from '../../src/sessions/session-manager.js';
import { MemorySessionStore } from '../../src/store/memory-session-store.js';

const MiB = 1024 * 1024;
const owner = 'archiver';
let root: string;
let manager: SessionManager;
let tarPath: string;
let expected: Record<string, string>;

/** Writes the project tar (4 x 25 MiB random, 100 x 1 MiB text) and prints each file's sha256. */
const MAKE = `
import hashlib, io, json, os, sys, tarfile
out = {}
with tarfile.open(sys.argv[1], 'w') as t:
    def add(name, data):
        i = tarfile.TarInfo(name); i.size = len(data); i.mtime = 0
        t.addfile(i, io.BytesIO(data)); out[name] = hashlib.sha256(data).hexdigest()
    for k in range(4):
        add(f'blobs/random-{k}.bin', os.urandom(25 * 1024 * 1024))
    line = b'timestamp,sensor,value,comment about the reading that repeats\\n'
    for k in range(100):
        add(f'data/part-{k:03}.csv', (line * (1024 * 1024 // len(line) + 1))[: 1024 * 1024 - k] + b'%03d' % k)
print(json.dumps(out))
`;

/** Reads a .tar.gz from stdin and prints each regular file's sha256. */
const HASH_TGZ = `
import hashlib, json, sys, tarfile
out = {}
with tarfile.open(fileobj=sys.stdin.buffer, mode='r|gz') as t:
    for m in t:
        if m.isfile():
            h = hashlib.sha256(); f = t.extractfile(m)
            for c in iter(lambda: f.read(1 << 20), b''): h.update(c)
            out[m.name.removeprefix('./')] = h.hexdigest()
print(json.dumps(out))
`;

before(async () => {
  const started = performance.now();
  root = mkdtempSync(path.join(os.tmpdir(), 'codemode-e2e-archive-'));
  chmodSync(root, 0o755);
  tarPath = path.join(root, 'project.tar');
  expected = JSON.parse(execFileSync('/usr/bin/python3', ['-c', MAKE, tarPath], { encoding: 'utf8' })) as Record<
    string,
    string
  >;
  process.stderr.write(`# generating the 200 MiB tar: ${Math.round(performance.now() - started)} ms\n`);
  manager = new SessionManager({
    sandbox: await createProcessSandbox(),
    store: new MemorySessionStore(),
    workspaceRoot: path.join(root, 'ws'),
    pool: false,
    limits: { diskBytes: 640 * MiB },
  });
});

after(async () => {
  await manager.shutdown();
  rmSync(root, { recursive: true, force: true });
});

describe('a 200 MiB project', () => {
  it('round-trips through import_archive and export_archive byte for byte', async (t) => {
    let mark = performance.now();
    const lap = (what: string) => {
      t.diagnostic(`${what}: ${Math.round(performance.now() - mark)} ms`);
      mark = performance.now();
    };
    const archive = readFileSync(tarPath);
    assert.ok(archive.length > 200 * MiB, `the archive holds 200 MiB (${archive.length} bytes)`);
    const s = await manager.create({ language: 'python', owner, limits: { diskBytes: 640 * MiB } });

    const imported = await manager.importArchive(s.id, 'proj', archive, owner);
    lap('import_archive (200 MiB tar)');
    assert.equal(imported.entries, 104);
    assert.ok(imported.bytes >= 200 * MiB - 5000, `bytes: ${imported.bytes}`);

    // The session's own code sees the same bytes.
    const inside = await manager.execute(
      s.id,
      [
        'import hashlib, json, os',
        'out = {}',
        'for d, _, fs in os.walk("proj"):',
        '    for f in fs:',
        '        p = os.path.join(d, f)',
        '        out[os.path.relpath(p, "proj")] = hashlib.sha256(open(p, "rb").read()).hexdigest()',
        'print(json.dumps(out))',
      ].join('\n'),
      { owner, limits: { memoryBytes: 512 * MiB } },
    );
    lap('sha256 of every file inside the session');
    assert.equal(inside.status, 'ok', inside.stderr);
    assert.deepEqual(JSON.parse(inside.stdout) as Record<string, string>, expected);

    const exported = await manager.exportArchive(s.id, 'proj', owner);
    lap(`export_archive (${exported.length} bytes of .tar.gz)`);
    assert.ok(exported.length > 100 * MiB, 'the random half does not compress');
    assert.ok(exported.length < 160 * MiB, `the text half compresses (${exported.length} bytes)`);
    const tgz = path.join(root, 'export.tgz');
    writeFileSync(tgz, exported);
    const back = JSON.parse(
      execFileSync('/bin/sh', ['-c', `/usr/bin/python3 -c "$0" < "$1"`, HASH_TGZ, tgz], { encoding: 'utf8' }),
    ) as Record<string, string>;
    assert.deepEqual(back, expected);
    await manager.close(s.id, owner);
  });
});
