/** The command line's value parsers: what each accepts and the words it refuses with. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import { parsePolicies } from '../backends/model/policy.ts';
import { setRequest, targetRequest } from '../host/plus_control.ts';
import { parseDuration } from '../shell/duration.ts';
import { checked, wholeNumber } from './args.ts';

test('checked: the value, the layer\'s own reason, or "Expected ..., got" when the layer gives none', () => {
  const duration = checked(parseDuration, 'a duration such as 90s');
  assert.equal(duration('2m'), 120_000);
  assert.throws(() => duration('soon'), new InvalidArgumentError('Expected a duration such as 90s, got "soon".'));
  const policies = checked(parsePolicies, 'policies');
  assert.deepEqual(policies(' ksm , plus'), ['ksm', 'plus']);
  assert.throws(() => policies('ksm,foo'), /^InvalidArgumentError: Unknown policy "foo": use ksm, ksm\+, plus/);
  assert.throws(() => policies('ksm+,ksm+'), /Policy "ksm\+" is given twice/);
});

test('plus add/remove/set requests: exactly one target; set needs knob=value (the daemon judges the rest)', () => {
  assert.deepEqual(targetRequest('add', { name: 'okular' }), { cmd: 'add', name: 'okular' });
  assert.deepEqual(targetRequest('remove', { name: undefined, pid: 42 }), { cmd: 'remove', pid: 42 });
  assert.deepEqual(targetRequest('add', { cgroup: '/a.slice' }), { cmd: 'add', cgroup: '/a.slice' });
  for (const bad of [{}, { name: 'x', pid: 2 }, { pid: 2, cgroup: '/a' }])
    assert.throws(() => targetRequest('add', bad), /Give one of NAME, --pid PID or --cgroup PATH/);
  assert.deepEqual(setRequest(' pages_to_scan = 2000 '), { cmd: 'set', knob: 'pages_to_scan', value: '2000' });
  assert.throws(() => setRequest('=5'), /Expected knob=value, got "=5"/);
});

test('wholeNumber says the limit when the digits are more than a double holds exactly', () => {
  const seed = wholeNumber('a non-negative integer');
  assert.equal(seed('42'), 42);
  assert.throws(() => seed('99999999999999999999999'), /at most 9007199254740991, got "99999999999999999999999"/);
  assert.throws(() => seed('1e3'), /Expected a non-negative integer, got "1e3"\./);
});
