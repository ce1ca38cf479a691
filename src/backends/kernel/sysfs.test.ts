import { test } from 'node:test';
import assert from 'node:assert/strict';
import { negErrno, parseSysfsValue, restorableValue, selectedWord } from './sysfs.ts';

test('selectedWord picks the bracketed choice of a selector file', () => {
  assert.equal(selectedWord('[none] scan-time\n'), 'none');
  assert.equal(selectedWord('none [scan-time]\n'), 'scan-time');
  assert.equal(selectedWord('always [madvise] never\n'), 'madvise');
  assert.equal(selectedWord('20\n'), '20');
});

test('parseSysfsValue gives numbers as numbers, including negative general_profit', () => {
  assert.equal(parseSysfsValue('36224\n'), 36224);
  assert.equal(parseSysfsValue('-640\n'), -640);
  assert.equal(parseSysfsValue('[none] scan-time\n'), 'none');
});

test('restorableValue writes a selector file back by its word', () => {
  assert.equal(restorableValue('none [scan-time]\n'), 'scan-time');
  assert.equal(restorableValue('100\n'), '100');
});

test('negErrno maps a Node fs error code to -errno', () => {
  assert.equal(negErrno(Object.assign(new Error('x'), { code: 'EINVAL', errno: -22 })), -22);
  assert.equal(negErrno(Object.assign(new Error('x'), { code: 'EBUSY', errno: -16 })), -16);
  assert.throws(() => negErrno(new Error('not a system error')));
});
