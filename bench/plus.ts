/**
 * The live measurements of `samepage plus` (docs/ksmplus-live.md), against MERGE_ANY on the
 * same workload, on this machine's kernel. Root, a writable /sys/kernel/mm/ksm, a C compiler,
 * no other KSM user. Not a test: it prints what it measured.
 *
 *   node dist/bench/plus.js table-5-2 [--seconds 180]
 *   node dist/bench/plus.js mix [--seconds 300] [--ksm-pages 1000] [--writers 4] [--no-chromium]
 *   node dist/bench/plus.js cost [--mib 1024] [--seconds 120]
 *   node dist/bench/plus.js unmark [--pages 16384]
 *   node dist/bench/plus.js reader [--pages 25600]
 *   node dist/bench/plus.js pace [--settings 500/100,2000/100,8000/100] [--seconds 60]
 *
 * - table-5-2: the thesis's 5.2.3 test program (bench/plus/thesis-5.2.3.c, nothing
 *   madvised) selected by name at the daemon's defaults, then the same program under
 *   MERGE_ANY (`samepage kernel exec --run`), each for --seconds.
 * - mix: the reference mix in a cgroup of its own: three processes holding the same 96 MiB,
 *   four (--writers) writing 128 MiB of unrelated memory all the time, two python3 holding
 *   the same data, and a headless Chromium (docs/ksmplus-live.md says why these). Under the daemon (selected by the cgroup) and then under
 *   MERGE_ANY, each fresh for --seconds: the saving, the rmap_items, ksmd's CPU per GiB saved,
 *   the daemon's RSS and CPU and the net saving; a snapshot taken before the daemon starts is
 *   predicted with `samepage predict --policy plus` and set beside the live figures.
 * - cost: the daemon's CPU-seconds and RSS per GiB of selected memory, on --mib of unique
 *   pages (nothing to merge: the pure cost of sampling) in four processes.
 * - unmark: how long a MADV_UNMERGEABLE holds its target, by the size of the piece given back
 *   (UNMARK_PIECE in src/policy/marking.ts was chosen from it): a process holding --pages
 *   pages twice has the whole range marked, and each half given back in pieces of K pages,
 *   once with ksmd stopped (present pages, none merged) and once after every page merged
 *   (each piece breaks K KSM pages); /proc/PID/maps is counted before the mark and after the
 *   last piece, to see the VMA splits merge back.
 * - reader: the daemon's CPU per page read and hashed and per pagemap lookup (PLUS_COST in
 *   src/backends/model/plus_daemon.ts was fitted from it): the policy's engine runs in this
 *   process against the live host reader on two processes of its own, one holding --pages
 *   distinct present pages (every sampled page read) and one with 1 GiB mapped and never
 *   touched (every sampled page looked up, none read), each sampled at 100 % (contiguous
 *   runs) and at 10 % (scattered pages), and CPU time (process.cpuUsage) is divided by the
 *   engine's counters. It touches no KSM knob.
 * - pace: what the daemon's pace costs and buys: for each pages_to_scan/sleep_millisecs of
 *   --settings, the daemon starts with nothing selected (10 s idle: its CPU per wake-up),
 *   then the Table 5-2 program is added by name; the time until 512 of its pages merge
 *   (polled every 100 ms), and the daemon's CPU (its own `status`) until then and over
 *   --seconds.
 *
 * Each configuration saves every KSM knob and restores it (run=2 first), kills what it
 * started, and removes its cgroup, also when it fails.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type KsmSet, withGuardedKsm } from '../src/host/ksm_guard.ts';
import { findKsmUsers, readProcessKsmStat } from '../src/host/ksm_stat.ts';
import { findKsmdPid } from '../src/host/ksmd_affinity.ts';
import { nativeHelperPath } from '../src/host/ksm_native.ts';
import { injectSyscalls, MADV_MERGEABLE, MADV_UNMERGEABLE } from '../src/host/inject.ts';
import { parseMaps } from '../src/lib/proc_maps.ts';
import { percentile } from '../src/lib/statistics.ts';
import { PlusEngine } from '../src/policy/engine.ts';
import type { PlusKnobs } from '../src/policy/knobs.ts';
import { LivePlusHost } from '../src/host/plus_host.ts';
import { Prng } from '../src/lib/prng.ts';
import { PLUS_COST } from '../src/backends/model/plus_daemon.ts';
import { packageRoot } from '../src/lib/package_root.ts';
import { CHROMIUM, CHROMIUM_HEADLESS_FLAGS, LIST_PAGE_HTML } from '../src/report/chromium_testing.ts';

const ROOT = packageRoot(fileURLToPath(new URL('.', import.meta.url)));
const CLI = join(ROOT, 'bin', 'samepage.js');
const KSM = '/sys/kernel/mm/ksm';
const CGROUP_ROOT = '/sys/fs/cgroup/unified';
const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const work = mkdtempSync(join(tmpdir(), 'samepage-plus-bench-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ksm = (f: string): number => Number(readFileSync(`${KSM}/${f}`, 'utf8').trim());
const log = (m: string): void => {
  process.stderr.write(`${new Date().toISOString()} ${m}\n`);
};

/** Builds a C program of bench/plus or test/fixtures into the work directory. */
function build(name: string, source: string): string {
  const out = join(work, name);
  const r = spawnSync('cc', ['-O2', '-pthread', '-o', out, join(ROOT, source)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc ${source}: ${r.stderr}`);
  return out;
}

/** ksmd's CPU time in seconds (utime + stime of its /proc stat, at 100 ticks a second). */
function ksmdCpu(): number {
  const pid = findKsmdPid();
  if (pid === undefined) throw new Error('no ksmd');
  const sched = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ');
  return Number(sched[0]) / 1e9;
}

/** A process's CPU seconds (utime + stime) and resident bytes. */
function procCost(pid: number): { cpu: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpu: (Number(f[11]) + Number(f[12])) / 100, rss: Number(rss ?? 0) * 1024 };
}

/** A cgroup of our own: processes started in it, and everything they fork, are ours. */
class Cgroup {
  readonly path: string;
  readonly dir: string;
  readonly children: ChildProcess[] = [];

  constructor(name: string) {
    this.path = `/${name}`;
    this.dir = join(CGROUP_ROOT, name);
    mkdirSync(this.dir);
  }

  pids(): number[] {
    return readFileSync(join(this.dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  }

  /** Starts `cmd` in the cgroup (optionally under samepage-exec-merge: MERGE_ANY). */
  start(cmd: string, args: string[], mergeAny: boolean, stdin: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
    const exec = mergeAny ? [nativeHelperPath('samepage-exec-merge'), cmd] : [cmd];
    const child = spawn('/bin/sh', ['-c', `echo $$ > ${this.dir}/cgroup.procs && exec "$@"`, 'sh', ...exec, ...args], {
      stdio: [stdin, 'pipe', 'inherit'],
    });
    this.children.push(child);
    return child;
  }

  /** Kills every process of the cgroup and removes it. */
  async close(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const pids = this.pids();
      if (pids.length === 0) break;
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await sleep(100);
    }
    rmdirSync(this.dir);
  }
}

/** The first line a child prints ("ready PID"). */
function ready(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before it was ready`)));
  });
}

