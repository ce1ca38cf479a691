/**
 * Random valid scenarios for differential testing (the kernel backend against the model).
 * A seed gives one scenario, always the same: a few processes map, fill, write, fork, exit,
 * madvise, munmap and prctl, the operator writes KSM knobs, and after each `wait` of one to
 * three full scans a `record` captures every counter.
 *
 * The generator keeps the scenarios inside what both backends must agree on exactly:
 * - waits end where ksmd is held with nothing in flight: at full-scan boundaries, or after
 *   whole batches (the batch family); outside that family `pages_to_scan` is at least twice
 *   every page that could ever be mergeable, so each ksmd batch is one whole full scan;
 * - a `wait` only comes when ksmd runs (run 1) and some live process has a private region
 *   with VM_MERGEABLE pages, so the wait can finish;
 * - writes that may fail are avoided: `max_page_sharing` is only written when nothing can be
 *   shared (before the first scan, or after `run: 2` in a scenario without forks: a process
 *   forked before its parent's pages merged keeps the KSM page mapped), since Linux answers
 *   EBUSY otherwise;
 * - `stable_node_chains_prune_millisecs` is 0 (prune at every lookup) or 60000 (never within a
 *   run), so chain pruning does not depend on how wall time compares with virtual time.
 *
 * Some fresh private regions are read whole before anything writes them: upstream Linux maps
 * the zero page on such a read, a kernel that forbids it (mm_forbids_zeropage) allocates
 * zero-filled pages that KSM then merges. Whether a region is read comes from a second
 * generator of its own, so the steps of every seed are those it had before reads existed,
 * with the reads put in.
 *
 * The exec family (`{ exec: true }`) also lets processes exec: the old address space goes
 * (ksmd frees its rmap_items lazily, as for an exit), and with MERGE_ANY the new mm is
 * registered at once (ksm_execve) and its regions are marked as they are mapped. It is a
 * family of its own so that every seed of the default family keeps the steps it always had:
 * findings are named by seed.
 *
 * The batch family (`{ batches: true }`) scans in small batches (`pages_to_scan` a
 * sixteenth to a quarter of every page ever mapped, 50 ms between batches) and mostly waits
 * `batches`, so that its steps come in the middle of full scans: memory changes ahead of
 * the cursor and behind it, and the mm under the cursor forks, execs (with `exec` too),
 * unmaps or exits (in 300 seeds, 26 % of the waits end mid-scan, and 960 steps run there).
 * Its own generator draws its knobs and waits, so the steps the main generator draws for a
 * seed are those of the default family (or of the exec family).
 *
 * The large family (`{ large: true }`, with either or both of the others) maps regions 8 to
 * 64 times larger, up to 1,024 pages (1,980 pages mapped a scenario at the median of 300
 * seeds), and fills half its ranges with random pages, so that KSM's unstable tree holds
 * hundreds of nodes or more rather than dozens (on the model, at the end of a scan: over
 * 500 in 13 of the first 40 seeds, up to 1,241). With the batch family, a page written in
 * the middle of a scan after it entered the unstable tree leaves that tree out of order, and
 * which node a later descent reaches then depends on the tree's whole shape
 * (test/rbtree-linux.test.ts checks the shapes against Linux's). A generator of its own draws
 * the scale and the random fills, so the families without it keep their seeds' scenarios;
 * within the family, the sizes change what the later draws give, so its seeds are
 * scenarios of their own.
 *
 * Every scenario is parsed back with parseScenario before it is returned.
 */
import { createHash } from 'node:crypto';
import { Document, isMap, isSeq } from 'yaml';
import { Prng } from '../lib/prng.ts';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { formatProblems, parseScenario } from './parse.ts';

/** One region of a generated process, with the VM_MERGEABLE state of each of its pages. */
interface GenRegion {
  readonly name: string;
  readonly pages: number;
  readonly shared: boolean;
  /** Per page: VM_MERGEABLE (always false for a shared mapping, which KSM never takes). */
  readonly mergeable: boolean[];
}

