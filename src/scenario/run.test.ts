import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StepError } from './backend.ts';
import type { Backend } from './backend.ts';
import type { CounterRecord } from './records.ts';
import { runScenario } from './run.ts';
import type { RunProgress } from './run.ts';
import type { Advice, Pattern, PrctlOption, Scenario, Step, WaitUnit } from './types.ts';

/**
 * A backend that answers from tables and logs every call, so the tests see exactly what the
 * runner asked for and in which order.
 */
class FakeBackend implements Backend {
  readonly name = 'model' as const;
  readonly log: string[] = [];
  /** Contents of readPath, by path. */
  readonly files = new Map<string, string>();
  /** sysfsWrite results by path (default 0). */
  readonly sysfsResults = new Map<string, number>();
  digest = 'ab'.repeat(32);
  madviseResult = 0;
  prctlResult = 1;
  waitReason: string | undefined = undefined;
  /** Step method that throws, and what. */
  throwOn: { method: string; error: Error } | undefined = undefined;
  time = 0;

  #call(entry: string): void {
    this.log.push(entry);
    const method = entry.split(' ')[0] ?? '';
    if (this.throwOn?.method === method) throw this.throwOn.error;
  }

  async start(scenario: Scenario): Promise<void> {
    this.#call(`start ${scenario.name}`);
  }
  async spawn(proc: string, comm: string): Promise<void> {
    this.#call(`spawn ${proc} ${comm}`);
  }
  async mmap(proc: string, region: string, size: number, shared: boolean, node: number | undefined): Promise<void> {
    this.#call(`mmap ${proc} ${region} ${size} ${shared} ${node}`);
  }
  async fill(proc: string, region: string, pattern: Pattern, offset: number, size: number | undefined): Promise<void> {
    this.#call(`fill ${proc} ${region} ${pattern.kind} ${offset} ${size}`);
  }
  async write(proc: string, region: string, offset: number, bytes: Uint8Array): Promise<void> {
    this.#call(`write ${proc} ${region} ${offset} ${Buffer.from(bytes).toString('hex')}`);
  }
  async readSha256(proc: string, region: string, offset: number, size: number): Promise<string> {
    this.#call(`readSha256 ${proc} ${region} ${offset} ${size}`);
    return this.digest;
  }
  async madvise(
    proc: string,
    region: string,
    advice: Advice,
    offset: number,
    size: number | undefined,
  ): Promise<number> {
    this.#call(`madvise ${proc} ${region} ${advice} ${offset} ${size}`);
    return this.madviseResult;
  }
  async prctl(proc: string, option: PrctlOption, arg: number): Promise<number> {
    this.#call(`prctl ${proc} ${option} ${arg}`);
    return this.prctlResult;
  }
  async fork(proc: string, child: string): Promise<void> {
    this.#call(`fork ${proc} ${child}`);
  }
  async exec(proc: string, comm: string): Promise<void> {
    this.#call(`exec ${proc} ${comm}`);
  }
  async munmap(proc: string, region: string): Promise<void> {
    this.#call(`munmap ${proc} ${region}`);
  }
  async exit(proc: string): Promise<void> {
    this.#call(`exit ${proc}`);
  }
  async sysfsWrite(path: string, value: string): Promise<number> {
    this.#call(`sysfsWrite ${path} ${value}`);
    return this.sysfsResults.get(path) ?? 0;
  }
  async readPath(path: string): Promise<string | undefined> {
    this.#call(`readPath ${path}`);
    return this.files.get(path);
  }
  async wait(unit: WaitUnit, count: number): Promise<string | undefined> {
    this.#call(`wait ${count} ${unit}`);
    if (this.waitReason === undefined && unit === 'ms') this.time += count;
    return this.waitReason;
  }
  async record(label: string): Promise<CounterRecord> {
    this.#call(`record ${label}`);
    return { label, time_ms: this.time, ksm: { pages_sharing: 3 }, procs: {} };
  }
  timeMs(): number {
    return this.time;
  }
  async stop(): Promise<void> {
    this.log.push('stop');
  }
}

