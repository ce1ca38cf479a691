import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  callArgs,
  guardArgs,
  INJECT_SYSCALL,
  MADV_MERGEABLE,
  parseInjectAnswer,
  PR_SET_MEMORY_MERGE,
} from './inject.ts';
import { missingHelper, nativeHelperPath } from './ksm_native.ts';

test('callArgs writes prctl and madvise calls as the helper reads them, addresses in hex', () => {
  assert.deepEqual(
    callArgs([
      { call: 'prctl', option: PR_SET_MEMORY_MERGE, arg: 1 },
      { call: 'madvise', address: 0x7f0000001000, length: 8192, advice: MADV_MERGEABLE },
    ]),
    ['prctl', '67', '1', 'madvise', '0x7f0000001000', '8192', '12'],
  );
});

test('parseInjectAnswer reads one ok line per call, a note, and an err that stops the rest', () => {
  assert.deepEqual(parseInjectAnswer('ok 0 rip-2 0x7f00\n'), { results: [{ result: 0, method: 'rip-2' }] });
  assert.deepEqual(parseInjectAnswer('ok -1 scan 0x7f00 seccomp-trap\nok 1 scan 0x7f00\n'), {
    results: [
      { result: -1, method: 'scan (seccomp-trap)' },
      { result: 1, method: 'scan' },
    ],
  });
  assert.deepEqual(parseInjectAnswer('ok 0 patch 0x1\nerr process 5 was killed by signal 9\n'), {
    results: [{ result: 0, method: 'patch' }],
    error: 'process 5 was killed by signal 9',
  });
  assert.deepEqual(parseInjectAnswer('err process 5 does not exist or has exited'), {
    results: [],
    error: 'process 5 does not exist or has exited',
  });
  assert.equal(parseInjectAnswer('').error, 'the helper printed nothing');
});

test('parseInjectAnswer reads the pause and a final refusal; guardArgs writes the checks before the pid', () => {
  assert.deepEqual(parseInjectAnswer('ok 0 rip-2 0x7f00\npause 81234\n'), {
    results: [{ result: 0, method: 'rip-2' }],
    pauseNs: 81234,
  });
  assert.deepEqual(parseInjectAnswer('err final process 5 is another process now; nothing was changed\n'), {
    results: [],
    error: 'process 5 is another process now; nothing was changed',
    final: true,
  });
  assert.deepEqual(guardArgs({ start: '123', comm: 'ab', allowedOnly: true }), [
    '--start',
    '123',
    '--comm',
    '6162',
    '--allowed-only',
  ]);
  assert.deepEqual(guardArgs(undefined), []);
});

/**
 * The helper refuses, before it attaches to anything, every call but the four it exists
 * for: advice that discards data and other prctl options are a usage error (exit 2).
 */
test('samepage-inject-syscall refuses other advice, other prctl options and unaligned ranges, touching nothing', (t) => {
  const helper = nativeHelperPath(INJECT_SYSCALL);
  const missing = missingHelper(helper);
  if (missing !== undefined) return void t.skip(missing);
  const refused: Array<[string[], RegExp]> = [
    [['madvise', '0x1000', '4096', '4'], /advice 4 is refused/],
    [['madvise', '0x1000', '4096', '9'], /advice 9 is refused/],
    [['prctl', '22', '1'], /prctl 22 1 is refused/],
    [['prctl', '67', '2'], /prctl 67 2 is refused/],
    [['madvise', '0x1001', '4096', '12'], /not a page-aligned, non-empty range/],
    [['madvise', '0x1000', '0', '12'], /not a page-aligned, non-empty range/],
    [['madvise', '0x1000', '-1', '12'], /bad madvise length/],
    [['mprotect', '0x1000', '4096', '0'], /expected 'prctl OPTION ARG' or 'madvise ADDR LEN ADVICE'/],
    [[], /no calls given/],
  ];
  for (const [args, why] of refused) {
    // pid 1: a refusal must come before any attach, whoever the target.
    const r = spawnSync(helper, ['1', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, why, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
});
