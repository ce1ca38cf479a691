/**
 * Whether a scenario's figures are exact under the format's rules (docs/scenario-format.md,
 * "The kernel backend"), so that the kernel backend and the model must agree on every counter.
 * They are not when the live kernel cannot do what the scenario describes (more NUMA nodes
 * than the machine has, the KSM+ interface, which only the model implements), or when a
 * figure depends on wall-clock time (a timed wait with ksmd running: how many pages the
 * real ksmd scans in N ms is the machine's, not the model's).
 */
import type { Scenario } from './types.ts';

const KSM_PLUS = /^(\/sys\/kernel\/mm\/)?ksm\+\//;
/** The KSM+ daemon's control files: the model runs the daemon in a scenario, the kernel backend does not. */
const PLUS_DAEMON = /^\/run\/samepage\/ksm\+\//;
const KSM_RUN = /^(\/sys\/kernel\/mm\/)?ksm\/run$/;

/** The reason the scenario's figures are not exact on a machine with `liveNodes` NUMA nodes, or undefined. */
export function whyNotExact(scenario: Scenario, liveNodes: number): string | undefined {
  const nodes = scenario.machine.numaNodes;
  if (nodes > liveNodes) return `needs ${nodes} NUMA nodes, this machine has ${liveNodes}`;
  // The scenario's view of ksm/run, as the kernel backend tracks it (a refused write changes nothing).
  let run = scenario.ksm.find(([file]) => file === 'run')?.[1]?.trim() ?? '0';
  for (const [index, step] of scenario.steps.entries()) {
    if (step.kind === 'sysfs') {
      if (KSM_PLUS.test(step.path))
        return `steps[${index}] writes ${step.path}: the KSM+ interface exists only in the model`;
      if (PLUS_DAEMON.test(step.path))
        return `steps[${index}] writes ${step.path}: scenarios run the KSM+ daemon on the model only`;
      if (KSM_RUN.test(step.path) && step.errno === undefined) run = step.value.trim();
    } else if (step.kind === 'expect') {
      const plus = step.checks.find((c) => KSM_PLUS.test(c.path));
      if (plus !== undefined) return `steps[${index}] checks ${plus.path}: the KSM+ interface exists only in the model`;
      const daemon = step.checks.find((c) => PLUS_DAEMON.test(c.path));
      if (daemon !== undefined)
        return `steps[${index}] checks ${daemon.path}: scenarios run the KSM+ daemon on the model only`;
    } else if (step.kind === 'wait' && step.unit === 'ms' && run === '1') {
      return `steps[${index}] waits ${step.count} ms with ksmd running: what ksmd does in wall-clock time is not a figure of the contract`;
    }
  }
  return undefined;
}
