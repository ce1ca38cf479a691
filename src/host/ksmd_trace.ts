/**
 * ksmd as the live kernel runs it, from tracefs: a private trace instance (its own buffer
 * and options, so nobody else's tracing is touched) records what ksmd does while a piece of
 * work runs; the instance is removed afterwards on every path, and tracefs unmounted again
 * if samepage mounted it. Two traces: ksmd's batches (its context switches, the timers it
 * arms to sleep and KSM's scan events, made batches in lib/ksmd_trace.ts), and its slab
 * (its kmem cache allocations and frees, made a sequence of objects in lib/kmem_trace.ts).
 *
 * A crash cannot leave the instance behind for long: its name carries samepage's pid, and
 * the next trace removes the instances of pids that are gone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KsmdBatch } from '../lib/ksmd_batches.ts';
import { parseKsmdSlabTrace, type SlabEvent } from '../lib/kmem_trace.ts';
import { parseKsmdTrace } from '../lib/ksmd_trace.ts';
import { findKsmdPid } from './ksmd_affinity.ts';
import { HostUnusable } from './unusable.ts';

export const TRACEFS = '/sys/kernel/tracing';
const PREFIX = 'samepage-ksmd-';

/** Each CPU's buffer, in KiB: a batch is about 6 events of some 150 bytes, so a few minutes of 1 ms sleeps. */
const BUFFER_KB = 8192;

/** The events and the filter each needs, given ksmd's pid (ksmd emits the ksm ones alone). */
function batchEvents(pid: number): ReadonlyArray<readonly [string, string | undefined]> {
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

/** The trace instances of samepage processes that tracefs at `root` holds now. */
export function samepageTraceInstances(root = TRACEFS): string[] {
  const dir = join(root, 'instances');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(PREFIX)) : [];
}

/** Removes the instances left by samepage processes that are gone. */
function removeStale(root: string): void {
  for (const name of samepageTraceInstances(root)) {
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

/** What a private trace instance records: events (each with its filter, given ksmd's pid), and options. */
interface TraceSpec {
  readonly events: (ksmdPid: number) => ReadonlyArray<readonly [string, string | undefined]>;
  /** Files of the instance written before tracing starts, as path: value. */
  readonly settings: Readonly<Record<string, string>>;
  /** Who needs the trace, for the messages: "tracing ksmd". */
  readonly what: string;
}

/**
 * Runs `work` with a private trace instance that records `spec`, and returns its result
 * with the trace's text and ksmd's pid. Needs root and a kernel with ftrace and the events;
 * says so (HostUnusable) when it has not.
 */
async function traceInstance<T>(
  spec: TraceSpec,
  work: () => Promise<T>,
  root: string,
): Promise<{ result: T; text: string; ksmdPid: number }> {
  const ksmdPid = findKsmdPid();
  if (ksmdPid === undefined) throw new HostUnusable('ksmd is not running on this machine (no KSM)');
  const mounted = ensureMounted(root);
  const dir = join(root, 'instances', `${PREFIX}${process.pid}`);
  try {
    removeStale(root);
    for (const [event] of spec.events(ksmdPid))
      if (!existsSync(join(root, 'events', event)))
        throw new HostUnusable(`this kernel has no trace event ${event}: ${spec.what} needs it`);
    mkdirSync(dir);
    try {
      const put = (file: string, value: string): void => writeFileSync(join(dir, file), value);
      for (const [file, value] of Object.entries(spec.settings)) put(file, value);
      for (const [event, filter] of spec.events(ksmdPid)) {
        if (filter !== undefined) put(`events/${event}/filter`, filter);
        put(`events/${event}/enable`, '1');
      }
      const result = await work();
      put('tracing_on', '0');
      return { result, text: readFileSync(join(dir, 'trace'), 'utf8'), ksmdPid };
    } finally {
      rmdirSync(dir);
    }
  } finally {
    if (mounted) execFileSync('umount', [root], { stdio: 'pipe' });
  }
}

/**
 * Runs `work` while tracing ksmd, and returns its result with the trace. Needs root and a
 * kernel with ftrace and KSM's trace events; says so (HostUnusable) when it has not.
 */
export async function traceKsmd<T>(work: () => Promise<T>, root = TRACEFS): Promise<{ result: T; trace: KsmdTrace }> {
  const spec = {
    events: batchEvents,
    settings: { buffer_size_kb: String(BUFFER_KB), trace_clock: 'mono' },
    what: 'tracing ksmd',
  };
  const { result, text, ksmdPid } = await traceInstance(spec, work, root);
  return { result, trace: { batches: parseKsmdTrace(text, ksmdPid), text } };
}

/** ksmd's allocations and frees in any kmem cache, and KSM's events that name rmap_items. */
function slabEvents(pid: number): ReadonlyArray<readonly [string, string | undefined]> {
  return [
    ['kmem/kmem_cache_alloc', `common_pid == ${pid}`],
    ['kmem/kmem_cache_free', `common_pid == ${pid}`],
    ['ksm/ksm_merge_with_ksm_page', undefined],
    ['ksm/ksm_remove_rmap_item', undefined],
  ];
}

/**
 * Runs `work` while tracing ksmd's allocations and frees of rmap_items and stable nodes
 * (lib/kmem_trace.ts), with raw pointers: the order in which the live kernel hands out
 * and takes back their memory, which the model's slab must follow. Undefined events where
 * no KSM event named an rmap_item (nothing merged), so the cache could not be told.
 */
export async function traceKsmdSlab<T>(
  work: () => Promise<T>,
  root = TRACEFS,
): Promise<{ result: T; events: SlabEvent[] | undefined }> {
  const spec = {
    events: slabEvents,
    settings: { buffer_size_kb: String(BUFFER_KB), 'options/hash-ptr': '0' },
    what: "tracing ksmd's slab",
  };
  const { result, text } = await traceInstance(spec, work, root);
  return { result, events: parseKsmdSlabTrace(text) };
}
