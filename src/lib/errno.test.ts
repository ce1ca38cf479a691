import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeReturn, errnoName, errnoNames, errnoNumber } from './errno.ts';

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
