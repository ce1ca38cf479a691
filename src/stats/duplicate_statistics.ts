/**
 * The duplicate-page statistics of the thesis's `parser` module (section 5.3.1): every page
 * is counted under a hash of its bytes; at the end the groups are listed by count, highest
 * first, each with its MD5, with the number of pages that have no duplicate and the number
 * of pages merging would free.
 *
 * The thesis hashes every page with MD5. Here a page's group is found by a 128-bit
 * fingerprint, XXH64 of its bytes with seeds 0 and 1 (WebAssembly, about 3 times faster
 * than MD5, which would hold `samepage stats` under 0.5 GB/s), and the MD5 the listing
 * shows is computed once per content, when a second page of it turns up: pages without a
 * duplicate, most pages, never need one. Like the thesis with MD5, we trust 128 bits to
 * tell pages apart: two different pages with one fingerprint would be counted as one group
 * (a chance of about n^2 / 2^129 for n pages). Snapshots carry MD5s only: their pages are
 * counted by MD5 (addFingerprint), so one instance counts one kind of source.
 *
 * Frames. Pages that already share one physical frame (a forked child's, or pages KSM has
 * merged) free nothing more when merged. Where the source knows each page's frame (live
 * processes read as root, v2 snapshots, the model), a group also counts its distinct
 * frames: a content is duplicated when it is held in two frames or more, and merging frees
 * all but one of them. Without frame numbers every page is its own frame, as in the thesis.
 *
 * The thesis keeps the groups in a red-black tree and heap-sorts them; a Map and one sort
 * give the same result.
 */
import { hash } from 'node:crypto';
import { PAGE_SIZE } from '../lib/sizes.ts';
import { PageKernel } from '../lib/xxh64.ts';
import { classifyPage, type PageClass } from './page_class.ts';
import type { Page, PageOwner, PageSource } from './page_source.ts';

/** One line of the listing: a content, how many pages hold it, and what it looks like. */
export interface GroupEntry {
  readonly count: number;
  /** Distinct frames holding it (= count when frames are unknown). */
  readonly frames: number;
  /** MD5 of the content, 32 lowercase hex digits. */
  readonly md5: string;
  readonly class: PageClass;
}

/**
 * One process's figures (`by_process`, keyed by pid):
 * - `pages`: its pages counted;
 * - `duplicate_pages`: those of its pages whose content is held in two frames or more in the
 *   whole set, in it or in any other process (merging everything could share them);
 * - `saving_pages`: Σ (f − 1) over the contents it holds in f ≥ 2 frames itself, the frames
 *   merging would free if only this process were merged (KSM on it alone).
 */
export interface ProcessFigures {
  readonly comm: string;
  readonly pages: number;
  readonly duplicate_pages: number;
  readonly saving_pages: number;
}

/**
 * The result, in the JSON shape of `samepage stats --json`:
 * - `pages`: every page counted; `frames`: the distinct frames they are in;
 * - `unique_pages`: pages whose content is held in one frame (no duplicate);
 * - `duplicate_pages`: pages whose content is held in two frames or more (so pages =
 *   unique + duplicate);
 * - `saving_pages`: Σ (frames − 1) over those contents, the frames merging would free (the
 *   thesis's (3311 − 27) for okular, where every page is its own frame);
 * - `top`: the duplicated contents, most pages first, ties by MD5, at most the number asked
 *   for.
 */
export interface StatisticsResult {
  readonly pages: number;
  readonly frames: number;
  readonly unique_pages: number;
  readonly duplicate_pages: number;
  readonly saving_pages: number;
  readonly top: readonly GroupEntry[];
  readonly by_process: Readonly<Record<string, ProcessFigures>>;
}

export interface ResultOptions {
  /** At most this many groups in `top`; all duplicate groups when absent. */
  readonly top?: number;
}

/**
 * A group of identical pages. Most groups are one page of one process: no map for those,
 * and no MD5 or class until a second page arrives.
 */
interface Group {
  count: number;
  /** Distinct frames (see the module comment). */
  frames: number;
  /** MD5 digest as a 16-character latin1 string, and the class; once count >= 2. */
  md5: string | undefined;
  cls: PageClass | undefined;
  readonly firstPid: number;
  readonly firstFrame: number;
  /** Pages of firstPid, while `others` is undefined. */
  firstCount: number;
  /** Pages per pid, once a second process holds the content. */
  others: Map<number, number> | undefined;
  /** Once a second page arrives: the frames each pid maps. */
  pidFrames: Map<number, Set<number>> | undefined;
  allFrames: Set<number> | undefined;
}

/** Accumulates pages from any number of sources; `result()` may be called at any time. */
export class DuplicateStatistics {
  /** Fingerprint (a bigint of 128 bits) -> group; a snapshot's page by `m` + its MD5 (latin1). */
  readonly #groups = new Map<bigint | string, Group>();
  readonly #kernel = new PageKernel();
  /** Which kind of source this instance counts (see the module comment). */
  #kind: 'bytes' | 'md5' | undefined;
  readonly #owners = new Map<number, { comm: string; pages: number }>();
  readonly #scratch = new Int32Array(PAGE_SIZE);
  #total = 0;
  /** Stand-in frame numbers for pages whose frame is unknown: each its own frame. */
  #unknownFrame = -1;

