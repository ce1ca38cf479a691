/**
 * `samepage kernel export` scraped by a real Prometheus server (Debian's prometheus package):
 * two processes share one KSM page 64 and 32 times over (made by the kernel backend, which
 * saves and restores every KSM knob), the exporter serves /metrics, a Prometheus started
 * here scrapes it every second (in OpenMetrics, which Prometheus asks for first), and its
 * query API answers the attributed series: 95 pages saved, 64/96 and 32/96 of them, adding
 * up to pages_sharing × 4096. The classic text format goes through `promtool check metrics`.
 * Skips, saying why, without root and a writable KSM, or without Prometheus.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKernelBackend } from '../src/backends/kernel/index.ts';
import { bareScenario, holdKernelTestLockForFile, kernelSkipReasonAfterWait } from '../src/backends/kernel/testing.ts';
import { readSysfs } from '../src/host/ksm_sysfs.ts';
import { CLI, samepage } from './samepage.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';

async function skipReason(): Promise<string | undefined> {
  if (!existsSync(PROMETHEUS) || !existsSync(PROMTOOL))
    return `${PROMETHEUS} or ${PROMTOOL} is missing (Debian's prometheus package; .ci/run installs it)`;
  const machine = await holdKernelTestLockForFile();
  if (machine !== undefined) return machine;
  return kernelSkipReasonAfterWait();
}
const skip = await skipReason();

/** A TCP port free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** Starts a child and resolves with it once `ready` matches its stderr. */
function startChild(
  cmd: string,
  args: string[],
  ready: RegExp,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${err.slice(-2000)}`)), 30_000);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = ready.exec(err);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.once('exit', (code) => reject(new Error(`${cmd} exited (${code}): ${err.slice(-2000)}`)));
  });
}

interface PromVector {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

async function query(base: string, q: string): Promise<PromVector[]> {
  const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await r.json()) as { status: string; data?: { result: PromVector[] } };
  assert.equal(body.status, 'success', `query ${q}`);
  return body.data?.result ?? [];
}

test(
  'a real Prometheus scrapes samepage kernel export and answers the attributed series',
  skip === undefined ? {} : { skip },
  async (t) => {
    const backend = createKernelBackend({ lockWaitMs: 600_000 });
    const dir = mkdtempSync(join(tmpdir(), 'samepage-prometheus-'));
    const children: ChildProcess[] = [];
    try {
      await backend.start(
        bareScenario('exporter-prometheus', [
          ['pages_to_scan', '1000'],
          ['sleep_millisecs', '20'],
          ['max_page_sharing', '256'],
        ]),
      );
      for (const [proc, pages] of [
        ['p', 64],
        ['q', 32],
      ] as const) {
        await backend.spawn(proc, `attr-prom-${proc}`);
        await backend.mmap(proc, 'buf', pages * 4096, false, undefined);
        await backend.fill(proc, 'buf', { kind: 'byte', byte: 5 }, 0, undefined);
        assert.equal(await backend.madvise(proc, 'buf', 'MADV_MERGEABLE', 0, undefined), 0);
      }
      assert.equal(await backend.sysfsWrite('ksm/run', '1'), 0);
      assert.equal(await backend.wait('full_scans', 2), undefined);
      // ksmd is held now (run 0), with the pages merged: the counters stay put while we scrape.
      const sharing = Number(readSysfs('/sys/kernel/mm/ksm/pages_sharing'));
      assert.equal(sharing, 95, 'one KSM page, 96 mappings');

      const once = await samepage(['kernel', 'export', '--once']);
      assert.equal(once.code, 0, once.err);
      const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: once.out, encoding: 'utf8' });
      assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);

      const exporter = await startChild(
        process.execPath,
        [CLI, 'kernel', 'export', '--listen', '127.0.0.1:0', '--top', '5'],
        /serving (http:\/\/\S+\/metrics)/,
      );
      children.push(exporter.child);
      const target = new URL(exporter.match[1]!);
      const port = await freePort();
      writeFileSync(
        join(dir, 'prometheus.yml'),
        `global: { scrape_interval: 1s, scrape_timeout: 1s }\nscrape_configs:\n  - job_name: samepage\n    static_configs: [{ targets: ['${target.host}'] }]\n`,
      );
      const prom = await startChild(
        PROMETHEUS,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        /Server is ready to receive web requests/,
      );
      children.push(prom.child);
      const base = `http://127.0.0.1:${port}`;
      let series: PromVector[] = [];
      for (let i = 0; i < 60 && series.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 500));
        series = await query(base, 'samepage_process_ksm_saved_bytes{comm=~"attr-prom-.*"}');
      }
      const up = await query(base, 'up{job="samepage"}');
      assert.equal(up[0]?.value[1], '1', 'Prometheus scraped the exporter');
      const targets = (await (await fetch(`${base}/api/v1/targets`)).json()) as {
        data: { activeTargets: Array<{ lastError: string; health: string }> };
      };
      assert.deepEqual(
        targets.data.activeTargets.map((x) => [x.health, x.lastError]),
        [['up', '']],
      );
      const byComm = new Map(series.map((s) => [s.metric.comm, Number(s.value[1])]));
      t.diagnostic(`Prometheus answered: ${JSON.stringify(Object.fromEntries(byComm))}`);
      // Each of the 96 mappings is credited 95/96 of a page: p has 64 of them, q 32.
      const p = byComm.get('attr-prom-p');
      const q = byComm.get('attr-prom-q');
      assert.ok(p !== undefined && q !== undefined, JSON.stringify(series));
      assert.ok(Math.abs(p - (64 * 95 * 4096) / 96) < 1, `p: ${p}`);
      assert.ok(Math.abs(q - (32 * 95 * 4096) / 96) < 1, `q: ${q}`);
      assert.equal(p + q, sharing * 4096);
      const naive = await query(base, 'samepage_ksm_process_profit_sum_bytes');
      const profit = await query(base, 'samepage_ksm_general_profit_bytes');
      assert.ok(
        Number(naive[0]?.value[1]) - Number(profit[0]?.value[1]) === 4096,
        'the naive sum is one page (pages_shared) too high',
      );
    } finally {
      for (const c of children) c.kill('SIGTERM');
      await backend.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
