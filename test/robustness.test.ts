/**
 * The robustness suite: every input of the generated corpus (test/robustness_corpus.ts) is
 * fed to the real `samepage` command, two at a time, each in its own process, which must end
 * within its time limit with exit 0, 1 or 2 (the one the case allows), say why when it is
 * not 0 (on stderr, or in a failed run's verdict; with --json, on stdout too), and never print a stack trace or die of a
 * signal (V8's out-of-memory abort is SIGABRT, exit 134). Each process's peak memory
 * (getrusage's maxrss, reported by a module loaded before samepage) and wall time are
 * printed, not asserted: a hang is what the time limit catches, by killing the process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/lib/package_root.ts';
import { type CorpusCase, writeCorpus } from './robustness_corpus.ts';

const BIN = join(packageRoot(import.meta.dirname), 'bin', 'samepage.js');
/** Loaded before samepage: at exit, its peak resident memory (KiB) to file descriptor 3. */
const PROBE =
  'data:text/javascript,import{writeSync}from"node:fs";process.on("exit",()=>{try{writeSync(3,String(process.resourceUsage().maxRSS))}catch{}});';
const PARALLEL = 2;

interface Outcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly peakKiB: number | undefined;
  readonly ms: number;
}

function runCase(c: CorpusCase): Promise<Outcome> {
  return new Promise((resolve) => {
    const begin = performance.now();
    const child = spawn(process.execPath, ['--import', PROBE, BIN, ...c.args], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', SAMEPAGE_DEBUG: '' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const rss: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => rss.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, c.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const peak = Number(Buffer.concat(rss).toString());
      resolve({
        code,
        signal,
        timedOut,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        peakKiB: Number.isFinite(peak) && peak > 0 ? peak : undefined,
        ms: performance.now() - begin,
      });
    });
  });
}

/** What is wrong with an outcome, or undefined when it is what the case allows. */
function problem(c: CorpusCase, o: Outcome): string | undefined {
  if (o.timedOut) return `still running after ${c.timeoutMs} ms: killed`;
  if (o.code === null) return `died of ${o.signal}`;
  if (!c.exits.includes(o.code)) return `exit ${o.code}, expected ${c.exits.join(' or ')}`;
  if (/\n\s+at .+:\d+:\d+\)?\n/.test(o.stderr)) return `a stack trace on stderr:\n${o.stderr.slice(0, 2000)}`;
  // Why: on stderr, or for a run that failed (exit 1) its verdict, the last line on stdout.
  const verdict = /\nFAILED: .{10,}\n$/.test(o.stdout);
  if (o.code !== 0 && o.stderr.trim() === '' && !verdict) return `exit ${o.code} with no word of why`;
  if (o.code !== 0 && c.args.includes('--json')) {
    try {
      const j = JSON.parse(o.stdout) as { ok?: unknown; error?: unknown };
      if (j.ok !== false) return '--json on stdout does not say ok: false';
    } catch {
      return `--json: stdout is not one JSON object: ${o.stdout.slice(0, 200)}`;
    }
  }
  return undefined;
}

test('the robustness corpus: every input ends in time with exit 0, 1 or 2 and says why', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'samepage-robustness-'));
  try {
    const cases = writeCorpus(dir);
    const files = readdirSync(dir).length;
    assert.ok(files >= 100, `the corpus holds ${files} files, fewer than 100`);
    const begin = performance.now();
    const results: Array<{ c: CorpusCase; o: Outcome }> = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const c = cases[next++]!;
        results.push({ c, o: await runCase(c) });
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const total = (performance.now() - begin) / 1000;

    // The measurements, largest memory first, then a line per failure.
    results.sort((a, b) => (b.o.peakKiB ?? 0) - (a.o.peakKiB ?? 0));
    const mib = (kib: number | undefined): string => (kib === undefined ? '?' : (kib / 1024).toFixed(0));
    const lines = results.map(
      ({ c, o }) =>
        `${c.name.padEnd(44)} exit ${String(o.code ?? o.signal).padEnd(3)} ${mib(o.peakKiB).padStart(5)} MiB ${(o.ms / 1000).toFixed(1).padStart(6)} s  ${(o.stderr.split('\n').find((l) => l.trim() !== '') ?? '').slice(0, 110)}`,
    );
    const byExit = [0, 1, 2]
      .map((code) => `${results.filter((r) => r.o.code === code).length} exit ${code}`)
      .join(', ');
    t.diagnostic(
      `${files} files, ${cases.length} runs in ${total.toFixed(1)} s (${PARALLEL} at a time): ${byExit}; ` +
        `peak memory ${mib(results[0]?.o.peakKiB)} MiB (${results[0]?.c.name})`,
    );
    for (const l of lines) t.diagnostic(l);
    const failures = results.flatMap(({ c, o }) => {
      const why = problem(c, o);
      return why === undefined ? [] : [`${c.name} (samepage ${c.args.join(' ').slice(0, 200)}): ${why}`];
    });
    assert.deepEqual(failures, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
