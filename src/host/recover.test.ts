/**
 * Recovery on a fake /sys/kernel/mm/ksm (test/fake_ksm.ts: the kernel's store rules) and a
 * temporary journal directory: nothing here touches the live machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fakeKsm, type FakeKsm, state, TUNED } from '../../test/fake_ksm.ts';
import { bootId, identify, JournalFile, type JournalOwner, readRecoveryLog } from './journal.ts';
import { LiveChanges } from './live_changes.ts';
import { journalSysfsWrite, type LiveEnv, shownValue, trackSysfs, writeSysfsJournaled } from './live_writes.ts';
import { recoverJournals, requireJournalFile, viewJournals } from './recover.ts';
import { restoreEntries, type RestorePlaces } from './restore.ts';

interface Setup {
  readonly fake: FakeKsm;
  readonly dir: string;
  readonly env: LiveEnv;
  readonly places: RestorePlaces;
  readonly path: (file: string) => string;
  readonly done: () => void;
}

function setup(values: Readonly<Record<string, string>> = TUNED): Setup {
  const fake = fakeKsm(values);
  const dir = mkdtempSync(join(tmpdir(), 'samepage-journal-'));
  return {
    fake,
    dir,
    env: { io: fake.io },
    places: { ksmDir: fake.dir, sysRoot: dirname(fake.dir) },
    path: (file) => join(fake.dir, file),
    done: () => {
      fake.remove();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** This process's pid with a start time it never had: what a journal of a dead owner whose pid was reused looks like. */
function reusedPidOwner(): JournalOwner {
  const who = identify(process.pid)!;
  return {
    pid: who.pid,
    start_time: String(Number(who.start_time) + 12345),
    boot_id: bootId(),
    command: 'samepage run x.yaml --backend kernel',
  };
}

/** A dead owner's journal as a kernel-backend run leaves it when killed mid-wait. */
function killedRun(s: Setup, owner = reusedPidOwner()): JournalFile {
  const file = JournalFile.create(s.dir, owner, 1n);
  trackSysfs(file, Object.keys(TUNED).map(s.path), s.env);
  for (const [f, v] of [
    ['run', '2'],
    ['run', '0'],
    ['pages_to_scan', '10'],
    ['sleep_millisecs', '100'],
    ['max_page_sharing', '10'],
    ['run', '1'],
  ] as const)
    assert.equal(writeSysfsJournaled(file, s.path(f), v, s.env), 0, `${f}=${v}`);
  return file;
}

test('a dead owner is recognised by its start time even when its pid is alive again (a reused pid)', () => {
  const s = setup();
  try {
    const stale = killedRun(s);
    const live = JournalFile.create(s.dir, { ...identify(process.pid)!, boot_id: bootId(), command: 'me' }, 2n);
    live.add([{ kind: 'sysfs', path: s.path('sleep_millisecs'), original: '20', written: ['100'] }]);
    assert.deepEqual(
      viewJournals(s.dir).map((v) => [v.journal, v.state]),
      [
        [stale.path, 'dead'],
        [live.path, 'alive'],
      ],
    );
    const reports = recoverJournals({ dir: s.dir, by: 'test', env: s.env, places: s.places });
    assert.deepEqual(
      reports.map((r) => [r.journal, r.state]),
      [[stale.path, 'dead']],
    );
    // The live owner's journal is its own: untouched, although the file holds a value it lists.
    assert.ok(existsSync(live.path));
    assert.equal(existsSync(stale.path), false);
  } finally {
    s.done();
  }
});

test("recovery puts back what samepage wrote, in the kernel's order, and leaves a person's later value alone", () => {
  const s = setup();
  try {
    const file = killedRun(s);
    // A person sets sleep_millisecs while samepage runs: neither the original nor samepage's value.
    s.fake.set('sleep_millisecs', '500');
    s.fake.log.length = 0;
    const [report] = recoverJournals({ dir: s.dir, by: 'test', env: s.env, places: s.places });
    assert.ok(report !== undefined);
    assert.deepEqual(state(s.fake), { ...TUNED, sleep_millisecs: '500' });
    const by = Object.fromEntries(report.outcomes.map((o) => [o.target.slice(s.fake.dir.length + 1), o.result]));
    assert.deepEqual(by, {
      // run held 1, its original, when the owner died (inside a wait); it went to 2 and back.
      run: 'unchanged',
      pages_to_scan: 'restored',
      sleep_millisecs: 'kept',
      max_page_sharing: 'restored',
      merge_across_nodes: 'unchanged',
      advisor_mode: 'unchanged',
      advisor_min_pages_to_scan: 'unchanged',
      advisor_max_pages_to_scan: 'unchanged',
    });
    const kept = report.outcomes.find((o) => o.result === 'kept');
    assert.match(
      kept?.detail ?? '',
      /left at 500, which someone wrote after samepage \(samepage wrote 100; the original was 20\)/,
    );
    // run=2 first (max_page_sharing needs it), run last; sleep_millisecs never written.
    assert.equal(s.fake.log[0], 'run=2');
    assert.equal(s.fake.log.at(-1), 'run=1');
    assert.ok(!s.fake.log.some((w) => w.startsWith('sleep_millisecs=')), s.fake.log.join(' '));
    assert.equal(report.left, 0);
    assert.equal(existsSync(file.path), false);
    assert.deepEqual(
      readRecoveryLog(s.dir).map((r) => (r as { by: string; state: string }).state),
      ['dead'],
    );
  } finally {
    s.done();
  }
});

