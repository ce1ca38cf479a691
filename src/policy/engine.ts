/**
 * The policy of the KSM+ daemon for stock kernels: the thesis's KSM+ (Zhou Xiao, 2013,
 * chapter 4) rebuilt on what an unmodified kernel offers. Where the thesis gives sampled
 * pages rmap_items inside the kernel, the daemon samples them from user space, finds
 * duplicates itself, and marks with MADV_MERGEABLE only the ranges that hold them, so ksmd
 * spends rmap_items on those ranges alone; ranges that merge nothing are given back.
 *
 * One round visits every region of every selected process, as the thesis's scan visits
 * every vma_node: it samples the region's coefficient percent of pages (thesis 4.2.2),
 * then lowers the coefficient; a region that shows nothing merged once the coefficient is
 * low is dropped until it changes. A batch (`step`) processes up to pages_to_scan pages and
 * returns the madvise calls to make; the driver makes them and reports back (`applied`).
 * Time and chance come from outside: the driver calls `step` on its clock, and sampling
 * draws from the injected PRNG, so a run on the model is reproducible.
 */
import { PageBatch } from '../lib/page_batch.ts';
import type { Prng } from '../lib/prng.ts';
import { forEachSample, sampleCount } from '../lib/thesis_sampling.ts';
import type { ActionKind, ActionOutcome, PlusAction, PlusEvent } from './actions.ts';
import { ContentIndex, ENTRY_KSM } from './content_index.ts';
import type { PlusHost, PlusProcessInfo } from './host.ts';
import { knobSpec, parseKnobValue, PLUS_DEFAULTS, type PlusKnobName, type PlusKnobs } from './knobs.ts';
import { checkRanges, COOLDOWN_ROUNDS, planMarks, recordMarked, recordUnmarked, unmarkPieces } from './marking.ts';
import { ProcState, Region, regionsOf } from './proc_state.ts';
import { inRanges, intersectRanges, type Range, rangePages, subtractRanges } from './ranges.ts';
import { CHUNK, CONFIRM_SLOTS, ChunkScratch, sampleChunk } from './sampler.ts';
import { Selection, type PidSelection } from './selection.ts';

const EINVAL = 22;
const ENOMEM = 12;
/** A pagemap lookup costs about a sixteenth of a page read (8 bytes against 4096, plus the walk). */
const LOOKUPS_PER_PAGE = 16;
/** Rounds a process that refused an injection for a passing reason is left alone. */
const RETRY_ROUNDS = 2;
/** Rounds between two reads of a process's KSM view (ksm_stat and smaps) at a round's start. */
const KSM_READ_ROUNDS = 10;
/** Pauses kept per process for the percentiles of `status`. */
const PAUSES_KEPT = 512;

export interface EngineOptions {
  readonly prng: Prng;
  readonly log?: (event: PlusEvent) => void;
  readonly knobs?: Partial<PlusKnobs>;
  /** Processes never to touch whatever their name (the daemon itself and its helpers). */
  readonly exclude?: (pid: number) => boolean;
}

/** Counters of the daemon since it started (files of the control directory). */
export interface EngineCounters {
  /** Pages read and hashed. */
  pages_scanned: number;
  /** Sampled pages looked up in pagemap (absent and file pages included). */
  pages_looked: number;
  /** Rounds completed (the thesis's full_scans of KSM+). */
  full_scans: number;
  duplicates: number;
  marks: number;
  unmarks: number;
  refusals: number;
}

/** madvise on `ranges` of `p`; a process selected by name must still have that name. */
function actionFor(p: ProcState, kind: ActionKind, ranges: readonly Range[], why: string): PlusAction {
  const byName = p.why.startsWith('name ');
  return { kind, pid: p.pid, start: p.start, comm: p.comm, ...(byName ? { requireComm: true } : {}), ranges, why };
}

