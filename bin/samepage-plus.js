#!/usr/bin/env -S node --max-semi-space-size=1
// `samepage plus` with a small young generation: the daemon runs for months, and V8's default
// (up to 16 MiB semi-spaces) keeps some 30 MiB more resident for it (docs/ksmplus-live.md).
// The same as `samepage plus ARGS...`; the systemd unit runs it.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/plus_main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('samepage is not built: run npm install\n');
  process.exit(2);
}
const { plusMain } = await import(entry.href);
process.exitCode = await plusMain(process.argv.slice(2));
