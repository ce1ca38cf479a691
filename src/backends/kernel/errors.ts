/**
 * The kernel backend cannot run on this machine (not root, no writable KSM, no agent, KSM
 * already in use...). The CLI maps it to exit code 2; the message says why and what to do.
 */
export class BackendUnavailable extends Error {
  override readonly name = 'BackendUnavailable';
}

/** Another samepage run holds the KSM lock: worth waiting for, unlike other refusals. */
export class LockHeld extends BackendUnavailable {}
