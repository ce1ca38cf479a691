import { test } from 'node:test';
import assert from 'node:assert/strict';
import { notScenarioText, SNAPSHOT_MAGIC } from './file_kind.ts';

test('notScenarioText names a snapshot and binary data, and passes YAML and JSON text of any script', () => {
  assert.match(
    notScenarioText(Buffer.from(`${SNAPSHOT_MAGIC}\x02\x00\x00\x00`, 'latin1')) ?? '',
    /samepage snapshot.*predict/,
  );
  assert.match(notScenarioText(Buffer.from('\x7fELF\x02\x01\x01\x00', 'latin1')) ?? '', /^binary data/);
  assert.match(notScenarioText(Buffer.from([0x3b, 0xff, 0xfe, 0x41])) ?? '', /^binary data/, 'invalid UTF-8');
  assert.match(notScenarioText(Buffer.from('\uFEFFversion: 1\n', 'utf16le')) ?? '', /^UTF-16 text/);
  assert.equal(notScenarioText(Buffer.from('version: 1\nname: "测试 é"\nsteps: []\n')), undefined);
  assert.equal(notScenarioText(Buffer.from('\uFEFFversion: 1\n')), undefined, 'a UTF-8 BOM is text');
  assert.equal(notScenarioText(Buffer.from('{"version": 1}')), undefined);
  // A long file cut inside a character at the sniffed length is still text.
  const long = Buffer.from(`# ${'é'.repeat(3000)}\nversion: 1\n`);
  assert.equal(notScenarioText(long), undefined);
});
