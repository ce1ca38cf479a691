/**
 * Reads a scenario file from disk and parses it. An unreadable file is a problem like any
 * other, so the command line reports it the same way (exit 2) instead of with a stack; so is
 * a file that is not a regular file (a device, a FIFO) or is larger than MAX_SCENARIO_BYTES.
 */
import { readInputFile } from '../lib/input_file.ts';
import { parseScenario } from './parse.ts';
import type { ParseResult } from './parse.ts';

/**
 * The largest scenario file samepage reads (README, `samepage run --help`). Parsing costs
 * about 0.5-1 µs of CPU per byte and, a few KiB of steps at a time (split.ts), memory of a
 * few times the text; at this size that is under half a minute and half a gigabyte.
 */
export const MAX_SCENARIO_BYTES = 32 * 1024 * 1024;

/** Reads `file` (YAML or JSON, UTF-8) and parses it into a checked scenario. */
export async function loadScenario(file: string): Promise<ParseResult> {
  const read = readInputFile(file, 'scenario file', MAX_SCENARIO_BYTES);
  if (!read.ok) return { ok: false, problems: [{ path: '', line: undefined, message: read.problem }] };
  return parseScenario(read.bytes.toString('utf8'), file);
}
