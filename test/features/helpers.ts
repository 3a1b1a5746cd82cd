import type { FeatureStoreOptions } from '../../src/features/types.js';

export const BASE_OPTIONS: FeatureStoreOptions = {
  maxTrackedKeys: 1000,
  decayHalfLivesSec: [60],
  latencyWindowSec: 60,
  ewmaTauMs: 1000,
  seriesStepSec: 60,
  seriesHistorySteps: 4,
  maxSeries: 100,
  seed: 1,
};

/** mulberry32: seeded workloads, so every run applies the same events. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
