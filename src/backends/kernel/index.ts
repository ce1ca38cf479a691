/** The kernel backend's public surface. */
export { createKernelBackend, type KernelBackend, type KernelBackendOptions } from './backend.ts';
export { PAST_BATCH } from './batch_wait.ts';
export { PAST_BOUNDARY } from './full_scan_wait.ts';
export type { KsmdClock } from './ksmd_meter.ts';
export { BackendUnavailable } from './errors.ts';
export { defaultAgentPath } from './agent.ts';
