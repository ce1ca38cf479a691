import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { generateScenario } from './generate.ts';
import { parseScenario } from './parse.ts';

test('generateScenario gives the same text for the same seed', () => {
  assert.equal(generateScenario(42), generateScenario(42));
  assert.notEqual(generateScenario(42), generateScenario(43));
});

test('generateScenario round-trips through parseScenario for 500 seeds', () => {
  for (let seed = 0; seed < 500; seed++) {
    const parsed = parseScenario(generateScenario(seed), `generated-${seed}.yaml`);
    assert.ok(parsed.ok, `seed ${seed}`);
  }
});

test('generateScenario scans every page in one batch and records after each wait', () => {
  for (let seed = 0; seed < 200; seed++) {
    const doc = parse(generateScenario(seed)) as {
      ksm: Record<string, number>;
      steps: Array<Record<string, Record<string, unknown>>>;
    };
    let pages = 0;
    const regions = new Map<string, Map<string, number>>();
    let run = 0;
    for (const [i, step] of doc.steps.entries()) {
      const [kind, f] = Object.entries(step)[0]!;
      if (kind === 'spawn') regions.set(String(f.proc), new Map());
      if (kind === 'mmap') {
        const n = Number.parseInt(String(f.size), 10) / 4;
        regions.get(String(f.proc))!.set(String(f.region), n);
        pages += n;
      }
      if (kind === 'fork') {
        const copy = new Map(regions.get(String(f.proc))!);
        for (const n of copy.values()) pages += n;
        regions.set(String(f.child), copy);
      }
      if (kind === 'munmap') regions.get(String(f.proc))!.delete(String(f.region));
      if (kind === 'sysfs' && f.path === 'ksm/run') run = Number(f.value);
      if (kind === 'wait') {
        assert.equal(run, 1, `seed ${seed} step ${i}: a wait while run is ${run}`);
        assert.ok(Object.keys(doc.steps[i + 1]!)[0] === 'record', `seed ${seed} step ${i}: no record after the wait`);
      }
    }
    assert.ok(doc.ksm.pages_to_scan! >= pages, `seed ${seed}: pages_to_scan ${doc.ksm.pages_to_scan} < ${pages} pages`);
    assert.equal(doc.ksm.sleep_millisecs, 20);
  }
});

test('the exec family execs, stays valid and is its own: the default family never execs', () => {
  let withExec = 0;
  for (let seed = 0; seed < 300; seed++) {
    const text = generateScenario(seed, { exec: true });
    assert.equal(text, generateScenario(seed, { exec: true }), `seed ${seed} is not reproducible`);
    const parsed = parseScenario(text, `generated-exec-${seed}.yaml`);
    assert.ok(parsed.ok, `exec seed ${seed}`);
    assert.equal(parsed.scenario.name, `generated-exec-${seed}`);
    if (parsed.scenario.steps.some((s) => s.kind === 'exec')) withExec++;
    assert.doesNotMatch(generateScenario(seed), /- exec:/, `default seed ${seed}`);
  }
  assert.ok(withExec > 100, `only ${withExec} of 300 exec-family scenarios exec`);
});

test('the batch family waits for batches in small batches and keeps the steps its seed has in the default family', () => {
  let batchWaits = 0;
  let scanWaits = 0;
  for (let seed = 0; seed < 300; seed++) {
    const text = generateScenario(seed, { batches: true });
    const parsed = parseScenario(text, `generated-batches-${seed}.yaml`);
    assert.ok(parsed.ok, `batch seed ${seed}`);
    assert.equal(parsed.scenario.name, `generated-batches-${seed}`);
    // The same steps as the default family's seed, waits aside.
    const plain = parseScenario(generateScenario(seed), 'plain.yaml');
    assert.ok(plain.ok);
    const notWaits = (steps: readonly { kind: string }[]): unknown[] => steps.filter((s) => s.kind !== 'wait');
    assert.deepEqual(notWaits(parsed.scenario.steps), notWaits(plain.scenario.steps), `seed ${seed}`);
    const doc = parse(text) as { ksm: Record<string, number> };
    const plainDoc = parse(generateScenario(seed)) as { ksm: Record<string, number> };
    // pages_to_scan a sixteenth to a quarter of every page (half the default family's bound).
    const pages = plainDoc.ksm.pages_to_scan! / 2;
    const toScan = doc.ksm.pages_to_scan!;
    if (pages > 50)
      assert.ok(toScan >= Math.ceil(pages / 16) && toScan <= Math.ceil(pages / 4), `seed ${seed}: ${toScan}`);
    assert.equal(doc.ksm.sleep_millisecs, 50);
    for (const s of parsed.scenario.steps) {
      if (s.kind !== 'wait') continue;
      if (s.unit === 'batches') batchWaits++;
      else scanWaits++;
    }
  }
  assert.ok(batchWaits > 2 * scanWaits && scanWaits > 0, `${batchWaits} batch waits, ${scanWaits} full-scan waits`);
});

test('the large family maps regions up to 1,024 pages, 2,048 or more in a quarter of its scenarios, and fills more of them at random', () => {
  let largest = 0;
  let deep = 0;
  let randomFills = 0;
  let plainRandomFills = 0;
  for (let seed = 0; seed < 300; seed++) {
    for (const batches of [false, true]) {
      const text = generateScenario(seed, { large: true, batches });
      assert.equal(text, generateScenario(seed, { large: true, batches }), `seed ${seed} is not reproducible`);
      const parsed = parseScenario(text, 'large.yaml');
      assert.ok(parsed.ok, `large seed ${seed}`);
      assert.equal(parsed.scenario.name, `generated-large-${batches ? 'batches-' : ''}${seed}`);
      let pages = 0;
      for (const s of parsed.scenario.steps) {
        if (s.kind !== 'mmap') continue;
        assert.ok(s.size <= 1024 * PAGE_SIZE, `seed ${seed}: a region of ${s.size} bytes`);
        largest = Math.max(largest, s.size / PAGE_SIZE);
        pages += s.size / PAGE_SIZE;
      }
      if (pages >= 2048) deep++;
      randomFills += (text.match(/random: /g) ?? []).length;
      plainRandomFills += (generateScenario(seed, { batches }).match(/random: /g) ?? []).length;
    }
  }
  assert.ok(largest > 900, `the largest region has ${largest} pages`);
  assert.ok(deep > 150, `only ${deep} of 600 scenarios map 2,048 pages or more`);
  assert.ok(
    randomFills > 2 * plainRandomFills,
    `${randomFills} random fills against ${plainRandomFills} without the family`,
  );
});
