import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { apportionBytes, addShares, sharesFraction } from './apportion.ts';
import { attribute, mappingState, type Observation, type ProcessObservation } from './attribute.ts';
import { groupAttribution, OTHER } from './group.ts';

/** A process with ksm_stat figures derived as Linux derives them from what it maps. */
function proc(
  pid: number,
  frameRefs: number[],
  extra: Partial<ProcessObservation> & { rmap?: number } = {},
): ProcessObservation {
  const merging = extra.ksm_merging_pages ?? frameRefs.length;
  const zero = extra.ksm_zero_pages ?? 0;
  const rmap = extra.rmap ?? merging + zero;
  return {
    pid,
    comm: extra.comm ?? `p${pid}`,
    cgroup: extra.cgroup ?? '/',
    ksm_rmap_items: rmap,
    ksm_zero_pages: zero,
    ksm_merging_pages: merging,
    ksm_process_profit: (merging + zero) * 4096 - rmap * 64,
    frameRefs,
  };
}

function obs(processes: ProcessObservation[], frames: number, shared: number, sharing: number, zero = 0): Observation {
  const rmap = processes.reduce((t, p) => t + p.ksm_rmap_items, 0);
  return {
    ksm: {
      pages_shared: shared,
      pages_sharing: sharing,
      ksm_zero_pages: zero,
      general_profit: (sharing + zero) * 4096 - rmap * 64,
    },
    frames: { count: frames },
    processes,
  };
}

test('attribute: two processes sharing one KSM page get half a page each; the naive sum claims two', () => {
  const a = attribute(obs([proc(10, [0]), proc(11, [0])], 1, 1, 1));
  assert.deepEqual(
    a.processes.map((p) => [p.pid, p.saved_bytes, p.saved_pages, p.state, p.shares]),
    [
      [10, 2048, 0.5, 'exact', [[2, 1]]],
      [11, 2048, 0.5, 'exact', [[2, 1]]],
    ],
  );
  assert.equal(a.totals.attributed_pages, 1);
  assert.equal(a.totals.residual_pages, 0);
  assert.equal(a.totals.naive_saved_pages, 2, 'ksm_merging_pages counts both mappers');
  assert.equal(a.totals.naive_profit_bytes - a.totals.attributed_profit_bytes, 4096, 'one page too many per KSM page');
  assert.equal(a.totals.attributed_profit_bytes, a.totals.general_profit);
});

test('attribute: thirds apportioned to whole bytes that add up, ties to the earlier process', () => {
  // One KSM page, three mappers: 2/3 page each = 2730.67 bytes; 8192 in all.
  const a = attribute(obs([proc(1, [0]), proc(2, [0]), proc(3, [0])], 1, 1, 2));
  assert.deepEqual(
    a.processes.map((p) => p.saved_bytes),
    [2731, 2731, 2730],
  );
  assert.equal(a.totals.attributed_bytes, 8192);
});

test('attribute: a process mapping a KSM page at several addresses is credited per mapping', () => {
  // Frame 0: process 1 twice, process 2 once (n = 3); frame 1: process 1 five times alone (n = 5).
  const a = attribute(obs([proc(1, [0, 0, 1, 1, 1, 1, 1]), proc(2, [0])], 2, 2, 6));
  const [p1, p2] = a.processes;
  assert.deepEqual(p1!.shares, [
    [3, 2],
    [5, 5],
  ]);
  assert.deepEqual(sharesFraction(p1!.shares), { num: 16n, den: 3n }, '2·2/3 + 5·4/5 = 16/3');
  assert.deepEqual(sharesFraction(p2!.shares), { num: 2n, den: 3n });
  assert.equal(a.totals.attributed_pages, 6);
  assert.equal(p1!.saved_bytes + p2!.saved_bytes, 6 * 4096);
});

