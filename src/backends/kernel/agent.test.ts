import { test } from 'node:test';
import assert from 'node:assert/strict';
import { patternArgs } from './agent.ts';

test('patternArgs encodes seeds modulo 2^64 and text as UTF-8 hex', () => {
  assert.equal(patternArgs({ kind: 'byte', byte: 42 }), 'byte 42');
  assert.equal(patternArgs({ kind: 'random', seed: -1n }), 'random 18446744073709551615');
  assert.equal(patternArgs({ kind: 'page-mod', period: 3, seed: 7n }), 'page-mod 3 7');
  assert.equal(patternArgs({ kind: 'text', text: 'hé' }), 'text 68c3a9');
  assert.equal(patternArgs({ kind: 'neg-word-index' }), 'neg-word-index');
});
