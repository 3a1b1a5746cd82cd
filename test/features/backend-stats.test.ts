import { describe, expect, it } from 'vitest';
import { FeatureStore } from '../../src/features/feature-store.js';
import type { LatencyEvent } from '../../src/telemetry/events.js';
import { BASE_OPTIONS } from './helpers.js';

const ev = (ts: number, latencyMs: number, status = 200, backend = 'b1'): LatencyEvent => ({
  ts,
  pool: 'p',
  backend,
  latencyMs,
  status,
});

describe('backend features', () => {
  it('peak-EWMA jumps to a higher sample and decays toward a lower one (tau = 1 s)', () => {
    const store = new FeatureStore(BASE_OPTIONS); // ewmaTauMs 1000
    const w = 1 - Math.exp(-1); // weight of a sample 1 s after the previous one
    store.applyLatency('proxy', [ev(0, 100)]);
    expect(store.backendFeatures('p', 'b1')).toMatchObject({
      ewmaLatencyMs: 100,
      peakEwmaLatencyMs: 100,
    });

    store.applyLatency('proxy', [ev(1000, 300, 503)]);
    let f = store.backendFeatures('p', 'b1')!;
    expect(f.peakEwmaLatencyMs).toBe(300);
    expect(f.ewmaLatencyMs).toBeCloseTo(100 + w * 200, 9);
    expect(f.ewmaLatencyMs).toBeCloseTo(226.424112, 5);

    store.applyLatency('proxy', [{ ...ev(2000, 100), inflight: 7 }]);
    f = store.backendFeatures('p', 'b1')!;
    expect(f.peakEwmaLatencyMs).toBeCloseTo(300 - w * 200, 9);
    expect(f.peakEwmaLatencyMs).toBeCloseTo(173.575888, 5);
    expect(f.ewmaLatencyMs).toBeCloseTo(226.424112 - w * 126.424112, 5);
    expect(f.requests).toBe(3);
    expect(f.errors).toBe(1);
    // Error rate: 0, then +w toward 1, then ×(1 - w) toward 0.
    expect(f.errorRate).toBeCloseTo(w * (1 - w), 9);
    expect(f.inflight).toBe(7);
    // Decayed rate: 1/tau per request, decayed by e^-1 per second: (1 e^-2 + e^-1 + 1) per s.
    expect(f.requestRatePerSec).toBeCloseTo(Math.exp(-2) + Math.exp(-1) + 1, 9);
    expect(f.lastSeenMs).toBe(2000);
  });

  it('counts samples that share a millisecond (a busy backend) in the EWMAs', () => {
    const store = new FeatureStore(BASE_OPTIONS); // ewmaTauMs 1000
    store.applyLatency('proxy', [ev(0, 10)]);
    store.applyLatency(
      'proxy',
      Array.from({ length: 1000 }, () => ev(0, 110, 503)),
    );
    const f = store.backendFeatures('p', 'b1')!;
    // Each same-ms sample weighs 1 - e^(-1/1000); 1000 of them move the EWMA by 1 - e^-1.
    const moved = 1 - Math.exp(-1);
    expect(f.ewmaLatencyMs).toBeCloseTo(10 + 100 * moved, 6);
    expect(f.errorRate).toBeCloseTo(moved, 6);
    expect(f.peakEwmaLatencyMs).toBe(110);
  });

  it('reads the request rate decayed to the store clock', () => {
    const store = new FeatureStore(BASE_OPTIONS);
    store.applyLatency('proxy', [ev(0, 10)]);
    store.applyAccess('n1', [{ ts: 1000, key: 'k', hit: true }]); // any event moves the clock
    expect(store.backendFeatures('p', 'b1')!.requestRatePerSec).toBeCloseTo(Math.exp(-1), 9);
  });

  it('reports windowed percentiles within 1 % and forgets them after the window', () => {
    const store = new FeatureStore(BASE_OPTIONS); // 60 s window
    const events: LatencyEvent[] = [];
    for (let i = 1; i <= 1000; i++) events.push(ev(i, i));
    store.applyLatency('proxy', events);
    const f = store.backendFeatures('p', 'b1')!;
    // Ranks floor(q · 999): 500, 900 and 990 ms.
    expect(Math.abs(f.p50Ms - 500) / 500).toBeLessThanOrEqual(0.01);
    expect(Math.abs(f.p90Ms - 900) / 900).toBeLessThanOrEqual(0.01);
    expect(Math.abs(f.p99Ms - 990) / 990).toBeLessThanOrEqual(0.01);

    store.applyLatency('proxy', [ev(200_000, 5)]);
    expect(store.backendFeatures('p', 'b1')).toMatchObject({
      p50Ms: 5,
      p90Ms: 5,
      p99Ms: 5,
      requests: 1001,
    });
  });

  it('lists a pool sorted by backend name and unknown targets as undefined or empty', () => {
    const store = new FeatureStore(BASE_OPTIONS);
    store.applyLatency('proxy', [
      ev(1, 5, 200, 'zeta'),
      ev(2, 5, 200, 'alpha'),
      { ...ev(3, 5), pool: 'q', backend: 'mid' },
    ]);
    expect(store.poolBackends('p').map((b) => b.backend)).toEqual(['alpha', 'zeta']);
    expect(store.pools()).toEqual(['p', 'q']);
    expect(store.backendFeatures('p', 'nope')).toBeUndefined();
    expect(store.poolBackends('nope')).toEqual([]);
    expect(store.stats()).toMatchObject({ pools: 2, backends: 3 });
  });
});