test('attribute: a child not yet scanned since fork is neither counted nor credited; mapcount shows it', () => {
  // The parent maps two KSM pages 3 and 2 times (pages_sharing 3); the child inherited them all.
  const parent = proc(100, [0, 0, 0, 1, 1]);
  const child = proc(101, [0, 0, 0, 1, 1], { ksm_merging_pages: 0, rmap: 0 });
  const o: Observation = { ...obs([parent, child], 2, 2, 3), frames: { count: 2, mapcount: [6, 4] } };
  const a = attribute(o);
  assert.deepEqual(
    a.processes.map((p) => [p.state, p.saved_pages]),
    [
      ['exact', 3],
      ['unscanned', 0],
    ],
  );
  assert.equal(a.totals.residual_pages, 0);
  assert.equal(a.totals.unscanned_mappings, 5);
  assert.equal(a.totals.unseen_mappings, 0);
  // Had n been the mapcount, the credits would have added up to Σ(mapcount − 1) = 8, not 3.
});

test('attribute: zero pages are whole pages; items ksmd has yet to drop show as a residual, not spread', () => {
  const a = attribute(
    obs([proc(1, [0], { ksm_zero_pages: 4 }), proc(2, [0], { ksm_merging_pages: 2, rmap: 2 })], 1, 1, 2, 4),
  );
  assert.deepEqual(
    a.processes.map((p) => [p.state, p.saved_bytes]),
    [
      ['exact', 4 * 4096 + 2048],
      ['exact', 2048],
    ],
  );
  assert.equal(a.totals.attributed_pages, 5);
  assert.equal(a.totals.residual_pages, 1, 'the kernel still counts the CoW-broken item');
});

test('mappingState names how mappings and stable items compare', () => {
  assert.deepEqual(
    [mappingState(0, 0), mappingState(4, 4), mappingState(4, 0), mappingState(2, 4), mappingState(4, 2)],
    ['exact', 'exact', 'unscanned', 'exact', 'partial'],
  );
});

test('apportionBytes: floors plus the largest remainders, summing to the exact total', () => {
  // Shares 1/2, 1/3 and 1/6 of one page... as mappings of pages with n = 2, 3, 6.
  const items = [
    { shares: [[2, 1]] as const, wholePages: 0 },
    { shares: [[3, 2]] as const, wholePages: 1 },
    { shares: [[7, 3]] as const, wholePages: 0 },
  ];
  // 2048; 2·(2/3)·4096 + 4096 = 9557.33; 3·(6/7)·4096 = 10532.57 — total 22137.9, floor 22137.
  assert.deepEqual(apportionBytes(items), [2048, 9557, 10532]);
  assert.deepEqual(
    apportionBytes([
      { shares: [[3, 1]], wholePages: 0 },
      { shares: [[3, 2]], wholePages: 0 },
    ]),
    [2731, 5461],
  );
  assert.deepEqual(
    addShares([
      [
        [2, 1],
        [3, 2],
      ],
      [[3, 1]],
    ]),
    [
      [2, 1],
      [3, 3],
    ],
  );
});

test('groupAttribution sums by comm and cgroup and cuts to the top N plus other, conserving bytes', () => {
  const ps = [
    proc(1, [0], { comm: 'qemu', cgroup: '/machine.slice/vm1.scope' }),
    proc(2, [0], { comm: 'qemu', cgroup: '/machine.slice/vm2.scope' }),
    proc(3, [0, 1], { comm: 'php', cgroup: '/system.slice/php.service' }),
    proc(4, [1], { comm: 'php', cgroup: '/system.slice/php.service' }),
    proc(5, [2], { comm: 'tiny', cgroup: '/user.slice' }),
    proc(6, [2], { comm: 'tiny2', cgroup: '/user.slice' }),
  ];
  const a = attribute(obs(ps, 3, 3, 4));
  const total = a.totals.attributed_bytes;
  for (const by of ['process', 'cgroup', 'comm'] as const) {
    for (const top of [undefined, 1, 2, 10]) {
      const rows = groupAttribution(a, by, top === undefined ? {} : { top });
      assert.equal(
        rows.reduce((t, r) => t + r.saved_bytes, 0),
        total,
        `${by} top ${top}`,
      );
      assert.equal(
        rows.reduce((t, r) => t + r.processes, 0),
        6,
      );
      if (top !== undefined && top < rows.length) assert.equal(rows.at(-1)!.key, OTHER);
    }
  }
  const byComm = groupAttribution(a, 'comm');
  // php: 2/3 (a page of three mappers) + 1/2 + 1/2 (a page of two, both php); qemu: 2/3 + 2/3.
  assert.deepEqual(
    byComm.map((r) => [r.key, r.shares, r.processes, r.saved_bytes]),
    [
      [
        'php',
        [
          [2, 2],
          [3, 1],
        ],
        2,
        6827,
      ],
      ['qemu', [[3, 2]], 2, 5461],
      ['tiny', [[2, 1]], 1, 2048],
      ['tiny2', [[2, 1]], 1, 2048],
    ],
  );
  const byProcess = groupAttribution(a, 'process');
  assert.deepEqual(
    byProcess.map((r) => r.saved_bytes).sort(),
    a.processes.map((p) => p.saved_bytes).sort(),
    'one row per process keeps the bytes attribute() gave',
  );
  const top1 = groupAttribution(a, 'cgroup', { top: 1 });
  assert.deepEqual(
    top1.map((r) => [r.key, r.processes]),
    [
      ['/system.slice/php.service', 2],
      [OTHER, 4],
    ],
  );
});

