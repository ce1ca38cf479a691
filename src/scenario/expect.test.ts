import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateExpectation, expectationHolds, normalizeActual, parseExpectation, parseNumber } from './expect.ts';

test('parseNumber keeps integers exact as bigints and decimals as numbers', () => {
  assert.equal(parseNumber('18446744073709551615'), 18446744073709551615n);
  assert.equal(parseNumber(' -3 '), -3n);
  assert.equal(parseNumber('1.5'), 1.5);
  assert.equal(parseNumber('12abc'), undefined);
});

test('parseExpectation reads plain values as equality', () => {
  assert.deepEqual(parseExpectation(512), { ok: true, expectation: { op: '==', operand: 512n } });
  assert.deepEqual(parseExpectation('yes'), { ok: true, expectation: { op: '==', operand: 'yes' } });
  assert.deepEqual(parseExpectation('512'), { ok: true, expectation: { op: '==', operand: 512n } });
});

test('parseExpectation reads every comparison operator', () => {
  for (const op of ['==', '!=', '<', '<=', '>', '>='] as const) {
    assert.deepEqual(parseExpectation(`${op} 7`), { ok: true, expectation: { op, operand: 7n } });
  }
  assert.deepEqual(parseExpectation('>=512'), { ok: true, expectation: { op: '>=', operand: 512n } });
  assert.deepEqual(parseExpectation('!= no'), { ok: true, expectation: { op: '!=', operand: 'no' } });
});

test('parseExpectation rejects an ordered comparison without a number', () => {
  const parsed = parseExpectation('>= lots');
  assert.equal(parsed.ok, false);
  assert.match(parsed.ok ? '' : parsed.message, /got ">= lots"/);
  assert.equal(parseExpectation('').ok, false);
  assert.equal(parseExpectation(Number.NaN).ok, false);
});

test('evaluateExpectation compares numbers numerically even when the actual is text', () => {
  const ge = parseExpectation('>= 512');
  assert.ok(ge.ok);
  assert.equal(evaluateExpectation(ge.expectation, '512\n'), true);
  assert.equal(evaluateExpectation(ge.expectation, '511'), false);
  assert.equal(evaluateExpectation(ge.expectation, 1000), true);
  assert.equal(expectationHolds(512, '0512'), true);
  assert.equal(expectationHolds('<= 1100', '1100'), true);
  assert.equal(expectationHolds('< 1100', '1100'), false);
  assert.equal(expectationHolds('> 0', '1'), true);
  assert.equal(expectationHolds('!= 0', '0'), false);
  assert.equal(expectationHolds('== 3', '3'), true);
});

test('evaluateExpectation compares 64-bit integers exactly', () => {
  assert.equal(expectationHolds('18446744073709551615', '18446744073709551615'), true);
  assert.equal(expectationHolds('18446744073709551615', '18446744073709551614'), false);
});

test('evaluateExpectation compares words such as yes and no as strings', () => {
  assert.equal(expectationHolds('yes', 'yes\n'), true);
  assert.equal(expectationHolds('yes', 'no'), false);
  assert.equal(expectationHolds('!= no', 'yes'), true);
  assert.equal(expectationHolds(1, 'yes'), false);
});

test('evaluateExpectation never holds for a missing file', () => {
  assert.equal(expectationHolds('!= 0', undefined), false);
  assert.equal(expectationHolds('!= 0', null), false);
});

test('evaluateExpectation reads the selected word of a sysfs choice list', () => {
  assert.equal(expectationHolds('scan-time', 'none [scan-time]\n'), true);
  assert.equal(expectationHolds('none', 'none [scan-time]'), false);
});

test('normalizeActual gives numbers when exact, text otherwise, null when missing', () => {
  assert.equal(normalizeActual('42\n'), 42);
  assert.equal(normalizeActual('-7'), -7);
  assert.equal(normalizeActual('18446744073709551615'), '18446744073709551615');
  assert.equal(normalizeActual('[none] scan-time'), 'none');
  assert.equal(normalizeActual(' yes '), 'yes');
  assert.equal(normalizeActual(undefined), null);
});
