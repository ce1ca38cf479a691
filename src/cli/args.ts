/**
 * The command line's value parsers: one per kind of value, so that every command refuses the
 * same mistake with the same words (commander prints them after the option, exit 2).
 */
import { InvalidArgumentError } from 'commander';

/** A whole number from `min` to `max`, named `what` in the message ("a non-negative integer"). */
export function wholeNumber(what: string, min = 0, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    const digits = /^\d+$/.test(v);
    // Digits that are too many for a double to hold exactly get the limit said.
    if (digits && !Number.isSafeInteger(n))
      throw new InvalidArgumentError(
        `Expected ${what}, at most ${Math.min(max, Number.MAX_SAFE_INTEGER)}, got "${v}".`,
      );
    if (!digits || n < min || n > max) throw new InvalidArgumentError(`Expected ${what}, got "${v}".`);
    return n;
  };
}

/** A model seed: `--seed` of every command that runs the model. */
export const parseSeed = wholeNumber('a non-negative integer');

/** A process id (positive; `above` 1 where pid 1 must not be touched). */
export function parsePid(v: string, above = 0): number {
  return wholeNumber(above === 0 ? 'a process id (a positive integer)' : `a process id above ${above}`, above + 1)(v);
}

/** Seconds, fractions allowed, at most a day. */
export function parseSeconds(v: string): number {
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) > 86_400)
    throw new InvalidArgumentError(`Expected seconds (0-86400), got "${v}".`);
  return Number(v);
}

/** A percentage from 0 to 100, fractions allowed. */
export function parsePercent(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n >= 0 && n <= 100))
    throw new InvalidArgumentError(`Expected a percentage from 0 to 100, got "${v}".`);
  return n;
}

/** One of `choices`. */
export function oneOf<T extends string>(choices: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(choices as readonly string[]).includes(v))
      throw new InvalidArgumentError(`Expected one of ${choices.join(', ')}, got "${v}".`);
    return v as T;
  };
}

/** A repeatable option's values, in order (`--name a --name b`). */
export function collect<T>(parse: (v: string) => T): (v: string, prev: T[] | undefined) => T[] {
  return (v, prev) => [...(prev ?? []), parse(v)];
}

/** Repeatable strings. */
export const collectStrings = collect((v: string) => v);

/**
 * An option's parser from a parser of the value's own layer, which returns the value, or
 * undefined or the reason when the text is not one: `Expected <expected>, got "<text>".`
 * unless it gave its own reason.
 */
export function checked<T extends object | number>(
  parse: (v: string) => T | string | undefined,
  expected: string,
): (v: string) => T {
  return (v) => {
    const r = parse(v);
    if (r === undefined) throw new InvalidArgumentError(`Expected ${expected}, got "${v}".`);
    if (typeof r === 'string') throw new InvalidArgumentError(r);
    return r;
  };
}
