import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeErrno, describeReturn, errnoName, errnoNames, errnoNumber, strerror } from './errno.ts';

test('errnoNumber maps Linux x86_64 names and aliases to numbers', () => {
  assert.equal(errnoNumber('EBUSY'), 16);
  assert.equal(errnoNumber('EINVAL'), 22);
  assert.equal(errnoNumber('EWOULDBLOCK'), 11);
  assert.equal(errnoNumber('EBUZY'), undefined);
});

test('errnoName gives the canonical name of a number', () => {
  assert.equal(errnoName(11), 'EAGAIN');
  assert.equal(errnoName(95), 'EOPNOTSUPP');
  assert.equal(errnoName(9999), undefined);
});

test('describeReturn shows success, an errno name or the raw number', () => {
  assert.equal(describeReturn(0), 'success');
  assert.equal(describeReturn(-16), 'EBUSY');
  assert.equal(describeReturn(-9999), '-9999');
});

test('errnoNames includes aliases', () => {
  assert.ok(errnoNames().includes('ENOTSUP'));
  assert.ok(errnoNames().includes('ENOMEM'));
});

test('errnoName, describeErrno and strerror take either sign and name what they do not know', () => {
  assert.equal(errnoName(-16), 'EBUSY');
  assert.equal(describeErrno(-1), 'EPERM');
  assert.equal(describeErrno(512), 'errno 512');
  // glibc's texts, as python3's os.strerror printed them on this machine.
  assert.equal(strerror(-22), 'Invalid argument');
  assert.equal(strerror(16), 'Device or resource busy');
  assert.equal(strerror(133), 'Memory page has hardware error');
  assert.equal(strerror(512), 'Unknown error 512');
});
