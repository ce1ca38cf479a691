/**
 * The live KSM+ daemon's control directory, /run/samepage/ksm+/: one regular file per
 * control file of the policy (src/policy/control.ts), so that the thesis's interface works
 * with the directory changed:
 *
 *   echo "+ firefox" > /run/samepage/ksm+/processes_to_scan
 *
 * There is no FUSE here, so a write is a change of a file the daemon owns: the daemon
 * watches the directory (inotify, through fs.watch), and when a writable file changes it
 * waits SETTLE_MS for the writer to finish, reads the file, carries out each line
 * (processes_to_scan, pids_to_scan, cgroups_to_scan: one "+ X" or "- X" per line; a knob:
 * its value), and writes the file back as reading it should show (the names, the value).
 * What it cannot carry out (EINVAL for a bad line, ESRCH for a pid that does not exist) is
 * logged and written to `last_error` ("EINVAL processes_to_scan: + 0123456789abcdef"), since
 * a write(2) to a regular file cannot fail with the store's errno as a sysfs write does.
 *
 * The race window: two writers within SETTLE_MS of each other write the same file in turn,
 * and the daemon sees only what the last one left, so a command can be lost. `samepage plus
 * add|remove`, which talk to the daemon over its socket, have no such window; scripts that
 * must not lose a line should use them, or write one line and read the file back.
 *
 * The socket, /run/samepage/plus.sock (root only, mode 0600), takes one JSON request per
 * line and answers one JSON line: {"cmd":"add","name":"firefox"}, {"cmd":"remove","pid":12},
 * {"cmd":"list"}, {"cmd":"status"}, {"cmd":"set","knob":"pages_to_scan","value":"1000"}.
 */
import { chmodSync, mkdirSync, readFileSync, rmdirSync, rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { errnoName } from '../lib/errno.ts';
import { PLUS_DIR, PLUS_LIST_FILES } from '../lib/plus_files.ts';
import type { ControlFile } from '../policy/control.ts';

export const PLUS_SOCKET = '/run/samepage/plus.sock';
/** The file that tells what the last refused write was. */
export const LAST_ERROR = 'last_error';
/** How long a changed file must stay unchanged before the daemon reads it. */
export const SETTLE_MS = 20;

/** A request on the socket. */
export type PlusRequest =
  | { readonly cmd: 'add' | 'remove'; readonly name?: string; readonly pid?: number; readonly cgroup?: string }
  | { readonly cmd: 'list' }
  | { readonly cmd: 'status' }
  | { readonly cmd: 'set'; readonly knob: string; readonly value: string };

/** `add`/`remove`'s request: exactly one of a program's name, a pid or a cgroup. */
export function targetRequest(
  cmd: 'add' | 'remove',
  target: { readonly name?: string | undefined; readonly pid?: number; readonly cgroup?: string },
): PlusRequest {
  const { name, pid, cgroup } = target;
  if ([name, pid, cgroup].filter((x) => x !== undefined).length !== 1)
    throw new Error('Give one of NAME, --pid PID or --cgroup PATH');
  return name !== undefined ? { cmd, name } : pid !== undefined ? { cmd, pid } : { cmd, cgroup: cgroup! };
}

/** `set`'s request from `knob=value` (the daemon checks the knob and the value). */
export function setRequest(text: string): PlusRequest {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`Expected knob=value, got "${text}"`);
  return { cmd: 'set', knob: text.slice(0, eq).trim(), value: text.slice(eq + 1).trim() };
}

/** An answer: ok with what was asked for, or the errno name and why. */
export type PlusResponse =
  | ({ readonly ok: true } & Readonly<Record<string, unknown>>)
  | { readonly ok: false; readonly errno: string; readonly error: string };

export interface ControlOptions {
  readonly dir?: string;
  readonly socket?: string;
  readonly files: readonly ControlFile[];
  /** Answers a socket request. */
  readonly request: (req: PlusRequest) => PlusResponse;
  /** Called after a file or socket command changed something (the daemon wakes up). */
  readonly onChange: () => void;
  readonly log: (message: string) => void;
}

