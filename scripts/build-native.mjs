#!/usr/bin/env node
// Builds native/agent.c into native/build/samepage-agent, the workload process of the
// kernel backend. Runs as the package's `install` script. The model backend needs no native
// code, so a machine without a C compiler still installs: we warn and exit 0, and the
// kernel backend later refuses to start with a message that points back here.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'agent.c');
const output = join(root, 'native', 'build', 'samepage-agent');
const compiler = process.env.CC || 'cc';

function warn(message) {
  process.stderr.write(`samepage: warning: ${message}\n`);
  process.stderr.write(
    'samepage: the model backend works; `--backend kernel` needs the agent. ' +
      'Install a C compiler (e.g. `apt-get install gcc`) and run `node scripts/build-native.mjs`.\n',
  );
}

if (process.platform !== 'linux') {
  warn(`the kernel backend needs Linux, not ${process.platform}; the agent was not built`);
  process.exit(0);
}

const probe = spawnSync(compiler, ['--version'], { stdio: 'ignore' });
if (probe.error || probe.status !== 0) {
  warn(`no C compiler (\`${compiler}\`) found; the agent was not built`);
  process.exit(0);
}

mkdirSync(dirname(output), { recursive: true });
const args = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-o', output, source];
const built = spawnSync(compiler, args, { stdio: 'inherit' });
if (built.error || built.status !== 0) {
  warn(`\`${compiler} ${args.join(' ')}\` failed; the agent was not built`);
  process.exit(0);
}
process.stderr.write(`samepage: built ${output}\n`);

// The helpers of `samepage kernel exec` and `samepage kernel enable/disable`, and the
// watchdog that recovers a samepage process's changes if it dies (docs/crash-safety.md),
// and the host-speed probe of scripts/host-drift.mjs --probe (docs/cost-model.md):
// each is optional, so a failure warns and the rest of samepage still installs.
for (const [name, file] of [
  ['samepage-exec-merge', 'exec-merge.c'],
  ['samepage-inject-syscall', 'inject-syscall.c'],
  ['samepage-watchdog', 'watchdog.c'],
  ['samepage-speed-probe', 'speed-probe.c'],
]) {
  const out = join(root, 'native', 'build', name);
  const helperArgs = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-o', out, join(root, 'native', file)];
  const r = spawnSync(compiler, helperArgs, { stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    process.stderr.write(
      `samepage: warning: \`${compiler} ${helperArgs.join(' ')}\` failed; \`samepage kernel\` lacks ${name}\n`,
    );
  } else {
    process.stderr.write(`samepage: built ${out}\n`);
  }
}
