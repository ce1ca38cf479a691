import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mayHoldAnonymous, parseMaps, parseSmapsFlags, rangesWithFlag, VM_MERGEABLE_CODE } from './proc_maps.ts';

const MAPS = `55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]
7f1c2c000000-7f1c2c021000 rw-p 00000000 00:00 0 
7f1c30000000-7f1c30200000 r--p 0001c000 08:01 1311  /usr/lib/x86_64-linux-gnu/libc.so.6
7f1c30200000-7f1c30210000 rw-s 00000000 00:05 42    /dev/shm/my file (deleted)
7ffd5a1d0000-7ffd5a1f1000 rw-p 00000000 00:00 0                          [stack]
7ffd5a1f8000-7ffd5a1fc000 r--p 00000000 00:00 0                          [vvar]
7ffd5a1fc000-7ffd5a1fe000 r-xp 00000000 00:00 0                          [vdso]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
not a maps line
`;

test('parseMaps reads every field, paths with spaces included, and drops kernel-half addresses', () => {
  const m = parseMaps(MAPS);
  assert.equal(m.length, 7);
  assert.deepEqual(m[0], {
    start: 0x55d0c0a00000,
    end: 0x55d0c0a21000,
    perms: 'rw-p',
    offset: 0,
    dev: '00:00',
    inode: 0,
    path: '[heap]',
  });
  assert.equal(m[1]!.path, '');
  assert.equal(m[2]!.offset, 0x1c000);
  assert.equal(m[3]!.path, '/dev/shm/my file (deleted)');
});

test('mayHoldAnonymous keeps private mappings and leaves out shared and kernel ones', () => {
  const keep = parseMaps(MAPS).map((e) => [e.path, mayHoldAnonymous(e)]);
  assert.deepEqual(keep, [
    ['[heap]', true],
    ['', true],
    ['/usr/lib/x86_64-linux-gnu/libc.so.6', true],
    ['/dev/shm/my file (deleted)', false],
    ['[stack]', true],
    ['[vvar]', false],
    ['[vdso]', false],
  ]);
});

test('parseSmapsFlags pairs each mapping with its VmFlags, and reads the live smaps of this process', () => {
  const text = `7f1c2c000000-7f1c2c021000 rw-p 00000000 00:00 0 
Size:                132 kB
Rss:                   8 kB
Shared_Clean:          0 kB
Shared_Dirty:          4 kB
Anonymous:             4 kB
KSM:                   4 kB
VmFlags: rd wr mr mw me ac mg 
7f1c30000000-7f1c30200000 r--p 0001c000 08:01 1311  /usr/lib/libc.so.6
Size:               2048 kB
Shared_Clean:        120 kB
VmFlags: rd mr mw me 
7ffd5a1d0000-7ffd5a1f1000 rw-p 00000000 00:00 0                          [stack]
Size:                132 kB
`;
  const s = parseSmapsFlags(text);
  assert.deepEqual(
    s.map((e) => [e.start, e.path, [...e.flags].join(' '), e.rssKb, e.anonymousKb, e.ksmKb, e.sharedKb]),
    [
      [0x7f1c2c000000, '', 'rd wr mr mw me ac mg', 8, 4, 4, 4],
      [0x7f1c30000000, '/usr/lib/libc.so.6', 'rd mr mw me', 0, 0, 0, 120],
      [0x7ffd5a1d0000, '[stack]', '', 0, 0, 0, 0],
    ],
  );
  assert.ok(s[0]!.flags.has(VM_MERGEABLE_CODE));
  const live = parseSmapsFlags(readFileSync('/proc/self/smaps', 'utf8'));
  // The live process maps and unmaps as it runs, so only the shape is checked against maps.
  assert.ok(live.length > 5);
  assert.ok(
    live.every((e, i) => i === 0 || e.start >= live[i - 1]!.end),
    'ascending, not overlapping',
  );
  assert.ok(
    live.every((e) => e.flags.size > 0),
    'every mapping has its VmFlags',
  );
  assert.ok(live.every((e) => e.flags.has('rd') || e.perms[0] === '-'));
});

const SMAPS = `7f0000000000-7f0000004000 rw-p 00000000 00:00 0
Size:                 16 kB
VmFlags: rd wr mr mw me ac mg
7f0000004000-7f0000006000 rw-p 00000000 00:00 0
Size:                  8 kB
VmFlags: rd wr mr mw me ac
7f0000006000-7f0000008000 rw-p 00000000 00:00 0
VmFlags: rd wr mr mw me ac mg
7f0000008000-7f000000a000 rw-p 00000000 00:00 0
VmFlags: rd wr mr mw me ac mg
`;

test('parseSmapsFlags reads each VMA with its VmFlags, and rangesWithFlag clips and joins the flagged parts', () => {
  const vmas = parseSmapsFlags(SMAPS);
  assert.deepEqual(
    vmas.map((v) => [v.start.toString(16), v.end.toString(16), v.flags.has('mg')]),
    [
      ['7f0000000000', '7f0000004000', true],
      ['7f0000004000', '7f0000006000', false],
      ['7f0000006000', '7f0000008000', true],
      ['7f0000008000', '7f000000a000', true],
    ],
  );
  // From the middle of the first VMA to the middle of the last: the unflagged VMA splits it,
  // and the two adjacent flagged VMAs come back as one range.
  assert.deepEqual(rangesWithFlag(vmas, 0x7f0000002000, 0x7000, 'mg'), [
    { start: 0x7f0000002000, length: 0x2000 },
    { start: 0x7f0000006000, length: 0x3000 },
  ]);
  assert.deepEqual(rangesWithFlag(vmas, 0x7f0000004000, 0x2000, 'mg'), []);
});
