/**
 * ksmd's batches from the text of a trace instance (host/ksmd_trace.ts records it; the
 * parse is pure, so tests feed it recorded text): ftrace's default line, `TASK-PID [CPU]
 * FLAGS SECONDS: EVENT: FIELDS`, of four events.
 *   - sched_switch to ksmd: ksmd runs. After a switch away in state S (a sleep) it begins a
 *     batch; after D (lru_add_drain_all's wait for the other CPUs' work) or R (preempted) it
 *     goes on with the one it was in.
 *   - sched_switch from ksmd: its CPU time so far is the batch's; in state S the batch ends.
 *   - timer_start by ksmd (process_timeout): the sleep that ends the batch is timed
 *     (schedule_timeout); without one ksmd waits for work.
 *   - ksm_start_scan and ksm_stop_scan: a full scan began, or ended, in the batch.
 * The batches before ksmd's first sleep in the trace are partial and left out. A trace can
 * lose an event (about one run in five of 1.5 s lost the switch that began one of ksmd's
 * batches): an event ksmd emits while it seems asleep begins a batch there, marked not
 * whole, its beginning and CPU unknown. (The loop they follow is mm/ksm.c's
 * ksm_scan_thread.)
 */
import type { KsmdBatch } from './ksmd_batches.ts';

const LINE = /^\s*(.*)-(\d+)\s+\[(\d+)\]\s+\S+\s+(\d+)\.(\d+):\s+(\w+):\s*(.*)$/;

/** Nanoseconds of a trace timestamp's seconds and decimals (µs or ns). */
function stampNs(sec: string, frac: string): number {
  return Number(sec) * 1e9 + Number(frac.padEnd(9, '0').slice(0, 9));
}

/** A field `name=value` of an event's text. */
function field(text: string, name: string): string | undefined {
  return new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(text)?.[1];
}

/** The batches of ksmd (pid `ksmdPid`) in a trace's text, in the order they ran. */
export function parseKsmdTrace(text: string, ksmdPid: number): KsmdBatch[] {
  const batches: KsmdBatch[] = [];
  const pid = String(ksmdPid);
  /** Whether ksmd's last switch away was a sleep (a batch begins when it runs next). */
  let slept = false;
  let onCpuSince: number | undefined;
  let open:
    | { beginNs: number; cpuNs: number; passStarted: boolean; passesEnded: number; armed: boolean; whole: boolean }
    | undefined;
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const [, , taskPid, , sec, frac, event, rest] = m as unknown as string[];
    const t = stampNs(sec!, frac!);
    if (event === 'sched_switch') {
      if (field(rest!, 'next_pid') === pid) {
        onCpuSince = t;
        if (slept) open = { beginNs: t, cpuNs: 0, passStarted: false, passesEnded: 0, armed: false, whole: true };
        slept = false;
      } else if (field(rest!, 'prev_pid') === pid) {
        if (open !== undefined && onCpuSince !== undefined) open.cpuNs += t - onCpuSince;
        onCpuSince = undefined;
        if (field(rest!, 'prev_state')?.startsWith('S') === true) {
          if (open !== undefined)
            batches.push({
              beginNs: open.beginNs,
              cpuNs: open.cpuNs,
              wallNs: t - open.beginNs,
              passStarted: open.passStarted,
              passesEnded: open.passesEnded,
              timed: open.armed,
              whole: open.whole,
            });
          open = undefined;
          slept = true;
        }
      }
    } else if (taskPid === pid) {
      if (open === undefined && slept) {
        // ksmd is running, but the switch to it was lost.
        open = { beginNs: t, cpuNs: 0, passStarted: false, passesEnded: 0, armed: false, whole: false };
        onCpuSince = t;
        slept = false;
      }
      if (open === undefined) continue;
      if (event === 'timer_start' && field(rest!, 'function') === 'process_timeout') open.armed = true;
      else if (event === 'ksm_start_scan') open.passStarted = true;
      else if (event === 'ksm_stop_scan') open.passesEnded++;
    }
  }
  return batches;
}