function scenario(steps: Step[]): Scenario {
  return {
    version: 1,
    name: 'fake',
    description: undefined,
    machine: { ram: 1 << 30, numaNodes: 1 },
    ksm: [],
    steps,
    stepLines: steps.map((_, i) => i + 10),
  };
}

const P = 'a';
const R = 'r';

test('runScenario calls the backend for every step in order and stops it', async () => {
  const backend = new FakeBackend();
  const result = await runScenario(
    scenario([
      { kind: 'spawn', proc: P, comm: 'app' },
      { kind: 'mmap', proc: P, region: R, size: 8192, shared: false, node: undefined },
      { kind: 'fill', proc: P, region: R, pattern: { kind: 'zero' }, offset: 0, size: undefined },
      { kind: 'write', proc: P, region: R, offset: 3, bytes: Uint8Array.from([1, 255]) },
      { kind: 'fork', proc: P, child: 'b' },
      { kind: 'exec', proc: 'b', comm: 'other' },
      { kind: 'munmap', proc: P, region: R },
      { kind: 'wait', unit: 'full_scans', count: 2 },
      { kind: 'record', label: 'end' },
      { kind: 'exit', proc: 'b' },
    ]),
    backend,
  );
  assert.deepEqual(backend.log, [
    'start fake',
    'spawn a app',
    'mmap a r 8192 false undefined',
    'fill a r zero 0 undefined',
    'write a r 3 01ff',
    'fork a b',
    'exec b other',
    'munmap a r',
    'wait 2 full_scans',
    'record end',
    'exit b',
    'stop',
  ]);
  assert.deepEqual(result, {
    scenario: 'fake',
    backend: 'model',
    ok: true,
    records: [{ label: 'end', time_ms: 0, ksm: { pages_sharing: 3 }, procs: {} }],
    expects: [],
    calls: [],
  });
});

test('runScenario compares expect paths and goes on after a failed expect', async () => {
  const backend = new FakeBackend();
  backend.files.set('/sys/kernel/mm/ksm/pages_sharing', '512\n');
  backend.files.set('/proc/a/ksm_stat/ksm_merge_any', 'yes');
  backend.files.set('/sys/kernel/mm/ksm/advisor_mode', 'none [scan-time]');
  const result = await runScenario(
    scenario([
      {
        kind: 'expect',
        checks: [
          { path: '/sys/kernel/mm/ksm/pages_sharing', expected: '>= 512' },
          { path: '/proc/a/ksm_stat/ksm_merge_any', expected: 'no' },
          { path: '/sys/kernel/mm/ksm/advisor_mode', expected: 'scan-time' },
          { path: '/proc/a/rss_pages', expected: 0 },
        ],
      },
      { kind: 'record', label: 'after' },
    ]),
    backend,
  );
  assert.equal(result.ok, false);
  assert.deepEqual(result.expects, [
    { step: 0, path: '/sys/kernel/mm/ksm/pages_sharing', expected: '>= 512', actual: 512, ok: true },
    { step: 0, path: '/proc/a/ksm_stat/ksm_merge_any', expected: 'no', actual: 'yes', ok: false },
    { step: 0, path: '/sys/kernel/mm/ksm/advisor_mode', expected: 'scan-time', actual: 'scan-time', ok: true },
    { step: 0, path: '/proc/a/rss_pages', expected: 0, actual: null, ok: false },
  ]);
  assert.equal(result.records.length, 1, 'the record after the failed expect still runs');
  assert.equal(result.error, undefined);
});

