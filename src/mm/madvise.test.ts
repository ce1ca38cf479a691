/**
 * madvise over a range with a hole: mm/madvise.c applies the advice to every mapped part
 * and then returns -ENOMEM, and a range starting in a hole fails the same way. Measured on
 * Linux 6.18.44 (a 4-page mapping with page 1 unmapped): MADV_MERGEABLE over all 4 pages
 * returned ENOMEM and left pages 0 and 2 VM_MERGEABLE ("mg" in smaps); over the hole alone
 * ENOMEM; MADV_DONTNEED over all 4 returned ENOMEM and zapped page 2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ENOMEM } from '../lib/errno.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { MADV_DONTNEED, MADV_MERGEABLE, VM_MERGEABLE } from './constants.ts';
import type { KsmHooks } from './ksm_hooks.ts';
import { NO_KSM } from './ksm_hooks.ts';
import { doMadvise } from './madvise.ts';
import { doMmap, doMunmap } from './mmap.ts';
import { spawnTask } from './process.ts';
import { testMm } from './testing.ts';
import { fillUser, readUser } from './uaccess.ts';

/** KSM reduced to what ksm_madvise does to the flags of a compatible VMA. */
const MARKING: KsmHooks = {
  ...NO_KSM,
  ksmMadvise: (_v, _s, _e, _a, vmFlags) => ({ err: 0, vmFlags: vmFlags | VM_MERGEABLE }),
};

function holed() {
  const mmgr = testMm();
  mmgr.hooks = MARKING;
  const t = spawnTask(mmgr, 'a');
  const addr = doMmap(mmgr, t.mm, 4 * PAGE_SIZE);
  assert.equal(fillUser(mmgr, t.mm, addr, 4 * PAGE_SIZE, { kind: 'byte', byte: 7 }, addr), 0);
  assert.equal(doMunmap(mmgr, t.mm, addr + PAGE_SIZE, PAGE_SIZE), 0);
  return { mmgr, t, addr };
}

test('doMadvise MADV_MERGEABLE across a hole advises the mapped parts and returns -ENOMEM', () => {
  const { mmgr, t, addr } = holed();
  assert.equal(doMadvise(mmgr, t.mm, addr, 4 * PAGE_SIZE, MADV_MERGEABLE), -ENOMEM);
  for (const page of [0, 2, 3])
    assert.notEqual((t.mm.findVma(addr + page * PAGE_SIZE)?.vmFlags ?? 0) & VM_MERGEABLE, 0, `page ${page}`);
  assert.equal(doMadvise(mmgr, t.mm, addr + PAGE_SIZE, PAGE_SIZE, MADV_MERGEABLE), -ENOMEM, 'the hole alone');
});

test('doMadvise MADV_DONTNEED across a hole zaps the mapped parts and returns -ENOMEM', () => {
  const { mmgr, t, addr } = holed();
  assert.equal(doMadvise(mmgr, t.mm, addr, 4 * PAGE_SIZE, MADV_DONTNEED), -ENOMEM);
  let byte = -1;
  assert.equal(
    readUser(mmgr, t.mm, addr + 2 * PAGE_SIZE, 1, (buf, off) => {
      byte = buf[off]!;
    }),
    0,
  );
  assert.equal(byte, 0, 'page 2 reads zero again');
  assert.equal(t.mm.rssAnon, 0);
});
