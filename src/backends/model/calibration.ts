/**
 * The cost model the model backend runs with: the constants `samepage bench --calibrate`
 * fitted to the live ksmd and wrote to calibration/cost-model.json, so virtual ksmd time
 * and CPU share follow the machine they were measured on (docs/cost-model.md). The file is
 * read when a model machine starts, so a new calibration takes effect without a rebuild.
 * SAMEPAGE_COST_MODEL names another file; without any file, DEFAULT_COST (the calibration
 * shipped with samepage) is used.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/package_root.ts';
import { COST_KEYS, DEFAULT_COST, type CostModel } from '../../ksm/cost.ts';

/** Where `samepage bench --calibrate` writes, relative to the package root. */
export const CALIBRATION_FILE = 'calibration/cost-model.json';

/** The calibration file of this package (or of SAMEPAGE_COST_MODEL). */
export function calibrationPath(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.SAMEPAGE_COST_MODEL;
  return override !== undefined && override !== ''
    ? override
    : join(packageRoot(import.meta.dirname), CALIBRATION_FILE);
}

/** The `cost` object of a calibration file, checked; throws a message naming what is wrong. */
export function readCostModel(path: string): CostModel {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`Cannot read the cost model ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const cost = (data as { cost?: Record<string, unknown> } | null)?.cost;
  const bad = COST_KEYS.filter((k) => typeof cost?.[k] !== 'number' || !Number.isFinite(cost[k]) || cost[k] < 0);
  if (cost === undefined || bad.length > 0) {
    throw new Error(
      `The cost model ${path} has no valid "cost" object: ${bad.join(', ')} must be non-negative numbers (ns)`,
    );
  }
  const out: Record<string, number> = {};
  for (const k of COST_KEYS) out[k] = cost[k] as number;
  return out as unknown as CostModel;
}

/** The calibrated cost model if its file exists, else the one shipped in the source. */
export function calibratedCost(env: NodeJS.ProcessEnv = process.env): CostModel {
  const path = calibrationPath(env);
  return existsSync(path) ? readCostModel(path) : DEFAULT_COST;
}
