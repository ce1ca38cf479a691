/**
 * `samepage shell`: the thesis's Figure 5-9 script runs as written and fails where bash
 * fails (its missing slash after ksm+), the example then merges the Table 5-1 session, and
 * refused KSM+ writes fail through echo as bash prints them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from './main.ts';
import { capture } from '../term/testing.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'thesis-figure-5-9.sh');

/** Figure 5-9 of the thesis, lines 3 to 12, as printed there. */
const FIGURE_5_9 = [
  'KSMPLUS_DIR=/sys/kernel/mm/ksm+',
  'PROS2SCAN=${KSMPLUS_DIR}processes_to_scan',
  'RUN=${KSMPLUS_DIR}run',
  '',
  'echo "+ okular" > ${PROS2SCAN}',
  'echo "+ epiphany-browse" > ${PROS2SCAN}',
  'echo "+ soffice.bin" > ${PROS2SCAN}',
  'echo "+ gnome-terminal" > ${PROS2SCAN}',
  'echo "+ bash" > ${PROS2SCAN}',
  'echo 1 > ${RUN}',
].join('\n');

async function shell(script: string): Promise<{ code: number; out: string; err: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-shell-'));
  try {
    const file = join(dir, 'script.sh');
    writeFileSync(file, script);
    const c = capture();
    const code = await main(['shell', file], c.io);
    return { code, out: c.out(), err: c.err() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('examples/thesis-figure-5-9.sh holds Figure 5-9 unchanged and shows KSM+ merging the Table 5-1 session', async () => {
  const text = readFileSync(EXAMPLE, 'utf8');
  assert.ok(text.startsWith('#!/bin/bash\n'));
  assert.ok(text.includes(`\n${FIGURE_5_9}\n`), "the figure's lines 3-12 as printed");
  const c = capture();
  assert.equal(await main(['shell', EXAMPLE], c.io), 0, c.err());
  // Table 5-1's savings, 4.6 + 3.1 + 0.2 + 0.1 + 0.2 + 0.1 + 0.2 + 0.2 MB in 4 KiB pages.
  const [sharing] = c.out().split('\n');
  assert.equal(
    sharing,
    String([4.6, 3.1, 0.2, 0.1, 0.2, 0.1, 0.2, 0.2].reduce((n, mb) => n + Math.round(mb * 256), 0)),
  );
  assert.match(
    c.out(),
    /^ksm_merging_pages 1183$/m,
    'okular: 1178 pages saved need 1178 + 5 copies (max_page_sharing 256)',
  );
});

// bash on Linux 6.18 (no KSM+ there, but the figure's paths are missing on any kernel):
// sysfs cannot create /sys/kernel/mm/ksm+processes_to_scan, so each write says EACCES.
test("the figure's ${KSMPLUS_DIR}processes_to_scan (no slash) fails as bash fails, and changes nothing", async () => {
  const r = await shell(`${FIGURE_5_9}\ncat /sys/kernel/mm/ksm+/processes_to_scan\ncat /sys/kernel/mm/ksm+/run\n`);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '0\n');
  assert.equal(
    r.err,
    `${'bash: /sys/kernel/mm/ksm+processes_to_scan: Permission denied\n'.repeat(5)}bash: /sys/kernel/mm/ksm+run: Permission denied\n`,
  );
});

test('a bad processes_to_scan write fails through echo with EINVAL, as bash prints it, and changes nothing', async () => {
  const r = await shell(
    [
      'echo "+ okular" > /sys/kernel/mm/ksm+/processes_to_scan',
      'echo "okular" > /sys/kernel/mm/ksm+/processes_to_scan', // no sign
      'echo "+" > /sys/kernel/mm/ksm+/processes_to_scan', // empty name
      'echo "+ epiphany-browser" > /sys/kernel/mm/ksm+/processes_to_scan', // 16 bytes: past a comm
      'echo "- " > /sys/kernel/mm/parser/processes_to_scan',
      'cat /sys/kernel/mm/ksm+/processes_to_scan',
    ].join('\n'),
  );
  assert.equal(r.code, 0, 'the last command succeeded');
  assert.equal(r.out, 'okular\n');
  assert.equal(r.err, 'bash: echo: write error: Invalid argument\n'.repeat(4));
});
