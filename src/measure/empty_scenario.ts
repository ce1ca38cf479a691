import type { Scenario } from '../scenario/types.ts';

/**
 * A scenario with no steps, for a kernel backend that a measurement then drives step by
 * step: `ramBytes` is the machine's size, for a model of the same run.
 */
export function emptyScenario(name: string, ramBytes: number): Scenario {
  return {
    version: 1,
    name,
    description: undefined,
    machine: { ram: ramBytes, numaNodes: 1 },
    ksm: [],
    steps: [],
    stepLines: [],
  };
}
