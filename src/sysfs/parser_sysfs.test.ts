import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EINVAL } from '../lib/errno.ts';
import { createMemoryManager, type MemoryManager } from '../mm/memory_manager.ts';
import { doMmap } from '../mm/mmap.ts';
import { exitTask, spawnTask } from '../mm/process.ts';
import { fillUser, readUser } from '../mm/uaccess.ts';
import { parserSysfs } from './parser_sysfs.ts';

const PAGE = 4096;

function machine(): MemoryManager {
  return createMemoryManager(4096);
}

/** A process named `comm` with `ones` pages of 0xFF, `zeros` written zero pages and one unique page. */
function program(mmgr: MemoryManager, comm: string, ones: number, zeros: number, seed: bigint): number {
  const t = spawnTask(mmgr, comm);
  const a = doMmap(mmgr, t.mm, (ones + zeros + 1) * PAGE);
  fillUser(mmgr, t.mm, a, ones * PAGE, { kind: 'byte', byte: 0xff }, a);
  fillUser(mmgr, t.mm, a + ones * PAGE, zeros * PAGE, { kind: 'zero' }, a);
  fillUser(mmgr, t.mm, a + (ones + zeros) * PAGE, PAGE, { kind: 'random', seed }, a);
  return t.pid;
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

test('processes_to_scan adds and removes names, and lists them one per line', () => {
  const files = parserSysfs(machine());
  const f = files.get('processes_to_scan')!;
  assert.equal(f.store!('+ okular\n'), 0);
  assert.equal(f.store!('+gimp'), 0);
  assert.equal(f.store!('+ okular\n'), 0); // already listed: no duplicate line
  assert.equal(f.show(), 'okular\ngimp\n');
  assert.equal(f.store!('- okular\n'), 0);
  assert.equal(f.store!('- never-added'), 0);
  assert.equal(f.show(), 'gimp\n');
});

test('processes_to_scan refuses a missing sign, an empty name and a name past TASK_COMM_LEN', () => {
  const f = parserSysfs(machine()).get('processes_to_scan')!;
  f.store!('+ kept');
  for (const bad of ['okular\n', '+\n', '- ', '', '+ 0123456789abcdef', '*okular']) {
    assert.equal(f.store!(bad), -EINVAL, JSON.stringify(bad));
  }
  assert.equal(f.store!('+ 0123456789abcde'), 0); // 15 bytes fit
  assert.equal(f.show(), 'kept\n0123456789abcde\n');
});

test('statistics counts the anonymous pages of the listed programs only', () => {
  const mmgr = machine();
  program(mmgr, 'okular', 5, 2, 1n);
  program(mmgr, 'okular', 3, 1, 2n);
  program(mmgr, 'other', 50, 0, 3n);
  const files = parserSysfs(mmgr);
  files.get('processes_to_scan')!.store!('+ okular\n');
  assert.equal(
    files.get('statistics')!.show(),
    `8 ${md5(Buffer.alloc(PAGE, 0xff))} ones\n` +
      `3 ${md5(Buffer.alloc(PAGE))} zero\n` +
      '2 pages without duplicate\n' +
      '9 pages saved by merging (11 duplicate pages in 2 groups)\n',
  );
});

test('statistics leaves out zero-page mappings and exited tasks', () => {
  const mmgr = machine();
  const t = spawnTask(mmgr, 'reader');
  const a = doMmap(mmgr, t.mm, 4 * PAGE);
  // Reading untouched memory maps the shared zero page: no private memory to count.
  assert.equal(
    readUser(mmgr, t.mm, a, 4 * PAGE, () => undefined),
    0,
  );
  const gone = spawnTask(mmgr, 'reader');
  const b = doMmap(mmgr, gone.mm, 2 * PAGE);
  fillUser(mmgr, gone.mm, b, 2 * PAGE, { kind: 'zero' }, b);
  exitTask(mmgr, gone);
  const files = parserSysfs(mmgr);
  files.get('processes_to_scan')!.store!('+reader');
  assert.equal(
    files.get('statistics')!.show(),
    '0 pages without duplicate\n0 pages saved by merging (0 duplicate pages in 0 groups)\n',
  );
});
