/** A broken kernel invariant (BUG_ON): a bug in the model, never a user error. */
export class KernelBug extends Error {
  override readonly name = 'KernelBug';
}