test('runScenario fails a read whose digest differs, like an expect', async () => {
  const backend = new FakeBackend();
  const read = (sha256: string): Step => ({ kind: 'read', proc: P, region: R, offset: 1, size: 7, sha256 });
  const result = await runScenario(scenario([read('ab'.repeat(32)), read('cd'.repeat(32))]), backend);
  assert.equal(result.ok, false);
  assert.deepEqual(result.expects, [
    { step: 0, path: 'steps[0].read.sha256', expected: 'ab'.repeat(32), actual: 'ab'.repeat(32), ok: true },
    { step: 1, path: 'steps[1].read.sha256', expected: 'cd'.repeat(32), actual: 'ab'.repeat(32), ok: false },
  ]);
  assert.deepEqual(backend.log.slice(1, 3), ['readSha256 a r 1 7', 'readSha256 a r 1 7']);
});

test('runScenario records the results of madvise and prctl', async () => {
  const backend = new FakeBackend();
  backend.madviseResult = -22;
  const result = await runScenario(
    scenario([
      { kind: 'madvise', proc: P, region: R, advice: 'MADV_MERGEABLE', offset: 4096, size: 4096 },
      { kind: 'prctl', proc: P, option: 'PR_GET_MEMORY_MERGE', arg: 0 },
    ]),
    backend,
  );
  assert.equal(result.ok, true, 'a return value is recorded, not checked');
  assert.deepEqual(result.calls, [
    { step: 0, call: 'madvise', proc: P, result: -22 },
    { step: 1, call: 'prctl', proc: P, result: 1 },
  ]);
});

test("runScenario checks a madvise or prctl result against the step's returns", async () => {
  const backend = new FakeBackend();
  backend.madviseResult = -12;
  const result = await runScenario(
    scenario([
      { kind: 'prctl', proc: P, option: 'PR_GET_MEMORY_MERGE', arg: 0, returns: 1 },
      { kind: 'prctl', proc: P, option: 'PR_GET_MEMORY_MERGE', arg: 0, returns: 0 },
      { kind: 'madvise', proc: P, region: R, advice: 'MADV_MERGEABLE', offset: 0, size: undefined, returns: 'ENOMEM' },
      { kind: 'madvise', proc: P, region: R, advice: 'MADV_MERGEABLE', offset: 0, size: undefined, returns: 0 },
    ]),
    backend,
  );
  assert.equal(result.ok, false);
  assert.deepEqual(result.expects, [
    { step: 0, path: 'steps[0].prctl', expected: 1, actual: 1, ok: true },
    { step: 1, path: 'steps[1].prctl', expected: 0, actual: 1, ok: false },
    { step: 2, path: 'steps[2].madvise', expected: 'ENOMEM', actual: 'ENOMEM', ok: true },
    { step: 3, path: 'steps[3].madvise', expected: 0, actual: 'ENOMEM', ok: false },
  ]);
  assert.equal(result.calls?.length, 4, 'every result is recorded as well');
});

test('runScenario checks that a sysfs write fails with exactly the errno given', async () => {
  const backend = new FakeBackend();
  backend.sysfsResults.set('ksm/max_page_sharing', -16);
  backend.sysfsResults.set('ksm/run', -22);
  const result = await runScenario(
    scenario([
      { kind: 'sysfs', path: 'ksm/max_page_sharing', value: '2', errno: 'EBUSY' },
      { kind: 'sysfs', path: 'ksm/max_page_sharing', value: '2', errno: 'EINVAL' },
      { kind: 'sysfs', path: 'ksm/pages_to_scan', value: '5', errno: 'EINVAL' },
      { kind: 'sysfs', path: 'ksm/pages_to_scan', value: '5', errno: undefined },
      { kind: 'sysfs', path: 'ksm/run', value: '7', errno: undefined },
    ]),
    backend,
  );
  assert.equal(result.ok, false);
  assert.deepEqual(result.expects, [
    { step: 0, path: 'steps[0].sysfs', expected: 'EBUSY', actual: 'EBUSY', ok: true },
    { step: 1, path: 'steps[1].sysfs', expected: 'EINVAL', actual: 'EBUSY', ok: false },
    { step: 2, path: 'steps[2].sysfs', expected: 'EINVAL', actual: 'success', ok: false },
    { step: 4, path: 'steps[4].sysfs', expected: 'success', actual: 'EINVAL', ok: false },
  ]);
});

