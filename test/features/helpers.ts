import type { Features, FeatureStoreOptions } from '../../src/features/types.js';
import type { AccessEvent, LatencyEvent } from '../../src/telemetry/events.js';

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

/** One message of a generated workload: a node's access batch or a proxy's latency batch. */
export type WorkloadStep = { node: string; access: AccessEvent[] } | { latency: LatencyEvent[] };

/** Feeds a workload to a store (latency as from `proxy-1`). */
export function applySteps(store: Features, steps: readonly WorkloadStep[]): void {
  for (const s of steps) {
    if ('node' in s) store.applyAccess(s.node, s.access);
    else store.applyLatency('proxy-1', s.latency);
  }
}
