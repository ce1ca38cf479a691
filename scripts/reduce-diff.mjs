// `sudo node scripts/reduce-diff.mjs FILE [--path REGEX] [-o OUT]`: shrinks a scenario that
// `samepage diff` finds disagreeing to the steps the disagreement needs
// (src/differential/reduce.ts), for a file of scenarios-diff/. A candidate counts when
// `samepage diff --json` still shows a difference whose path matches REGEX (default: any);
// an invalid candidate, or one whose expects fail on either backend (a read whose bytes
// changed), does not. Each candidate runs on the live kernel (about a second), so a file of
// 40 steps takes about a minute. The result goes to OUT (default: FILE with .min.yaml),
// without the file's comments: say there what the steps show and what Linux gave.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';

const root = join(import.meta.dirname, '..');
const { reduceSteps } = await import(join(root, 'dist/src/differential/reduce.js'));
const { stepsOnOneLine } = await import(join(root, 'dist/src/scenario/generate.js'));

function fail(message) {
  process.stderr.write(`reduce-diff: ${message}\n`);
  process.exit(2);
}

let opts;
try {
  opts = parseArgs({
    allowPositionals: true,
    options: { path: { type: 'string', default: '' }, output: { type: 'string', short: 'o' } },
  });
} catch (e) {
  fail(e.message);
}
const [file] = opts.positionals;
if (file === undefined || opts.positionals.length > 1) fail('usage: reduce-diff.mjs FILE [--path REGEX] [-o OUT]');
let wanted;
try {
  wanted = new RegExp(opts.values.path);
} catch (e) {
  fail(`--path: ${e.message}`);
}
let doc;
try {
  doc = YAML.parse(readFileSync(file, 'utf8'));
} catch (e) {
  fail(`${file}: ${e.code ?? e.message}`);
}
if (!Array.isArray(doc?.steps)) fail(`${file}: no steps: list`);
const output = opts.values.output ?? file.replace(/(\.ya?ml|\.json)?$/, '.min.yaml');
const scratch = `${output}.try.yaml`;

/** The file with these steps, each on one line as scenarios-diff/ writes them. */
function scenarioText(steps) {
  return stepsOnOneLine(new YAML.Document({ ...doc, steps }));
}

/** `samepage diff --json` on the steps; whether a wanted difference shows. */
function disagrees(steps) {
  writeFileSync(scratch, scenarioText(steps));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'bin/samepage.js'), 'diff', '--json', scratch],
      { maxBuffer: 64 << 20 },
      (_err, stdout) => {
        try {
          const f = JSON.parse(stdout).files?.[0];
          resolve(f?.kernelOk === true && f.modelOk === true && f.differences.some((d) => wanted.test(d.path)));
        } catch {
          resolve(false); // not JSON: the file is invalid, or diff could not run
        }
      },
    );
  });
}

if (!(await disagrees(doc.steps))) fail(`${file}: samepage diff shows no difference matching /${wanted.source}/`);
process.stderr.write(`reduce-diff: ${doc.steps.length} steps disagree; reducing\n`);
const { kept, tries } = await reduceSteps(doc.steps, disagrees, (n, t) =>
  process.stderr.write(`reduce-diff: ${n} steps still disagree (${t} tried)\n`),
);
writeFileSync(output, scenarioText(kept));
rmSync(scratch, { force: true });
process.stdout.write(`${output}: ${kept.length} of ${doc.steps.length} steps, ${tries} candidates tried\n`);