  /** Counts one page by its bytes; a content met for the second time gets its MD5 and class. */
  add(page: Page): void {
    this.#sourceKind('bytes');
    const key = this.#kernel.fingerprint(page.buffer, page.offset);
    const frame = page.frame ?? this.#unknownFrame--;
    const group = this.#groups.get(key);
    if (group === undefined) {
      this.#insert(key, undefined, undefined, page.owner, frame);
      return;
    }
    if (group.md5 === undefined) {
      group.md5 = hash('md5', page.buffer.subarray(page.offset, page.offset + PAGE_SIZE), 'binary');
      group.cls = classifyPage(page.buffer, page.offset, this.#scratch);
    }
    this.#count(group, page.owner, frame);
  }

  #sourceKind(kind: 'bytes' | 'md5'): void {
    if (this.#kind === undefined) this.#kind = kind;
    else if (this.#kind !== kind)
      throw new Error('DuplicateStatistics counts pages by their bytes or by their MD5, not both in one set');
  }

  /**
   * Counts a page known only by its fingerprint (a snapshot): `md5` is the 16-byte digest,
   * `cls` the class of the content, `frame` its physical frame when known.
   */
  addFingerprint(owner: PageOwner, md5: Uint8Array, cls: PageClass, frame?: number): void {
    if (md5.length !== 16) throw new RangeError(`An MD5 digest has 16 bytes, got ${md5.length}`);
    this.#sourceKind('md5');
    const digest = Buffer.from(md5.buffer, md5.byteOffset, 16).toString('latin1');
    const key = `m${digest}`;
    const f = frame ?? this.#unknownFrame--;
    const group = this.#groups.get(key);
    if (group !== undefined) this.#count(group, owner, f);
    else this.#insert(key, digest, cls, owner, f);
  }

  /** Counts every page of `source`. */
  addAll(source: PageSource): void {
    for (const page of source.pages()) this.add(page);
  }

  /** Pages counted so far. */
  get pages(): number {
    return this.#total;
  }

  result(opts: ResultOptions = {}): StatisticsResult {
    let unique = 0;
    let duplicate = 0;
    let saving = 0;
    const dups: Group[] = [];
    let frames = 0;
    const perProcess = new Map<number, { duplicate: number; saving: number }>();
    const addTo = (pid: number, pages: number, pidFrames: number): void => {
      const p = perProcess.get(pid) ?? { duplicate: 0, saving: 0 };
      p.duplicate += pages;
      if (pidFrames >= 2) p.saving += pidFrames - 1;
      perProcess.set(pid, p);
    };
    for (const entry of this.#groups) {
      const g = entry[1];
      frames += g.frames;
      if (g.frames === 1) {
        unique += g.count;
        continue;
      }
      duplicate += g.count;
      saving += g.frames - 1;
      dups.push(g);
      const framesOf = (pid: number): number => g.pidFrames?.get(pid)?.size ?? 1;
      if (g.others === undefined) addTo(g.firstPid, g.firstCount, framesOf(g.firstPid));
      else for (const [pid, n] of g.others) addTo(pid, n, framesOf(pid));
    }
    // Latin1 digests compare code unit by code unit, i.e. byte by byte, as the hex ones do.
    dups.sort((a, b) => b.count - a.count || (a.md5! < b.md5! ? -1 : a.md5! > b.md5! ? 1 : 0));
    const limit = opts.top === undefined ? dups.length : Math.max(0, Math.floor(opts.top));
    const top = dups.slice(0, limit).map(
      (g): GroupEntry => ({
        count: g.count,
        frames: g.frames,
        md5: Buffer.from(g.md5!, 'latin1').toString('hex'),
        class: g.cls!,
      }),
    );
    const byProcess: Record<string, ProcessFigures> = {};
    for (const [pid, o] of [...this.#owners].sort(([a], [b]) => a - b)) {
      const p = perProcess.get(pid);
      byProcess[String(pid)] = {
        comm: o.comm,
        pages: o.pages,
        duplicate_pages: p?.duplicate ?? 0,
        saving_pages: p?.saving ?? 0,
      };
    }
    return {
      pages: this.#total,
      frames,
      unique_pages: unique,
      duplicate_pages: duplicate,
      saving_pages: saving,
      top,
      by_process: byProcess,
    };
  }

  #insert(
    key: bigint | string,
    md5: string | undefined,
    cls: PageClass | undefined,
    owner: PageOwner,
    frame: number,
  ): void {
    this.#groups.set(key, {
      count: 1,
      frames: 1,
      md5,
      cls,
      firstPid: owner.pid,
      firstFrame: frame,
      firstCount: 1,
      others: undefined,
      pidFrames: undefined,
      allFrames: undefined,
    });
    this.#own(owner);
  }

  #count(g: Group, owner: PageOwner, frame: number): void {
    g.count++;
    if (g.allFrames === undefined || g.pidFrames === undefined) {
      g.allFrames = new Set([g.firstFrame]);
      g.pidFrames = new Map([[g.firstPid, new Set([g.firstFrame])]]);
    }
    if (!g.allFrames.has(frame)) {
      g.allFrames.add(frame);
      g.frames++;
    }
    const mine = g.pidFrames.get(owner.pid);
    if (mine === undefined) g.pidFrames.set(owner.pid, new Set([frame]));
    else mine.add(frame);
    if (g.others === undefined) {
      if (owner.pid === g.firstPid) g.firstCount++;
      else
        g.others = new Map([
          [g.firstPid, g.firstCount],
          [owner.pid, 1],
        ]);
    } else {
      g.others.set(owner.pid, (g.others.get(owner.pid) ?? 0) + 1);
    }
    this.#own(owner);
  }

  #own(owner: PageOwner): void {
    this.#total++;
    const o = this.#owners.get(owner.pid);
    if (o === undefined) this.#owners.set(owner.pid, { comm: owner.comm, pages: 1 });
    else o.pages++;
  }
}

/** The statistics of one source, in one call. */
export function duplicateStatistics(source: PageSource, opts: ResultOptions = {}): StatisticsResult {
  const s = new DuplicateStatistics();
  s.addAll(source);
  return s.result(opts);
}
