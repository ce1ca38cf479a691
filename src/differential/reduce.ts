/**
 * Shrinks a scenario that disagrees to the few steps the disagreement needs: Zeller's
 * delta debugging, in the greedy form that suits a scenario, whose steps depend on one
 * another (a step naming a region that is gone makes the file invalid, and an invalid file
 * does not disagree). It removes runs of steps, halving the run length down to one step
 * and starting again whenever a removal kept the disagreement, until no single step can go.
 * Every finding of the generated seeds was reduced this way before it became a file of
 * scenarios-diff/ (scripts/reduce-diff.mjs runs it on `samepage diff`).
 */

/** What the reduction did: the steps kept, and how many candidates it tried. */
export interface Reduction<T> {
  readonly kept: readonly T[];
  readonly tries: number;
}

/**
 * The smallest list of `items` (in their order) it finds for which `stillFails` holds, a
 * list from which no one item can be removed. `stillFails(items)` must hold on entry (it is
 * not asked again). `onProgress` hears of each removal that kept the failure.
 */
export async function reduceSteps<T>(
  items: readonly T[],
  stillFails: (candidate: readonly T[]) => Promise<boolean>,
  onProgress?: (kept: number, tries: number) => void,
): Promise<Reduction<T>> {
  let kept = [...items];
  let tries = 0;
  let run = Math.max(1, Math.floor(kept.length / 2));
  for (;;) {
    let removed = false;
    // From the end: late steps (records, expects, a last wait) usually go first, and a step's
    // dependencies lie before it, so removing from the back keeps more candidates valid.
    for (let end = kept.length; end > 0; ) {
      const start = Math.max(0, end - run);
      const candidate = [...kept.slice(0, start), ...kept.slice(end)];
      tries++;
      if (await stillFails(candidate)) {
        kept = candidate;
        removed = true;
        onProgress?.(kept.length, tries);
      }
      end = start;
    }
    if (run === 1 && !removed) return { kept, tries };
    run = removed ? Math.max(1, Math.min(run, Math.floor(kept.length / 2))) : Math.max(1, Math.floor(run / 2));
  }
}