/** Σ of the ksm_stat fields over `pids`. */
function ksmSums(pids: readonly number[]): { rmap_items: number; merging_pages: number; zero_pages: number } {
  const out = { rmap_items: 0, merging_pages: 0, zero_pages: 0 };
  for (const p of pids) {
    const s = readProcessKsmStat(p);
    if (s === undefined) continue;
    out.rmap_items += s.ksm_rmap_items;
    out.merging_pages += s.ksm_merging_pages;
    out.zero_pages += s.ksm_zero_pages;
  }
  return out;
}

interface Sample {
  readonly t: number;
  readonly pages_sharing: number;
  readonly ksm_zero_pages: number;
  readonly pages_shared: number;
  readonly general_profit: number;
  readonly rmap_items: number;
  readonly merging_pages: number;
  readonly ksmd_cpu: number;
  readonly daemon_cpu?: number;
  readonly daemon_rss?: number;
}

/** Samples the machine every 5 s for `seconds`; `pids` gives the workload's processes now. */
async function observe(
  seconds: number,
  pids: () => number[],
  daemon: () => number | undefined,
  label: string,
): Promise<Sample[]> {
  const out: Sample[] = [];
  const t0 = Date.now();
  const cpu0 = ksmdCpu();
  for (;;) {
    const d = daemon();
    const dc = d === undefined ? undefined : procCost(d);
    const sums = ksmSums(pids());
    const s: Sample = {
      t: (Date.now() - t0) / 1000,
      pages_sharing: ksm('pages_sharing'),
      ksm_zero_pages: ksm('ksm_zero_pages'),
      pages_shared: ksm('pages_shared'),
      general_profit: ksm('general_profit'),
      rmap_items: sums.rmap_items,
      merging_pages: sums.merging_pages,
      ksmd_cpu: ksmdCpu() - cpu0,
      ...(dc === undefined ? {} : { daemon_cpu: dc.cpu, daemon_rss: dc.rss }),
    };
    out.push(s);
    log(
      `${label} t=${s.t.toFixed(0)}s sharing+zero ${s.pages_sharing + s.ksm_zero_pages} rmap_items ${s.rmap_items} ` +
        `profit ${s.general_profit} ksmd ${s.ksmd_cpu.toFixed(2)}s${dc === undefined ? '' : ` daemon ${dc.cpu.toFixed(2)}s ${(dc.rss / 2 ** 20).toFixed(1)} MiB`}`,
    );
    if (s.t >= seconds) return out;
    await sleep(Math.min(5000, (seconds - s.t) * 1000 + 10));
  }
}