/**
 * A dead owner's journal of `run` alone, from 0 to 1 (`journalRun` makes the change, as
 * samepage would), recovered: run alone is written back.
 */
function assertRunAloneRestored(journalRun: (file: JournalFile, s: Setup) => void): void {
  const s = setup({ ...TUNED, run: '0' });
  try {
    const file = JournalFile.create(s.dir, reusedPidOwner(), 1n);
    trackSysfs(file, [s.path('run')], s.env);
    journalRun(file, s);
    s.fake.log.length = 0;
    const [report] = recoverJournals({ dir: s.dir, by: 'test', env: s.env, places: s.places });
    assert.deepEqual(s.fake.log, ['run=0']);
    assert.deepEqual(
      report?.outcomes.map((o) => [o.result, o.found, o.original]),
      [['restored', '1', '0']],
    );
  } finally {
    s.done();
  }
}

test('a journal of `run` alone is restored by writing run alone, without the run=2 that would unmerge the machine', () => {
  assertRunAloneRestored((file, s) => writeSysfsJournaled(file, s.path('run'), '1', s.env));
});

test("a value journaled for another writer (the thread that holds ksmd) is restored as samepage's, and journaling writes nothing", () => {
  assertRunAloneRestored((file, s) => {
    s.fake.log.length = 0;
    journalSysfsWrite(file, s.path('run'), '1', s.env);
    assert.deepEqual(s.fake.log, []);
    // The other writer's write, which the journal does not see made.
    assert.equal(s.fake.io.write(s.path('run'), '1'), 0);
  });
});

test('pages_to_scan moved by a scan-time advisor that samepage switched on is restored, not taken for a person', () => {
  const s = setup();
  try {
    const file = JournalFile.create(s.dir, reusedPidOwner(), 1n);
    trackSysfs(file, Object.keys(TUNED).map(s.path), s.env);
    writeSysfsJournaled(file, s.path('advisor_mode'), 'scan-time', s.env);
    // The advisor then tunes pages_to_scan by itself after a full scan.
    s.fake.set('pages_to_scan', '1234');
    const [report] = recoverJournals({ dir: s.dir, by: 'test', env: s.env, places: s.places });
    assert.deepEqual(state(s.fake), TUNED);
    assert.deepEqual(
      report?.outcomes
        .filter((o) => o.result !== 'unchanged')
        .map((o) => [o.target.slice(s.fake.dir.length + 1), o.result]),
      [
        ['pages_to_scan', 'restored'],
        ['advisor_mode', 'restored'],
      ],
    );
  } finally {
    s.done();
  }
});

test('a restore that keeps failing stays journaled for a later try; the next one finishes it', () => {
  const s = setup();
  try {
    const file = killedRun(s);
    s.fake.refuse.set('max_page_sharing', -16);
    const [first] = recoverJournals({ dir: s.dir, by: 'test', env: s.env, places: s.places });
    assert.equal(first?.left, 1);
    assert.match(first?.outcomes.find((o) => o.result === 'failed')?.detail ?? '', /still 10, wanted 256 \(EBUSY\)/);
    assert.ok(existsSync(file.path));
    s.fake.refuse.delete('max_page_sharing');
    const [second] = recoverJournals({ dir: s.dir, by: 'test', env: s.env, places: s.places });
    assert.deepEqual(
      second?.outcomes.map((o) => [o.target.slice(s.fake.dir.length + 1), o.result]),
      [['max_page_sharing', 'restored']],
    );
    assert.deepEqual(state(s.fake), TUNED);
    assert.equal(existsSync(file.path), false);
  } finally {
    s.done();
  }
});

