#!/usr/bin/env node
/**
 * Writes schema/scenario.schema.json, the JSON Schema of scenario files that editors use,
 * from the zod schemas (src/scenario/json_schema.ts, compiled into dist/ by `npm run build`).
 *
 *   npm run schema                            # build, then write the file
 *   node scripts/scenario-schema.mjs [--check]
 *
 * With --check nothing is written and the exit code is 1 when the committed file differs
 * from what the zod schemas give (test/scenario-schema.test.ts checks the same in npm test).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'src', 'scenario', 'json_schema.js');
if (!existsSync(compiled)) {
  process.stderr.write(`scenario-schema: ${compiled} is missing: run npm run build first (npm run schema does)\n`);
  process.exit(2);
}
const { SCHEMA_FILE, renderScenarioJsonSchema } = await import(pathToFileURL(compiled).href);
const target = join(root, SCHEMA_FILE);
const text = renderScenarioJsonSchema();

if (process.argv.includes('--check')) {
  const committed = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
  if (committed !== text) {
    process.stderr.write(
      `scenario-schema: ${SCHEMA_FILE} is ${committed === undefined ? 'missing' : 'out of date'}: run npm run schema\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`scenario-schema: ${SCHEMA_FILE} is current\n`);
} else {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  process.stdout.write(`scenario-schema: wrote ${SCHEMA_FILE}\n`);
}
