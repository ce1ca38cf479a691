import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayWidth } from '../lib/text_width.ts';
import { fitTable, type TableColumn } from './fit_table.ts';

const COLUMNS: readonly TableColumn[] = [
  { head: 'name' },
  { head: 'what it says', wrap: true },
  { head: 'count', align: 'right' },
  { head: 'flag', drop: 2 },
  { head: 'size', align: 'right', drop: 1 },
];
const ROWS = [
  ['alpha', 'a long sentence that says what the row is about, in words', '1024', 'yes', '4.0 MiB'],
  ['beta', 'short', '7', 'no', '28 KiB'],
];

const widest = (text: string): number => Math.max(...text.split('\n').map(displayWidth));

test('fitTable leaves a table that fits as it is, and without a width never wraps', () => {
  const free = fitTable(COLUMNS, ROWS);
  assert.equal(widest(free), 94);
  assert.equal(fitTable(COLUMNS, ROWS, { width: 94 }), free);
  assert.match(
    free,
    /│ alpha │ a long sentence that says what the row is about, in words │ {2}1024 │ yes {2}│ 4\.0 MiB │/,
  );
});

test('fitTable wraps text columns at spaces before it leaves any column out', () => {
  const text = fitTable(COLUMNS, ROWS, { width: 70 });
  assert.ok(widest(text) <= 70, text);
  assert.match(text, /│ flag │ +size │/, 'every column kept');
  assert.match(
    text,
    /│ alpha │ a long sentence that says what +│ {2}1024 │ yes {2}│ 4\.0 MiB │\n│ +│ the row is about, in words/,
  );
  assert.doesNotMatch(text, /left out/);
});

test('fitTable leaves out the highest drop rank first, says so, and never a column without a rank', () => {
  const text = fitTable(COLUMNS, ROWS, { width: 44 });
  assert.ok(widest(text) <= 44, text);
  assert.doesNotMatch(text, /│ flag/);
  assert.match(text, /│ name +│ what it says +│ count │ +size │/);
  assert.match(text, /\(left out to fit 44 columns: flag; COLUMNS\nor a wider terminal shows it\)$/);
  const narrow = fitTable(COLUMNS, ROWS, { width: 30 });
  assert.match(narrow, /left out to fit 30 columns:\nflag, size;/);
  assert.match(narrow, /│ name +│ what it +│ count │/, 'name, the text and count stay');
  // A word longer than the room left is broken only as a last resort.
  assert.ok(widest(narrow.split('(left')[0]!) <= 30, narrow);
});

test('fitTable makes a table of empty heads headless and counts wide characters twice', () => {
  const text = fitTable([{ head: '' }, { head: '', align: 'right' }], [['页面', '3']]);
  assert.equal(text.split('\n').length, 3, 'top border, the row, bottom border');
  assert.equal(widest(text), displayWidth('│ 页面 │ 3 │'));
  assert.equal(displayWidth('页面'), 4);
});

test('fitTable breaks a long word before it squeezes the other text columns to a few words a line', () => {
  const path = 'see/a/very/long/path/that/is/one/word/of/sixty/characters/x';
  const prose = 'a sentence of many short words that says much more than fits in one line';
  const text = fitTable(
    [
      { head: 'what', wrap: true },
      { head: 'path', wrap: true },
      { head: 'prose', wrap: true },
    ],
    [['a b', path, prose]],
    { width: 50 },
  );
  assert.ok(widest(text) <= 50, text);
  // 50 columns less the frame (10) and "what" (4) leave 36: 18 each, not 24 for the path and 12 for the words.
  const cells = text
    .split('\n')[0]!
    .split('┬')
    .map((s) => s.length);
  assert.deepEqual(cells.slice(1), [20, 21], text);
  assert.ok(text.includes('│ a sentence of many │'), text);
});

test('fitTable keeps a row on one line when a cell holds a line break, as ps shows it', () => {
  // prctl(PR_SET_NAME, "evil\nname") is allowed: /proc/PID/comm then holds the newline.
  const text = fitTable([{ head: 'pid' }, { head: 'comm', wrap: true }], [['42', 'evil\nname\r']], { width: 40 });
  const lines = text.split('\n');
  assert.equal(lines.length, 5, text); // top, head, rule, one row, bottom
  assert.match(text, /│ 42 {2}│ evil\?name\? │/);
});
