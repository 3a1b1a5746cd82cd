import { describe, expect, it } from 'vitest';
import { FeatureStore } from '../../src/features/feature-store.js';
import { RateSeries } from '../../src/features/series.js';
import type { AccessEvent } from '../../src/telemetry/events.js';
import { BASE_OPTIONS } from './helpers.js';

const get = (ts: number): AccessEvent => ({ ts, key: 'k', hit: true });

describe('request-rate series', () => {
  it('counts per bucket and wraps, dropping events older than the ring', () => {
    const store = new FeatureStore(BASE_OPTIONS); // 60 s steps, 4 kept
    store.applyAccess('n1', [get(0), get(30_000), get(61_000), get(200_000)]);
    expect(store.series('node.n1')).toEqual({
      id: 'node.n1',
      stepSec: 60,
      startMs: 0,
      counts: [2, 1, 0, 1],
    });

    store.applyAccess('n1', [get(300_000), get(10_000)]); // the second is 5 buckets old: dropped
    expect(store.series('node.n1')).toEqual({
      id: 'node.n1',
      stepSec: 60,
      startMs: 120_000,
      counts: [0, 1, 0, 1],
    });
    // A late event still inside the ring is counted in its bucket.
    store.applyAccess('n1', [get(130_000)]);
    expect(store.series('node.n1')!.counts).toEqual([1, 1, 0, 1]);
  });

  it('extends a quiet series with zeros up to the store clock', () => {
    const store = new FeatureStore(BASE_OPTIONS);
    store.applyAccess('n1', [get(0)]);
    store.applyLatency('proxy', [
      { ts: 150_000, pool: 'p', backend: 'b', latencyMs: 1, status: 200 },
    ]);
    expect(store.series('node.n1')!.counts).toEqual([1, 0, 0]);
    expect(store.series('pool.p')).toEqual({
      id: 'pool.p',
      stepSec: 60,
      startMs: 120_000,
      counts: [1],
    });
    expect(store.seriesIds()).toEqual(['backend.p.b', 'node.n1', 'pool.p']);
  });

  it('counts client requests, not evictions', () => {
    const store = new FeatureStore(BASE_OPTIONS);
    store.applyAccess('n1', [
      get(0),
      { ts: 1, key: 'k', hit: false, op: 'evict' },
      { ts: 2, key: 'k', hit: false, op: 'del' },
    ]);
    expect(store.series('node.n1')!.counts).toEqual([2]);
  });

  it('refuses series past maxSeries and counts them', () => {
    const store = new FeatureStore({ ...BASE_OPTIONS, maxSeries: 2 });
    store.applyAccess('n1', [get(0)]);
    store.applyLatency('proxy', [
      { ts: 1, pool: 'p', backend: 'b', latencyMs: 1, status: 200 },
      { ts: 2, pool: 'p', backend: 'b', latencyMs: 1, status: 200 },
    ]);
    expect(store.seriesIds()).toEqual(['node.n1', 'pool.p']);
    expect(store.series('backend.p.b')).toBeUndefined();
    expect(store.series('pool.p')!.counts).toEqual([2]);
    expect(store.stats()).toMatchObject({ series: 2, droppedSeries: 1 });
    // The backend's features are kept even though its series was refused.
    expect(store.backendFeatures('p', 'b')!.requests).toBe(2);
  });

  it('grows its ring up to the history length and keeps counts through growth', () => {
    const s = new RateSeries('x', 1000, 200);
    for (let b = 0; b < 300; b++) for (let i = 0; i <= b % 3; i++) s.add(b * 1000 + i);
    const v = s.view(299_000);
    expect(v.counts).toHaveLength(200);
    expect(v.startMs).toBe(100_000);
    expect(v.counts.every((c, i) => c === ((100 + i) % 3) + 1)).toBe(true);
  });
});