export class PlusEngine {
  readonly selection = new Selection();
  readonly #host: PlusHost;
  readonly #prng: Prng;
  readonly #log: (event: PlusEvent) => void;
  readonly #exclude: (pid: number) => boolean;
  #knobs: PlusKnobs;
  readonly #index = new ContentIndex();
  readonly #batch = new PageBatch(CHUNK + CONFIRM_SLOTS);
  readonly #scratch = new ChunkScratch();
  /** Selected processes in round order. */
  #procs: ProcState[] = [];
  readonly #bySlot = new Map<number, ProcState>();
  readonly #byPid = new Map<number, ProcState>();
  /** Newly selected processes whose first round runs ahead of the round's cursor. */
  #fresh: ProcState[] = [];
  readonly #checkScratch = { vpns: new Float64Array(4096), state: new Uint8Array(4096), pfn: new Float64Array(4096) };
  #nextSlot = 1;
  /** Where the round stands: process index and region index. */
  #pi = 0;
  #ri = 0;
  #epoch = 1;
  #roundStarted = false;
  /** When the last round started (the driver's milliseconds), for round_millisecs. */
  #roundStartMs = Number.NEGATIVE_INFINITY;
  #deadSlots = new Set<number>();
  /** Processes released while an action of theirs may be in flight, by pid:start. */
  readonly #released = new Map<string, ProcState>();
  /** Actions decided outside a batch (removals, run=2, verdicts), handed out by the next `step`. */
  #queued: PlusAction[] = [];
  #outstanding = 0;
  /** Batches run (`step` calls). */
  batches = 0;
  readonly counters: EngineCounters = {
    pages_scanned: 0,
    pages_looked: 0,
    full_scans: 0,
    duplicates: 0,
    marks: 0,
    unmarks: 0,
    refusals: 0,
  };

  constructor(host: PlusHost, opts: EngineOptions) {
    this.#host = host;
    this.#prng = opts.prng;
    this.#log = opts.log ?? (() => {});
    this.#exclude = opts.exclude ?? (() => false);
    this.#knobs = { ...PLUS_DEFAULTS, ...opts.knobs };
  }

  get knobs(): PlusKnobs {
    return this.#knobs;
  }

  /** The current round number (1 for the first). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Selected processes now, in round order. */
  processes(): readonly ProcState[] {
    return this.#procs;
  }

