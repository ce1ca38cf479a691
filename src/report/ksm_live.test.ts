/**
 * The live page of `samepage kernel watch --http` in headless Chromium: what a browser builds
 * from renderLivePage and the watch server's events, against readings of this machine's
 * /sys/kernel/mm/ksm. Skips, saying why, without Chromium or KSM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KsmStatus, readKsmStatus } from '../host/ksm_status.ts';
import { KSM_DIR, ksmPresent } from '../host/ksm_sysfs.ts';
import { EVENTS_PATH, KsmSampler, startWatchServer } from '../host/ksm_watch.ts';
import { CHROMIUM, CHROMIUM_HEADLESS_FLAGS } from './chromium_testing.ts';
import { renderLiveStatusText } from './ksm_live.ts';
import { renderLivePage } from './ksm_live_page.ts';

function liveSkip(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (!ksmPresent()) return `${KSM_DIR} is missing (no KSM in this kernel)`;
  return undefined;
}

test('headless Chromium shows the live counters of /sys/kernel/mm/ksm, updated by events', async (t) => {
  if (!existsSync(CHROMIUM)) return void t.skip(`${CHROMIUM} is not installed`);
  const why = liveSkip();
  if (why !== undefined) return void t.skip(why);
  // Every reading the page could have been given: KSM is global and may change meanwhile.
  const seen: KsmStatus[] = [];
  const sampler = new KsmSampler({
    intervalMs: 200,
    read: () => {
      const s = readKsmStatus();
      seen.push(s);
      return s;
    },
  });
  sampler.start();
  const server = await startWatchServer(sampler, (s) => renderLivePage(s, EVENTS_PATH, 'chromium-test', 200), {
    port: 0,
  });
  const profile = mkdtempSync(join(tmpdir(), 'samepage-chromium-'));
  try {
    // Asynchronous: spawnSync would block the event loop, and with it the server.
    const dom = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const child = spawn(
        CHROMIUM,
        [
          ...CHROMIUM_HEADLESS_FLAGS,
          `--user-data-dir=${profile}`,
          '--virtual-time-budget=3000',
          '--dump-dom',
          server.url,
        ],
        // A Chromium that hangs is killed after a minute.
        { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL' },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.once('error', reject);
      child.once('exit', (code) => resolve({ code, out, err }));
    });
    assert.equal(dom.code, 0, `chromium failed: ${dom.err.slice(-2000)}`);
    const field = (id: string): string | undefined => new RegExp(`id="${id}"[^>]*>([^<]*)<`).exec(dom.out)?.[1];
    const events = Number(/id="events" data-count="(\d+)"/.exec(dom.out)?.[1] ?? 'NaN');
    assert.ok(events >= 2, `the page received events (events=${events})`);
    assert.equal(field('state'), 'live');
    const shown = field('pages_sharing');
    assert.ok(shown !== undefined && /^\d+$/.test(shown), `pages_sharing is shown as a number: ${String(shown)}`);
    // The page's whole sysfs table is one reading of sysfs taken during the test.
    const table = (s: KsmStatus): string =>
      JSON.stringify(
        Object.keys(s.ksm)
          .map((k) => `${k}=${String(s.ksm[k])}`)
          .sort(),
      );
    const domRows = [...dom.out.matchAll(/<td>([a-z_]+)<\/td><td class="n" id="ksm-[a-z_]+">([^<]*)<\/td>/g)].map(
      (m) => `${m[1]}=${m[2]}`,
    );
    assert.ok(domRows.length >= 10, 'the page lists the files of /sys/kernel/mm/ksm');
    assert.ok(
      seen.some((s) => table(s) === JSON.stringify(domRows.sort()) && String(s.ksm.pages_sharing) === shown),
      `the page's values match a reading of sysfs (pages_sharing ${shown})`,
    );
    assert.ok((dom.out.match(/<polyline/g) ?? []).length >= 3, 'the history charts are drawn');
  } finally {
    sampler.stop();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

/** A reading as Linux 6.18 gives it: 40 KSM pages standing in for 10200 mappings. */
const STATUS: KsmStatus = {
  time: '2026-01-01T00:00:00.000Z',
  ksm: {
    run: 1,
    pages_shared: 40,
    pages_sharing: 10200,
    pages_unshared: 0,
    pages_volatile: 0,
    general_profit: 41123840,
    ksm_zero_pages: 0,
    full_scans: 5,
    pages_scanned: 78275581,
    advisor_mode: 'none',
    max_page_sharing: 256,
    stable_node_chains_prune_millisecs: 2000,
    use_zero_pages: 0,
  },
  processes: [
    {
      pid: 4242,
      comm: 'a-long-command',
      ksm_rmap_items: 5120,
      ksm_zero_pages: 0,
      ksm_merging_pages: 5120,
      ksm_process_profit: 20643840,
      ksm_merge_any: true,
      ksm_mergeable: true,
    },
  ],
};

const widest = (text: string): number => Math.max(...text.split('\n').map((l) => [...l].length));

test('kernel status gives pages and bytes as memory, and fits its tables to the terminal', () => {
  // 10200 pages of 4096 bytes = 41,779,200 B = 39.84 MiB; 41,123,840 B = 39.22 MiB; 20,643,840 B = 19.69 MiB.
  const whole = renderLiveStatusText(STATUS, { color: false });
  assert.match(whole, /│ pages_sharing +│ 10200 \(39\.8 MiB\) +│/);
  assert.match(whole, /│ general_profit +│ 41123840 \(39\.2 MiB\) +│/);
  assert.match(whole, /│ run +│ 1 \(running\) +│/);
  assert.match(whole, /│ full_scans +│ 5 +│/, 'a count is not memory');
  assert.match(whole, /│ file +│ value +│ file +│ value +│/, 'two files a row when nothing limits the width');
  assert.match(whole, / 19\.7 MiB │ yes +│ yes +│/);
  assert.ok(widest(whole) > 80, `the whole table is ${widest(whole)} wide`);

  const narrow = renderLiveStatusText(STATUS, { color: false, width: 80 });
  assert.ok(widest(narrow) <= 80, narrow);
  assert.match(narrow, /│ file +│ value +│\n/, 'one file a row');
  assert.match(narrow, /│ stable_node_chains_prune_millisecs │ 2000 +│/);
  assert.match(narrow, /│ +4242 │ a-long-command │ .*│ +5120 │/);
  assert.match(narrow, /left out to fit 80 columns: merge_any, mergeable/);
  assert.doesNotMatch(narrow, /│ merge_any/);

  const wide = renderLiveStatusText(STATUS, { color: false, width: 140 });
  assert.equal(wide, whole, 'a wide terminal shows everything as it is');
});

test("kernel status read without root says its process list is the reader's own, not that nobody uses KSM", () => {
  const limit = "other users' /proc/PID/ksm_stat are theirs and root's to read";
  const none = renderLiveStatusText({ ...STATUS, processes: [], processesLimit: limit }, { color: false });
  assert.match(none, /No process of yours uses KSM \(other users' .* run as root to see every process\)\./);
  assert.doesNotMatch(none, /No process uses KSM/);
  const some = renderLiveStatusText({ ...STATUS, processesLimit: limit }, { color: false });
  assert.match(some, /Your processes only \(other users'/);
  assert.doesNotMatch(renderLiveStatusText(STATUS, { color: false }), /Your processes only/);
});
