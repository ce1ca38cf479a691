#!/usr/bin/env node
// The installed `samepage` command: a shim over the compiled CLI, which `npm install` builds
// into dist/ (the package's `prepare` script). Plain JS so it runs before any build.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('samepage is not built: run npm install\n');
  process.exit(2);
}
// `samepage run x --json | head` closes the pipe early: stop quietly, as a C tool killed by
// SIGPIPE would, instead of crashing on EPIPE (exit() still runs the kernel backend's cleanup).
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
// A closed stderr (`2>&1 | head`, a log reader that went away) drops the messages and lets the
// command go on: `samepage plus` would otherwise die with its ranges marked and its control
// files left, and a restore in progress would stop half way.
process.stderr.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err;
});
try {
  const args = process.argv.slice(2);
  // The long-running `samepage plus` loads only what it uses (dist/src/cli/plus_main.js).
  if (args[0] === 'plus') {
    const { plusMain } = await import(new URL('../dist/src/cli/plus_main.js', import.meta.url).href);
    process.exitCode = await plusMain(args.slice(1));
  } else {
    const { main } = await import(entry.href);
    // exitCode rather than exit(): stdout may still be draining into a pipe.
    process.exitCode = await main(args);
  }
} catch (err) {
  // Only a broken build gets here (main catches everything else).
  process.stderr.write(`samepage: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.SAMEPAGE_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 2;
}