interface GenProc {
  readonly name: string;
  readonly regions: Map<string, GenRegion>;
  mergeAny: boolean;
}

type StepObject = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** Bounds of the generated workloads. */
const MAX_LIVE_PROCS = 5;
const MAX_FORKS = 3;
const MAX_REGIONS_PER_PROC = 4;
const MAX_REGION_PAGES = 64;
/** The large family's regions are 8 to 64 times the size the others draw, up to 1,024 pages. */
const LARGE_SCALE_LEAST = 8;
const LARGE_SCALE_MOST = 64;
const LARGE_REGION_PAGES = 1024;

/** Small alphabets, so contents repeat across regions and processes and merges happen. */
const PAGE_MOD_SEEDS = [1, 2, 3] as const;
const RANDOM_SEEDS = [7, 8] as const;
const BYTES = [0, 42, 207, 255] as const;

/** Percent of fresh private regions read whole before anything writes them. */
const READ_FRESH_PERCENT = 30;

/** SHA-256 of `pages` zero pages, in hex: what a fresh region reads as. */
function zeroDigest(pages: number): string {
  return createHash('sha256')
    .update(new Uint8Array(pages * PAGE_SIZE))
    .digest('hex');
}

/** The mutable state of one generation; nothing outlives generateScenario. */
class Generator {
  readonly #rng: Prng;
  /** Decides only which fresh regions are read, so the other steps are those of the seed without reads. */
  readonly #reads: Prng;
  readonly steps: StepObject[] = [];
  readonly #procs = new Map<string, GenProc>();
  #procCount = 0;
  #regionCount = 0;
  #spawned = 0;
  #forks = 0;
  readonly #spawnLimit: number;
  /** The scenario's ksm/run. */
  #run = 0;
  /** Whether anything may be shared now (false until the first wait, and after run 2). */
  #mayShare = false;
  /** Every page ever mapped, fork copies included: the bound of mergeable pages. */
  totalPages = 0;
  #records = 0;
  readonly #exec: boolean;
  #execs = 0;
  /** Draws the batch family's pages_to_scan and waits; undefined outside that family. */
  readonly #batches: Prng | undefined;
  /** Draws the large family's region scales and which fills are random; undefined outside it. */
  readonly #large: Prng | undefined;

  constructor(seed: number, exec: boolean, batches: boolean, large: boolean) {
    this.#rng = new Prng(seed);
    this.#exec = exec;
    this.#reads = new Prng((seed ^ 0x5eed_7ead) >>> 0);
    this.#batches = batches ? new Prng((seed ^ 0xba7c_4e55) >>> 0) : undefined;
    this.#large = large ? new Prng((seed ^ 0x1a26_e5ca) >>> 0) : undefined;
    this.#spawnLimit = this.int(1, 3);
  }

  /** A uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + this.#rng.below(hi - lo + 1);
  }

  chance(percent: number): boolean {
    return this.#rng.below(100) < percent;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.#rng.below(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** The initial ksm: values, in the order they are written. */
  initialKsm(): Record<string, number> {
    const ksm: Record<string, number> = { pages_to_scan: 0, sleep_millisecs: 20 };
    ksm.stable_node_chains_prune_millisecs = this.chance(50) ? 0 : 60_000;
    if (this.chance(50)) ksm.max_page_sharing = this.chance(60) ? this.int(2, 5) : this.int(2, 300);
    if (this.chance(30)) ksm.use_zero_pages = 1;
    if (this.chance(20)) ksm.smart_scan = 0;
    return ksm;
  }

