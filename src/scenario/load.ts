/**
 * Reads a scenario file from disk and parses it. An unreadable file is a problem like any
 * other, so the command line reports it the same way (exit 2) instead of with a stack.
 */
import { readFile } from 'node:fs/promises';
import { parseScenario } from './parse.ts';
import type { ParseResult } from './parse.ts';

/** Why a file could not be read, in words, for the usual error codes. */
const READ_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'the file does not exist',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
};

/** Reads `file` (YAML or JSON, UTF-8) and parses it into a checked scenario. */
export async function loadScenario(file: string): Promise<ParseResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = (code === undefined ? undefined : READ_ERRORS[code]) ?? (e as Error).message;
    return {
      ok: false,
      problems: [{ path: '', line: undefined, message: `Cannot read scenario file "${file}": ${why}` }],
    };
  }
  return parseScenario(text, file);
}