test("attribute: each row's share of ksmd's work is its part of the rmap_items, and groups add their shares", () => {
  // rmap_items 30, 10 and 0 of 40: a full scan visits each item once, so 3/4, 1/4 and none of it.
  const ps = [
    proc(1, [0], { rmap: 30, comm: 'a' }),
    proc(2, [0], { rmap: 10, comm: 'a' }),
    proc(3, [], { rmap: 0, ksm_merging_pages: 0, comm: 'b' }),
  ];
  const a = attribute({ ...obs(ps, 1, 1, 1), ksmdCpuSeconds: 8 });
  assert.deepEqual(
    a.processes.map((p) => p.ksmd_work_share),
    [0.75, 0.25, 0],
  );
  // ksmd's CPU since boot is the machine's alone: no row is charged a part of it.
  assert.equal(a.totals.ksmd_cpu_seconds, 8);
  assert.ok(a.processes.every((p) => !('ksmd_cpu_seconds' in p)));
  assert.deepEqual(
    groupAttribution(a, 'comm').map((r) => [r.key, r.ksmd_work_share]),
    [
      ['a', 1],
      ['b', 0],
    ],
  );
  assert.equal(attribute(obs(ps, 1, 1, 1)).totals.ksmd_cpu_seconds, undefined);
  // No rmap_items at all: nobody has a share.
  const idle = attribute(obs([proc(4, [], { rmap: 0, ksm_merging_pages: 0 })], 0, 0, 0));
  assert.deepEqual(
    idle.processes.map((p) => p.ksmd_work_share),
    [0],
  );
});

test('attribute: mappings counted per KSM page (frameMappings) give what one entry per mapping gives', () => {
  // The live reader tallies a process's mappings per page; the model lists every mapping.
  // Random mappings of up to 6 pages by up to 5 processes, some unscanned (merging 0) or
  // partial, listed one per mapping and then tallied in a shuffled order.
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          refs: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 30 }),
          merging: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
          zero: fc.integer({ min: 0, max: 3 }),
          seed: fc.integer(),
        }),
        { minLength: 1, maxLength: 5 },
      ),
      (ps) => {
        const listed = ps.map((p, i) =>
          proc(i + 1, p.refs, {
            ksm_zero_pages: p.zero,
            ...(p.merging === undefined ? {} : { ksm_merging_pages: p.merging }),
          }),
        );
        const tallied = listed.map((p, i): ProcessObservation => {
          const counts = new Map<number, number>();
          for (const f of p.frameRefs as number[]) counts.set(f, (counts.get(f) ?? 0) + 1);
          const pages = [...counts.keys()].sort(
            (a, b) => ((a * 7919 + ps[i]!.seed) % 13) - ((b * 7919 + ps[i]!.seed) % 13),
          );
          return { ...p, frameRefs: pages, frameMappings: pages.map((f) => counts.get(f)!) };
        });
        const expected = attribute(obs(listed, 6, 6, 20, 2));
        const got = attribute(obs(tallied, 6, 6, 20, 2));
        assert.deepEqual(got, expected);
      },
    ),
    { seed: 11, numRuns: 300 },
  );
});