/**
 * Runs `fn` with every KSM knob saved and put back (run=2 first) afterwards, on a signal too:
 * `set` writes them through a MachineGuard's journal. The daemons under test take the KSM
 * lock themselves, so this run does not hold it.
 */
async function withKsmSaved<T>(fn: (set: KsmSet) => Promise<T>): Promise<T> {
  const users = findKsmUsers(new Set([process.pid]));
  if (users.length > 0)
    throw new Error(`other processes use KSM: ${users.map((u) => `${u.pid} ${u.comm}`).join(', ')}`);
  return withGuardedKsm({ lock: false, pinKsmd: false, onWarning: (m) => log(m) }, fn);
}

/**
 * The daemon as its service runs it (bin/samepage-plus.js: a 1 MiB young generation), with a
 * control directory and socket of this run.
 */
function startDaemon(
  args: string[],
  nodeArgs: string[] = ['--max-semi-space-size=1'],
): { child: ChildProcess; socket: string; logFile: string } {
  const dir = mkdtempSync(join(work, 'ctl-'));
  const socket = join(dir, 'plus.sock');
  const logFile = join(dir, 'daemon.log');
  const child = spawn(
    process.execPath,
    [...nodeArgs, CLI, 'plus', '--run', '--dir', join(dir, 'ksm+'), '--socket', socket, ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let text = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    text += d;
    writeFileSync(logFile, text);
  });
  return { child, socket, logFile };
}

function samepage(...args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
}

/** Stops the daemon (SIGTERM) and returns every pause it imposed on a target, from its log. */
async function stopDaemon(d: { child: ChildProcess; logFile: string }): Promise<Pauses> {
  const exited = new Promise<void>((r) => d.child.once('close', () => r()));
  d.child.kill('SIGTERM');
  await exited;
  return pausesOf(existsSync(d.logFile) ? readFileSync(d.logFile, 'utf8') : '');
}

interface Pauses {
  readonly count: number;
  readonly p50_us: number | null;
  readonly p99_us: number | null;
  readonly max_us: number | null;
  /** Each stop: pid, mark or unmark, microseconds. */
  readonly each: ReadonlyArray<readonly [number, string, number]>;
}

/** The daemon's `held pid P (comm) N us: mark|unmark of K range(s)` lines. */
function pausesOf(text: string): Pauses {
  const each: Array<[number, string, number]> = [];
  for (const m of text.matchAll(/ held pid (\d+) \(.*?\) ([\d.]+) us: (mark|unmark) /g))
    each.push([Number(m[1]), m[3]!, Number(m[2])]);
  const us = each.map((e) => e[2]);
  const pct = (p: number): number | null => percentile(us, p) ?? null;
  return { count: each.length, p50_us: pct(50), p99_us: pct(99), max_us: pct(100), each };
}