  /** Entries and bytes of the duplicate index, and the bytes of the policy's other tables. */
  memory(): { indexEntries: number; indexBytes: number; batchBytes: number; otherBytes: number } {
    let other = this.#scratch.bytes();
    for (const p of this.#procs) other += 64 * p.regions.length + 48 * p.marked.length + 8 * p.pending.length + 200;
    return {
      indexEntries: this.#index.size,
      indexBytes: this.#index.bytes(),
      batchBytes: this.#batch.byteLength(),
      otherBytes: other,
    };
  }

  /**
   * Writes a knob: 0, or -EINVAL for a value out of its range (nothing changes then).
   * run=2 stops and queues the unmarking of every range; run=0 only stops sampling.
   */
  setKnob(name: PlusKnobName, text: string): number {
    const spec = knobSpec(name);
    if (spec === undefined) return -EINVAL;
    const v = parseKnobValue(spec, text);
    if (v === undefined) return -EINVAL;
    const was = this.#knobs[name];
    this.#knobs = { ...this.#knobs, [name]: v };
    if (was !== v) this.#log({ kind: 'knob', message: `${name}: ${was} -> ${v}` });
    if (name === 'run' && v === 2) {
      for (const p of this.#procs) this.#queueUnmarkAll(p, 'run=2: every range is given back');
      for (const p of [...this.#procs]) this.#forget(p, 'run=2', true);
    }
    return 0;
  }

  /** `+ NAME`: the program's processes are picked up at the next refresh. False if already named. */
  addName(name: string): boolean {
    return this.selection.addName(name);
  }

  /** `- NAME`: the name goes, and every range marked in its processes is given back. */
  removeName(name: string): boolean {
    if (!this.selection.removeName(name)) return false;
    this.#release((p) => p.why === `name ${name}`, `${name} was removed from processes_to_scan`);
    return true;
  }

  addPid(sel: PidSelection): boolean {
    return this.selection.addPid(sel);
  }

  removePid(pid: number): boolean {
    if (!this.selection.removePid(pid)) return false;
    this.#release((p) => p.why === `pid ${pid}`, `pid ${pid} was removed from the selection`);
    return true;
  }

  addCgroup(path: string): boolean {
    return this.selection.addCgroup(path);
  }

  removeCgroup(path: string): boolean {
    if (!this.selection.removeCgroup(path)) return false;
    this.#release((p) => p.why.startsWith('cgroup ') && !this.#stillSelected(p), `cgroup ${path} was removed`);
    return true;
  }

  #stillSelected(p: ProcState): boolean {
    return this.selection.matches(p, (pid) => this.#host.cgroup(pid)) !== undefined;
  }

  /** Gives back every range of the processes `which` picks and forgets them. */
  #release(which: (p: ProcState) => boolean, why: string): void {
    for (const p of this.#procs.filter(which)) {
      this.#queueUnmarkAll(p, why);
      this.#forget(p, why, true);
    }
  }

  #queueUnmarkAll(p: ProcState, why: string): void {
    this.#queued.push(...this.#unmarks(p, p.markedRanges(), why));
  }

  /**
   * The actions that give `ranges` of `p` back: one per piece (marking.ts, unmarkPieces), so
   * that no injection holds the process long while it copies merged pages back.
   */
  #unmarks(p: ProcState, ranges: readonly Range[], why: string, verdict?: true): PlusAction[] {
    if (ranges.length === 0) return [];
    return unmarkPieces(this.#host, p.pid, ranges, this.#checkScratch).map((piece) => ({
      ...actionFor(p, 'unmark', piece, why),
      ...(verdict === undefined ? {} : { verdict }),
    }));
  }

  /**
   * The actions that give back every marked range (the daemon is stopping); the processes
   * stay known so that `applied` can record what happened.
   */
  releaseAll(why: string): PlusAction[] {
    const out = this.#queued.filter((a) => a.kind === 'unmark');
    this.#queued = [];
    for (const p of this.#procs) out.push(...this.#unmarks(p, p.markedRanges(), why));
    this.#outstanding += out.length;
    return out;
  }

  /**
   * Looks at the machine's processes: selects new ones (fork, exec, or started later; they
   * are sampled next), and forgets those that exited or are no longer selected (a rename:
   * their marks stay, since an unselected process is never touched).
   */
  refreshProcesses(): void {
    const live = this.#host.processes();
    const seen = new Set<number>();
    const cg = (pid: number): string | undefined => this.#host.cgroup(pid);
    for (const info of live) {
      if (info.pid <= 1 || this.#exclude(info.pid)) continue;
      const tracked = this.#byPid.get(info.pid);
      if (tracked !== undefined && tracked.start !== info.start) this.#forget(tracked, 'exited (its pid was reused)');
      const current = tracked !== undefined && tracked.start === info.start ? tracked : undefined;
      const why = this.selection.isEmpty() ? undefined : this.selection.matches(info, cg);
      if (current !== undefined) {
        seen.add(current.slot);
        if (why === undefined) {
          const left = current.marked.length;
          this.#forget(
            current,
            `no longer selected (comm now "${info.comm}")${left > 0 ? `; its ${left} marked range${left === 1 ? '' : 's'} stay marked: an unselected process is never touched` : ''}`,
          );
        } else {
          current.comm = info.comm;
        }
      } else if (why !== undefined) {
        seen.add(this.#select(info, why).slot);
      }
    }
    for (const p of [...this.#procs]) if (!seen.has(p.slot)) this.#forget(p, 'exited');
  }

  #select(info: PlusProcessInfo, why: string): ProcState {
    const p = new ProcState(this.#nextSlot++, info.pid, info.start, info.comm, why);
    this.#bySlot.set(p.slot, p);
    this.#byPid.set(p.pid, p);
    // Behind the round's cursor, and first in line: its first round runs in the next batch,
    // ahead of the others, and the round in progress does not visit it again.
    const at = Math.min(this.#pi, this.#procs.length);
    this.#procs.splice(at, 0, p);
    if (this.#roundStarted) this.#pi++;
    this.#fresh.push(p);
    this.#syncRegions(p);
    this.#refreshKsm(p);
    this.#log({ kind: 'select', pid: p.pid, comm: p.comm, message: `selected (${why}), ${p.regions.length} regions` });
    return p;
  }

  /**
   * Drops a process. `giveBack`: it was released (removed by the user, run=2), so a mark of it
   * still in flight is given back when its outcome comes in; otherwise (it exited, or left the
   * selection by a rename) it is not touched again.
   */
  #forget(p: ProcState, why: string, giveBack = false): void {
    const i = this.#procs.indexOf(p);
    if (i < 0) return;
    if (giveBack) this.#released.set(`${p.pid}:${p.start}`, p);
    this.#procs.splice(i, 1);
    if (i < this.#pi) this.#pi--;
    else if (i === this.#pi) this.#ri = 0;
    this.#bySlot.delete(p.slot);
    if (this.#byPid.get(p.pid) === p) this.#byPid.delete(p.pid);
    this.#fresh = this.#fresh.filter((q) => q !== p);
    this.#deadSlots.add(p.slot);
    this.#host.forget?.(p.pid);
    this.#log({ kind: 'forget', pid: p.pid, comm: p.comm, message: why });
  }

  /** Brings a process's regions in line with its mappings; false when it is gone. */
  #syncRegions(p: ProcState): boolean {
    const maps = this.#host.mappings(p.pid);
    if (maps === undefined) return false;
    const old = new Map(p.regions.map((r) => [`${r.start}:${r.key}`, r]));
    p.regions = regionsOf(maps).map(({ start, end, key }) => {
      const r = old.get(`${start}:${key}`);
      // A region that grew or shrank has changed: the thesis's new VMA, sampled from the start.
      return r !== undefined && r.end === end ? r : new Region(start, end, key, this.#knobs.initial_coefficient);
    });
    return true;
  }

  /**
   * KSM's view of a process (ksm_stat), and, for a program that uses KSM itself, the
   * mergeable ranges that are not ours. Which VMAs are VM_MERGEABLE only smaps tells, at the
   * cost of a walk of the page tables (profiled: reading it for every process before every
   * mark was most of the daemon's CPU on Chromium); a process whose mm KSM did not know when
   * the daemon selected it has no mergeable range but the daemon's.
   */
  #refreshKsm(p: ProcState): boolean {
    const ksm = this.#host.ksmStat(p.pid);
    if (ksm === undefined) return false;
    if (p.ksm === undefined) p.ownKsm = ksm.mergeable && !ksm.mergeAny;
    p.ksm = ksm;
    p.ksmReadAt = this.#epoch;
    if (!p.ownKsm || ksm.mergeAny) return true;
    const ranges = this.#host.mergeableRanges(p.pid);
    if (ranges === undefined) return false;
    const mergeable: Range[] = ranges.map(([s, e]) => [s / 4096, e / 4096] as const);
    p.foreign = subtractRanges(mergeable, p.markedRanges());
    // Marks the process lost (it unmarked them itself) are no longer ours.
    const lost = subtractRanges(p.markedRanges(), mergeable);
    if (lost.length > 0) recordUnmarked(p, lost);
    return true;
  }

  /** Marks that lie outside the process's regions now (it unmapped them, or exec'd) are no longer ours. */
  #dropLostMarks(p: ProcState): void {
    const lost = subtractRanges(
      p.markedRanges(),
      p.regions.map((r) => [r.start, r.end] as const),
    );
    if (lost.length > 0) recordUnmarked(p, lost);
  }

  #mergeable = (p: ProcState, vpn: number): boolean =>
    p.ksm?.mergeAny === true || inRanges(p.markedRanges(), vpn) || inRanges(p.foreign, vpn);

  #beginRound(): void {
    this.#roundStarted = true;
    this.#pi = 0;
    this.#ri = 0;
    for (const p of [...this.#procs]) {
      // smaps costs a walk of the page tables: KSM's view is read every KSM_READ_ROUNDS
      // rounds, and before each mark (step).
      const readKsm = this.#epoch - p.ksmReadAt >= KSM_READ_ROUNDS || p.ksm === undefined;
      if (!this.#syncRegions(p) || (readKsm && !this.#refreshKsm(p))) this.#forget(p, 'exited');
      else this.#dropLostMarks(p);
    }
    const oldest = this.#epoch - this.#knobs.index_rounds;
    const dead = this.#deadSlots;
    this.#deadSlots = new Set();
    // KSM pages stay indexed while their process lives: their content cannot change, and a
    // newcomer's duplicate of one merges in a single ksmd visit. A stale one (the page was
    // unmerged since) fails its byte check and is replaced.
    this.#index.sweep(
      (e) =>
        !dead.has(this.#index.slot(e)) && (this.#index.epoch(e) > oldest || (this.#index.flags(e) & ENTRY_KSM) !== 0),
    );
  }

  #endRound(): void {
    this.#roundStarted = false;
    this.counters.full_scans++;
    this.#epoch++;
    const full = this.#host.fullScans();
    for (const p of [...this.#procs]) this.#judge(p, full);
  }

  /** Ranges of `p` whose verdict is due: given back when they merged nothing (queued actions). */
  #judge(p: ProcState, fullScans: number): void {
    if (p.marked.length === 0 || p.skipped !== undefined) return;
    const { verdicts, looked, alive } = checkRanges(this.#host, p, this.#knobs, fullScans, this.#checkScratch);
    this.counters.pages_looked += looked;
    if (!alive) return;
    for (const v of verdicts) this.#queued.push(...this.#unmarks(p, v.giveBack, v.why, true));
  }

  /**
   * One batch: up to pages_to_scan sampled pages (a page read counts 1, a pagemap lookup
   * 1/16), ending early at the end of a round. Returns the madvise calls to make now; every
   * one of them must be reported with `applied` before the next `step`.
   */
  step(nowMs: number): PlusAction[] {
    if (this.#outstanding > 0) throw new Error(`PlusEngine.step: ${this.#outstanding} actions not yet applied`);
    this.#released.clear();
    const out = this.#queued;
    this.#queued = [];
    this.batches++;
    if (this.#knobs.run === 1 && this.#knobs.pages_to_scan > 0) this.#sample(nowMs);
    for (const p of this.#procs) {
      if (p.pending.length === 0) continue;
      if (p.skipped !== undefined) {
        p.pending = [];
        continue;
      }
      if (!this.#refreshKsm(p)) continue;
      const ranges = planMarks(p, this.#knobs, this.#epoch);
      if (ranges.length === 0) continue;
      const pages = rangePages(ranges);
      const why = `${pages} page${pages === 1 ? '' : 's'} with duplicates found in round ${this.#epoch}`;
      out.push(actionFor(p, 'mark', ranges, why));
    }
    this.#outstanding = out.length;
    return out;
  }

  #sample(nowMs: number): void {
    let budget = this.#knobs.pages_to_scan * LOOKUPS_PER_PAGE;
    while (budget > 0) {
      const fresh = this.#fresh[0];
      if (fresh !== undefined) {
        const r = fresh.regions[fresh.firstRegion];
        if (r === undefined) this.#fresh.shift();
        else budget -= this.#sampleRegion(fresh, r, budget, () => fresh.firstRegion++);
        continue;
      }
      if (!this.#roundStarted) {
        if (nowMs - this.#roundStartMs < this.#knobs.round_millisecs) return;
        this.#roundStartMs = nowMs;
        this.#beginRound();
      }
      const p = this.#procs[this.#pi];
      if (p === undefined) {
        this.#endRound();
        return;
      }
      if (p.skipped !== undefined && p.skipped.until <= this.#epoch) p.skipped = undefined;
      const r = p.regions[this.#ri];
      if (r === undefined || p.skipped !== undefined) {
        this.#pi++;
        this.#ri = 0;
        continue;
      }
      budget -= this.#sampleRegion(p, r, budget, () => this.#ri++);
    }
  }

  /**
   * Samples a chunk of region `r` of `p` within `budget` (lookup units); `next` moves the
   * caller's cursor past the region when its round is done. Returns the budget used.
   */
  #sampleRegion(p: ProcState, r: Region, budget: number, next: () => void): number {
    if (r.dropped) {
      next();
      return 0;
    }
    if (r.samples === null) {
      const samples = new Float64Array(sampleCount(r.pages(), r.coefficient));
      let k = 0;
      forEachSample(
        r.pages(),
        r.coefficient,
        (n) => this.#prng.below(n),
        (i) => {
          samples[k++] = r.start + i;
        },
      );
      r.samples = samples;
      r.sampleIdx = 0;
    }
    const res = sampleChunk(this.#context(), this.#scratch, p, r, Math.max(1, Math.ceil(budget / LOOKUPS_PER_PAGE)));
    this.counters.pages_looked += res.looked;
    this.counters.pages_scanned += res.read;
    this.counters.duplicates += res.duplicates;
    if (!res.alive) {
      this.#forget(p, 'exited');
      return res.looked;
    }
    if (r.sampleIdx >= r.samples.length) {
      this.#finishRegion(p, r);
      next();
    }
    // At least one unit, so an empty region cannot stall the batch.
    return Math.max(1, res.looked + res.read * (LOOKUPS_PER_PAGE - 1));
  }

  #context() {
    return {
      host: this.#host,
      index: this.#index,
      batch: this.#batch,
      epoch: this.#epoch,
      procBySlot: (slot: number) => this.#bySlot.get(slot),
      mergeable: this.#mergeable,
    };
  }

  /**
   * The end of a region's round: the coefficient falls (not below min_coefficient), and a
   * region with nothing merged or marked whose coefficient, decremented before the floor,
   * is below drop_coefficient is dropped (the thesis's test, docs/ksmplus.md).
   * @thesis 4.2.2 vma_node_do_sampling (vma_node reclamation)
   */
  #finishRegion(p: ProcState, r: Region): void {
    r.samples = null;
    r.rounds++;
    const next = r.coefficient - this.#knobs.coefficient_step;
    r.coefficient = Math.max(this.#knobs.min_coefficient, next);
    const holds =
      r.found ||
      p.marked.some((m) => m.start < r.end && r.start < m.end) ||
      p.pending.some((v) => v >= r.start && v < r.end);
    // A region whose first round found no anonymous page at all (a reservation, page cache
    // only) is given up at once: the rounds down to drop_coefficient would only read its
    // pagemap (profiled on Chromium: millions of lookups for nothing). It is sampled again
    // when it changes.
    const empty = r.rounds === 1 && r.anonSeen === 0 && this.#knobs.initial_coefficient >= 50;
    r.found = false;
    r.anonSeen = 0;
    if (!holds && (next < this.#knobs.drop_coefficient || empty)) {
      r.dropped = true;
      this.#log({
        kind: 'drop',
        pid: p.pid,
        comm: p.comm,
        range: [r.start * 4096, r.end * 4096],
        message: `${empty ? 'dropped after its first round: no anonymous page in it' : `dropped after ${r.rounds} rounds: nothing merged or duplicated`} (${r.key.trim()})`,
      });
    }
  }

  /** Records how an action of the last `step` ended. */
  applied(action: PlusAction, outcome: ActionOutcome): void {
    this.#outstanding = Math.max(0, this.#outstanding - 1);
    const p = [...this.#bySlot.values()].find((q) => q.pid === action.pid && q.start === action.start);
    if (outcome.kind === 'refused') {
      this.counters.refusals++;
      this.#log({
        kind: 'skip',
        pid: action.pid,
        comm: action.comm,
        message: `${action.kind} refused: ${outcome.why}`,
      });
      if (p !== undefined) {
        p.pending = [];
        p.skipped = { why: outcome.why, until: outcome.retry ? this.#epoch + RETRY_ROUNDS : Number.POSITIVE_INFINITY };
      }
      return;
    }
    if (p !== undefined) {
      p.injections++;
      if (outcome.pauseNs !== undefined) {
        p.pausesNs.push(outcome.pauseNs);
        if (p.pausesNs.length > PAUSES_KEPT) p.pausesNs.shift();
      }
    }
    const done: Range[] = [];
    action.ranges.forEach((range, i) => {
      const r = outcome.results[i];
      const bytes: [number, number] = [range[0] * 4096, range[1] * 4096];
      if (r === 0) {
        done.push(range);
        this.#log({ kind: action.kind, pid: action.pid, comm: action.comm, range: bytes, message: action.why });
      } else {
        this.#log({
          kind: 'warn',
          pid: action.pid,
          comm: action.comm,
          range: bytes,
          message: `madvise(${action.kind === 'mark' ? 'MADV_MERGEABLE' : 'MADV_UNMERGEABLE'}) returned ${r ?? 'nothing'}`,
        });
      }
    });
    if (action.kind === 'mark') this.counters.marks += done.length;
    else this.counters.unmarks += done.length;
    if (p === undefined) {
      // A mark that was in flight when its process was released: give it back too.
      const gone = this.#released.get(`${action.pid}:${action.start}`);
      if (gone !== undefined && action.kind === 'mark' && done.length > 0)
        this.#queued.push(...this.#unmarks(gone, done, `${action.why}, then released`));
      return;
    }
    if (action.kind === 'mark') {
      // ENOMEM: part of the range was unmapped meanwhile, and madvise marked the rest. What
      // is mergeable there now is ours (the range held nothing mergeable before), so that it
      // is given back later like the rest.
      const partial = action.ranges.filter((_, i) => outcome.results[i] === -ENOMEM);
      const ranges = partial.length === 0 ? undefined : this.#host.mergeableRanges(p.pid);
      if (ranges !== undefined) {
        const now: Range[] = ranges.map(([s, e]) => [s / 4096, e / 4096] as const);
        done.push(...intersectRanges(partial, now));
      }
      recordMarked(p, done, this.#host.fullScans(), action.why);
    } else {
      recordUnmarked(p, done);
      if (action.verdict === true) {
        for (const [start, end] of done) p.cooldown.push({ start, end, until: this.#epoch + COOLDOWN_ROUNDS });
      }
    }
  }
}
