/** The record comparison lives in src/scenario/compare.ts; re-exported for the golden test. */
export { compareRecords, type RecordDiff } from '../src/scenario/compare.ts';
