/**
 * The width terminal tables fit (report/fit_table.ts): COLUMNS when it holds a positive
 * number, as shells export it and as a user sets it for one command; else the terminal's
 * own width when stdout is one; else none, so output piped to a file or a script keeps
 * every column whole.
 */
export function tableWidth(io: {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream;
}): number | undefined {
  const columns = io.env.COLUMNS;
  if (columns !== undefined && /^\d+$/.test(columns.trim()) && Number(columns) > 0) return Number(columns);
  const out = io.stdout as Partial<NodeJS.WriteStream>;
  return out.isTTY === true && typeof out.columns === 'number' && out.columns > 0 ? out.columns : undefined;
}
