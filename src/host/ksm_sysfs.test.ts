import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { fakeKsm, state, TUNED } from '../../test/fake_ksm.ts';
import { MachineGuard } from './ksm_guard.ts';
import { holdKernelTestLock, takeKsmLock } from './ksm_lock.ts';
import {
  KSM_DIR,
  ksmUnusableReason,
  negErrno,
  parseSysfsValue,
  restorableValue,
  restoreKsm,
  saveKsm,
  selectedWord,
  type SysfsIo,
  writeSysfs,
} from './ksm_sysfs.ts';

test('selectedWord picks the bracketed choice of a selector file', () => {
  assert.equal(selectedWord('[none] scan-time\n'), 'none');
  assert.equal(selectedWord('none [scan-time]\n'), 'scan-time');
  assert.equal(selectedWord('always [madvise] never\n'), 'madvise');
  assert.equal(selectedWord('20\n'), '20');
});

test('parseSysfsValue gives numbers as numbers, including negative general_profit', () => {
  assert.equal(parseSysfsValue('36224\n'), 36224);
  assert.equal(parseSysfsValue('-640\n'), -640);
  assert.equal(parseSysfsValue('[none] scan-time\n'), 'none');
});

test('restorableValue writes a selector file back by its word', () => {
  assert.equal(restorableValue('none [scan-time]\n'), 'scan-time');
  assert.equal(restorableValue('100\n'), '100');
});

test('negErrno maps a Node fs error code to -errno', () => {
  assert.equal(negErrno(Object.assign(new Error('x'), { code: 'EINVAL', errno: -22 })), -22);
  assert.equal(negErrno(Object.assign(new Error('x'), { code: 'EBUSY', errno: -16 })), -16);
  assert.throws(() => negErrno(new Error('not a system error')));
});

test('saveKsm saves the owner-writable files only, a selector file by its word', () => {
  const fake = fakeKsm({ ...TUNED, advisor_mode: 'scan-time' });
  try {
    const saved = saveKsm(fake.dir, fake.io);
    assert.deepEqual(
      saved.map((s) => [basename(s.path), s.value]),
      Object.entries({ ...TUNED, advisor_mode: 'scan-time' }).sort(([a], [b]) => a.localeCompare(b)),
    );
    assert.ok(saved.every((s) => s.path.startsWith(`${fake.dir}/`)));
  } finally {
    fake.remove();
  }
});

test('restoreKsm writes run=2 first and run last, so max_page_sharing is accepted in between', () => {
  const fake = fakeKsm(TUNED);
  try {
    const saved = saveKsm(fake.dir, fake.io);
    // What a scenario leaves: other knobs, ksmd held, pages merged.
    fake.set('max_page_sharing', '2');
    fake.set('sleep_millisecs', '0');
    fake.set('run', '0');
    assert.deepEqual(restoreKsm(saved, fake.dir, fake.io), []);
    assert.equal(fake.log[0], 'run=2');
    assert.equal(fake.log.at(-1), 'run=1');
    assert.deepEqual(fake.log.slice(1, -1).sort(), ['max_page_sharing=256', 'sleep_millisecs=20']);
    assert.deepEqual(state(fake), TUNED);
  } finally {
    fake.remove();
  }
});

test('restoreKsm puts back knobs that need no unmerging without run=2, so other processes keep their merged pages', () => {
  const fake = fakeKsm(TUNED);
  try {
    const saved = saveKsm(fake.dir, fake.io);
    // What `samepage plus --ksm-set pages_to_scan=1000 --run` leaves while others have merged.
    fake.set('pages_shared', '49');
    fake.set('pages_to_scan', '1000');
    fake.set('sleep_millisecs', '5');
    fake.set('smart_scan', '0');
    fake.set('run', '0');
    assert.deepEqual(restoreKsm(saved, fake.dir, fake.io), []);
    assert.ok(!fake.log.includes('run=2'), fake.log.join(' '));
    assert.equal(fake.get('pages_shared'), '49');
    assert.deepEqual(state(fake), TUNED);
  } finally {
    fake.remove();
  }
});

test('restoreKsm retries an EBUSY while a killed process still maps KSM pages, sleeping between tries', () => {
  const fake = fakeKsm(TUNED);
  try {
    const saved = saveKsm(fake.dir, fake.io);
    fake.set('max_page_sharing', '10');
    // A process just SIGKILLed keeps its KSM pages mapped until its exit_mmap: run=2 cannot
    // unmerge them, so max_page_sharing stays EBUSY for the first few tries.
    let dying = 5;
    const sleeps: number[] = [];
    const io: SysfsIo = {
      read: fake.io.read,
      write: (path, value) => {
        if (basename(path) === 'max_page_sharing' && dying-- > 0) return -16;
        return fake.io.write(path, value);
      },
      sleepSync: (ms) => sleeps.push(ms),
    };
    assert.deepEqual(restoreKsm(saved, fake.dir, io), []);
    assert.equal(fake.get('max_page_sharing'), '256');
    assert.ok(sleeps.length >= 3 && sleeps.every((ms) => ms > 0), `slept ${sleeps.join(',')}`);
  } finally {
    fake.remove();
  }
});