test('a journal from an earlier boot is discarded without a write; a damaged one is reported and kept; one being recovered is left to its recoverer', () => {
  const s = setup();
  try {
    const old = killedRun(s, { ...reusedPidOwner(), boot_id: 'an-earlier-boot' });
    const damaged = join(s.dir, 'owner-1-1-5.json');
    writeFileSync(damaged, '{"format":"samepage-jour');
    s.fake.log.length = 0;
    const reports = recoverJournals({ dir: s.dir, by: 'test', env: s.env, places: s.places });
    assert.deepEqual(
      reports.map((r) => [r.journal, r.state]),
      [
        [old.path, 'earlier-boot'],
        [damaged, 'damaged'],
      ],
    );
    assert.deepEqual(s.fake.log, []);
    assert.equal(existsSync(old.path), false);
    assert.ok(existsSync(damaged));

    const busy = killedRun(s);
    // Claimed by a live process (this one, as far as the claim file says).
    writeFileSync(`${busy.path}.claim`, `${process.pid}\n`);
    const [waited] = recoverJournals({
      dir: s.dir,
      only: busy.path,
      by: 'test',
      env: s.env,
      places: s.places,
      claimWaitMs: 100,
    });
    assert.equal(waited?.state, 'busy');
    assert.match(waited?.problem ?? '', new RegExp(`being recovered by process ${process.pid}`));
    assert.ok(existsSync(busy.path));
  } finally {
    s.done();
  }
});

test('a journal entry for a file outside /sys/kernel/mm is refused, whatever the journal says', () => {
  const s = setup();
  try {
    const file = JournalFile.create(s.dir, reusedPidOwner(), 1n);
    const outside = join(s.dir, 'not-sysfs');
    writeFileSync(outside, '1\n');
    file.add([{ kind: 'sysfs', path: outside, original: '0', written: ['1'] }]);
    const [report] = recoverJournals({
      dir: s.dir,
      by: 'test',
      env: s.env,
      places: { ksmDir: s.fake.dir, sysRoot: s.fake.dir },
    });
    assert.deepEqual(
      report?.outcomes.map((o) => o.result),
      ['failed'],
    );
    assert.match(report?.outcomes[0]?.detail ?? '', /not under/);
  } finally {
    s.done();
  }
});

test('LiveChanges recovers dead owners before it opens, journals each write, and closes to nothing', () => {
  const s = setup();
  try {
    killedRun(s);
    const recovered: string[] = [];
    const changes = LiveChanges.open({
      dir: s.dir,
      watchdog: false,
      env: s.env,
      places: s.places,
      onRecovered: (r) => recovered.push(r.state),
      processEnv: {},
    });
    assert.deepEqual(recovered, ['dead']);
    // What the next run then saves as original is the machine as it was before the killed run.
    changes.track(Object.keys(TUNED).map(s.path));
    assert.deepEqual(
      Object.fromEntries(
        changes.entries.map((e) => (e.kind === 'sysfs' ? [e.path.slice(s.fake.dir.length + 1), e.original] : [])),
      ),
      TUNED,
    );
    assert.equal(changes.writeSysfs(s.path('pages_to_scan'), '42'), 0);
    const entry = changes.entries.find((e) => e.kind === 'sysfs' && e.path.endsWith('/pages_to_scan'));
    assert.deepEqual(entry?.kind === 'sysfs' ? entry.written : undefined, ['42']);
    // Journaled as the file will show it: the kernel parses numbers (kstrtoul) and selectors by word.
    assert.equal(shownValue('+0042\n'), '42');
    assert.equal(shownValue('scan-time\n'), 'scan-time');
    const outcomes = changes.restore();
    assert.equal(outcomes.filter((o) => o.result === 'restored').length, 1);
    assert.deepEqual(state(s.fake), TUNED);
    changes.close();
    assert.deepEqual(viewJournals(s.dir), []);
  } finally {
    s.done();
  }
});

