#!/usr/bin/env node
// Records the shapes Linux's lib/rbtree.c gives the operation sequences of
// test/kernel-truth/rbtree_ops.ts into test/kernel-truth/rbtree.json, which
// test/rbtree-linux.test.ts compares src/lib/rbtree.ts with. The kernel's code is not in
// this repository: point the script at a copy of lib/rbtree.c that builds in user space (its
// kernel includes replaced by plain C: the copy rbtree.json names is one) and at the
// directories holding the headers it includes (linux/rbtree_augmented.h and what that
// includes), and say where they came from; the text is kept in the file.
//
//   npm run build
//   node scripts/rbtree-probe.mjs --source COPY/rbtree.c --include COPY/include \
//     --from "Linux lib/rbtree.c of commit ..., copied by ..." [--out FILE]
//
// Needs a C compiler (cc). Nothing on the machine is changed but --out.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');
const usage =
  'usage: node scripts/rbtree-probe.mjs --source FILE --include DIR [--include DIR ...] --from TEXT [--out FILE]';

function fail(message) {
  process.stderr.write(`rbtree-probe: ${message}\n${usage}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      source: { type: 'string' },
      include: { type: 'string', multiple: true },
      from: { type: 'string' },
      out: { type: 'string' },
    },
  }));
} catch (e) {
  fail(e.message);
}
if (values.source === undefined || values.include === undefined || values.from === undefined)
  fail('--source, --include and --from are required');

let ops;
try {
  ops = await import(join(root, 'dist/test/kernel-truth/rbtree_ops.js'));
} catch {
  fail('dist/ is missing or stale: run `npm run build` first');
}
const { rbCases, rbOps, rbOpsText, sha256, shapeDigests } = ops;

/** A refusal met while the work directory exists: reported once it is removed. */
class Refused extends Error {}

const work = mkdtempSync(join(tmpdir(), 'samepage-rbtree-'));
let refused;
try {
  const harness = join(work, 'harness');
  const cc = spawnSync(
    'cc',
    [
      '-O2',
      '-Wall',
      ...values.include.flatMap((d) => ['-I', d]),
      '-o',
      harness,
      join(root, 'test/kernel-truth/rbtree-harness.c'),
      values.source,
    ],
    { encoding: 'utf8' },
  );
  if (cc.error !== undefined) throw new Refused(`cannot run cc: ${cc.error.message}`);
  if (cc.status !== 0) throw new Refused(`the harness did not compile:\n${cc.stderr}`);

  const cases = rbCases().map((c) => {
    const text = rbOpsText(rbOps(c));
    const run = spawnSync(harness, [], { input: text, encoding: 'utf8', maxBuffer: 1 << 30 });
    if (run.status !== 0) throw new Refused(`the harness failed on ${c.name} (exit ${run.status}): ${run.stderr}`);
    const shapes = run.stdout.split('\n').slice(0, -1);
    const last = shapes.at(-1) ?? '';
    const nodes = (last.match(/\(/g) ?? []).length;
    process.stdout.write(`${c.name}: ${shapes.length} shapes, ${nodes} nodes at the end\n`);
    return {
      ...c,
      opsSha256: sha256(text),
      prints: shapes.length,
      digests: shapeDigests(shapes),
      ...(nodes <= 64 ? { finalShape: last } : {}),
    };
  });
  const out = values.out ?? join(root, 'test/kernel-truth/rbtree.json');
  const truth = { source: values.from, recorded: new Date().toISOString(), cases };
  writeFileSync(out, `${JSON.stringify(truth, null, 1)}\n`);
  process.stdout.write(`wrote ${out}\n`);
} catch (e) {
  if (!(e instanceof Refused)) throw e;
  refused = e.message;
} finally {
  // process.exit would skip this: refusals inside the try are thrown, and reported below.
  rmSync(work, { recursive: true, force: true });
}
if (refused !== undefined) fail(refused);