export class ControlDirectory {
  readonly dir: string;
  readonly socketPath: string;
  readonly #files: ReadonlyMap<string, ControlFile>;
  readonly #opts: ControlOptions;
  /** What the daemon last wrote to each file: a change to anything else is a command. */
  readonly #written = new Map<string, string>();
  readonly #pending = new Map<string, NodeJS.Timeout>();
  #watcher: FSWatcher | undefined;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  constructor(opts: ControlOptions) {
    this.#opts = opts;
    this.dir = opts.dir ?? PLUS_DIR;
    this.socketPath = opts.socket ?? PLUS_SOCKET;
    this.#files = new Map(opts.files.map((f) => [f.name, f]));
  }

  /** Creates the directory and its files, and starts watching and listening. */
  async open(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    for (const f of this.#files.values()) this.#write(f.name, f.show(), f.store === undefined ? 0o444 : 0o644);
    this.#write(LAST_ERROR, '', 0o444);
    this.#watcher = watch(this.dir, (_event, name) => {
      if (typeof name === 'string') this.#changed(name);
    });
    // A socket file left by a daemon that died: the KSM lock says nobody holds it now.
    rmSync(this.socketPath, { force: true });
    const server = createServer((s) => this.#serve(s));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.socketPath, 0o600);
  }

  /** Rewrites every file whose text changed (counters after a batch, names after a command). */
  refresh(): void {
    for (const f of this.#files.values()) {
      if (this.#pending.has(f.name)) continue;
      const text = f.show();
      if (this.#written.get(f.name) !== text) this.#write(f.name, text);
    }
  }

  /** Stops watching and listening, and removes the files, the directory and the socket. */
  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    for (const t of this.#pending.values()) clearTimeout(t);
    this.#pending.clear();
    for (const s of this.#sockets) s.destroy();
    this.#server?.close();
    this.#server = undefined;
    rmSync(this.socketPath, { force: true });
    for (const name of [...this.#files.keys(), LAST_ERROR]) rmSync(join(this.dir, name), { force: true });
    try {
      rmdirSync(this.dir); // only when empty
    } catch {
      // Something else put a file there: leave the directory.
    }
  }

  #write(name: string, text: string, mode?: number): void {
    const path = join(this.dir, name);
    writeFileSync(path, text, mode === undefined ? undefined : { mode });
    if (mode !== undefined) chmodSync(path, mode);
    this.#written.set(name, text);
  }

  #changed(name: string): void {
    const f = this.#files.get(name);
    if (f?.store === undefined) return;
    clearTimeout(this.#pending.get(name));
    this.#pending.set(
      name,
      setTimeout(() => {
        this.#pending.delete(name);
        this.#apply(f);
      }, SETTLE_MS),
    );
  }

  /** Carries out what was written to `f`, then writes back what reading it should show. */
  #apply(f: ControlFile): void {
    const path = join(this.dir, f.name);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      text = '';
    }
    if (text === this.#written.get(f.name)) return;
    const listed = new Set((this.#written.get(f.name) ?? '').split('\n').filter((l) => l !== ''));
    const isList = (PLUS_LIST_FILES as readonly string[]).includes(f.name);
    const lines = isList ? text.split('\n').filter((l) => l.trim() !== '') : text.trim() === '' ? [] : [text];
    const errors: string[] = [];
    let changed = false;
    for (const line of lines) {
      // `>>` appends to the listing: its old lines are not commands.
      if (isList && listed.has(line)) continue;
      const r = f.store!(line);
      if (r === 0) changed = true;
      else errors.push(`${errnoName(-r) ?? `errno ${-r}`} ${f.name}: ${line.trimEnd()}`);
    }
    for (const e of errors) this.#opts.log(`refused: ${e}`);
    if (errors.length > 0) this.#write(LAST_ERROR, `${errors.join('\n')}\n`);
    this.#write(f.name, f.show());
    if (changed) this.#opts.onChange();
  }

  #serve(s: Socket): void {
    this.#sockets.add(s);
    s.on('close', () => this.#sockets.delete(s));
    s.on('error', () => s.destroy());
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > 1 << 20) {
        s.destroy();
        return;
      }
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        s.write(`${JSON.stringify(this.#answer(line))}\n`);
      }
    });
  }

  #answer(line: string): PlusResponse {
    let req: PlusRequest;
    try {
      req = JSON.parse(line) as PlusRequest;
    } catch {
      return { ok: false, errno: 'EINVAL', error: 'the request is not JSON' };
    }
    const res = this.#opts.request(req);
    if (res.ok && req.cmd !== 'list' && req.cmd !== 'status') {
      this.refresh();
      this.#opts.onChange();
    }
    return res;
  }
}
/**
 * Sends one request to the running daemon and resolves to its answer; rejects, saying why,
 * when there is no daemon (no socket), it is not ours to talk to (not root) or it does not
 * answer within `timeoutMs`.
 */
export function plusRequest(req: PlusRequest, socket = PLUS_SOCKET, timeoutMs = 10_000): Promise<PlusResponse> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`the daemon at ${socket} did not answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify(req)}\n`));
    s.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      s.end();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as PlusResponse);
      } catch {
        reject(new Error(`the daemon at ${socket} answered something that is not JSON`));
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why =
        e.code === 'ENOENT' || e.code === 'ECONNREFUSED'
          ? `no samepage plus daemon is running (no socket at ${socket}); start one with \`samepage plus NAME...\``
          : e.code === 'EACCES'
            ? `${socket} is root's: run as root (reading ${PLUS_DIR}/ needs no privileges)`
            : `cannot reach the daemon at ${socket}: ${e.message}`;
      reject(new Error(why));
    });
  });
}

/** A request to the running daemon whose refusal (`{ ok: false }`) is thrown as `ERRNO: why`. */
export async function askPlus(req: PlusRequest, socket = PLUS_SOCKET): Promise<Readonly<Record<string, unknown>>> {
  const res = await plusRequest(req, socket);
  if (!res.ok) throw new Error(`${res.errno}: ${res.error}`);
  return res;
}
