/**
 * samepage's journals of live changes for people: what `samepage kernel recover` did (one
 * table per recovered owner) and what `samepage kernel status` shows of changes in progress
 * or waiting for recovery. Types only from host/ (docs/crash-safety.md explains the journal).
 */
import Table from 'cli-table3';
import pc from 'picocolors';
import type { JournalEntry, JournalOwner } from '../host/journal.ts';
import type { JournalView, RecoveryReport } from '../host/recover.ts';
import { plural } from '../lib/plural.ts';
import { formatBytes } from '../lib/sizes.ts';

export interface RecoveryTextOptions {
  readonly color?: boolean;
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
      return `MERGE_ANY of process ${e.pid} (${e.comm}): originally ${e.original ? 'yes' : 'no'}; samepage sets ${e.written ? 'yes' : 'no'}`;
    case 'madvise': {
      const bytes = e.ranges.reduce((n, [, len]) => n + len, 0);
      return `${plural(e.ranges.length, 'range')} (${formatBytes(bytes)}) of process ${e.pid} (${e.comm}) madvised MADV_MERGEABLE by samepage`;
    }
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
    const table = new Table({
      head: ['result', 'what', 'detail'].map((h) => c.bold(h)),
      style: { head: [], border: [], compact: true },
    });
    for (const o of r.outcomes) {
      const result = o.result === 'failed' ? c.red(o.result) : o.result === 'kept' ? c.yellow(o.result) : o.result;
      table.push([
        result,
        o.target,
        o.detail.startsWith(`${o.target}: `) ? o.detail.slice(o.target.length + 2) : o.detail,
      ]);
    }
    const left =
      r.left > 0 ? `\n${c.red(`${plural(r.left, 'change')} could not be undone and stay in ${r.journal}`)}` : '';
    return `${head}\n${table.toString()}${left}`;
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
    lines.push(`${ownerText(v.owner, v.journal)}: ${state}${v.problem === undefined ? '' : ` (${v.problem})`}`);
    for (const e of v.entries) lines.push(`  ${entryText(e)}`);
  }
  return `${lines.join('\n')}\n`;
}
