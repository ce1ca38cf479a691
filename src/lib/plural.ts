/** "1 page", "2 pages", "0 pages": a count with its noun, for output people read. */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}