/** The end figures of a run. */
function summary(samples: readonly Sample[]): Record<string, number> {
  const last = samples.at(-1)!;
  const saved = last.pages_sharing + last.ksm_zero_pages;
  const gib = (saved * 4096) / 2 ** 30;
  // Settled: from the first sample after which the saving stays within 1 % of its end value.
  let settled = last.t;
  for (let i = samples.length - 1; i >= 0; i--) {
    const x = samples[i]!;
    if (Math.abs(x.pages_sharing + x.ksm_zero_pages - saved) > Math.max(1, saved * 0.01)) break;
    settled = x.t;
  }
  return {
    seconds: last.t,
    settled_s: settled,
    saving_pages: saved,
    pages_sharing: last.pages_sharing,
    ksm_zero_pages: last.ksm_zero_pages,
    pages_shared: last.pages_shared,
    rmap_items: last.rmap_items,
    merging_pages: last.merging_pages,
    general_profit: last.general_profit,
    ksmd_cpu_s: last.ksmd_cpu,
    ksmd_cpu_s_per_gib_saved: gib > 0 ? last.ksmd_cpu / gib : Number.POSITIVE_INFINITY,
    ...(last.daemon_rss === undefined
      ? {}
      : {
          daemon_cpu_s: last.daemon_cpu!,
          daemon_rss: last.daemon_rss,
          net_saving: last.general_profit - last.daemon_rss,
        }),
  };
}