test('restoreKsm leaves a saved none advisor and its pages_to_scan, switching the advisor off before pages_to_scan', () => {
  const fake = fakeKsm({ ...TUNED, pages_to_scan: '1234' });
  try {
    const saved = saveKsm(fake.dir, fake.io);
    fake.set('advisor_mode', 'scan-time');
    fake.set('pages_to_scan', '4321'); // where the advisor moved it
    assert.deepEqual(restoreKsm(saved, fake.dir, fake.io), []);
    assert.deepEqual(fake.log, ['advisor_mode=none', 'pages_to_scan=1234', 'run=1']);
    assert.deepEqual(state(fake), { ...TUNED, pages_to_scan: '1234' });
  } finally {
    fake.remove();
  }
});

test('restoreKsm gives a saved scan-time advisor back its own pages_to_scan through advisor_min_pages_to_scan', () => {
  const savedState = { ...TUNED, advisor_mode: 'scan-time', pages_to_scan: '777', advisor_min_pages_to_scan: '600' };
  for (const left of [
    { advisor_mode: 'none', pages_to_scan: '100' }, // what the kernel backend sets at start
    { advisor_mode: 'scan-time', pages_to_scan: '2000' }, // a scenario's advisor that moved it
  ]) {
    const fake = fakeKsm(savedState);
    try {
      const saved = saveKsm(fake.dir, fake.io);
      fake.set('advisor_mode', left.advisor_mode);
      fake.set('pages_to_scan', left.pages_to_scan);
      fake.set('advisor_min_pages_to_scan', '500');
      assert.deepEqual(restoreKsm(saved, fake.dir, fake.io), [], `from ${JSON.stringify(left)}`);
      assert.deepEqual(state(fake), savedState, `from ${JSON.stringify(left)}`);
      const tail = fake.log.slice(-4);
      assert.deepEqual(tail, [
        'advisor_min_pages_to_scan=777',
        'advisor_mode=scan-time',
        'advisor_min_pages_to_scan=600',
        'run=1',
      ]);
    } finally {
      fake.remove();
    }
  }
});

test('restoreKsm writes only run when nothing else differs, and reports a file that keeps refusing with its errno', () => {
  const fake = fakeKsm(TUNED);
  try {
    const saved = saveKsm(fake.dir, fake.io);
    assert.deepEqual(restoreKsm(saved, fake.dir, fake.io), []);
    assert.deepEqual(fake.log, ['run=1']);
    fake.set('sleep_millisecs', '5');
    fake.refuse.set('sleep_millisecs', -1);
    const problems = restoreKsm(saved, fake.dir, fake.io);
    assert.deepEqual(problems, [`${fake.dir}/sleep_millisecs=20 (EPERM)`]);
    // Retried once after the others.
    assert.equal(fake.log.filter((l) => l === 'sleep_millisecs=20').length, 2);
  } finally {
    fake.remove();
  }
});

const liveSkip = ksmUnusableReason();

test('restoreKsm on the live kernel brings back a scan-time advisor with its own pages_to_scan', {
  skip: liveSkip ?? false,
}, async () => {
  const releaseTests = await holdKernelTestLock();
  const releaseKsm = await takeKsmLock();
  const original = saveKsm();
  // The writes below are raw, since restoreKsm is what is tested; a guard journals every
  // KSM file's value first, so a signal or a SIGKILL in between still puts them back.
  const warnings: string[] = [];
  const guard = new MachineGuard({ killAgents: () => undefined, onWarning: (m) => warnings.push(m) });
  guard.arm(true, false);
  const set = (file: string, value: string): void =>
    assert.equal(writeSysfs(`${KSM_DIR}/${file}`, value), 0, `${file}=${value}`);
  const live = (): Record<string, string> => Object.fromEntries(saveKsm().map((s) => [basename(s.path), s.value]));
  try {
    // ksmd held, so the advisor cannot move pages_to_scan while the test looks at it.
    set('run', '2');
    set('run', '0');
    set('advisor_mode', 'none');
    set('max_page_sharing', '300');
    set('sleep_millisecs', '37');
    set('advisor_min_pages_to_scan', '777');
    set('advisor_mode', 'scan-time');
    set('advisor_min_pages_to_scan', '600');
    const target = live();
    assert.equal(target.pages_to_scan, '777', 'switching to scan-time sets pages_to_scan to advisor_min_pages_to_scan');
    assert.equal(
      writeSysfs(`${KSM_DIR}/pages_to_scan`, '777'),
      -22,
      'pages_to_scan refuses writes while the advisor runs',
    );
    const saved = saveKsm();

    // What the kernel backend writes at start: Linux's defaults.
    set('advisor_mode', 'none');
    const defaults: ReadonlyArray<readonly [string, string]> = [
      ['pages_to_scan', '100'],
      ['advisor_min_pages_to_scan', '500'],
      ['sleep_millisecs', '20'],
      ['max_page_sharing', '256'],
    ];
    for (const [f, v] of defaults) set(f, v);
    assert.deepEqual(restoreKsm(saved), []);
    assert.deepEqual(live(), target);

    // A scenario that ran the advisor itself, from another starting point.
    set('advisor_mode', 'none');
    set('advisor_min_pages_to_scan', '900');
    set('advisor_mode', 'scan-time');
    assert.deepEqual(restoreKsm(saved), []);
    assert.deepEqual(live(), target);
  } finally {
    const problems = restoreKsm(original);
    guard.release();
    releaseKsm();
    releaseTests();
    assert.deepEqual(problems, []);
    assert.deepEqual(warnings, []);
  }
  assert.deepEqual(live(), Object.fromEntries(original.map((s) => [basename(s.path), s.value])));
});
