/**
 * The watch page's charts in headless Chromium: bytes in binary units at round steps, wall
 * times on the x axis, every label inside its chart (the page measures each label's box
 * after drawing), full cgroup paths in the legend; and a screenshot of the page. The
 * readings are made up (GiB-sized, with long cgroup paths), so this needs neither root nor
 * KSM, only Chromium.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attribute, type ProcessObservation } from '../attribution/attribute.ts';
import { groupAttribution } from '../attribution/group.ts';
import type { KsmStatus } from '../host/ksm_status.ts';
import { EVENTS_PATH, KsmSampler, startWatchServer } from '../host/ksm_watch.ts';
import { chromium, chromiumSkip } from './chromium_testing.ts';
import { renderLivePage } from './ksm_live_page.ts';

const CGROUPS = [
  '/machine.slice/machine-qemu\\x2d1\\x2dwindows\\x2dbuild\\x2dagent.scope/libvirt/emulator',
  '/system.slice/docker-4f1c2c9e0a8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d.scope',
  '/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox.scope',
];

/** The i-th reading: three VMs' worth of zero pages and shared pages, growing. */
function reading(i: number): KsmStatus {
  const grow = 1 + i / 4;
  const processes: ProcessObservation[] = CGROUPS.map((cgroup, k) => {
    const zero = Math.round((120_000 + 90_000 * k) * grow);
    const refs = new Int32Array(Math.round(20_000 * grow)).map((_, j) => j % 500);
    return {
      pid: 1000 + k,
      comm: ['qemu-system-x86', 'java', 'firefox'][k]!,
      cgroup,
      ksm_rmap_items: zero + refs.length + 50_000,
      ksm_zero_pages: zero,
      ksm_merging_pages: refs.length,
      ksm_process_profit: (zero + refs.length) * 4096 - (zero + refs.length + 50_000) * 64,
      frameRefs: refs,
    };
  });
  const mappings = processes.reduce((t, p) => t + p.frameRefs.length, 0);
  const zero = processes.reduce((t, p) => t + p.ksm_zero_pages, 0);
  const rmap = processes.reduce((t, p) => t + p.ksm_rmap_items, 0);
  const ksm = {
    pages_shared: 500,
    pages_sharing: mappings - 500,
    ksm_zero_pages: zero,
    general_profit: (mappings - 500 + zero) * 4096 - rmap * 64,
  };
  const a = attribute({ ksm, frames: { count: 500 }, processes, ksmdCpuSeconds: 30 + i });
  return {
    time: `2026-12-03T09:${String(58 + Math.floor(i / 4)).padStart(2, '0')}:${String((15 * i) % 60).padStart(2, '0')}.000Z`,
    ksm: { run: 1, full_scans: 10 + i, ...ksm },
    processes: processes.map((p) => ({ ...p, ksm_merge_any: true, ksm_mergeable: true })),
    attribution: {
      by: 'cgroup',
      groups: groupAttribution(a, 'cgroup'),
      attribution: a,
      stats: {
        processes: 3,
        scanned: 3,
        smapsRead: 3,
        pagemapEntries: 0,
        candidates: 0,
        distinctFrames: 0,
        kpageReads: 0,
        kpageEntries: 0,
        phaseMs: {},
      },
    },
  };
}

test('watch page in headless Chromium: bytes in MiB/GiB, times on the x axis, every label whole', {
  skip: chromiumSkip(),
}, async () => {
  let i = 0;
  const sampler = new KsmSampler({ intervalMs: 60_000, read: () => reading(i++) });
  for (let k = 0; k < 8; k++) sampler.sample();
  // One event per stream: a stream left open would hold Chromium's virtual time still.
  const server = await startWatchServer(sampler, (s) => renderLivePage(s, EVENTS_PATH, 'chromium-test', 60_000), {
    port: 0,
    eventsPerStream: 1,
    retryMs: 500,
  });
  const dir = mkdtempSync(join(tmpdir(), 'samepage-watch-page-'));
  try {
    const dom = await chromium(
      ['--virtual-time-budget=2000', '--window-size=1400,1800', '--dump-dom', server.url],
      dir,
      true,
    );
    for (const id of ['chart-saved', 'chart-groups', 'chart-pages'])
      assert.match(dom, new RegExp(`id="${id}"[^>]*data-labels-fit="yes"`), `${id}: every label lies inside the chart`);
    const labels = (cls: string): string[] =>
      [...dom.matchAll(new RegExp(`class="${cls}" x="[\\d.]+"[^>]*>([^<]*)<`, 'g'))].map((m) => m[1]!);
    const y = labels('ylabel');
    const bytes = y.filter((l) => / (B|KiB|MiB|GiB|TiB)$/.test(l));
    assert.ok(bytes.length >= 8, `y labels in binary units: ${y.join(', ')}`);
    assert.ok(
      bytes.every((l) => /^-?\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)$/.test(l)),
      `whole labels: ${bytes.join(', ')}`,
    );
    assert.ok(
      bytes.some((l) => l.endsWith(' GiB')),
      `GiB-sized savings are shown in GiB: ${bytes.join(', ')}`,
    );
    const x = labels('xlabel');
    assert.ok(x.length >= 6 && x.every((l) => /^\d\d:\d\d:\d\d$/.test(l)), `x labels are wall times: ${x.join(', ')}`);
    for (const c of CGROUPS) assert.ok(dom.includes(c.replace(/\\/g, '\\')), `the legend names ${c} in full`);
    assert.match(dom, /ksm_process_profit summed: <span id="naive">[\d.]+ GiB<\/span>/);
    const png = join(dir, 'watch.png');
    await chromium(
      ['--virtual-time-budget=2000', `--screenshot=${png}`, '--window-size=1400,1800', '--hide-scrollbars', server.url],
      dir,
      true,
    );
    const head = readFileSync(png).subarray(0, 24);
    assert.equal(head.readUInt32BE(16), 1400, 'screenshot width');
    assert.ok(statSync(png).size > 40_000, 'the screenshot is not a blank page');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
