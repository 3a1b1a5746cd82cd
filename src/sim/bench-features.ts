/**
 * @module sim/bench-features
 * Memory and throughput benchmark of the feature store: fills `keys` keys, measures the heap they
 * hold, applies `events` skewed access events (pre-built in batches of 1,000, fresh key strings
 * as a JSON decoder would produce), then times a snapshot and a restore.
 *
 * Run: `node --expose-gc --import tsx src/sim/bench-features.ts [keys] [events]`.
 * Without `--expose-gc` the heap figure includes garbage and is only an upper bound.
 * Prints a table and a JSON line (benchmarks are commands, not timed tests; STYLE.md).
 */
import { pathToFileURL } from 'node:url';
import { FeatureStore } from '../features/feature-store.js';
import type { FeatureStoreOptions } from '../features/types.js';
import type { AccessEvent } from '../telemetry/events.js';
import { mulberry32 as rng } from '../random.js';

export interface BenchFeaturesResult {
  eventsPerSec: number;
  trackedKeys: number;
  heapUsedBytes: number;
  bytesPerKey: number;
  snapshotBytes: number;
  snapshotEncodeMs: number;
  snapshotDecodeMs: number;
}

const BATCH = 1000;

function settleHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}

export function benchOptions(keys: number): FeatureStoreOptions {
  return {
    maxTrackedKeys: keys,
    decayHalfLivesSec: [60, 600, 3600],
    latencyWindowSec: 60,
    ewmaTauMs: 10_000,
    seriesStepSec: 60,
    seriesHistorySteps: 10_080,
    maxSeries: 10_000,
    seed: 1,
  };
}

export async function benchFeatures(opts: {
  keys: number;
  events: number;
}): Promise<BenchFeaturesResult> {
  const { keys, events } = opts;
  const options = benchOptions(keys);
  const t0 = 1_700_000_000_000;
  const before = settleHeap();
  const store = new FeatureStore(options);
  // Fill: every key once, with a size, in batches as the telemetry consumer would apply them.
  let ts = t0;
  for (let i = 0; i < keys; i += BATCH) {
    const batch: AccessEvent[] = [];
    for (let j = i; j < Math.min(keys, i + BATCH); j++)
      batch.push({
        ts: ts++,
        key: `user:${j}:profile`,
        hit: false,
        op: 'set',
        size: 100 + (j % 900),
      });
    store.applyAccess('cache-a', batch);
  }
  const after = settleHeap();
  const heapUsedBytes = after - before;

  // Workload: 99 % skewed over the tracked keys (u^3 puts most weight on low ids), 1 % new keys
  // (each forces a forget), 70 % hits, 10 % sets.
  const random = rng(42);
  const batches: AccessEvent[][] = [];
  for (let i = 0; i < events; i += BATCH) {
    const batch: AccessEvent[] = [];
    for (let j = i; j < Math.min(events, i + BATCH); j++) {
      const u = random();
      const id = u < 0.01 ? keys + j : Math.floor(keys * random() ** 3);
      const key = `user:${id}:profile`;
      batch.push(
        random() < 0.1
          ? { ts: ts++, key, hit: false, op: 'set', size: 512 }
          : { ts: ts++, key, hit: random() < 0.7 },
      );
    }
    // Through JSON, as the telemetry decoder delivers them: flat key strings, hashes not cached.
    batches.push(JSON.parse(JSON.stringify(batch)) as AccessEvent[]);
  }
  await new Promise((resolve) => setTimeout(resolve, 0));
  const start = performance.now();
  for (const batch of batches) store.applyAccess('cache-a', batch);
  const elapsedMs = performance.now() - start;
  batches.length = 0;

  const encStart = performance.now();
  const bytes = store.snapshot();
  const snapshotEncodeMs = performance.now() - encStart;
  const decStart = performance.now();
  const restored = FeatureStore.restore(bytes, options);
  const snapshotDecodeMs = performance.now() - decStart;
  if (restored.stats().trackedKeys !== store.stats().trackedKeys)
    throw new Error('restore lost keys');

  const trackedKeys = store.stats().trackedKeys;
  return {
    eventsPerSec: Math.round(events / (elapsedMs / 1000)),
    trackedKeys,
    heapUsedBytes,
    bytesPerKey: Math.round(heapUsedBytes / trackedKeys),
    snapshotBytes: bytes.length,
    snapshotEncodeMs: Math.round(snapshotEncodeMs * 10) / 10,
    snapshotDecodeMs: Math.round(snapshotDecodeMs * 10) / 10,
  };
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  const keys = Number(process.argv[2] ?? 1_000_000);
  const events = Number(process.argv[3] ?? 2_000_000);
  const result = await benchFeatures({ keys, events });
  console.table({
    ...result,
    heapUsedMB: +(result.heapUsedBytes / 2 ** 20).toFixed(1),
    snapshotMB: +(result.snapshotBytes / 2 ** 20).toFixed(1),
  });
  console.log(JSON.stringify(result));
}
