import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bootId,
  identify,
  JOURNAL_FORMAT,
  JOURNAL_VERSION,
  JournalFile,
  type JournalOwner,
  listJournals,
  logRecovery,
  ownerState,
  parseJournal,
  readRecoveryLog,
} from './journal.ts';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'samepage-journal-'));
}

function me(): JournalOwner {
  const who = identify(process.pid);
  assert.ok(who !== undefined);
  return { ...who, boot_id: bootId(), command: 'test' };
}

test('JournalFile writes every change before it returns, numbering entries, and reads back what it wrote', () => {
  const dir = tempDir();
  try {
    const file = JournalFile.create(dir, me(), 7n);
    assert.match(file.path, new RegExp(`/owner-${process.pid}-\\d+-7\\.json$`));
    const onDisk = (): unknown => JSON.parse(readFileSync(file.path, 'utf8'));
    assert.deepEqual((onDisk() as { entries: unknown[] }).entries, []);

    const ids = file.add([
      { kind: 'sysfs', path: '/sys/kernel/mm/ksm/run', original: '0', written: [] },
      { kind: 'merge_any', pid: 1234, start_time: '99', comm: 'python3', original: false, written: true },
    ]);
    assert.deepEqual(ids, [1, 2]);
    const run = file.entry(1);
    assert.ok(run?.kind === 'sysfs');
    file.update({ ...run, written: ['2', '1'] });
    file.remove([2]);
    const again = JournalFile.load(file.path);
    assert.ok(typeof again !== 'string');
    assert.deepEqual(again.entries, [
      { id: 1, kind: 'sysfs', path: '/sys/kernel/mm/ksm/run', original: '0', written: ['2', '1'] },
    ]);
    assert.equal((onDisk() as { format: string }).format, JOURNAL_FORMAT);
    // Ids are never reused, so a late settle cannot hit a newer entry.
    assert.deepEqual(
      file.add([{ kind: 'sysfs', path: '/sys/kernel/mm/ksm/sleep_millisecs', original: '20', written: [] }]),
      [3],
    );
    // Written aside and renamed: no temporary file is left.
    assert.deepEqual(readdirSync(dir), [file.path.slice(dir.length + 1)]);
    file.delete();
    assert.equal(JournalFile.load(file.path), 'gone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseJournal refuses another version and a damaged file, saying which', () => {
  const good = {
    format: JOURNAL_FORMAT,
    version: JOURNAL_VERSION,
    owner: { pid: 1, start_time: '5', boot_id: 'b', command: 'x' },
    next_id: 1,
    entries: [],
  };
  assert.equal(parseJournal(JSON.stringify(good)).ok, true);
  const v2 = parseJournal(JSON.stringify({ ...good, version: 2 }));
  assert.ok(!v2.ok && /format version 2; this samepage reads version 1/.test(v2.problem));
  const torn = parseJournal('{"format":"samepage-jou');
  assert.ok(!torn.ok && /^not JSON/.test(torn.problem));
  const odd = parseJournal(JSON.stringify({ ...good, entries: [{ id: 1, kind: 'reboot' }] }));
  assert.ok(!odd.ok && /not a samepage journal: entries\.0/.test(odd.problem));
});

test('ownerState: this process is alive; the same pid with another start time (a reused pid) is dead; another boot is earlier-boot', async () => {
  const owner = me();
  assert.equal(ownerState(owner), 'alive');
  assert.equal(ownerState({ ...owner, start_time: String(Number(owner.start_time) + 1) }), 'dead');
  assert.equal(ownerState({ ...owner, boot_id: 'another-boot' }), 'earlier-boot');

  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await once(child, 'spawn');
  const who = identify(child.pid!);
  assert.ok(who !== undefined);
  const owned: JournalOwner = { ...who, boot_id: bootId(), command: 'sleep' };
  assert.equal(ownerState(owned), 'alive');
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal(ownerState(owned), 'dead');
});

test('listJournals lists journal files only, oldest session first, and nothing for a missing directory', () => {
  const dir = tempDir();
  try {
    for (const name of [
      'owner-5-9-30.json',
      'owner-4-9-12.json',
      'owner-4-9-12.json.claim',
      'owner-4-9-12.json.88.tmp',
      'recovered.log',
    ])
      writeFileSync(join(dir, name), '');
    assert.deepEqual(listJournals(dir), [join(dir, 'owner-4-9-12.json'), join(dir, 'owner-5-9-30.json')]);
    assert.deepEqual(listJournals(join(dir, 'missing')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the recovery log appends one record per recovery and reads them back in order', () => {
  const dir = tempDir();
  try {
    logRecovery(dir, { n: 1 });
    logRecovery(dir, { n: 2 });
    writeFileSync(join(dir, 'recovered.log'), `${readFileSync(join(dir, 'recovered.log'), 'utf8')}not json\n`);
    assert.deepEqual(readRecoveryLog(dir), [{ n: 1 }, { n: 2 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
