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
import { renderLivePage } from './ksm_live.ts';

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