  /** The whole body: phases of random steps, each ended by a wait and a record. */
  body(): void {
    this.spawn();
    const phases = this.int(2, 6);
    for (let phase = 0; phase < phases; phase++) {
      const actions = phase === 0 ? this.int(3, 10) : this.int(1, 8);
      for (let i = 0; i < actions; i++) this.randomAction();
      this.prepareWait();
      this.step('wait', this.#wait());
      this.#mayShare = true;
      this.step('record', { label: `r${this.#records++}` });
    }
  }

  /** The next wait: 1 to 3 full scans; in the batch family mostly 1 to 3 batches. */
  #wait(): Record<string, number> {
    const b = this.#batches;
    // The main generator's draw is made in every family, so the steps after it stay the same.
    const fullScans = this.int(1, 3);
    if (b === undefined || b.below(100) < 25) return { full_scans: fullScans };
    return { batches: 1 + b.below(3) };
  }

  /**
   * The batch family's pages_to_scan: every page ever mapped over 4 to 16, so that a full
   * scan takes up to that many batches (fewer where pages went or were never mergeable).
   */
  batchPagesToScan(): number | undefined {
    return this.#batches === undefined ? undefined : Math.ceil(this.totalPages / (4 + this.#batches.below(13)));
  }

  step(kind: string, fields: Record<string, unknown>): void {
    this.steps.push({ [kind]: fields });
  }

  #live(): GenProc[] {
    return [...this.#procs.values()];
  }

  #regionsOf(predicate: (p: GenProc, r: GenRegion) => boolean = () => true): Array<readonly [GenProc, GenRegion]> {
    const out: Array<readonly [GenProc, GenRegion]> = [];
    for (const p of this.#procs.values()) for (const r of p.regions.values()) if (predicate(p, r)) out.push([p, r]);
    return out;
  }

