import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JournalView, RecoveryReport } from '../host/recover.ts';
import { entryText, renderJournalViews, renderRecoveries } from './recovery.ts';

const owner = { pid: 42, start_time: '7', boot_id: 'b', command: 'samepage.js run x.yaml --backend kernel' };

test('renderRecoveries shows each outcome of a recovery, and what stays journaled', () => {
  const report: RecoveryReport = {
    journal: '/run/samepage/owner-42-7-1.json',
    owner,
    state: 'dead',
    outcomes: [
      {
        id: 1,
        kind: 'sysfs',
        target: '/sys/kernel/mm/ksm/run',
        result: 'restored',
        found: '1',
        original: '0',
        detail: '/sys/kernel/mm/ksm/run: 1 -> 0',
      },
      {
        id: 2,
        kind: 'sysfs',
        target: '/sys/kernel/mm/ksm/sleep_millisecs',
        result: 'kept',
        detail: '/sys/kernel/mm/ksm/sleep_millisecs: left at 500, which someone wrote after samepage',
      },
    ],
    left: 1,
    by: 'samepage kernel recover',
    recoverer: 5,
    time: '2025-01-01T00:00:00.000Z',
    duration_ms: 12,
  };
  const text = renderRecoveries([report], { color: false });
  assert.match(
    text,
    /^Recovered samepage process 42 \(samepage\.js run x\.yaml --backend kernel\), which died leaving 2 changes journaled \(12 ms\)$/m,
  );
  assert.match(text, /restored\s*│\s*\/sys\/kernel\/mm\/ksm\/run\s*│\s*1 -> 0/);
  assert.match(text, /kept\s*│\s*\/sys\/kernel\/mm\/ksm\/sleep_millisecs\s*│\s*left at 500/);
  assert.match(text, /1 change could not be undone and stay in \/run\/samepage\/owner-42-7-1\.json/);
  const narrow = renderRecoveries([report], { color: false, width: 80 });
  for (const line of narrow.split('\n')) assert.ok([...line].length <= 80, `${[...line].length}: ${line}`);
  assert.match(
    narrow,
    /│ kept +│ \/sys\/kernel\/mm\/ksm\/sleep_millisecs │ left at 500, which someone │\n│ +│ +│ wrote after samepage +│/,
  );
  assert.equal(renderRecoveries([]), 'Nothing to recover: no journal of a dead samepage process is left.\n');
});

test('renderJournalViews marks a dead owner as pending recovery and lists its entries; empty journals are not shown', () => {
  const views: JournalView[] = [
    {
      journal: '/run/samepage/owner-42-7-1.json',
      owner,
      state: 'dead',
      entries: [
        { id: 1, kind: 'sysfs', path: '/sys/kernel/mm/ksm/run', original: '0', written: ['2', '1'] },
        { id: 2, kind: 'madvise', pid: 9, start_time: '3', comm: 'python3', ranges: [[4096, 8192]] },
      ],
    },
    { journal: '/run/samepage/owner-43-8-1.json', owner: { ...owner, pid: 43 }, state: 'alive', entries: [] },
  ];
  const text = renderJournalViews(views, { color: false });
  assert.equal(
    text,
    "samepage's live changes (journal, /run/samepage)\n" +
      'samepage process 42 (samepage.js run x.yaml --backend kernel): DEAD: pending recovery (samepage kernel recover)\n' +
      '  /sys/kernel/mm/ksm/run: originally 0; samepage wrote 2, 1\n' +
      '  1 range (8.0 KiB) of process 9 (python3) madvised MADV_MERGEABLE by samepage\n',
  );
  assert.equal(
    renderJournalViews(views, { color: false, width: 60 }),
    "samepage's live changes (journal, /run/samepage)\n" +
      'samepage process 42 (samepage.js run x.yaml --backend\n' +
      '  kernel): DEAD: pending recovery (samepage kernel recover)\n' +
      '  /sys/kernel/mm/ksm/run: originally 0; samepage wrote 2, 1\n' +
      '  1 range (8.0 KiB) of process 9 (python3) madvised\n' +
      '    MADV_MERGEABLE by samepage\n',
  );
  assert.equal(renderJournalViews([views[1]!]), '');
  assert.equal(
    entryText({ id: 3, kind: 'merge_any', pid: 9, start_time: '3', comm: 'py', original: false, written: true }),
    'MERGE_ANY of process 9 (py): originally no; samepage sets yes',
  );
});
