#!/usr/bin/env node
// The run behind docs/real-programs.md: real programs samepage did not write (headless
// Chromium from Debian's package), measured, predicted and then merged on the live kernel.
//
//   sudo node scripts/real-programs.mjs [--instances 3] [--settle 20] [--out DIR]
//
// 1. starts N headless Chromium instances (own profiles), each showing the same local page;
// 2. waits --settle seconds, then `samepage stats --name chromium --json`;
// 3. `samepage snapshot --name chromium`, then `samepage predict --policy ksm --json`;
// 4. merges for real: `samepage kernel enable chromium`, ksmd at pages_to_scan 5000 /
//    sleep 10 ms until pages_sharing + ksm_zero_pages is the same over 3 full scans, then
//    `samepage kernel status --json` (every process's ksm_stat);
// 5. `samepage kernel disable chromium`, stops Chromium and restores every KSM file (run=2
//    first). It holds samepage's KSM lock throughout, so no other samepage run measures
//    the global counters meanwhile, and refuses to start when other processes use KSM. Its
//    KSM writes are journaled (src/host/ksm_guard.ts, withGuardedKsm): Ctrl-C, SIGTERM or a
//    SIGKILL restores them too.
// Writes DIR/result.json (default /tmp/samepage-real) and prints a Markdown table.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const { withGuardedKsm } = await import(join(root, 'dist/src/host/ksm_guard.js'));
const { findKsmUsers } = await import(join(root, 'dist/src/host/ksm_stat.js'));
const { CHROMIUM, CHROMIUM_HEADLESS_FLAGS, LIST_PAGE_HTML } = await import(
  join(root, 'dist/src/report/chromium_testing.js')
);

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const N = Number(opt('--instances', '3'));
const SETTLE_S = Number(opt('--settle', '20'));
const OUT = opt('--out', '/tmp/samepage-real');
const KSM = '/sys/kernel/mm/ksm';
const COMM = 'chromium';

const samepage = (...args) =>
  execFileSync(process.execPath, [join(root, 'bin/samepage.js'), ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ksmRead = (f) => Number(readFileSync(`${KSM}/${f}`, 'utf8'));

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
writeFileSync(join(OUT, 'page.html'), LIST_PAGE_HTML);

const others = findKsmUsers(new Set([process.pid]));
if (others.length > 0) {
  console.error(`Other processes use KSM: ${others.map((u) => u.pid).join(', ')}; stop them first.`);
  process.exit(2);
}

const browsers = [];
let result;
try {
  result = await withGuardedKsm(
    {
      pinKsmd: false,
      killChildren: () => {
        for (const b of browsers) b.kill('SIGKILL');
      },
      onWarning: (m) => console.error(`real-programs: ${m}`),
    },
    async (set) => {
      set('run', 2);
      for (let i = 0; i < N; i++) {
        browsers.push(
          spawn(
            CHROMIUM,
            [
              ...CHROMIUM_HEADLESS_FLAGS,
              `--user-data-dir=${join(OUT, `profile${i}`)}`,
              '--remote-debugging-port=0',
              `file://${join(OUT, 'page.html')}`,
            ],
            { stdio: 'ignore' },
          ),
        );
      }
      await sleep(SETTLE_S * 1000);

      const stats = JSON.parse(samepage('stats', '--name', COMM, '--json', '--top', '10'));
      const snap = join(OUT, 'chromium.snap');
      samepage('snapshot', '--name', COMM, '-o', snap);
      const predicted = JSON.parse(samepage('predict', snap, '--policy', 'ksm', '--json')).prediction;

      samepage('kernel', 'enable', COMM);
      set('pages_to_scan', 5000);
      set('sleep_millisecs', 10);
      set('run', 1);
      let last = -1;
      let stable = 0;
      const t0 = Date.now();
      while (stable < 3 && Date.now() - t0 < 300_000) {
        const target = ksmRead('full_scans') + 1;
        while (ksmRead('full_scans') < target) await sleep(50);
        const now = ksmRead('pages_sharing') + ksmRead('ksm_zero_pages');
        stable = now === last ? stable + 1 : 0;
        last = now;
      }
      const status = JSON.parse(samepage('kernel', 'status', '--json'));
      const measured = {
        saving_pages: last,
        pages_shared: ksmRead('pages_shared'),
        pages_sharing: ksmRead('pages_sharing'),
        general_profit: ksmRead('general_profit'),
        seconds: (Date.now() - t0) / 1000,
      };
      samepage('kernel', 'disable', COMM);
      return {
        instances: N,
        settle_s: SETTLE_S,
        kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
        stats,
        predicted,
        measured,
        status,
      };
    },
  );
} catch (e) {
  console.error(`real-programs: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
}
writeFileSync(join(OUT, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);

const p = result.predicted;
const m = result.measured;
const pct = (a, b) => `${((100 * (a - b)) / b).toFixed(1)} %`;
console.log(`| | stats (MD5) | predicted (model) | measured (live kernel) |\n|---|---|---|---|`);
console.log(`| pages | ${result.stats.pages} | ${p.pages} | - |`);
console.log(
  `| pages merging frees | ${result.stats.saving_pages} | ${p.saving_pages} | ${m.saving_pages} (${pct(m.saving_pages, p.saving_pages)} vs predicted) |`,
);
console.log(`| pages_shared | - | ${p.pages_shared} | ${m.pages_shared} |`);
console.log(`| general_profit | - | ${p.general_profit} | ${m.general_profit} |`);
console.log(
  '\n| process | pages | predicted ksm_merging_pages | measured ksm_merging_pages | measured ksm_process_profit |\n|---|---|---|---|---|',
);
for (const [name, r] of Object.entries(p.by_process)) {
  const live = result.status.processes.find((x) => x.pid === r.pid);
  console.log(
    `| ${name} | ${r.pages} | ${r.ksm_merging_pages} | ${live?.ksm_merging_pages ?? 'exited'} | ${live?.ksm_process_profit ?? '-'} |`,
  );
}
