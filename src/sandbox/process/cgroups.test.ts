import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseV2Parent, type V2Candidate } from './cgroups.js';

const own: V2Candidate = { parent: '/sys/fs/cgroup/kubepods/pod1/ctr/codemode-1', controllers: [], usable: true };
const root: V2Candidate = { parent: '/sys/fs/cgroup/codemode-1', controllers: ['memory', 'pids', 'cpu'], usable: true };

describe('cgroup v2 parent choice', () => {
  it('passes over our own cgroup when it cannot hand controllers down (it holds processes), for one that can', () => {
    assert.equal(chooseV2Parent([own, root]), root);
  });

  it('keeps our own subtree when it has the controllers (the first of equals wins)', () => {
    const delegated = { ...own, controllers: ['memory', 'pids', 'cpu'] as V2Candidate['controllers'] };
    assert.equal(chooseV2Parent([delegated, root]), delegated);
  });

  it('falls back to a place without controllers (runs accounted, not limited), never to one that is not a cgroup', () => {
    assert.equal(chooseV2Parent([own])?.parent, own.parent);
    assert.equal(chooseV2Parent([{ ...root, usable: false }]), undefined);
    assert.equal(chooseV2Parent([]), undefined);
  });
});
