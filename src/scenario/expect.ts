/**
 * Expected values of `expect` steps (docs/scenario-format.md): a number, a string, or a
 * comparison string such as `">= 512"`. Counters are compared as numbers even when the
 * backend hands them over as text, and exactly (as bigints) when both sides are integers,
 * so a 64-bit counter never rounds.
 */

export type Comparison = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** A parsed expected value: `== yes`, `>= 512`... A plain value means `==`. */
export interface Expectation {
  readonly op: Comparison;
  /** A number (bigint when integral) or, for `==`/`!=` only, a word such as `yes`. */
  readonly operand: bigint | number | string;
}

export type ParsedExpectation =
  | { readonly ok: true; readonly expectation: Expectation }
  | { readonly ok: false; readonly message: string };

const COMPARISON = /^(==|!=|<=|>=|<|>)\s*(.*)$/s;
const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** A sysfs choice list such as `none [scan-time]`, where the bracketed word is selected. */
const CHOICES = /^(?:[^\s[\]]+\s+)*\[([^\s[\]]+)\](?:\s+[^\s[\]]+)*$/;

/** Parses numeric text exactly: integers become bigints, decimals numbers; otherwise undefined. */
export function parseNumber(text: string): bigint | number | undefined {
  const t = text.trim();
  if (INTEGER.test(t)) return BigInt(t);
  if (DECIMAL.test(t)) return Number(t);
  return undefined;
}

/** Parses an expected value of an expect step. */
export function parseExpectation(expected: number | string): ParsedExpectation {
  if (typeof expected === 'number') {
    if (!Number.isFinite(expected))
      return { ok: false, message: `Expected value must be a finite number, got ${expected}` };
    return { ok: true, expectation: { op: '==', operand: Number.isInteger(expected) ? BigInt(expected) : expected } };
  }
  const text = expected.trim();
  const match = COMPARISON.exec(text);
  if (match === null) {
    if (text === '') return { ok: false, message: 'Expected value must not be empty' };
    return { ok: true, expectation: { op: '==', operand: parseNumber(text) ?? text } };
  }
  const op = match[1] as Comparison;
  const operandText = (match[2] ?? '').trim();
  const number = parseNumber(operandText);
  if (number !== undefined) return { ok: true, expectation: { op, operand: number } };
  if ((op === '==' || op === '!=') && operandText !== '' && !/\s/.test(operandText)) {
    return { ok: true, expectation: { op, operand: operandText } };
  }
  return { ok: false, message: `Comparison must be an operator followed by a number, got "${expected}"` };
}

/**
 * The value a backend read, as it appears in results: trimmed, a choice list reduced to its
 * selected word, numeric text as a number when that is exact, null when the file is missing.
 */
export function normalizeActual(raw: number | string | undefined | null): number | string | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw === 'number') return raw;
  const text = raw.trim();
  const choice = CHOICES.exec(text);
  if (choice?.[1] !== undefined) return choice[1];
  const n = parseNumber(text);
  if (typeof n === 'bigint')
    return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : text;
  return n ?? text;
}

/** Whether an actual value (as a backend read it) satisfies the expectation. A missing file never does. */
export function evaluateExpectation(expectation: Expectation, raw: number | string | undefined | null): boolean {
  const actual = normalizeActual(raw);
  if (actual === null) return false;
  const { op, operand } = expectation;
  if (typeof operand === 'string') {
    const equal = String(actual) === operand;
    return op === '==' ? equal : !equal;
  }
  const value = typeof actual === 'number' ? (Number.isInteger(actual) ? BigInt(actual) : actual) : parseNumber(actual);
  if (value === undefined) return false;
  const order = compareNumbers(value, operand);
  switch (op) {
    case '==':
      return order === 0;
    case '!=':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
  }
}

/** Parses `expected` and evaluates it against `actual`; an unparsable expectation never holds. */
export function expectationHolds(expected: number | string, actual: number | string | undefined | null): boolean {
  const parsed = parseExpectation(expected);
  return parsed.ok && evaluateExpectation(parsed.expectation, actual);
}

function compareNumbers(a: bigint | number, b: bigint | number): number {
  // Two integers compare exactly; anything involving a decimal compares as doubles.
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  const x = Number(a);
  const y = Number(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
