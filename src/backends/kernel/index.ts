/** The kernel backend's public surface. */
export {
  createKernelBackend,
  PAST_BOUNDARY,
  type KernelBackend,
  type KernelBackendOptions,
  type KsmdClock,
} from './backend.ts';
export { BackendUnavailable } from './errors.ts';
export { defaultAgentPath } from './agent.ts';
