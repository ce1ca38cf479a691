/** The fit of the reload's part per search (search_part.ts) on ratios made at a known part. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitSearchPart } from './search_part.ts';

test('fitSearchPart finds p from ratios made at a known p, whatever the ratio the trees alone give', () => {
  const at = (part: number, ratioAtFirst: number, searched: number): number =>
    ratioAtFirst * (1 - part + part * searched);
  const points = [
    { ratio: at(0.35, 1.05, 0.1), ratioAtFirst: 1.05, searched: 0.1 },
    { ratio: at(0.35, 1.11, 0.1), ratioAtFirst: 1.11, searched: 0.1 },
    { ratio: at(0.35, 0.9, 0.25), ratioAtFirst: 0.9, searched: 0.25 },
  ];
  const fit = fitSearchPart(points);
  assert.deepEqual([fit.cost.postSleepSearchPart, fit.points], [0.35, 3]);
  assert.ok(fit.rmsLog < 1e-9);
});

test('fitSearchPart keeps p within [0, 1], and leaves out ratios that are not positive', () => {
  // A region that searches little yet paid more than the random one: p 0, not below.
  assert.equal(fitSearchPart([{ ratio: 1.4, ratioAtFirst: 1, searched: 0.1 }]).cost.postSleepSearchPart, 0);
  // One that paid less than a share per search gives: p 1, not above.
  assert.equal(fitSearchPart([{ ratio: 0.05, ratioAtFirst: 1, searched: 0.1 }]).cost.postSleepSearchPart, 1);
  // A negative extra (noise) says nothing; none left: all at the first search.
  const none = fitSearchPart([{ ratio: -0.3, ratioAtFirst: 1, searched: 0.1 }]);
  assert.deepEqual([none.cost.postSleepSearchPart, none.points, none.rmsLog], [0, 0, 0]);
});
