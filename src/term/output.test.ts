import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Output, printable } from './output.ts';
import { capture } from './testing.ts';

test('printable shows C0, DEL and C1 controls as ?, and keeps tab, newline and other text', () => {
  assert.equal(printable('esc\x1b[31mRED\x1b]0;title\x07\r\x7f\x85'), 'esc?[31mRED?]0;title????');
  assert.equal(printable('a\tb\nc │ é 中'), 'a\tb\nc │ é 中');
});

test('Output: tables and messages reach the terminal without control characters; JSON and raw text are exact', () => {
  const c = capture();
  const out = new Output(c.io);
  out.print('comm \x1b[2J\n');
  out.result(false, undefined, () => 'row \x1b]0;x\x07\n');
  out.warn('process \x1b[31mred\x1b[0m');
  out.result(true, { comm: 'a\x1bb' }, () => '');
  out.raw('metric{comm="a\x85"} 1\n');
  assert.equal(c.out(), 'comm ?[2J\nrow ?]0;x?\n{\n  "comm": "a\\u001bb"\n}\nmetric{comm="a\x85"} 1\n');
  assert.equal(c.err(), 'samepage: warning: process ?[31mred?[0m\n');
});
