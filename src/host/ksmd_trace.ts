/**
 * ksmd's batches as the live kernel runs them, from tracefs: a private trace instance (its
 * own buffer, so nobody else's tracing is touched) records ksmd's context switches, the
 * timers it arms to sleep, and KSM's scan events while a piece of work runs; the instance is
 * removed afterwards on every path, and tracefs unmounted again if samepage mounted it. The
 * text becomes batches in lib/ksmd_trace.ts.
 *
 * A crash cannot leave the instance behind for long: its name carries samepage's pid, and
 * the next trace removes the instances of pids that are gone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KsmdBatch } from '../lib/ksmd_batches.ts';
import { parseKsmdTrace } from '../lib/ksmd_trace.ts';
import { findKsmdPid } from './ksmd_affinity.ts';
import { HostUnusable } from './unusable.ts';

export const TRACEFS = '/sys/kernel/tracing';
const PREFIX = 'samepage-ksmd-';

/** Each CPU's buffer, in KiB: a batch is about 6 events of some 150 bytes, so a few minutes of 1 ms sleeps. */
const BUFFER_KB = 8192;

/** The events and the filter each needs, given ksmd's pid (ksmd emits the ksm ones alone). */
function events(pid: number): ReadonlyArray<readonly [string, string | undefined]> {
  return [
    ['sched/sched_switch', `prev_pid == ${pid} || next_pid == ${pid}`],
    ['timer/timer_start', `common_pid == ${pid}`],
    ['ksm/ksm_start_scan', undefined],
    ['ksm/ksm_stop_scan', undefined],
  ];
}

/** What a trace of ksmd gives: its batches, and the trace's text they came from. */
export interface KsmdTrace {
  readonly batches: KsmdBatch[];
  readonly text: string;
}

/** Whether process `pid` exists. */
function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** Removes the instances left by samepage processes that are gone. */
function removeStale(root: string): void {
  for (const name of readdirSync(join(root, 'instances'))) {
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length));
    if (Number.isInteger(pid) && !alive(pid)) rmdirSync(join(root, 'instances', name));
  }
}

/** Mounts tracefs where it is absent; true if this call mounted it. */
function ensureMounted(root: string): boolean {
  if (existsSync(join(root, 'instances'))) return false;
  try {
    execFileSync('mount', ['-t', 'tracefs', 'nodev', root], { stdio: 'pipe' });
  } catch (err) {
    throw new HostUnusable(
      `tracefs is not mounted at ${root} and could not be mounted (${String((err as Error).message).trim()}): tracing ksmd needs root and a kernel with CONFIG_TRACING`,
    );
  }
  if (!existsSync(join(root, 'instances'))) throw new HostUnusable(`${root} has no trace instances`);
  return true;
}

/**
 * Runs `work` while tracing ksmd, and returns its result with the trace. Needs root and a
 * kernel with ftrace and KSM's trace events; says so (HostUnusable) when it has not.
 */
export async function traceKsmd<T>(work: () => Promise<T>, root = TRACEFS): Promise<{ result: T; trace: KsmdTrace }> {
  const ksmdPid = findKsmdPid();
  if (ksmdPid === undefined) throw new HostUnusable('ksmd is not running on this machine (no KSM)');
  const mounted = ensureMounted(root);
  const dir = join(root, 'instances', `${PREFIX}${process.pid}`);
  try {
    removeStale(root);
    for (const [event] of events(ksmdPid))
      if (!existsSync(join(root, 'events', event)))
        throw new HostUnusable(`this kernel has no trace event ${event}: tracing ksmd needs it`);
    mkdirSync(dir);
    try {
      const put = (file: string, value: string): void => writeFileSync(join(dir, file), value);
      put('buffer_size_kb', String(BUFFER_KB));
      put('trace_clock', 'mono');
      for (const [event, filter] of events(ksmdPid)) {
        if (filter !== undefined) put(`events/${event}/filter`, filter);
        put(`events/${event}/enable`, '1');
      }
      const result = await work();
      put('tracing_on', '0');
      const text = readFileSync(join(dir, 'trace'), 'utf8');
      return { result, trace: { batches: parseKsmdTrace(text, ksmdPid), text } };
    } finally {
      rmdirSync(dir);
    }
  } finally {
    if (mounted) execFileSync('umount', [root], { stdio: 'pipe' });
  }
}
