/**
 * samepage's journals of live changes for people: what `samepage kernel recover` did (one
 * table per recovered owner) and what `samepage kernel status` shows of changes in progress
 * or waiting for recovery. Types only from host/ (docs/crash-safety.md explains the journal).
 */
import pc from 'picocolors';
import type { JournalEntry, JournalOwner } from '../host/journal.ts';
import type { JournalView, RecoveryReport } from '../host/recover.ts';
import { plural } from '../lib/plural.ts';
import { formatBytes } from '../lib/sizes.ts';
import { oneLine, wrapText } from '../lib/text_width.ts';
import { fitTable } from './fit_table.ts';

export interface RecoveryTextOptions {
  readonly color?: boolean;
  /** The terminal's width: lines wrap and tables fit it (fit_table.ts); undefined: no limit. */
  readonly width?: number | undefined;
}

/** `text` wrapped to `width` after `indent`, its further lines indented two more. */
function wrapped(text: string, indent: string, width: number | undefined): string {
  if (width === undefined) return `${indent}${text}`;
  const [first = '', ...more] = wrapText(text, width - indent.length);
  const rest = more.length === 0 ? [] : wrapText(more.join(' '), width - indent.length - 2);
  return [`${indent}${first}`, ...rest.map((l) => `${indent}  ${l}`)].join('\n');
}

/** "samepage process 123 (samepage.js run x.yaml)". */
export function ownerText(owner: JournalOwner | undefined, journal: string): string {
  return owner === undefined ? journal : `samepage process ${owner.pid} (${owner.command || 'unknown command'})`;
}

/** One journal entry in words: what samepage changed and what restores it. */
export function entryText(e: JournalEntry): string {
  switch (e.kind) {
    case 'sysfs':
      return `${e.path}: originally ${e.original}; samepage wrote ${e.written.join(', ') || 'nothing yet'}`;
    case 'ksmd_cpus':
      return `CPUs of ksmd (pid ${e.pid}): originally ${e.original}; samepage set ${e.written.join(', ')}`;
    case 'merge_any':
      return `MERGE_ANY of process ${e.pid} (${oneLine(e.comm)}): originally ${e.original ? 'yes' : 'no'}; samepage sets ${e.written ? 'yes' : 'no'}`;
    case 'madvise': {
      const bytes = e.ranges.reduce((n, [, len]) => n + len, 0);
      return `${plural(e.ranges.length, 'range')} (${formatBytes(bytes)}) of process ${e.pid} (${oneLine(e.comm)}) madvised MADV_MERGEABLE by samepage`;
    }
    case 'ksm_items':
      return "KSM's items of the processes samepage started: reaped with run=2 once they are gone, while no other process uses KSM";
  }
}

/** What `samepage kernel recover` did, one block per journal; a sentence when there was nothing to do. */
export function renderRecoveries(reports: readonly RecoveryReport[], opts: RecoveryTextOptions = {}): string {
  const c = pc.createColors(opts.color ?? pc.isColorSupported);
  if (reports.length === 0) return 'Nothing to recover: no journal of a dead samepage process is left.\n';
  const blocks = reports.map((r) => {
    const who = ownerText(r.owner, r.journal);
    if (r.state === 'busy' || r.state === 'damaged')
      return `${c.red(c.bold(`Not recovered: ${who}`))}\n${r.problem ?? r.state}\n(${r.journal})`;
    if (r.state === 'earlier-boot') return `${c.bold(`Discarded: ${who}`)}\n${r.problem ?? ''}`;
    const head = `${c.bold(`Recovered ${who}`)}, which died leaving ${plural(r.outcomes.length, 'change')} journaled (${r.duration_ms} ms)`;
    if (r.outcomes.length === 0) return head;
    const table = fitTable(
      [{ head: 'result' }, { head: 'what', wrap: true }, { head: 'detail', wrap: true }],
      r.outcomes.map((o) => [
        o.result === 'failed' ? c.red(o.result) : o.result === 'kept' ? c.yellow(o.result) : o.result,
        o.target,
        o.detail.startsWith(`${o.target}: `) ? o.detail.slice(o.target.length + 2) : o.detail,
      ]),
      { width: opts.width, compact: true, headStyle: c.bold },
    );
    const left =
      r.left > 0
        ? `\n${c.red(wrapped(`${plural(r.left, 'change')} could not be undone and stay in ${r.journal}`, '', opts.width))}`
        : '';
    return `${wrapped(head, '', opts.width)}\n${table}${left}`;
  });
  return `${blocks.join('\n\n')}\n`;
}

const STATE_WORDS: Readonly<Record<JournalView['state'], string>> = {
  alive: 'running: it restores these itself when it ends',
  dead: 'DEAD: pending recovery (samepage kernel recover)',
  'earlier-boot': 'from an earlier boot: nothing to restore (samepage kernel recover discards it)',
  damaged: 'unreadable',
};

/** The journals for `kernel status`: changes in progress, and changes waiting for recovery. */
export function renderJournalViews(views: readonly JournalView[], opts: RecoveryTextOptions = {}): string {
  const c = pc.createColors(opts.color ?? pc.isColorSupported);
  const shown = views.filter((v) => v.entries.length > 0 || v.state === 'damaged');
  if (shown.length === 0) return '';
  const lines = [c.bold("samepage's live changes (journal, /run/samepage)")];
  for (const v of shown) {
    const state = v.state === 'dead' ? c.red(STATE_WORDS.dead) : STATE_WORDS[v.state];
    const owner = `${ownerText(v.owner, v.journal)}: ${state}${v.problem === undefined ? '' : ` (${v.problem})`}`;
    lines.push(wrapped(owner, '', opts.width));
    for (const e of v.entries) lines.push(wrapped(entryText(e), '  ', opts.width));
  }
  return `${lines.join('\n')}\n`;
}
