/**
 * The progress bar of long commands, on stderr. cli-progress draws nothing when stderr is
 * not a terminal, so pipes and CI logs stay clean. A bar has phases (`wait`, `reading`,
 * `loading pages`...): showing a new phase ends the bar of the one before.
 */
import cliProgress from 'cli-progress';

export interface ProgressBar {
  /** Shows `value` of `total` under the label `phase`. */
  show(phase: string, value: number, total: number): void;
  /** Ends the bar; harmless when none is shown. */
  stop(): void;
}

/** `percentage` shows the share done; `unit` follows the counts (`pages`). */
export function progressBar(
  stream: NodeJS.WritableStream,
  opts: { readonly percentage?: boolean; readonly unit?: string } = {},
): ProgressBar {
  const state: { bar: cliProgress.SingleBar | undefined; phase: string } = { bar: undefined, phase: '' };
  const stop = (): void => {
    state.bar?.stop();
    state.bar = undefined;
    state.phase = '';
  };
  return {
    show: (phase, value, total) => {
      if (state.bar !== undefined && state.phase === phase) {
        state.bar.setTotal(total);
        state.bar.update(value);
        return;
      }
      stop();
      const percent = opts.percentage === true ? '{percentage}% ' : '';
      const format = `${phase} {bar} ${percent}{value}/{total}${opts.unit === undefined ? '' : ` ${opts.unit}`}`;
      state.bar = new cliProgress.SingleBar(
        { stream, format, hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      state.bar.start(total, value);
      state.phase = phase;
    },
    stop,
  };
}