async function table52(): Promise<unknown> {
  const seconds = Number(opt('--seconds', '180'));
  const program = build('test', 'bench/plus/thesis-5.2.3.c');
  const others = spawnSync('pgrep', ['-x', 'test'], { encoding: 'utf8' }).stdout.trim();
  if (others !== '')
    throw new Error(`processes named "test" run already (${others}): the daemon would select them too`);
  const result: Record<string, unknown> = {};
  result.plus = await withKsmSaved(async () => {
    const t = spawn(program, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const pid = Number((await ready(t)).split(' ')[1]);
    const d = startDaemon(['test']);
    try {
      const samples = await observe(
        seconds,
        () => [pid],
        () => d.child.pid,
        'table-5-2 plus',
      );
      const status = JSON.parse(samepage('plus', 'status', '--json', '--socket', d.socket)) as Record<string, unknown>;
      const pauses = await stopDaemon(d);
      return { ...summary(samples), samples, status, pauses };
    } finally {
      if (d.child.exitCode === null && d.child.signalCode === null) await stopDaemon(d);
      t.kill('SIGKILL');
    }
  });
  result.merge_any = await withKsmSaved(async () => {
    const t = spawn(process.execPath, [CLI, 'kernel', 'exec', '--run', '--', program], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const pid = Number((await ready(t)).split(' ')[1]);
    try {
      const samples = await observe(
        seconds,
        () => [pid],
        () => undefined,
        'table-5-2 merge-any',
      );
      return { ...summary(samples), samples };
    } finally {
      t.stdin!.end();
      await new Promise((r) => t.once('exit', r));
    }
  });
  return result;
}

/** Starts the reference mix in `cg` (every process under MERGE_ANY when `mergeAny`). */
async function startMix(cg: Cgroup, mergeAny: boolean, chromium: boolean): Promise<void> {
  const target = build('plus-target', 'test/fixtures/plus-target.c');
  const writer = build('mix-writer', 'bench/plus/mix-writer.c');
  const starting: Array<Promise<string>> = [];
  for (let i = 0; i < 3; i++) starting.push(ready(cg.start(target, ['mix-data', '24576', '21', '1'], mergeAny)));
  const writers = Number(opt('--writers', '4'));
  for (let i = 0; i < writers; i++)
    starting.push(ready(cg.start(writer, ['mix-writer', '32768', String(31 + i)], mergeAny)));
  const py =
    'import os,sys\nblob = bytes(range(256)) * (128 * 1024)\n' +
    'table = {("key%d" % i): [i, str(i) * 3] for i in range(150000)}\n' +
    'print("ready %d" % os.getpid(), flush=True)\nsys.stdin.read()\n';
  for (let i = 0; i < 2; i++) starting.push(ready(cg.start('python3', ['-c', py], mergeAny)));
  await Promise.all(starting);
  if (chromium && existsSync(CHROMIUM)) {
    writeFileSync(join(work, 'page.html'), LIST_PAGE_HTML);
    cg.start(
      CHROMIUM,
      [
        ...CHROMIUM_HEADLESS_FLAGS,
        `--user-data-dir=${join(work, `profile-${mergeAny ? 'any' : 'plus'}`)}`,
        '--remote-debugging-port=0',
        `file://${join(work, 'page.html')}`,
      ],
      mergeAny,
      'ignore',
    );
  }
  await sleep(15_000);
}

async function mix(): Promise<unknown> {
  const seconds = Number(opt('--seconds', '300'));
  // ksmd's pace, the same for both policies: at Linux's 100 pages per 20 ms one full scan of
  // the mix under MERGE_ANY would take minutes.
  const pagesToScan = opt('--ksm-pages', '1000');
  const chromium = !argv.includes('--no-chromium');
  const result: Record<string, unknown> = {};
  result.plus = await withKsmSaved(async () => {
    const cg = new Cgroup(`samepage-plus-mix-${process.pid}`);
    try {
      await startMix(cg, false, chromium);
      const pids = cg.pids();
      const snap = join(work, 'mix.snap');
      samepage('snapshot', '--hashes-only', '--pid', ...pids.map(String), '-o', snap);
      const d = startDaemon(['--cgroup', cg.path, '--ksm-set', `pages_to_scan=${pagesToScan}`]);
      try {
        const samples = await observe(
          seconds,
          () => cg.pids(),
          () => d.child.pid,
          'mix plus',
        );
        const status = JSON.parse(samepage('plus', 'status', '--json', '--socket', d.socket)) as Record<
          string,
          unknown
        >;
        const predicted = JSON.parse(samepage('predict', snap, '--policy', 'plus', '--json')) as {
          prediction: unknown;
        };
        const pauses = await stopDaemon(d);
        return {
          processes: pids.length,
          ...summary(samples),
          samples,
          status,
          pauses,
          predicted: predicted.prediction,
        };
      } finally {
        if (d.child.exitCode === null && d.child.signalCode === null) await stopDaemon(d);
      }
    } finally {
      await cg.close();
    }
  });
  result.merge_any = await withKsmSaved(async (set) => {
    const cg = new Cgroup(`samepage-plus-any-${process.pid}`);
    try {
      await startMix(cg, true, chromium);
      set('pages_to_scan', pagesToScan);
      set('run', 1);
      const samples = await observe(
        seconds,
        () => cg.pids(),
        () => undefined,
        'mix merge-any',
      );
      return { processes: cg.pids().length, ...summary(samples), samples };
    } finally {
      await cg.close();
    }
  });
  return result;
}

async function cost(): Promise<unknown> {
  const mib = Number(opt('--mib', '1024'));
  const seconds = Number(opt('--seconds', '120'));
  const target = build('plus-target', 'test/fixtures/plus-target.c');
  return withKsmSaved(async () => {
    const cg = new Cgroup(`samepage-plus-cost-${process.pid}`);
    try {
      const per = Math.floor((mib * 256) / 4);
      await Promise.all(
        [0, 1, 2, 3].map((i) => ready(cg.start(target, ['cost-data', String(per), String(100 + i), '1'], false))),
      );
      const d = startDaemon(['--cgroup', cg.path]);
      try {
        const samples = await observe(
          seconds,
          () => cg.pids(),
          () => d.child.pid,
          'cost',
        );
        const status = JSON.parse(samepage('plus', 'status', '--json', '--socket', d.socket)) as Record<
          string,
          unknown
        >;
        const last = samples.at(-1)!;
        const gib = (4 * per * 4096) / 2 ** 30;
        return {
          selected_gib: gib,
          seconds: last.t,
          daemon_cpu_s: last.daemon_cpu,
          daemon_cpu_s_per_gib: last.daemon_cpu! / gib,
          daemon_rss: last.daemon_rss,
          daemon_rss_per_gib: last.daemon_rss! / gib,
          samples,
          status,
          pauses: await stopDaemon(d),
        };
      } finally {
        if (d.child.exitCode === null && d.child.signalCode === null) await stopDaemon(d);
      }
    } finally {
      await cg.close();
    }
  });
}

/** madvise(`advice`) by process `pid` on [start, start + pages) pages; the pause in microseconds. */
function advise(pid: number, start: number, pages: number, advice: 12 | 13): number {
  const a = injectSyscalls(pid, [{ call: 'madvise', address: start * 4096, length: pages * 4096, advice }]);
  if (a.error !== undefined || a.results[0]?.result !== 0)
    throw new Error(`madvise(${advice}) in ${pid}: ${a.error ?? a.results[0]?.result}`);
  return (a.pauseNs ?? 0) / 1000;
}

async function unmark(): Promise<unknown> {
  const pages = Number(opt('--pages', '16384'));
  const target = build('plus-target', 'test/fixtures/plus-target.c');
  return withKsmSaved(async (set) => {
    const t = spawn(target, ['unmark-bench', String(pages), '41', '2'], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const pid = Number((await ready(t)).split(' ')[1]);
      const maps = (): number => parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8')).length;
      // The two blocks are adjacent mappings the kernel joined into one VMA of exactly their
      // size. Not the first one at least that large: with --pages 4096 or fewer that was the
      // 64 MiB PROT_NONE reservation of the watcher thread's malloc arena, which has no page
      // for ksmd to merge.
      const vma = parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8')).find(
        (m) => m.end - m.start === pages * 8192 && m.perms.startsWith('rw'),
      );
      if (vma === undefined) throw new Error('the two blocks are not one VMA');
      const lo = vma.start / 4096;
      const vmasBefore = maps();
      const merging = (): number => readProcessKsmStat(pid)?.ksm_merging_pages ?? 0;
      const rows: unknown[] = [];
      for (const merged of [false, true]) {
        for (const k of [256, 512, 1024, 2048, 4096, pages]) {
          // ksmd runs through the merged rows, so that it frees the rmap_items of what was given
          // back before the range is marked again (left behind, their smart_scan ages would have
          // ksmd skip the pages for many passes).
          set('pages_to_scan', 10000);
          set('sleep_millisecs', 10);
          set('run', merged ? 1 : 0);
          const rmapEnd = Date.now() + 60_000;
          while ((readProcessKsmStat(pid)?.ksm_rmap_items ?? 0) > 0 && merged && Date.now() < rmapEnd) await sleep(100);
          advise(pid, lo, 2 * pages, MADV_MERGEABLE);
          const vmasMarked = maps();
          const end = Date.now() + 120_000;
          while (merged && merging() < 2 * pages && Date.now() < end) await sleep(100);
          const before = merging();
          const pauses: number[] = [];
          let most = vmasMarked;
          for (let at = 0; at < 2 * pages; at += k) {
            pauses.push(advise(pid, lo + at, Math.min(k, 2 * pages - at), MADV_UNMERGEABLE));
            most = Math.max(most, maps());
          }
          const row = {
            merged: before,
            piece_pages: k,
            pieces: pauses.length,
            p50_us: percentile(pauses, 50) ?? null,
            p99_us: percentile(pauses, 99) ?? null,
            max_us: percentile(pauses, 100) ?? null,
            us_per_page: pauses.reduce((a, b) => a + b, 0) / (2 * pages),
            vmas_before: vmasBefore,
            vmas_marked: vmasMarked,
            vmas_most: most,
            vmas_after: maps(),
          };
          log(`unmark ${JSON.stringify(row)}`);
          rows.push(row);
        }
      }
      t.stdin!.end();
      const end = await new Promise<string>((r) => t.stdout!.once('data', (d: Buffer) => r(String(d).trim())));
      return { pages, rows, target_end: end };
    } finally {
      if (t.exitCode === null) t.kill('SIGKILL');
    }
  });
}

/**
 * The engine's CPU per page on the live host, sampling `pid` alone at `coefficient` percent
 * (held there: no step, no drop) for `rounds` rounds after `warmup` rounds. A region with no
 * anonymous page is dropped after its first round whatever the knobs, so the untouched
 * mapping is measured without a warm-up (the engine's code is warm from the first process).
 */
function engineCost(
  pid: number,
  coefficient: number,
  rounds: number,
  warmup: number,
): { coefficient: number; reads: number; lookups: number; cpu_s: number } {
  const host = new LivePlusHost();
  const knobs: Partial<PlusKnobs> = {
    run: 1,
    pages_to_scan: 2000,
    round_millisecs: 0,
    initial_coefficient: coefficient,
    coefficient_step: 0,
    min_coefficient: coefficient,
    drop_coefficient: 0,
  };
  const engine = new PlusEngine(host, { prng: new Prng(9), knobs });
  const start = host.process(pid)?.start;
  if (start === undefined) throw new Error(`no process ${pid}`);
  engine.addPid({ pid, start });
  engine.refreshProcesses();
  let now = 0;
  const runRounds = (n: number): void => {
    const end = engine.counters.full_scans + n;
    while (engine.counters.full_scans < end) {
      // A duplicate the process holds itself (python's heap) is not marked: nothing is injected.
      now += 1000;
      for (const a of engine.step(now)) engine.applied(a, { kind: 'refused', why: 'bench', retry: false });
    }
  };
  runRounds(warmup);
  const c0 = { ...engine.counters };
  const cpu0 = process.cpuUsage();
  runRounds(rounds);
  const cpu = process.cpuUsage(cpu0);
  host.close();
  return {
    coefficient,
    reads: engine.counters.pages_scanned - c0.pages_scanned,
    lookups: engine.counters.pages_looked - c0.pages_looked,
    cpu_s: (cpu.user + cpu.system) / 1e6,
  };
}

/**
 * PLUS_COST's per-page figures: engineCost on a process whose pages are all present and
 * distinct (reads ≈ lookups) and on one whose big mapping was never touched (lookups, few
 * reads); the two equations cpu = reads × page + lookups × lookup solved for each coefficient.
 */
async function reader(): Promise<unknown> {
  const pages = Number(opt('--pages', '25600'));
  const target = build('plus-target', 'test/fixtures/plus-target.c');
  const full = spawn(target, ['reader-full', String(pages), '7', '1'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const py =
    'import mmap,os,sys\nm = mmap.mmap(-1, 1 << 30, flags=mmap.MAP_PRIVATE)\n' +
    'print("ready %d" % os.getpid(), flush=True)\nsys.stdin.read()\n';
  const empty = spawn('python3', ['-c', py], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const fullPid = Number((await ready(full)).split(' ')[1]);
    const emptyPid = Number((await ready(empty)).split(' ')[1]);
    const rows: unknown[] = [];
    for (const [coefficient, rounds] of [
      [100, 10],
      [10, 40],
    ] as const) {
      const a = engineCost(fullPid, coefficient, rounds, 1);
      // The untouched mapping's one round, five times over (fresh engines), summed.
      const bs = [0, 1, 2, 3, 4].map(() => engineCost(emptyPid, coefficient, 1, 0));
      const b = {
        coefficient,
        reads: bs.reduce((n, x) => n + x.reads, 0),
        lookups: bs.reduce((n, x) => n + x.lookups, 0),
        cpu_s: bs.reduce((n, x) => n + x.cpu_s, 0),
      };
      // Solve a.cpu = a.reads·x + a.lookups·y, b.cpu = b.reads·x + b.lookups·y.
      const det = a.reads * b.lookups - b.reads * a.lookups;
      const pageNs = ((a.cpu_s * b.lookups - b.cpu_s * a.lookups) / det) * 1e9;
      const lookupNs = ((a.reads * b.cpu_s - b.reads * a.cpu_s) / det) * 1e9;
      const row = { coefficient, present: a, untouched: b, page_ns: pageNs, lookup_ns: lookupNs };
      log(`reader ${JSON.stringify(row)}`);
      rows.push(row);
    }
    return { pages, rows };
  } finally {
    full.kill('SIGKILL');
    empty.kill('SIGKILL');
  }
}

interface DaemonFigures {
  readonly uptime_s: number;
  readonly cpu_s: number;
  readonly pages_scanned: number;
  readonly pages_looked: number;
  readonly rounds: number;
}

/** The daemon's own CPU and counters, from its `status --json`. */
function daemonFigures(socket: string): DaemonFigures {
  const st = JSON.parse(samepage('plus', 'status', '--json', '--socket', socket)) as {
    daemon: { uptime_s: number; cpu_s: number };
    policy: { counters: { pages_scanned: number; pages_looked: number; full_scans: number } };
  };
  const c = st.policy.counters;
  return {
    uptime_s: st.daemon.uptime_s,
    cpu_s: st.daemon.cpu_s,
    pages_scanned: c.pages_scanned,
    pages_looked: c.pages_looked,
    rounds: c.full_scans,
  };
}

function since(a: DaemonFigures, b: DaemonFigures): DaemonFigures {
  return {
    uptime_s: b.uptime_s - a.uptime_s,
    cpu_s: b.cpu_s - a.cpu_s,
    pages_scanned: b.pages_scanned - a.pages_scanned,
    pages_looked: b.pages_looked - a.pages_looked,
    rounds: b.rounds - a.rounds,
  };
}

/** The Table 5-2 program under the daemon at each pages_to_scan/sleep_millisecs of --settings. */
async function pace(): Promise<unknown> {
  const seconds = Number(opt('--seconds', '60'));
  const settings = opt('--settings', '500/100,2000/100,8000/100')
    .split(',')
    .map((x) => x.split('/').map(Number) as [number, number]);
  const program = build('test', 'bench/plus/thesis-5.2.3.c');
  const rows: unknown[] = [];
  for (const [pages, sleepMs] of settings) {
    const others = spawnSync('pgrep', ['-x', 'test'], { encoding: 'utf8' }).stdout.trim();
    if (others !== '') throw new Error(`processes named "test" run already (${others})`);
    rows.push(
      await withKsmSaved(async () => {
        const t = spawn(program, [], { stdio: ['pipe', 'pipe', 'inherit'] });
        const pid = Number((await ready(t)).split(' ')[1]);
        const d = startDaemon(['--set', `pages_to_scan=${pages}`, '--set', `sleep_millisecs=${sleepMs}`]);
        try {
          while (!existsSync(d.socket)) await sleep(100);
          await sleep(1000);
          // Idle, nothing selected: what a wake-up costs (a batch, and the polls of /proc and the files).
          const idle0 = daemonFigures(d.socket);
          await sleep(10_000);
          const idle1 = daemonFigures(d.socket);
          const idle = since(idle0, idle1);
          samepage('plus', 'add', 'test', '--socket', d.socket);
          const t0 = Date.now();
          let t512: number | undefined;
          let at512: DaemonFigures | undefined;
          const marks: Array<{ t: number } & DaemonFigures> = [];
          let nextStatus = 10;
          for (;;) {
            const el = (Date.now() - t0) / 1000;
            if (t512 === undefined && (readProcessKsmStat(pid)?.ksm_merging_pages ?? 0) >= 512) {
              t512 = el;
              at512 = since(idle1, daemonFigures(d.socket));
            }
            if (el >= nextStatus) {
              marks.push({ t: el, ...since(idle1, daemonFigures(d.socket)) });
              nextStatus += 10;
            }
            if (el >= seconds) break;
            await sleep(100);
          }
          const end = marks.at(-1)!;
          const row = {
            pages_to_scan: pages,
            sleep_millisecs: sleepMs,
            ksmd: { pages_to_scan: ksm('pages_to_scan'), sleep_millisecs: ksm('sleep_millisecs') },
            idle_cpu_s: idle.cpu_s,
            idle_s: idle.uptime_s,
            idle_wake_us: (idle.cpu_s / (idle.uptime_s / (sleepMs / 1000))) * 1e6,
            t512_s: t512 ?? null,
            at512: at512 ?? null,
            end,
            cpu_share: end.cpu_s / end.uptime_s,
            // What the model charges for the same counters (a wake-up every sleep_millisecs).
            model_cpu_s:
              (end.pages_scanned * PLUS_COST.pageNs +
                end.pages_looked * PLUS_COST.lookupNs +
                (end.uptime_s / (sleepMs / 1000)) * PLUS_COST.wakeNs) /
              1e9,
            merging_pages: readProcessKsmStat(pid)?.ksm_merging_pages ?? 0,
            rmap_items: readProcessKsmStat(pid)?.ksm_rmap_items ?? 0,
            every10s: marks,
          };
          log(`pace ${JSON.stringify({ ...row, every10s: undefined })}`);
          return row;
        } finally {
          if (d.child.exitCode === null && d.child.signalCode === null) await stopDaemon(d);
          t.kill('SIGKILL');
        }
      }),
    );
  }
  return { seconds, rows };
}

const what = argv[0];
try {
  const run =
    what === 'table-5-2'
      ? table52
      : what === 'mix'
        ? mix
        : what === 'cost'
          ? cost
          : what === 'unmark'
            ? unmark
            : what === 'reader'
              ? reader
              : what === 'pace'
                ? pace
                : undefined;
  if (run === undefined) {
    process.stderr.write(
      'usage: node dist/bench/plus.js table-5-2|mix|cost|unmark|reader|pace [--seconds N] [--mib N] [--settings P/S,...] [--no-chromium]\n',
    );
    process.exitCode = 2;
  } else {
    const result = await run();
    const file = opt('--out', join(tmpdir(), `samepage-plus-${what}.json`));
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote ${file}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
