/**
 * What cannot run on this machine as asked: no KSM, no ptrace, a helper not built, another
 * samepage holding KSM, an address in use. The command line prints the message alone
 * (`samepage: ...`) and exits 2.
 */
import type { Server } from 'node:net';

export class HostUnusable extends Error {
  override readonly name = 'HostUnusable';
}

/** A server's failure to listen on `where` (HOST:PORT) as a HostUnusable; other errors as they are. */
function listenFailure(err: unknown, where: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new HostUnusable(`${where} is in use`);
  if (code === 'EADDRNOTAVAIL')
    return new HostUnusable(`${where.replace(/:\d+$/, '')} is not an address of this machine`);
  return err;
}

/** HOST:PORT as a URL or a message writes it (an IPv6 host in brackets). */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Starts `server` listening on `host`:`port`; an address in use or not this machine's is a HostUnusable. */
export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: unknown): void => reject(listenFailure(err, hostPort(host, port)));
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve();
    });
  });
}
