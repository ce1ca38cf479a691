import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelComm } from './comm.ts';
import { parseProcessesToScan } from './processes_to_scan.ts';

test('parseProcessesToScan reads a sign and the rest as the name, blanks after the sign skipped', () => {
  assert.deepEqual(parseProcessesToScan('+ okular\n'), { add: true, name: 'okular' });
  assert.deepEqual(parseProcessesToScan('- okular'), { add: false, name: 'okular' });
  assert.deepEqual(parseProcessesToScan('+okular'), { add: true, name: 'okular' });
  assert.deepEqual(parseProcessesToScan('+  two'), { add: true, name: 'two' });
  assert.deepEqual(parseProcessesToScan('+\ttwo \n'), { add: true, name: 'two' });
  // A comm may hold blanks (Firefox's content processes are "Web Content").
  assert.deepEqual(parseProcessesToScan('+ a b'), { add: true, name: 'a b' });
  assert.deepEqual(parseProcessesToScan('+ Web Content\n'), { add: true, name: 'Web Content' });
  assert.deepEqual(parseProcessesToScan('+ 0123456789abcde'), { add: true, name: '0123456789abcde' }, '15 bytes fit');
});

test('parseProcessesToScan refuses no sign, an empty name, a name past 15 bytes and a second line', () => {
  for (const bad of [
    'okular',
    '* okular',
    '',
    '+',
    '+ ',
    '-\n',
    '+ \n',
    '+ 0123456789abcdef',
    '+ épiphany-browse',
    '+ a\nb',
  ]) {
    assert.equal(parseProcessesToScan(bad), undefined, JSON.stringify(bad));
  }
});

test('kernelComm cuts a name to the 15 bytes a comm keeps', () => {
  assert.equal(kernelComm('epiphany-browser'), 'epiphany-browse');
  assert.equal(kernelComm('okular'), 'okular');
});
