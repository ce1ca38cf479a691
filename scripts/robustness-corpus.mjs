#!/usr/bin/env node
/**
 * Writes the robustness corpus (test/robustness_corpus.ts) into a directory, to try its
 * inputs by hand; `npm test` generates and runs it itself (test/robustness.test.ts).
 *
 *   npm run build && node scripts/robustness-corpus.mjs DIR
 *
 * Prints one line per run: the allowed exit codes and the samepage command line. DIR must
 * not exist yet (the corpus holds a 10 GiB sparse file and a FIFO; remove it after).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// `... | head` closes the pipe early: stop quietly.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const compiled = join(root, 'dist', 'test', 'robustness_corpus.js');
const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: node scripts/robustness-corpus.mjs DIR\n');
  process.exit(2);
}
if (!existsSync(compiled)) {
  process.stderr.write(`robustness-corpus: ${compiled} is missing: run npm run build first\n`);
  process.exit(2);
}
if (existsSync(dir)) {
  process.stderr.write(`robustness-corpus: ${dir} exists; name a new directory\n`);
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
const { writeCorpus } = await import(pathToFileURL(compiled).href);
for (const c of writeCorpus(resolve(dir))) {
  process.stdout.write(
    `exit ${c.exits.join('|')}\tsamepage ${c.args.map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`,
  );
}
