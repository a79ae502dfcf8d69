import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { detectVolumeKinds, imageBytesFor, inodesFor, mkfsArgs, mountsUnder, tmpfsOptions, Volumes } from './volume.js';

const MiB = 1024 * 1024;

describe('volume arguments (pure)', () => {
  it('inodes: one per 4 KiB of the disk limit, at least 1024', () => {
    assert.equal(inodesFor({ bytes: 256 * MiB, uid: 1 }), 65536);
    assert.equal(inodesFor({ bytes: 1 * MiB, uid: 1 }), 1024);
    assert.equal(inodesFor({ bytes: MiB, uid: 1, inodes: 10 }), 10);
  });

  it('an ext4 image leaves the disk limit usable after its inode tables', () => {
    const spec = { bytes: 64 * MiB, uid: 7 };
    assert.ok(imageBytesFor(spec) >= 64 * MiB + inodesFor(spec) * 256);
    assert.equal(imageBytesFor(spec) % 4096, 0);
  });

  it('mkfs gives the root to the sandbox uid, with no journal and no reserved blocks', () => {
    const args = mkfsArgs('/v/x.img', { bytes: 64 * MiB, uid: 2000001 });
    assert.deepEqual(args.slice(-3), ['-E', 'root_owner=2000001:2000001,lazy_itable_init=1,nodiscard', '/v/x.img']);
    assert.ok(args.includes('^has_journal'));
    assert.equal(args[args.indexOf('-m') + 1], '0');
  });

  it('tmpfs is capped in bytes and files and private to its uid (nosuid and nodev are mount flags)', () => {
    assert.equal(tmpfsOptions({ bytes: 8 * MiB, uid: 5 }), `size=${8 * MiB},nr_inodes=2048,mode=0700,uid=5,gid=5`);
  });
});

const asRoot = process.getuid?.() === 0 && detectVolumeKinds().persistent === 'ext4';

describe('volumes on this host', { skip: asRoot ? false : 'needs root and loop devices' }, () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'codemode-volume-test-'));
  const volumes = new Volumes({ root: path.join(base, 'ws') });
  after(async () => {
    for (const dir of volumes.mounted()) execFileSync('umount', ['-l', dir]);
    rmSync(base, { recursive: true, force: true });
  });

  it('a persistent volume is an ext4 filesystem owned by the uid, 0700, capped in bytes and files', async () => {
    const dir = await volumes.create('p1', { bytes: 8 * MiB, uid: 2_000_123 }, true);
    const st = statSync(dir);
    assert.equal(st.uid, 2_000_123);
    assert.equal(st.mode & 0o777, 0o700);
    assert.ok(volumes.isMounted(dir));
    assert.equal(existsSync(path.join(dir, 'lost+found')), false);
    const u = volumes.usage(dir)!;
    assert.ok(u.bytesFree >= 8 * MiB - 256 * 1024 && u.bytesFree < 16 * MiB, String(u.bytesFree));
    assert.ok(u.inodesFree <= 2048);
    // Filling the inodes makes it full: the kernel counts empty files too.
    for (let i = 0; ; i++) {
      try {
        writeFileSync(path.join(dir, `f${i}`), '');
      } catch {
        break;
      }
    }
    assert.equal(volumes.full(dir), true);
  });

  it('a persistent volume survives unmount and opens again with its files and owner', async () => {
    const dir = await volumes.create('p2', { bytes: 4 * MiB, uid: 2_000_124 }, true);
    writeFileSync(path.join(dir, 'kept.txt'), 'yes');
    await volumes.close(dir);
    assert.equal(volumes.isMounted(dir), false);
    assert.equal(volumes.exists('p2'), true);
    const again = await volumes.open('p2');
    assert.deepEqual(again, { dir, uid: 2_000_124 });
    assert.ok(existsSync(path.join(dir, 'kept.txt')));
    await volumes.destroy('p2');
    assert.equal(volumes.exists('p2'), false);
    assert.equal(existsSync(dir), false);
  });

  it('an ephemeral volume is a capped tmpfs, gone when destroyed', async () => {
    const dir = await volumes.create('e1', { bytes: 2 * MiB, uid: 2_000_125 }, false);
    assert.ok(mountsUnder(dir).includes(dir));
    assert.equal(statSync(dir).uid, 2_000_125);
    await volumes.destroy('e1');
    assert.equal(existsSync(dir), false);
  });

  it('cleanupStale unmounts what a hard stop left mounted', async () => {
    const dir = await volumes.create('s1', { bytes: 2 * MiB, uid: 2_000_126 }, false);
    const fresh = new Volumes({ root: path.join(base, 'ws') });
    assert.ok(fresh.cleanupStale() >= 1);
    assert.equal(volumes.isMounted(dir), false);
  });

  it('refuses names that are not plain ids', async () => {
    await assert.rejects(volumes.create('../x', { bytes: MiB, uid: 1 }, false));
  });
});