test('requireJournalFile: a journal a person names must be there and be a journal', () => {
  assert.throws(
    () => requireJournalFile('/nonexistent/samepage-journal.json'),
    /--journal \/nonexistent\/samepage-journal\.json: no such file \(samepage's journals are in \/run\/samepage\)/,
  );
  const s = setup();
  try {
    const journal = killedRun(s);
    assert.doesNotThrow(() => requireJournalFile(journal.path));
    const other = join(s.dir, 'passwd');
    writeFileSync(other, 'root:x:0:0:root:/root:/bin/bash\n');
    assert.throws(() => requireJournalFile(other), /passwd is not a journal samepage can read: not JSON/);
    writeFileSync(other, '{"version": 1}\n');
    assert.throws(() => requireJournalFile(other), /passwd is not a journal samepage can read: not a samepage journal/);
    assert.throws(() => requireJournalFile(s.dir), /is not a journal samepage can read: unreadable \(.*EISDIR/);
  } finally {
    s.done();
  }
});

/** A dead kernel run's journal that names its agents' KSM items, with knobs whose restore needs no run=2 of its own. */
function killedRunWithItems(s: Setup): JournalFile {
  const file = JournalFile.create(s.dir, reusedPidOwner(), 1n);
  trackSysfs(file, Object.keys(TUNED).map(s.path), s.env);
  file.add([{ kind: 'ksm_items' }]);
  for (const [f, v] of [
    ['run', '0'],
    ['pages_to_scan', '10'],
    ['run', '1'],
  ] as const)
    assert.equal(writeSysfsJournaled(file, s.path(f), v, s.env), 0, `${f}=${v}`);
  s.fake.log.length = 0;
  return file;
}

/** The KSM users a reap sees, one answer a call, the last one repeated. */
function users(...answers: ReadonlyArray<readonly string[]>): { env: (s: Setup) => LiveEnv; calls: () => number } {
  let calls = 0;
  return {
    env: (s) => ({ ...s.env, ksmUsers: () => answers[Math.min(calls++, answers.length - 1)] ?? [] }),
    calls: () => calls,
  };
}

/** `body` over a fresh fake KSM and killedRunWithItems's journal, removed afterwards. */
function withItemsRun(body: (s: Setup, file: JournalFile) => void): void {
  const s = setup();
  try {
    body(s, killedRunWithItems(s));
  } finally {
    s.done();
  }
}

test("KSM's items of a dead run's processes are reaped with run=2 once nobody uses KSM, and run goes back after", () => {
  withItemsRun((s) => {
    // Its agents, SIGKILLed, still use KSM at the first two readings.
    const u = users(['41 (samepage-agent)'], ['41 (samepage-agent)'], []);
    const [report] = recoverJournals({ dir: s.dir, by: 'test', env: u.env(s), places: s.places });
    assert.equal(u.calls(), 3);
    assert.deepEqual(s.fake.log, ['run=2', 'pages_to_scan=100', 'run=1']);
    assert.equal(s.fake.get('pages_shared'), '0');
    assert.deepEqual(state(s.fake), TUNED);
    const reap = report?.outcomes.find((o) => o.kind === 'ksm_items');
    assert.equal(reap?.result, 'restored');
    assert.match(reap?.detail ?? '', /\(pages_shared 7\) reaped with run=2/);
    assert.equal(report?.left, 0);
  });
});

test("KSM's items are left to ksmd where another process still uses KSM: run=2 would unmerge its pages", () => {
  withItemsRun((s) => {
    const [report] = recoverJournals({
      dir: s.dir,
      by: 'test',
      env: users(['77 (python3)']).env(s),
      places: s.places,
    });
    assert.deepEqual(s.fake.log, ['pages_to_scan=100', 'run=1']);
    assert.equal(s.fake.get('pages_shared'), '7');
    const reap = report?.outcomes.find((o) => o.kind === 'ksm_items');
    assert.equal(reap?.result, 'kept');
    assert.match(reap?.detail ?? '', /not reaped, since 77 \(python3\) use KSM/);
    assert.equal(report?.left, 0);
  });
});

test("KSM's items: with none counted, the restore writes no run=2 and asks nobody", () => {
  withItemsRun((s) => {
    s.fake.set('pages_shared', '0');
    const u = users(['77 (python3)']);
    const [report] = recoverJournals({ dir: s.dir, by: 'test', env: u.env(s), places: s.places });
    assert.deepEqual(s.fake.log, ['pages_to_scan=100', 'run=1']);
    assert.equal(u.calls(), 0);
    assert.equal(report?.outcomes.find((o) => o.kind === 'ksm_items')?.result, 'unchanged');
  });
});

test("KSM's items: a restore of that entry alone still puts back the run its run=2 changed", () => {
  withItemsRun((s, file) => {
    s.fake.set('run', '0');
    const changes = file.entries.filter((e) => e.kind === 'ksm_items').map((e) => e.id);
    const env = users([]).env(s);
    assert.ok(restoreEntries(file, env, s.places, changes).every((o) => o.result !== 'failed'));
    assert.deepEqual(s.fake.log, ['run=2', 'run=1']);
    assert.equal(s.fake.get('run'), '1');
  });
});
