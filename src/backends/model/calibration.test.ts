import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AT_FIRST_SEARCH, COST_KEYS, DEFAULT_COST, FLAT_RELOAD, NO_FIRST_VISIT, NO_RELOAD } from '../../ksm/cost.ts';
import { DEFAULT_TIMER } from '../../sim/timer.ts';
import {
  calibratedCost,
  calibratedTimer,
  calibrationPath,
  calibrationSet,
  calibrationTarget,
  foreignCalibration,
  hostSetName,
  readCostModel,
  readTimerParams,
  timerPath,
} from './calibration.ts';

function withFile(text: string, f: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-cost-'));
  try {
    const path = join(dir, 'cost.json');
    writeFileSync(path, text);
    f(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('DEFAULT_COST is the calibration shipped in calibration/cost-model.json', () => {
  assert.deepEqual(readCostModel(calibrationPath({}, null)), DEFAULT_COST);
});

test('DEFAULT_TIMER is the timer shipped in calibration/timer.json', () => {
  assert.deepEqual(readTimerParams(timerPath({}, null)), DEFAULT_TIMER);
});

test('calibratedCost reads the file SAMEPAGE_COST_MODEL names, and falls back to DEFAULT_COST without one', () => {
  const cost = {
    ...Object.fromEntries(COST_KEYS.map((k, i) => [k, 100 + i])),
    deepFrom: 11,
    postSleepPageNs: 2100,
    postSleepMaxNs: 2_400_000,
    postSleepTauNs: 31_000_000,
    postSleepBatchNs: 108_000,
    postSleepBatchTauNs: 5_300_000,
  };
  withFile(JSON.stringify({ version: 1, cost }), (path) => {
    assert.deepEqual(calibratedCost(calibrationSet({ SAMEPAGE_COST_MODEL: path })), {
      ...cost,
      ...NO_FIRST_VISIT,
      ...FLAT_RELOAD,
      ...AT_FIRST_SEARCH,
    });
  });
  assert.deepEqual(calibratedCost(calibrationSet({ SAMEPAGE_COST_MODEL: '/nonexistent/cost.json' })), DEFAULT_COST);
});

test('readCostModel refuses a damaged file, naming the bad constants', () => {
  withFile('{ "cost": ', (path) => assert.throws(() => readCostModel(path), /Cannot read the cost model .*cost\.json/));
  withFile(JSON.stringify({ cost: { ...DEFAULT_COST, visitNs: -1, mergeNs: 'fast' } }), (path) =>
    assert.throws(() => readCostModel(path), /visitNs, mergeNs must be non-negative numbers/),
  );
  withFile(JSON.stringify({ version: 1 }), (path) =>
    assert.throws(() => readCostModel(path), /no valid "cost" object/),
  );
});

test('readCostModel reads a file from before the deep-step cost as one without it, and refuses half of it', () => {
  const { deepStepNs: _s, deepFrom: _f, ...before } = DEFAULT_COST;
  withFile(JSON.stringify({ version: 1, cost: before }), (path) =>
    assert.deepEqual(readCostModel(path), { ...before, deepStepNs: 0, deepFrom: DEFAULT_COST.deepFrom }),
  );
  withFile(JSON.stringify({ version: 1, cost: { ...before, deepStepNs: 300 } }), (path) =>
    assert.throws(() => readCostModel(path), /: deepFrom must be .*whole number of tree levels/),
  );
  withFile(JSON.stringify({ version: 1, cost: { ...before, deepFrom: 9 } }), (path) =>
    assert.throws(() => readCostModel(path), /: deepStepNs must be non-negative numbers/),
  );
  withFile(JSON.stringify({ version: 1, cost: { ...DEFAULT_COST, deepFrom: 9.5 } }), (path) =>
    assert.throws(() => readCostModel(path), /: deepFrom must be/),
  );
});

test('calibratedTimer reads the file SAMEPAGE_TIMER names, and falls back to DEFAULT_TIMER without one', () => {
  const timer = { hz: 1000, wakeupLatencyNs: 12_000, timerWakeLatencyNs: 7_000, workFlushNs: 80_000 };
  withFile(JSON.stringify({ version: 1, timer }), (path) => {
    assert.deepEqual(calibratedTimer(calibrationSet({ SAMEPAGE_TIMER: path })), timer);
  });
  assert.deepEqual(calibratedTimer(calibrationSet({ SAMEPAGE_TIMER: '/nonexistent/timer.json' })), DEFAULT_TIMER);
});

test("a timer file from before the tick's latency was traced gives the tick the kick's latency", () => {
  withFile(JSON.stringify({ version: 1, timer: { hz: 250, wakeupLatencyNs: 64_030, workFlushNs: 0 } }), (path) =>
    assert.deepEqual(readTimerParams(path), {
      hz: 250,
      wakeupLatencyNs: 64_030,
      timerWakeLatencyNs: 64_030,
      workFlushNs: 0,
    }),
  );
  withFile(
    JSON.stringify({ timer: { hz: 250, wakeupLatencyNs: 1, timerWakeLatencyNs: 'soon', workFlushNs: 0 } }),
    (path) => assert.throws(() => readTimerParams(path), /timerWakeLatencyNs must be 0 to 1e9 ns/),
  );
});

test('readTimerParams refuses a damaged file, naming what is wrong', () => {
  withFile('[', (path) => assert.throws(() => readTimerParams(path), /Cannot read the timer calibration/));
  withFile(JSON.stringify({ timer: { hz: 250.5, wakeupLatencyNs: -1, workFlushNs: 0 } }), (path) =>
    assert.throws(() => readTimerParams(path), /hz must be a whole number.*; wakeupLatencyNs must be 0 to 1e9 ns/),
  );
});

test('a cost model from before the reload after a sleep is read with none; one with part of it is refused', () => {
  const {
    postSleepPageNs: _p,
    postSleepMaxNs: _m,
    postSleepTauNs: _t,
    postSleepBatchNs: _b,
    postSleepBatchTauNs: _bt,
    ...before
  } = DEFAULT_COST;
  withFile(JSON.stringify({ version: 1, cost: before }), (path) =>
    assert.deepEqual(readCostModel(path), { ...before, ...NO_RELOAD }),
  );
  // A file with the per-page reload and not its fixed part (written before the fixed part).
  const perPage = { postSleepPageNs: 900, postSleepMaxNs: 2_500_000, postSleepTauNs: 75e6 };
  withFile(JSON.stringify({ version: 1, cost: { ...before, ...perPage } }), (path) =>
    assert.deepEqual(readCostModel(path), { ...before, ...NO_RELOAD, ...perPage }),
  );
  withFile(JSON.stringify({ version: 1, cost: { ...before, ...perPage, postSleepBatchNs: 1000 } }), (path) =>
    assert.throws(() => readCostModel(path), /postSleepBatchTauNs/),
  );
  withFile(JSON.stringify({ version: 1, cost: { ...before, postSleepMaxNs: 500_000 } }), (path) =>
    assert.throws(() => readCostModel(path), /postSleepPageNs, postSleepTauNs/),
  );
  withFile(JSON.stringify({ version: 1, cost: { ...DEFAULT_COST, postSleepTauNs: 0 } }), (path) =>
    assert.throws(() => readCostModel(path), /postSleepTauNs/),
  );
});

test('foreignCalibration names both machines where the cost model was measured on another CPU', () => {
  const xeon = { cpu_model: 'Intel(R) Xeon(R) Processor', cpus: 2 };
  const file = (machine: object) => JSON.stringify({ cost: DEFAULT_COST, machine: { ...machine, hostname: 'vm' } });
  withFile(file(xeon), (path) => {
    const env = { SAMEPAGE_COST_MODEL: path };
    assert.equal(foreignCalibration(xeon, env), undefined);
    const amd = foreignCalibration({ cpu_model: 'AMD EPYC', cpus: 2 }, env);
    assert.match(
      amd ?? '',
      /calibrated on Intel\(R\) Xeon\(R\) Processor \(2 CPUs\), this machine is AMD EPYC \(2 CPUs\)/,
    );
    assert.match(amd ?? '', /samepage bench --calibrate/);
    assert.match(foreignCalibration({ ...xeon, cpus: 4 }, env) ?? '', /this machine is Intel.* \(4 CPUs\)/);
  });
  // No file, or one that does not say where it was measured: nothing to compare.
  assert.equal(foreignCalibration(xeon, { SAMEPAGE_COST_MODEL: '/nonexistent/cost.json' }), undefined);
  withFile(JSON.stringify({ cost: DEFAULT_COST }), (path) =>
    assert.equal(foreignCalibration(xeon, { SAMEPAGE_COST_MODEL: path }), undefined),
  );
});

test('a cost model from before the first-visit charges is read with none; one with part of them is refused', () => {
  const { firstVisitNs: _f, postSleepNoTreeNs: _n, postSleepNoTreeTauNs: _t, ...before } = DEFAULT_COST;
  withFile(JSON.stringify({ version: 1, cost: before }), (path) =>
    assert.deepEqual(readCostModel(path), { ...before, ...NO_FIRST_VISIT }),
  );
  const given = { firstVisitNs: 400, postSleepNoTreeNs: 100_000, postSleepNoTreeTauNs: 30e6 };
  withFile(JSON.stringify({ version: 1, cost: { ...before, ...given } }), (path) =>
    assert.deepEqual(readCostModel(path), { ...before, ...given }),
  );
  withFile(JSON.stringify({ version: 1, cost: { ...before, firstVisitNs: 400 } }), (path) =>
    assert.throws(() => readCostModel(path), /postSleepNoTreeNs, postSleepNoTreeTauNs/),
  );
  withFile(JSON.stringify({ version: 1, cost: { ...before, ...given, postSleepNoTreeTauNs: 0 } }), (path) =>
    assert.throws(() => readCostModel(path), /postSleepNoTreeTauNs/),
  );
});

test('a cost model from before the reload followed the trees is read with a flat one; one with half of it is refused', () => {
  const { postSleepTreeExp: _e, postSleepTreeNodes: _n, ...before } = { ...DEFAULT_COST, ...NO_FIRST_VISIT };
  withFile(JSON.stringify({ version: 1, cost: before }), (path) =>
    assert.deepEqual(readCostModel(path), { ...before, ...FLAT_RELOAD }),
  );
  const given = { postSleepTreeExp: 0.47, postSleepTreeNodes: 20_000 };
  withFile(JSON.stringify({ version: 1, cost: { ...before, ...given } }), (path) =>
    assert.deepEqual(readCostModel(path), { ...before, ...given }),
  );
  withFile(JSON.stringify({ version: 1, cost: { ...before, postSleepTreeExp: 0.5 } }), (path) =>
    assert.throws(() => readCostModel(path), /postSleepTreeNodes/),
  );
  // The trees' size divides: 0 is refused, as a negative exponent is.
  withFile(JSON.stringify({ version: 1, cost: { ...before, ...given, postSleepTreeNodes: 0 } }), (path) =>
    assert.throws(() => readCostModel(path), /postSleepTreeNodes/),
  );
  withFile(JSON.stringify({ version: 1, cost: { ...before, ...given, postSleepTreeExp: -0.5 } }), (path) =>
    assert.throws(() => readCostModel(path), /postSleepTreeExp/),
  );
});

test('a cost model from before the part per search pays all of the tree reload at the first search; p outside [0, 1] is refused', () => {
  const { postSleepSearchPart: _p, ...before } = { ...DEFAULT_COST, postSleepTreeExp: 0.4, postSleepTreeNodes: 20_000 };
  withFile(JSON.stringify({ version: 1, cost: before }), (path) =>
    assert.deepEqual(readCostModel(path), { ...before, ...AT_FIRST_SEARCH }),
  );
  withFile(JSON.stringify({ version: 1, cost: { ...before, postSleepSearchPart: 0.62 } }), (path) =>
    assert.equal(readCostModel(path).postSleepSearchPart, 0.62),
  );
  for (const bad of [-0.1, 1.2, 'half'])
    withFile(JSON.stringify({ version: 1, cost: { ...before, postSleepSearchPart: bad } }), (path) =>
      assert.throws(() => readCostModel(path), /postSleepSearchPart must be non-negative .*a fraction, 0 to 1/),
    );
});

/** A package root with a default set measured on `def` and a host set for each of `hosts`. */
function withSets(def: object, hosts: Record<string, object>, f: (root: string) => void): void {
  const root = mkdtempSync(join(tmpdir(), 'samepage-sets-'));
  const write = (dir: string, machine: object) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cost-model.json'), JSON.stringify({ cost: DEFAULT_COST, machine }));
    writeFileSync(join(dir, 'timer.json'), JSON.stringify({ timer: DEFAULT_TIMER, machine }));
  };
  try {
    write(join(root, 'calibration'), def);
    for (const [name, machine] of Object.entries(hosts)) write(join(root, 'calibration', 'hosts', name), machine);
    f(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

test("calibrationSet reads the host set measured on this CPU model and CPU count, else the default set; the environment's files win", () => {
  const xeon = { cpu_model: 'Intel(R) Xeon(R) Processor', cpus: 2 };
  const amd = { cpu_model: 'AMD EPYC', cpus: 2 };
  withSets(xeon, { 'amd-epyc-2cpu': amd }, (root) => {
    const onAmd = calibrationSet({}, amd, root);
    assert.equal(onAmd.host, 'amd-epyc-2cpu');
    assert.equal(onAmd.costPath, join(root, 'calibration', 'hosts', 'amd-epyc-2cpu', 'cost-model.json'));
    assert.equal(onAmd.timerPath, join(root, 'calibration', 'hosts', 'amd-epyc-2cpu', 'timer.json'));
    // Another CPU count is another machine; the Xeon, or null (no machine), reads the default.
    for (const live of [{ ...amd, cpus: 4 }, xeon, null]) {
      const set = calibrationSet({}, live, root);
      assert.equal(set.host, undefined);
      assert.equal(set.costPath, join(root, 'calibration', 'cost-model.json'));
      assert.deepEqual(set.machine, xeon);
    }
    // SAMEPAGE_TIMER alone keeps the host set's cost model.
    const timerOnly = calibrationSet({ SAMEPAGE_TIMER: '/x/timer.json' }, amd, root);
    assert.equal(timerOnly.costPath, onAmd.costPath);
    assert.equal(timerOnly.timerPath, '/x/timer.json');
    // The machine named by the host set is the one foreignCalibration compares.
    assert.deepEqual(onAmd.machine, amd);
  });
});

test("calibrationTarget writes the set in use where it is this machine's, else a new host set named for it", () => {
  const xeon = { cpu_model: 'Intel(R) Xeon(R) Processor', cpus: 2 };
  const amd = { cpu_model: 'AMD EPYC', cpus: 2 };
  withSets(xeon, {}, (root) => {
    assert.equal(calibrationTarget({}, xeon, root).costPath, join(root, 'calibration', 'cost-model.json'));
    const fresh = calibrationTarget({}, amd, root);
    assert.equal(fresh.host, 'amd-epyc-2cpu');
    assert.equal(fresh.timerPath, join(root, 'calibration', 'hosts', 'amd-epyc-2cpu', 'timer.json'));
    assert.equal(calibrationTarget({ SAMEPAGE_COST_MODEL: '/x/c.json' }, amd, root).costPath, '/x/c.json');
    // One file named: the other still goes to this machine's set, never to the Xeon's default.
    const timerOnly = calibrationTarget({ SAMEPAGE_TIMER: '/x/t.json' }, amd, root);
    assert.equal(timerOnly.timerPath, '/x/t.json');
    assert.equal(timerOnly.costPath, join(root, 'calibration', 'hosts', 'amd-epyc-2cpu', 'cost-model.json'));
  });
  withSets(xeon, { 'amd-epyc-2cpu': amd }, (root) =>
    assert.equal(calibrationTarget({}, amd, root).host, 'amd-epyc-2cpu'),
  );
});

test('hostSetName is the CPU model in lower-case words and the CPU count', () => {
  assert.equal(hostSetName({ cpu_model: 'AMD EPYC', cpus: 2 }), 'amd-epyc-2cpu');
  assert.equal(hostSetName({ cpu_model: 'Intel(R) Xeon(R) Processor', cpus: 2 }), 'intel-xeon-processor-2cpu');
  assert.equal(
    hostSetName({ cpu_model: 'Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz', cpus: 8 }),
    'intel-core-i7-8650u-cpu-1-90ghz-8cpu',
  );
  assert.equal(hostSetName({ cpu_model: '???', cpus: 1 }), 'cpu-1cpu');
});
