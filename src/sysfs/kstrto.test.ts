import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EINVAL, ERANGE } from '../lib/errno.ts';
import { kstrtobool, kstrtoint, kstrtouint, kstrtoull } from './kstrto.ts';

// Every verdict below was measured on Linux 6.18.44 by writing the string (one write(2))
// to /sys/kernel/mm/ksm/use_zero_pages, whose store is kstrtobool, and reading it back.
const BOOL_CASES: ReadonlyArray<readonly [string, boolean | number]> = [
  ['y', true],
  ['Y', true],
  ['yes', true],
  ['t', true],
  ['T', true],
  ['true', true],
  ['1', true],
  ['10', true],
  ['on', true],
  ['oN', true],
  ['on\n', true],
  ['1\n', true],
  ['y\n\n', true],
  ['n', false],
  ['N', false],
  ['no', false],
  ['nope', false],
  ['f', false],
  ['F', false],
  ['false', false],
  ['0', false],
  ['01', false],
  ['of', false],
  ['off', false],
  ['OF', false],
  ['o', -EINVAL],
  ['o\n', -EINVAL],
  ['2', -EINVAL],
  ['-1', -EINVAL],
  [' 1', -EINVAL],
  ['\n', -EINVAL],
  ['maybe', -EINVAL],
];

test('kstrtobool judges the first one or two characters exactly as Linux 6.18 does', () => {
  for (const [input, want] of BOOL_CASES) assert.equal(kstrtobool(input), want, JSON.stringify(input));
});

// The numeric parsers as lib/kstrtox.c defines them for base 10 (_kstrtoull, kstrtoint).
test('kstrtouint takes base 10 with an optional + and one trailing newline', () => {
  assert.equal(kstrtouint('4294967295'), 4294967295);
  assert.equal(kstrtouint('+200'), 200);
  assert.equal(kstrtouint('20\n'), 20);
  assert.equal(kstrtouint('4294967296'), -ERANGE);
  for (const bad of ['-1', '0x10', '', '+', '20\n\n', ' 20'])
    assert.equal(kstrtouint(bad), -EINVAL, JSON.stringify(bad));
});

test('kstrtoull holds the whole unsigned 64-bit range', () => {
  assert.equal(kstrtoull('18446744073709551615'), 18446744073709551615n);
  assert.equal(kstrtoull('18446744073709551616'), -ERANGE);
});

test('kstrtoint takes a sign and the int range', () => {
  assert.deepEqual(kstrtoint('+7'), { value: 7 });
  assert.deepEqual(kstrtoint('-0'), { value: 0 });
  assert.deepEqual(kstrtoint('-2147483648'), { value: -2147483648 });
  assert.deepEqual(kstrtoint('2147483648'), { err: -ERANGE });
  assert.deepEqual(kstrtoint('--1'), { err: -EINVAL });
});
