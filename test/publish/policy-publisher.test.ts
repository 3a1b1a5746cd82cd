import { describe, expect, it } from 'vitest';
import { FeatureStore } from '../../src/features/feature-store.js';
import { PolicyPublisher } from '../../src/publish/policy-publisher.js';
import { MemoryPolicySink } from '../../src/publish/policy-sink.js';
import { LruVictimRanker } from '../../src/policy/lru-victims.js';
import { InverseLatencyWeigher } from '../../src/balance/inverse-latency-weigher.js';
import type { WeighContext } from '../../src/balance/weigher.js';
import type { BackendFeatures } from '../../src/features/types.js';
import { BASE_OPTIONS } from '../features/helpers.js';

describe('PolicyPublisher', () => {
  it('numbers versions per target, continuing from the sink, and re-publishes at half the TTL', async () => {
    const store = new FeatureStore(BASE_OPTIONS);
    const sink = new MemoryPolicySink();
    await sink.put('eviction.n', {
      kind: 'eviction',
      target: 'n',
      version: 41,
      generatedAt: 0,
      ttlMs: 1000,
      model: { id: 'x', version: 'y' },
      entries: [],
      reasons: [],
    });
    let now = 10_000;
    const pub = new PolicyPublisher(
      store,
      sink,
      new LruVictimRanker(),
      new InverseLatencyWeigher(),
      { ttlMs: 1000, victimsPerNode: 10, now: () => now },
    );
    store.applyAccess('n', [{ ts: 1, key: 'a', hit: false }]);
    expect(await pub.tick()).toBe(1);
    expect(pub.latest('eviction', 'n')?.version).toBe(42);
    expect(await pub.tick()).toBe(0); // nothing changed, not stale yet
    now += 500;
    expect(await pub.tick()).toBe(1); // half the TTL: refreshed
    expect(pub.latest('eviction', 'n')?.version).toBe(43);
  });

  it('hands the weigher the caller context and the shares it published last', async () => {
    const store = new FeatureStore(BASE_OPTIONS);
    const seen: (WeighContext | undefined)[] = [];
    const inner = new InverseLatencyWeigher();
    const spy = {
      id: 'spy',
      model: inner.model,
      weigh: (b: readonly BackendFeatures[], c?: WeighContext) => (seen.push(c), inner.weigh(b)),
    };
    const forecast = { p50: [10], p90: [12], spike: false };
    const pub = new PolicyPublisher(store, new MemoryPolicySink(), new LruVictimRanker(), spy, {
      ttlMs: 30_000,
      victimsPerNode: 10,
      weighContext: () => ({ forecast }),
    });
    store.applyLatency('p', [
      { ts: 5, pool: 'web', backend: 'a', latencyMs: 10, status: 200 },
      { ts: 5, pool: 'web', backend: 'b', latencyMs: 30, status: 200 },
    ]);
    await pub.tick();
    store.applyLatency('p', [{ ts: 6, pool: 'web', backend: 'a', latencyMs: 10, status: 200 }]);
    await pub.tick();
    expect(seen[0]).toEqual({ pool: 'web', nowMs: 5, forecast });
    expect(seen[1]?.forecast).toBe(forecast);
    expect(
      [...(seen[1]?.previous ?? new Map<string, number>())].map(([b, w]) => [
        b,
        Number(w.toFixed(3)),
      ]),
    ).toEqual([
      ['a', 0.75],
      ['b', 0.25],
    ]);
  });
});
