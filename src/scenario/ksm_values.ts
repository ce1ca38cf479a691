/**
 * The `ksm:` section of a scenario, checked at load time: every value is written, in file
 * order, to a freshly booted model machine's /sys/kernel/mm/ksm, whose stores parse exactly
 * as Linux 6.18's do (src/sysfs; checked against the live kernel by
 * scenarios/sysfs-errors.yaml). A write that would fail there fails the same way when a
 * backend starts, after run=2 and on Linux's defaults, so it is a problem of the file.
 */
import { PAGE_SIZE } from '../lib/sizes.ts';
import { createSystem, sysfsWrite } from '../system.ts';
import { describeReturn } from '../lib/errno.ts';
import { describeValue } from './schema.ts';

/** What each writable file takes, for messages (the rule itself lives in the store). */
export const TAKES: Readonly<Record<string, string>> = {
  run: '0, 1 or 2',
  pages_to_scan: 'an unsigned 32-bit decimal integer, and no value while advisor_mode is scan-time',
  sleep_millisecs: 'an unsigned 32-bit decimal integer',
  stable_node_chains_prune_millisecs: 'an unsigned 32-bit decimal integer',
  max_page_sharing: 'a decimal integer from 2 to 2147483647',
  merge_across_nodes: '0 or 1',
  use_zero_pages: 'a boolean as kstrtobool reads it (1, 0, y, n, t, f, on, off)',
  smart_scan: 'a boolean as kstrtobool reads it (1, 0, y, n, t, f, on, off)',
  advisor_mode: 'none or scan-time',
  advisor_max_cpu: 'an unsigned 64-bit decimal integer',
  advisor_min_pages_to_scan: 'an unsigned 64-bit decimal integer',
  advisor_max_pages_to_scan: 'an unsigned 64-bit decimal integer',
  advisor_target_scan_time: 'an unsigned 64-bit decimal integer of at least 1',
};

export interface KsmValueProblem {
  readonly file: string;
  readonly message: string;
}

/** The writes of `values` (file, text) that Linux would refuse at the start of a run. */
export function checkKsmValues(values: ReadonlyArray<readonly [string, string]>, numaNodes: number): KsmValueProblem[] {
  const sys = createSystem({ ram: 64 * PAGE_SIZE, numaNodes });
  const problems: KsmValueProblem[] = [];
  for (const [file, value] of values) {
    const err = sysfsWrite(sys, `ksm/${file}`, value);
    if (err === 0) continue;
    const takes = TAKES[file];
    problems.push({
      file,
      message:
        `Writing ${describeValue(value)} to /sys/kernel/mm/ksm/${file} fails with ${describeReturn(err)}` +
        (takes === undefined ? '' : `; it takes ${takes}`),
    });
  }
  return problems;
}
