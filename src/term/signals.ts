/** Waiting in the foreground until the user stops a long-running command. */

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Resolves with the first of SIGINT, SIGTERM or SIGHUP (or 'abort' when `signal` aborts: tests). */
export function untilStopped(signal?: AbortSignal): Promise<NodeJS.Signals | 'abort'> {
  return new Promise((resolve) => {
    const done = (why: NodeJS.Signals | 'abort'): void => {
      for (const s of STOP_SIGNALS) process.off(s, done);
      signal?.removeEventListener('abort', onAbort);
      resolve(why);
    };
    const onAbort = (): void => done('abort');
    for (const s of STOP_SIGNALS) process.on(s, done);
    signal?.addEventListener('abort', onAbort);
  });
}

/** Serves until the user stops the command (or `signal` aborts), then closes `server`. */
export async function serveUntilStopped(server: { close(): Promise<void> }, signal?: AbortSignal): Promise<void> {
  try {
    await untilStopped(signal);
  } finally {
    await server.close();
  }
}
