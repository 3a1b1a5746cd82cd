/**
 * The simulator and the classic baselines against the reference hit ratios of
 * ../shared/data/README.md (unit size, capacity floor(fraction × unique keys), no warm-up):
 * LRU and Bélády within ±0.002, S3-FIFO within ±0.01, at 1 %, 5 % and 10 %, on all five open
 * traces (cloudphysics-io as unit size). Every trace is loaded once and replayed from memory;
 * the whole file takes about a minute on one core (orm-busy, 5 M requests, dominates).
 */
import { describe, expect, it } from 'vitest';
import '../../src/policy/builtin.js';
import { evictionPolicies } from '../../src/policy/eviction-policy.js';
import {
  capacityFor,
  loadTrace,
  simulateLoaded,
  type LoadedTrace,
} from '../../src/sim/cache-sim.js';
import { readTrace } from '../../src/sim/trace-reader.js';
import { sharedTrace } from './helpers.js';

const SIZES = [0.01, 0.05, 0.1] as const;

/** README reference: [LRU, S3-FIFO, Bélády] × [1 %, 5 %, 10 %]. */
const REFERENCE: Record<string, { lru: number[]; s3fifo: number[]; belady: number[] }> = {
  oltp: {
    lru: [0.416, 0.601, 0.665],
    s3fifo: [0.465, 0.621, 0.678],
    belady: [0.598, 0.726, 0.762],
  },
  'orm-busy': {
    lru: [0.77, 0.841, 0.88],
    s3fifo: [0.757, 0.853, 0.889],
    belady: [0.828, 0.902, 0.933],
  },
  web07: {
    lru: [0.392, 0.506, 0.557],
    s3fifo: [0.438, 0.542, 0.581],
    belady: [0.534, 0.637, 0.681],
  },
  'scarab-recs': {
    lru: [0.347, 0.517, 0.606],
    s3fifo: [0.428, 0.559, 0.628],
    belady: [0.534, 0.69, 0.75],
  },
  'cloudphysics-io': {
    lru: [0.162, 0.175, 0.195],
    s3fifo: [0.17, 0.198, 0.248],
    belady: [0.207, 0.297, 0.371],
  },
};

/**
 * Tolerances: the README's figures have three decimals, so ±0.002 leaves 0.0015 for floor
 * rounding of capacities. S3-FIFO is the paper's original (libCacheSim S3FIFOv0: no warm-up rule
 * sending early arrivals to main), which the reference was computed with; every cell agrees
 * within ±0.001, held to ±0.01.
 */
const TOLERANCE = { lru: 0.002, belady: 0.002, s3fifo: 0.01 } as const;

describe.each(Object.keys(REFERENCE))('reference hit ratios: %s', (name) => {
  let trace: LoadedTrace | undefined;
  const load = async (): Promise<LoadedTrace> =>
    (trace ??= await loadTrace(readTrace(sharedTrace(`${name}.csv.gz`))));

  for (const policy of ['lru', 's3fifo', 'belady'] as const) {
    it(`${policy} at 1 %, 5 %, 10 %`, async () => {
      const t = await load();
      const got = SIZES.map((f) => {
        const p = evictionPolicies.create(policy, {
          capacity: capacityFor(t, f, 'objects'),
          unit: 'objects',
        });
        return simulateLoaded(t, p, { unitSize: true }).hitRatio;
      });
      SIZES.forEach((f, i) => {
        const tol = TOLERANCE[policy];
        const want = REFERENCE[name]![policy][i]!;
        expect({ size: f, diff: Math.abs(got[i]! - want) <= tol ? 'ok' : got[i] }).toEqual({
          size: f,
          diff: 'ok',
        });
      });
    });
  }
});