test('runScenario stops at a wait that can never finish and reports its reason', async () => {
  const backend = new FakeBackend();
  backend.waitReason = 'ksmd is stopped (run is 0)';
  const result = await runScenario(
    scenario([
      { kind: 'wait', unit: 'full_scans', count: 1 },
      { kind: 'record', label: 'never' },
    ]),
    backend,
  );
  assert.equal(result.ok, false);
  assert.deepEqual(result.expects, [
    { step: 0, path: 'steps[0].wait', expected: 'full_scans: 1', actual: 'ksmd is stopped (run is 0)', ok: false },
  ]);
  assert.equal(result.error, 'steps[0].wait (line 10): ksmd is stopped (run is 0)');
  assert.deepEqual(backend.log, ['start fake', 'wait 1 full_scans', 'stop']);
});

test('runScenario turns a StepError into a failed run with its message', async () => {
  const backend = new FakeBackend();
  backend.throwOn = { method: 'mmap', error: new StepError('Out of memory mapping region "r"') };
  const result = await runScenario(
    scenario([
      { kind: 'spawn', proc: P, comm: 'app' },
      { kind: 'mmap', proc: P, region: R, size: 4096, shared: true, node: 0 },
      { kind: 'exit', proc: P },
    ]),
    backend,
  );
  assert.equal(result.ok, false);
  assert.deepEqual(result.expects, [
    { step: 1, path: 'steps[1].mmap', expected: 'success', actual: 'Out of memory mapping region "r"', ok: false },
  ]);
  assert.equal(result.error, 'steps[1].mmap (line 11): Out of memory mapping region "r"');
  assert.equal(backend.log.at(-1), 'stop');
  assert.ok(!backend.log.includes('exit a'));
});

test('runScenario reports a StepError of start as a failed run', async () => {
  const backend = new FakeBackend();
  backend.throwOn = { method: 'start', error: new StepError('Initial ksm.run: writing "9" failed with EINVAL') };
  const result = await runScenario(scenario([{ kind: 'record', label: 'x' }]), backend);
  assert.equal(result.ok, false);
  assert.deepEqual(result.expects, [
    {
      step: -1,
      path: 'start',
      expected: 'success',
      actual: 'Initial ksm.run: writing "9" failed with EINVAL',
      ok: false,
    },
  ]);
  assert.equal(result.error, 'start: Initial ksm.run: writing "9" failed with EINVAL');
  assert.deepEqual(backend.log, ['start fake', 'stop']);
});

test('runScenario rethrows other errors after stopping the backend', async () => {
  const backend = new FakeBackend();
  backend.throwOn = { method: 'spawn', error: new TypeError('bug') };
  await assert.rejects(runScenario(scenario([{ kind: 'spawn', proc: P, comm: 'app' }]), backend), TypeError);
  assert.equal(backend.log.at(-1), 'stop');
});

test('runScenario reports progress of steps and waits', async () => {
  const backend = new FakeBackend();
  const events: RunProgress[] = [];
  await runScenario(
    scenario([
      { kind: 'spawn', proc: P, comm: 'app' },
      { kind: 'wait', unit: 'ms', count: 250 },
    ]),
    backend,
    {
      onProgress: (e) => {
        events.push(e);
      },
    },
  );
  assert.deepEqual(events, [
    { kind: 'step', index: 0, total: 2, step: 'spawn' },
    { kind: 'step', index: 1, total: 2, step: 'wait' },
    { kind: 'wait', done: 0, target: 250, unit: 'ms', elapsedMs: 0 },
  ]);
});
