import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../lib/prng.ts';
import { PLUS_FILE_NAMES, PLUS_FILES } from '../lib/plus_files.ts';
import { controlFiles } from './control.ts';
import { PlusEngine } from './engine.ts';
import type { PlusHost } from './host.ts';

/** A machine with one process (pid 42, started at tick 7) and nothing else. */
const host: PlusHost = {
  processes: () => [{ pid: 42, start: '7', comm: 'app' }],
  process: (pid) => (pid === 42 ? { pid: 42, start: '7', comm: 'app' } : undefined),
  cgroup: () => '/',
  mappings: () => [],
  pages: () => true,
  read: () => true,
  ksmStat: () => undefined,
  mergeableRanges: () => undefined,
  fullScans: () => 0,
};

function files() {
  const engine = new PlusEngine(host, { prng: new Prng(0) });
  const list = controlFiles(engine, host, () => ({
    pages_shared: 1,
    pages_sharing: 2,
    general_profit: 3,
    daemon_rss: 5,
  }));
  return { engine, byName: new Map(list.map((f) => [f.name, f])), list };
}

test('the control files are the directory lib/plus_files.ts declares, writable where it says', () => {
  const { list } = files();
  assert.deepEqual(
    list.map((f) => f.name),
    PLUS_FILE_NAMES,
  );
  for (const f of list)
    assert.equal(f.store !== undefined, PLUS_FILES[f.name as keyof typeof PLUS_FILES] === 'rw', f.name);
});

test('processes_to_scan takes "+ NAME" and "- NAME" and lists names oldest first; anything else is EINVAL', () => {
  const { byName } = files();
  const f = byName.get('processes_to_scan')!;
  assert.equal(f.store!('+ firefox\n'), 0);
  assert.equal(f.store!('+ okular'), 0);
  assert.equal(f.store!('+ firefox'), 0, 'a name given twice is listed once');
  assert.equal(f.show(), 'firefox\nokular\n');
  assert.equal(f.store!('- firefox\n'), 0);
  assert.equal(f.show(), 'okular\n');
  for (const bad of ['firefox', '+', '+ 0123456789abcdef', '* x']) assert.equal(f.store!(bad), -22, bad);
  assert.equal(f.show(), 'okular\n', 'a refused write changes nothing');
});

test('pids_to_scan takes a live pid (ESRCH otherwise), cgroups_to_scan an absolute path', () => {
  const { byName, engine } = files();
  assert.equal(byName.get('pids_to_scan')!.store!('+ 42\n'), 0);
  assert.deepEqual(engine.selection.pids, [{ pid: 42, start: '7' }]);
  assert.equal(byName.get('pids_to_scan')!.store!('+ 43'), -3);
  assert.equal(byName.get('pids_to_scan')!.store!('+ 1'), -22, 'init is never selected');
  assert.equal(byName.get('pids_to_scan')!.store!('+ x'), -22);
  assert.equal(byName.get('cgroups_to_scan')!.store!('+ /system.slice/x.service\n'), 0);
  assert.equal(byName.get('cgroups_to_scan')!.show(), '/system.slice/x.service\n');
  assert.equal(byName.get('cgroups_to_scan')!.store!('+ system.slice'), -22);
  assert.equal(byName.get('cgroups_to_scan')!.store!('+ /'), -22, 'the root cgroup would select every process');
  assert.equal(byName.get('cgroups_to_scan')!.store!('+ /a/../b'), -22);
});

test('knobs take a number in their range; counters show the machine figures and the net profit', () => {
  const { byName } = files();
  assert.equal(byName.get('pages_to_scan')!.store!('2000\n'), 0);
  assert.equal(byName.get('pages_to_scan')!.show(), '2000\n');
  assert.equal(byName.get('initial_coefficient')!.store!('0'), -22);
  assert.equal(byName.get('initial_coefficient')!.store!('101'), -22);
  assert.equal(byName.get('run')!.store!('1 2'), -22);
  assert.equal(byName.get('sleep_millisecs')!.store!('-5'), -22);
  assert.equal(byName.get('pages_sharing')!.show(), '2\n');
  assert.equal(byName.get('net_profit')!.show(), '-2\n');
});
