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

export { mulberry32 as seeded } from '../../src/random.js';
