/** The search for the kernel's speed: CPU per page from runs, and the fixed-point rounds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunResult } from '../scenario/records.ts';
import { kernelNsPerPage, matchKernelSpeed, medianNsPerPage, nsPerPage, type SpeedRun } from './kernel_speed.ts';

function run(...pages: number[]): RunResult {
  const records = pages.map((p, i) => ({ label: `r${i}`, time_ms: 0, ksm: { pages_scanned: p }, procs: {} }));
  return { scenario: 's', backend: 'kernel', ok: true, records, expects: [], calls: [] };
}

test('nsPerPage: CPU over the waits against pages_scanned at the last record, undefined without either', () => {
  assert.equal(nsPerPage(2_000_000, run(100, 500)), 4000);
  assert.equal(nsPerPage(undefined, run(500)), undefined);
  assert.equal(nsPerPage(0, run(500)), undefined);
  assert.equal(nsPerPage(2_000_000, run(0)), undefined);
  assert.equal(nsPerPage(2_000_000, run()), undefined);
});

test("kernelNsPerPage: the runs' lower median, undefined if any run lacks one", () => {
  const runs = [
    { ranNs: 3_000_000, run: run(1000) },
    { ranNs: 5_000_000, run: run(1000) },
    { ranNs: 4_000_000, run: run(1000) },
  ];
  assert.equal(kernelNsPerPage(runs), 4000);
  assert.equal(kernelNsPerPage([...runs, { ranNs: undefined, run: run(1000) }]), undefined);
  assert.equal(kernelNsPerPage([]), undefined);
  // The same from the two figures a grid file keeps per run.
  assert.equal(
    medianNsPerPage([
      { ranNs: 3e6, pages: 1000 },
      { ranNs: 5e6, pages: 1000 },
      { ranNs: 4e6, pages: 1000 },
    ]),
    4000,
  );
  assert.equal(medianNsPerPage([{ ranNs: 3e6, pages: 0 }]), undefined);
});

/** A model whose CPU a page is not proportional to the factor: a fixed part and a tick's bend. */
const model = (f: number): SpeedRun<number> => ({ factor: f, run: f, ranNs: 0, nsPerPage: 300 + 2000 * f ** 0.9 });

test('matchKernelSpeed: fixed-point rounds bring the CPU per page within 0.5 % of the kernel', async () => {
  const m = await matchKernelSpeed(4000, model(1), async (f) => model(f), { maxRounds: 8, closeEnough: 0.005 });
  assert.ok(m !== undefined);
  assert.ok(m.matched);
  assert.ok(Math.abs(m.nsPerPage / 4000 - 1) <= 0.005, String(m.nsPerPage));
  assert.ok(m.rounds >= 2 && m.rounds <= 8, String(m.rounds));
  assert.equal(m.run, m.factor);
  // Already there: no more runs.
  const same = await matchKernelSpeed(2300, model(1), () => assert.fail('ran again'));
  assert.equal(same?.rounds, 0);
  assert.equal(same?.factor, 1);
});

test('matchKernelSpeed says when it stops short, and gives up where a run has no CPU per page', async () => {
  const stuck = await matchKernelSpeed(4000, model(1), async (f) => model(f), { maxRounds: 1, closeEnough: 0.005 });
  assert.equal(stuck?.matched, false);
  assert.equal(stuck?.rounds, 1);
  assert.equal(await matchKernelSpeed(4000, model(1), async () => undefined), undefined);
});

test('matchKernelSpeed brackets the kernel where fixed-point steps go to and fro across a tick edge', async () => {
  // CPU a page that jumps by 120 ns where the batch crosses a tick (at factor 1.5), and grows
  // steeply on either side: fixed-point steps alone overshoot the kernel's 3,000 ns each way.
  const edge = (f: number): SpeedRun<number> => ({
    factor: f,
    run: f,
    ranNs: 0,
    nsPerPage: 3000 + 4000 * (f - 1.5) + (f > 1.5 ? 60 : -60),
  });
  const seen: number[] = [];
  const m = await matchKernelSpeed(3000, edge(1), async (f) => {
    const r = edge(f);
    seen.push(r.nsPerPage);
    return r;
  });
  assert.ok(m !== undefined);
  // The jump leaves no factor within 0.5 % (60 ns is 2 %): every round is spent, and the
  // closest run of all is kept, as close as the edge allows.
  assert.equal(m.rounds, 10);
  assert.equal(m.matched, false);
  const closest = Math.min(...seen.map((ns) => Math.abs(ns / 3000 - 1)));
  assert.equal(Math.abs(m.nsPerPage / 3000 - 1), closest);
  // The bracket closes on the edge: the closest runs lie just beside it, 2.2-2.4 % off.
  assert.ok(closest < 0.025, String(closest));
  assert.ok(Math.abs(m.factor - 1.5) < 0.01, String(m.factor));
  // Where the jump is small enough, the bisection finds a factor within 0.5 %.
  const small = (f: number): SpeedRun<number> => ({ ...edge(f), nsPerPage: edge(f).nsPerPage - (f > 1.5 ? 50 : -50) });
  const ok = await matchKernelSpeed(3000, small(1), async (f) => small(f));
  assert.equal(ok?.matched, true);
  assert.ok(Math.abs((ok?.nsPerPage ?? 0) / 3000 - 1) <= 0.005);
});
