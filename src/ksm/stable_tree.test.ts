/**
 * stable_tree_search among KSM pages whose first 8 bytes are the same: the nodes' cached
 * keys tie, so each step's direction comes from memcmp of the whole pages, as in Linux
 * (mm/ksm.c stable_tree_search: memcmp_pages < 0 goes left, > 0 right). A page whose
 * content is already a KSM page's must find that page and merge into it, wherever its node
 * sits in the tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_MERGEABLE } from '../mm/constants.ts';
import { doMadvise } from '../mm/madvise.ts';
import { doMmap } from '../mm/mmap.ts';
import { spawnTask } from '../mm/process.ts';
import { writeUser } from '../mm/uaccess.ts';
import { ksmRunStore } from './run.ts';
import { testMachine } from './testing.ts';
import { ksmVerify } from './verify.ts';

/** A page whose first 8 bytes are 0xab and whose byte 100 is `v`: memcmp orders them by `v`. */
function page(v: number): Uint8Array {
  const p = new Uint8Array(PAGE_SIZE);
  p.fill(0xab, 0, 8);
  p[100] = v;
  return p;
}

/**
 * Contents `first` in pairs (each pair becomes one KSM page, inserted in that order), then
 * one more page of each of `later` in a second process: each must join its KSM page.
 */
function run(first: readonly number[], later: readonly number[]) {
  const m = testMachine();
  m.ksm.checkWalkCache = true;
  m.ksm.sleepMillisecs = 0;
  const fill = (name: string, values: readonly number[]): void => {
    const t = spawnTask(m.mmgr, name);
    const addr = doMmap(m.mmgr, t.mm, values.length * PAGE_SIZE);
    for (const [i, v] of values.entries()) assert.equal(writeUser(m.mmgr, t.mm, addr + i * PAGE_SIZE, page(v)), 0);
    assert.equal(doMadvise(m.mmgr, t.mm, addr, values.length * PAGE_SIZE, MADV_MERGEABLE), 0);
  };
  fill(
    'first',
    first.flatMap((v) => [v, v]),
  );
  assert.equal(ksmRunStore(m.ksm, m.ksmd, 1), 0);
  m.scans(3);
  assert.equal(m.ksm.pagesShared, first.length, 'one KSM page per pair');
  fill('later', later);
  m.scans(3);
  ksmVerify(m.ksm);
  return { shared: m.ksm.pagesShared, sharing: m.ksm.pagesSharing, unshared: m.ksm.pagesUnshared };
}

for (const first of [
  [2, 1, 3],
  [1, 2, 3, 4, 5, 6, 7],
  [7, 6, 5, 4, 3, 2, 1],
  [4, 2, 6, 1, 3, 5, 7],
]) {
  test(`a page finds the KSM page of its content among nodes tied on their first 8 bytes (inserted ${first.join(',')})`, () => {
    const later = [...first].reverse();
    assert.deepEqual(run(first, later), { shared: first.length, sharing: first.length * 2, unshared: 0 });
  });
}
