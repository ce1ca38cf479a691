import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostUnusable } from '../host/unusable.ts';
import { checkShape, POST_SLEEP_PLAN, type PostSleepRow, type PostSleepShape, REGION_PAGES } from './post_sleep.ts';
import { INTERLEAVED_PLAN, measureReloadRows } from './reload_rows.ts';

test("the traced plan's batches divide the main region, and it holds the passes' sizes and sleeps", () => {
  assert.doesNotThrow(() => checkShape({ regionPages: REGION_PAGES, plan: INTERLEAVED_PLAN }));
  const combos = new Set(INTERLEAVED_PLAN.flatMap(({ pages, sleeps }) => sleeps.map((s) => `${pages}/${s}`)));
  for (const c of ['100/1', '100/5', '100/20', '1000/1', '1000/20', '1000/200', '5000/1', '5000/200'])
    assert.ok(combos.has(c), c);
});

/** A row that names the shape it was read on, and how. */
const rowOf = (how: string, shape: PostSleepShape): PostSleepRow =>
  ({ how, region_pages: shape.regionPages, sizes: shape.plan.map((p) => p.pages) }) as unknown as PostSleepRow;

/** A measure that notes each shape it reads in `seen` and gives one rowOf. */
const noting =
  (seen: string[], how: string) =>
  async (_o: unknown, shape: PostSleepShape): Promise<PostSleepRow[]> => {
    seen.push(`${how} ${shape.regionPages}`);
    return [rowOf(how, shape)];
  };

test('the rows are read over passes unless interleaved is asked for', async () => {
  const seen: string[] = [];
  const got = await measureReloadRows({ lockWaitMs: 0, progress: () => undefined, warn: () => undefined }, 'passes', {
    interleaved: async () => assert.fail('traced'),
    passes: noting(seen, 'passes'),
  });
  assert.equal(got.traced, false);
  assert.deepEqual(seen, ['passes 20000', 'passes 2000', 'passes 5000', 'passes 10000', 'passes 20000']);
  assert.deepEqual(
    (got.main[0] as unknown as { sizes: number[] }).sizes,
    POST_SLEEP_PLAN.map((p) => p.pages),
  );
});

test('asked for interleaved, the rows are read traced where ksmd can be traced, every shape the same way', async () => {
  const seen: string[] = [];
  const warnings: string[] = [];
  const got = await measureReloadRows(
    { lockWaitMs: 0, progress: () => undefined, warn: (m) => warnings.push(m) },
    'interleaved',
    {
      interleaved: noting(seen, 'traced'),
      passes: noting(seen, 'passes'),
    },
  );
  assert.equal(got.traced, true);
  assert.deepEqual(seen, ['traced 20000', 'traced 2000', 'traced 5000', 'traced 10000', 'traced 20000']);
  assert.deepEqual((got.main[0] as unknown as { sizes: number[] }).sizes, [100, 400, 1000, 5000]);
  assert.deepEqual(warnings, []);
});

test("asked for interleaved where ksmd cannot be traced, every row is read over passes on the passes' plan, with a warning", async () => {
  const warnings: string[] = [];
  const got = await measureReloadRows(
    { lockWaitMs: 0, progress: () => undefined, warn: (m) => warnings.push(m) },
    'interleaved',
    {
      interleaved: async () => {
        throw new HostUnusable('this kernel has no trace event ksm/ksm_start_scan: tracing ksmd needs it');
      },
      passes: async (_o, shape) => [rowOf('passes', shape)],
    },
  );
  assert.equal(got.traced, false);
  assert.deepEqual(
    (got.main[0] as unknown as { sizes: number[] }).sizes,
    POST_SLEEP_PLAN.map((p) => p.pages),
  );
  assert.equal(got.sizes.length, 4);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /no trace event ksm\/ksm_start_scan.*read over whole passes instead/);
});

test('any other failure of the traced reading is not hidden behind the passes', async () => {
  await assert.rejects(
    measureReloadRows({ lockWaitMs: 0, progress: () => undefined, warn: () => undefined }, 'interleaved', {
      interleaved: async () => {
        throw new Error('post-sleep: two passes took over 2 minutes');
      },
      passes: async () => assert.fail('read over passes'),
    }),
    /two passes took over 2 minutes/,
  );
});
