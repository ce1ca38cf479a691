import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayWidth, oneLine, wrapText } from './text_width.ts';

test('displayWidth counts what a terminal shows: escapes none, wide characters two', () => {
  assert.equal(displayWidth('pages_sharing'), 13);
  assert.equal(displayWidth('\u001b[1mbold\u001b[22m'), 4);
  assert.equal(displayWidth('内存去重'), 8);
  assert.equal(displayWidth('e\u0301'), 1, 'a combining accent takes no column');
  assert.equal(displayWidth('│ Σ µs –'), 8);
});

test('wrapText breaks at spaces, inside a word only when it is wider than the line', () => {
  assert.deepEqual(wrapText('section 5.1.1: merged after about 65 s', 16), [
    'section 5.1.1:',
    'merged after',
    'about 65 s',
  ]);
  assert.deepEqual(wrapText('scenarios/thesis/5.3-desktop-mix.yaml', 12), [
    'scenarios/th',
    'esis/5.3-des',
    'ktop-mix.yam',
    'l',
  ]);
  assert.deepEqual(wrapText('two\nlines', 20), ['two', 'lines']);
  assert.deepEqual(wrapText('', 5), ['']);
});

test('oneLine shows line breaks as ? and leaves the rest as it is', () => {
  assert.equal(oneLine('evil\nname\r'), 'evil?name?');
  assert.equal(oneLine('kworker/0:1 ü'), 'kworker/0:1 ü');
});
