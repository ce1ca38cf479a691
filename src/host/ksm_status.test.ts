import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byProfit, hasKsmActivity, parseKsmStatText, readKsmProcesses } from './ksm_stat.ts';
import { readKsmStatus } from './ksm_status.ts';
import { parseSysfsValue, readKsmSysfs } from './ksm_sysfs.ts';

test('parseSysfsValue reads numbers as numbers and a selector file as its selected word', () => {
  assert.equal(parseSysfsValue('256\n'), 256);
  assert.equal(parseSysfsValue('-960\n'), -960);
  assert.equal(parseSysfsValue('[none] scan-time\n'), 'none');
  assert.equal(parseSysfsValue('none [scan-time]\n'), 'scan-time');
});

test('parseKsmStatText reads the six fields of Linux 6.18, yes/no as booleans', () => {
  const s = parseKsmStatText(
    7,
    'python3',
    'ksm_rmap_items 99\nksm_zero_pages 0\nksm_merging_pages 16384\nksm_process_profit 67102464\nksm_merge_any: yes\nksm_mergeable: yes\n',
  );
  assert.deepEqual(s, {
    pid: 7,
    comm: 'python3',
    ksm_rmap_items: 99,
    ksm_zero_pages: 0,
    ksm_merging_pages: 16384,
    ksm_process_profit: 67102464,
    ksm_merge_any: true,
    ksm_mergeable: true,
  });
  const idle = parseKsmStatText(
    1,
    'init',
    'ksm_rmap_items 0\nksm_zero_pages 0\nksm_merging_pages 0\nksm_process_profit 0\nksm_merge_any: no\nksm_mergeable: no\n',
  );
  assert.equal(hasKsmActivity(idle), false);
  assert.equal(hasKsmActivity({ ...idle, ksm_mergeable: true }), true);
  assert.equal(hasKsmActivity({ ...idle, ksm_process_profit: -64 }), true);
});

test('readKsmProcesses keeps active processes by profit descending and skips vanished ones', () => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-proc-'));
  try {
    const proc = (pid: number, comm: string | undefined, stat: string | undefined): void => {
      mkdirSync(join(dir, String(pid)));
      if (comm !== undefined) writeFileSync(join(dir, String(pid), 'comm'), `${comm}\n`);
      if (stat !== undefined) writeFileSync(join(dir, String(pid), 'ksm_stat'), stat);
    };
    const stat = (items: number, profit: number, any: boolean): string =>
      `ksm_rmap_items ${items}\nksm_zero_pages 0\nksm_merging_pages 0\nksm_process_profit ${profit}\nksm_merge_any: ${any ? 'yes' : 'no'}\nksm_mergeable: no\n`;
    proc(10, 'low', stat(5, -320, false));
    proc(11, 'high', stat(5, 4096, false));
    proc(12, 'idle', stat(0, 0, false));
    proc(13, 'any', stat(0, 0, true));
    proc(14, 'gone', undefined); // exited before its ksm_stat was read
    proc(15, undefined, stat(1, 1, false)); // exited between the two reads
    mkdirSync(join(dir, 'self'));
    const got = readKsmProcesses(dir);
    assert.deepEqual(
      got.map((p) => [p.pid, p.comm]),
      [
        [11, 'high'],
        [13, 'any'],
        [10, 'low'],
      ],
    );
    assert.deepEqual([...got].sort(byProfit), got);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readKsmStatus reads every file of the live /sys/kernel/mm/ksm', (t) => {
  if (!existsSync('/sys/kernel/mm/ksm')) {
    t.skip('/sys/kernel/mm/ksm is missing (no KSM in this kernel)');
    return;
  }
  const s = readKsmStatus();
  assert.equal(typeof s.ksm.pages_sharing, 'number');
  assert.equal(typeof s.ksm.run, 'number');
  if ('advisor_mode' in s.ksm) assert.match(String(s.ksm.advisor_mode), /^(none|scan-time)$/);
  assert.deepEqual(Object.keys(readKsmSysfs()).sort(), Object.keys(s.ksm).sort());
  assert.deepEqual([...s.processes].sort(byProfit), s.processes);
});