  randomAction(): void {
    const live = this.#live();
    const regions = this.#regionsOf();
    const choices: Array<readonly [number, () => void]> = [
      [this.#spawned < this.#spawnLimit ? 12 : 0, () => this.spawn()],
      [live.some((p) => p.regions.size < MAX_REGIONS_PER_PROC) ? 25 : 0, () => this.mmap()],
      [regions.length > 0 ? 35 : 0, () => this.fill()],
      [regions.length > 0 ? 15 : 0, () => this.write()],
      [regions.length > 0 ? 35 : 0, () => this.madvise()],
      [regions.length > 0 ? 6 : 0, () => this.munmap()],
      [live.length < MAX_LIVE_PROCS && this.#forks < MAX_FORKS ? 8 : 0, () => this.fork()],
      [live.length > 1 ? 4 : 0, () => this.exit()],
      // Weight 0 outside the exec family leaves the default family's draws as they were.
      [this.#exec ? 5 : 0, () => this.exec()],
      [8, () => this.prctl()],
      [12, () => this.sysfs()],
    ];
    const total = choices.reduce((sum, [w]) => sum + w, 0);
    let x = this.#rng.below(total);
    for (const [weight, act] of choices) {
      if (x < weight) {
        act();
        return;
      }
      x -= weight;
    }
  }

  spawn(): GenProc {
    const name = `p${this.#procCount++}`;
    this.#spawned++;
    const proc: GenProc = { name, regions: new Map(), mergeAny: false };
    this.#procs.set(name, proc);
    this.step('spawn', { proc: name, comm: `gen${this.#spawned}` });
    return proc;
  }

  mmap(target?: GenProc): GenRegion {
    const proc = target ?? this.pick(this.#live().filter((p) => p.regions.size < MAX_REGIONS_PER_PROC));
    const drawn = this.chance(60) ? this.int(1, 16) : this.int(17, MAX_REGION_PAGES);
    const large = this.#large;
    const scale = large === undefined ? 1 : LARGE_SCALE_LEAST + large.below(LARGE_SCALE_MOST - LARGE_SCALE_LEAST + 1);
    const pages = large === undefined ? drawn : Math.min(LARGE_REGION_PAGES, drawn * scale);
    const shared = target === undefined && this.chance(10);
    const name = `m${this.#regionCount++}`;
    // Under MERGE_ANY Linux makes every new compatible VMA mergeable at once.
    const region: GenRegion = {
      name,
      pages,
      shared,
      mergeable: new Array<boolean>(pages).fill(proc.mergeAny && !shared),
    };
    proc.regions.set(name, region);
    this.totalPages += pages;
    this.step(
      'mmap',
      shared
        ? { proc: proc.name, region: name, size: kib(pages), shared: true }
        : { proc: proc.name, region: name, size: kib(pages) },
    );
    if (!shared && this.#reads.below(100) < READ_FRESH_PERCENT) {
      this.step('read', { proc: proc.name, region: name, offset: 0, size: kib(pages), sha256: zeroDigest(pages) });
    }
    return region;
  }

  /** A page range of the region: whole (undefined) most of the time, else a random part. */
  #range(r: GenRegion, wholePercent: number): { offset: number; pages: number } | undefined {
    if (r.pages === 1 || this.chance(wholePercent)) return undefined;
    const offset = this.int(0, r.pages - 1);
    return { offset, pages: this.int(1, r.pages - offset) };
  }

  #pattern(): unknown {
    // The large family fills half its ranges with random pages, each page of a range its own:
    // the trees hold as many nodes as there are such pages.
    if (this.#large !== undefined && this.#large.below(2) === 0) return { random: this.pick(RANDOM_SEEDS) };
    switch (
      this.pick(['page-mod', 'page-mod', 'page-mod', 'page-mod', 'random', 'random', 'byte', 'byte', 'zero'] as const)
    ) {
      case 'page-mod':
        return { 'page-mod': this.int(1, 4), seed: this.pick(PAGE_MOD_SEEDS) };
      case 'random':
        return { random: this.pick(RANDOM_SEEDS) };
      case 'byte':
        return { byte: this.pick(BYTES) };
      case 'zero':
        return 'zero';
    }
  }

  fill(target?: readonly [GenProc, GenRegion]): void {
    const [p, r] = target ?? this.pick(this.#regionsOf());
    const range = target === undefined ? this.#range(r, 70) : undefined;
    const fields: Record<string, unknown> = { proc: p.name, region: r.name, pattern: this.#pattern() };
    if (range !== undefined) {
      fields.offset = range.offset * PAGE_SIZE;
      fields.size = kib(range.pages);
    }
    this.step('fill', fields);
  }

  write(): void {
    const [p, r] = this.pick(this.#regionsOf());
    const length = this.int(1, 8);
    const offset = this.int(0, r.pages * PAGE_SIZE - length);
    let hex = '';
    for (let i = 0; i < length; i++) hex += this.int(0, 255).toString(16).padStart(2, '0');
    this.step('write', { proc: p.name, region: r.name, offset, bytes: hex });
  }

  madvise(target?: readonly [GenProc, GenRegion], forced?: string): void {
    const [p, r] = target ?? this.pick(this.#regionsOf());
    const advice =
      forced ??
      this.pick(['MADV_MERGEABLE', 'MADV_MERGEABLE', 'MADV_MERGEABLE', 'MADV_UNMERGEABLE', 'MADV_DONTNEED'] as const);
    const range = forced === undefined ? this.#range(r, 70) : undefined;
    const from = range?.offset ?? 0;
    const to = range === undefined ? r.pages : range.offset + range.pages;
    // MADV_MERGEABLE on a shared mapping succeeds without marking it (not KSM-compatible).
    if (advice === 'MADV_MERGEABLE' && !r.shared) r.mergeable.fill(true, from, to);
    if (advice === 'MADV_UNMERGEABLE') r.mergeable.fill(false, from, to);
    const fields: Record<string, unknown> = { proc: p.name, region: r.name, advice };
    if (range !== undefined) {
      fields.offset = range.offset * PAGE_SIZE;
      fields.size = kib(range.pages);
    }
    this.step('madvise', fields);
  }

  munmap(): void {
    const [p, r] = this.pick(this.#regionsOf());
    p.regions.delete(r.name);
    this.step('munmap', { proc: p.name, region: r.name });
  }

  fork(): void {
    const parent = this.pick(this.#live());
    const name = `p${this.#procCount++}`;
    this.#forks++;
    const regions = new Map<string, GenRegion>();
    for (const [k, r] of parent.regions) {
      regions.set(k, { ...r, mergeable: [...r.mergeable] });
      this.totalPages += r.pages;
    }
    this.#procs.set(name, { name, regions, mergeAny: parent.mergeAny });
    this.step('fork', { proc: parent.name, child: name });
  }

  exit(): void {
    const p = this.pick(this.#live());
    this.#procs.delete(p.name);
    this.step('exit', { proc: p.name });
  }

  exec(): void {
    const p = this.pick(this.#live());
    // A new, empty address space; MERGE_ANY survives exec (the mm's flags are carried over).
    p.regions.clear();
    this.step('exec', { proc: p.name, comm: `exec${++this.#execs}` });
  }

  prctl(): void {
    const p = this.pick(this.#live());
    const arg = this.chance(60) ? 1 : 0;
    if (arg === 1 && !p.mergeAny) {
      // Entering MERGE_ANY marks every compatible VMA; asking again while in it does nothing
      // (ksm_enable_merge_any returns at once), so a VMA madvised out since stays out.
      p.mergeAny = true;
      for (const r of p.regions.values()) if (!r.shared) r.mergeable.fill(true);
    } else if (arg === 0 && p.mergeAny) {
      // Leaving MERGE_ANY unmerges and clears VM_MERGEABLE on every VMA, madvised ones too.
      p.mergeAny = false;
      for (const r of p.regions.values()) r.mergeable.fill(false);
    }
    this.step('prctl', { proc: p.name, option: 'PR_SET_MEMORY_MERGE', arg });
  }

  sysfs(): void {
    switch (this.pick(['use_zero_pages', 'smart_scan', 'run1', 'run2', 'run2', 'max_page_sharing'] as const)) {
      case 'use_zero_pages':
      case 'smart_scan': {
        const file = this.pick(['use_zero_pages', 'smart_scan'] as const);
        this.step('sysfs', { path: `ksm/${file}`, value: String(this.int(0, 1)) });
        return;
      }
      case 'run1':
        this.#setRun(1);
        return;
      case 'run2':
        this.#setRun(2);
        // run 2 unmerges what registered mms map through mergeable VMAs; a KSM page that a
        // process forked before merging still maps keeps its stable node, and Linux answers
        // EBUSY to max_page_sharing (both backends agree). So only without forks.
        if (this.#forks === 0) this.#mayShare = false;
        if (this.chance(60) && !this.#mayShare) this.#maxPageSharing();
        return;
      case 'max_page_sharing':
        // Only where it must succeed: nothing is shared yet, or run 2 just unmerged all.
        if (!this.#mayShare) this.#maxPageSharing();
        else this.step('sysfs', { path: 'ksm/smart_scan', value: String(this.int(0, 1)) });
        return;
    }
  }

  #maxPageSharing(): void {
    this.step('sysfs', {
      path: 'ksm/max_page_sharing',
      value: String(this.chance(60) ? this.int(2, 5) : this.int(2, 300)),
    });
  }

  #setRun(value: number): void {
    this.#run = value;
    this.step('sysfs', { path: 'ksm/run', value: String(value) });
  }

  /**
   * Makes the coming wait able to finish: ksmd running, and a live process with a private
   * region that has VM_MERGEABLE pages (adding a process, a filled region or a madvise
   * where there is none).
   */
  prepareWait(): void {
    const mergeable = (_p: GenProc, r: GenRegion): boolean => !r.shared && r.mergeable.includes(true);
    if (this.#regionsOf(mergeable).length === 0) {
      const privateRegions = this.#regionsOf((_p, r) => !r.shared);
      if (privateRegions.length > 0) {
        this.madvise(this.pick(privateRegions), 'MADV_MERGEABLE');
      } else {
        const live = this.#live().filter((p) => p.regions.size < MAX_REGIONS_PER_PROC);
        const p = live.length > 0 ? this.pick(live) : this.spawn();
        const r = this.mmap(p);
        this.fill([p, r]);
        this.madvise([p, r], 'MADV_MERGEABLE');
      }
    }
    if (this.#run !== 1) this.#setRun(1);
  }
}

/** `pages` pages as a size string: `12KiB`. */
function kib(pages: number): string {
  return `${pages * (PAGE_SIZE / 1024)}KiB`;
}

/**
 * Which family of generated scenarios: the default; the one whose processes also exec; the
 * one that scans in small batches and waits for batches; the one with regions up to 1,024
 * pages (any of them may be combined).
 */
export interface GenerateOptions {
  readonly exec?: boolean;
  readonly batches?: boolean;
  readonly large?: boolean;
}

/**
 * The name of a generated scenario (its file is this with `.yaml`): `generated-exec-12`,
 * `generated-batches-3`, `generated-large-batches-7`.
 */
export function generatedName(seed: number, options: GenerateOptions = {}): string {
  const large = options.large === true ? 'large-' : '';
  return `generated-${large}${options.exec === true ? 'exec-' : ''}${options.batches === true ? 'batches-' : ''}${seed}`;
}

/** How generateScenario(seed, options) is written in a comment: `3, { exec: true }`. */
function callText(seed: number, options: GenerateOptions): string {
  const flags = [
    options.exec === true ? 'exec: true' : '',
    options.batches === true ? 'batches: true' : '',
    options.large === true ? 'large: true' : '',
  ];
  const given = flags.filter((f) => f !== '');
  return given.length === 0 ? `${seed}` : `${seed}, { ${given.join(', ')} }`;
}

/**
 * Scenario YAML with each step on one line, as generated files and scenarios-diff/ have them:
 * `- fill: { proc: p0, region: m1, pattern: { page-mod: 2, seed: 1 } }`.
 */
export function stepsOnOneLine(doc: Document): string {
  const steps = doc.get('steps', true);
  if (isSeq(steps)) {
    for (const item of steps.items) {
      if (!isMap(item)) continue;
      for (const pair of item.items) if (isMap(pair.value)) pair.value.flow = true;
    }
  }
  return doc.toString({ lineWidth: 0 });
}

/**
 * The scenario of `seed` (an integer in [0, 2^32)) as YAML text, checked by parseScenario.
 * Throws if the generator ever produced an invalid file (a bug here, not in the input).
 */
export function generateScenario(seed: number, options: GenerateOptions = {}): string {
  const exec = options.exec === true;
  const batches = options.batches === true;
  const large = options.large === true;
  const g = new Generator(seed, exec, batches, large);
  const ksm = g.initialKsm();
  g.body();
  // At least twice every page that was ever mapped: each ksmd batch is then a full scan.
  // The batch family's few pages a batch, so that the steps come in the middle of scans.
  ksm.pages_to_scan = g.batchPagesToScan() ?? Math.max(100, 2 * g.totalPages);
  // The kernel backend holds ksmd after a batch by seeing it, within ksmd's sleep after the
  // batch (less a timer tick): 50 ms leaves room for a pause of Node's event loop.
  if (batches) ksm.sleep_millisecs = 50;
  const name = generatedName(seed, options);
  const family = [large ? 'large' : '', exec ? 'exec' : '', batches ? 'batch' : '']
    .filter((f) => f !== '')
    .join(' and ');
  const doc = new Document({
    version: 1,
    name,
    description: `Random scenario of samepage's generator, ${family === '' ? '' : `${family} family, `}seed ${seed}`,
    ksm,
    steps: g.steps,
  });
  doc.commentBefore = ` Generated by src/scenario/generate.ts (generateScenario(${callText(seed, options)})).`;
  const ksmNode = doc.get('ksm', true);
  if (isMap(ksmNode)) ksmNode.flow = false;
  const text = stepsOnOneLine(doc);
  const file = `${name}.yaml`;
  const parsed = parseScenario(text, file);
  if (!parsed.ok)
    throw new Error(
      `generateScenario(${seed}) produced an invalid scenario:\n${formatProblems(file, parsed.problems)}\n${text}`,
    );
  return text;
}
