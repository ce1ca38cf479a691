/**
 * Test helper: a fake /sys/kernel/mm/ksm with the kernel's store rules, for the tests of
 * saving, restoring and journaling KSM's files without touching the live machine.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { readSysfs, restorableValue, type SysfsIo } from '../src/host/ksm_sysfs.ts';

/**
 * A fake /sys/kernel/mm/ksm in a temporary directory, with the stores' rules that
 * saveKsm/restoreKsm must respect, as mm/ksm.c of Linux 6.18 has them (run_store,
 * max_page_sharing_store, merge_across_nodes_store, pages_to_scan_store, advisor_mode_store): run=2 unmerges everything;
 * max_page_sharing and merge_across_nodes are EBUSY while KSM pages exist; pages_to_scan is
 * EINVAL while the advisor is scan-time; switching advisor_mode to none sets pages_to_scan
 * to 100, to scan-time sets it to advisor_min_pages_to_scan. Every write is logged.
 */
export class FakeKsm {
  readonly dir = mkdtempSync(join(tmpdir(), 'samepage-fake-ksm-'));
  readonly log: string[] = [];
  readonly refuse = new Map<string, number>();
  readonly io: SysfsIo = { read: (p) => this.#read(p), write: (p, v) => this.#write(p, v) };

  constructor(values: Readonly<Record<string, string>>, readOnly: Readonly<Record<string, string>> = {}) {
    for (const [f, v] of Object.entries(values)) writeFileSync(join(this.dir, f), `${v}\n`, { mode: 0o644 });
    for (const [f, v] of Object.entries(readOnly)) writeFileSync(join(this.dir, f), `${v}\n`, { mode: 0o444 });
    // root may write a 0444 file: saveKsm must go by the mode bit, as for sysfs.
    chmodSync(join(this.dir, 'pages_shared'), 0o444);
  }

  get(file: string): string {
    return restorableValue(readFileSync(join(this.dir, file), 'utf8'));
  }

  set(file: string, value: string): void {
    const text = file === 'advisor_mode' ? (value === 'none' ? '[none] scan-time' : 'none [scan-time]') : value;
    writeFileSync(join(this.dir, file), `${text}\n`);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  #read(path: string): string | undefined {
    return readSysfs(path);
  }

  #write(path: string, value: string): number {
    const file = basename(path);
    this.log.push(`${file}=${value}`);
    const refused = this.refuse.get(file);
    if (refused !== undefined) return refused;
    if (file === 'run') {
      if (!['0', '1', '2'].includes(value)) return -22;
      if (value === '2') this.set('pages_shared', '0');
    } else if (file === 'max_page_sharing' || file === 'merge_across_nodes') {
      if (this.get('pages_shared') !== '0') return -16;
    } else if (file === 'pages_to_scan') {
      if (this.get('advisor_mode') !== 'none') return -22;
    } else if (file === 'advisor_mode') {
      if (value !== 'none' && value !== 'scan-time') return -22;
      if (value !== this.get('advisor_mode')) {
        this.set('pages_to_scan', value === 'none' ? '100' : this.get('advisor_min_pages_to_scan'));
      }
    }
    this.set(file, value);
    return 0;
  }
}

/** A machine as an administrator might leave it: ksmd running, KSM pages present. */
export const TUNED = {
  run: '1',
  pages_to_scan: '100',
  sleep_millisecs: '20',
  max_page_sharing: '256',
  merge_across_nodes: '1',
  advisor_mode: 'none',
  advisor_min_pages_to_scan: '500',
  advisor_max_pages_to_scan: '30000',
};

export function fakeKsm(values: Readonly<Record<string, string>>): FakeKsm {
  const fake = new FakeKsm(values, { pages_shared: '7', full_scans: '3' });
  fake.set('advisor_mode', values.advisor_mode ?? 'none');
  return fake;
}

export function state(fake: FakeKsm): Record<string, string> {
  return Object.fromEntries(Object.keys(TUNED).map((f) => [f, fake.get(f)]));
}
