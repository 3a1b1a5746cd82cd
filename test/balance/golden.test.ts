/** Hand-computed golden cases for the classic weighers and the predictive one's simplest split. */
import { describe, expect, it } from 'vitest';
import { weighers } from '../../src/balance/weigher.js';
import '../../src/balance/builtin.js';
import { limitShares } from '../../src/balance/shares.js';
import type { BackendFeatures } from '../../src/features/types.js';

function backend(name: string, over: Partial<BackendFeatures> = {}): BackendFeatures {
  return {
    pool: 'p',
    backend: name,
    requests: 100,
    errors: 0,
    errorRate: 0,
    ewmaLatencyMs: 10,
    peakEwmaLatencyMs: 10,
    p50Ms: 10,
    p90Ms: 10,
    p99Ms: 10,
    inflight: 0,
    requestRatePerSec: 100,
    lastSeenMs: 1,
    ...over,
  };
}

describe('EqualWeigher golden', () => {
  it('gives each of 4 backends 1/4 whatever their health', () => {
    const out = weighers
      .create('equal', undefined)
      .weigh([
        backend('a'),
        backend('b', { ewmaLatencyMs: 1000 }),
        backend('c', { errorRate: 1 }),
        backend('d'),
      ]);
    expect(out.map((d) => d.weight)).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(out[0]!.reason).toBe('HEURISTIC');
  });
});

describe('PeakEwmaWeigher golden', () => {
  it('costs 10×1, 10×2, 40×1 → shares 4/7, 2/7, 1/7', () => {
    const out = weighers
      .create('peak-ewma', undefined)
      .weigh([
        backend('a', { peakEwmaLatencyMs: 10, inflight: 0 }),
        backend('b', { peakEwmaLatencyMs: 10, inflight: 1 }),
        backend('c', { peakEwmaLatencyMs: 40, inflight: 0 }),
      ]);
    expect(out.map((d) => d.weight * 7)).toEqual([
      expect.closeTo(4, 9),
      expect.closeTo(2, 9),
      expect.closeTo(1, 9),
    ]);
    expect(out[1]!.attributions['inflight']).toBeCloseTo(-Math.log(2), 12);
  });
});

describe('GrpcWrrWeigher golden', () => {
  it('weight = qps / (utilization + penalty × eps/qps), mean weight for no report', () => {
    // a: 100 / (100 × 0.010) = 100; b: 100 / (100 × 0.020) = 50;
    // c: 50 / (50 × 0.010 + 1 × 0.5) = 50; d: no traffic → mean(100, 50, 50) = 200/3.
    // Σ = 800/3 → shares 0.375, 0.1875, 0.1875, 0.25.
    const out = weighers
      .create('grpc-wrr', undefined)
      .weigh([
        backend('a', { requestRatePerSec: 100, ewmaLatencyMs: 10 }),
        backend('b', { requestRatePerSec: 100, ewmaLatencyMs: 20 }),
        backend('c', { requestRatePerSec: 50, ewmaLatencyMs: 10, errorRate: 0.5 }),
        backend('d', { requestRatePerSec: 0, ewmaLatencyMs: 0 }),
      ]);
    expect(out.map((d) => d.weight)).toEqual([
      expect.closeTo(0.375, 12),
      expect.closeTo(0.1875, 12),
      expect.closeTo(0.1875, 12),
      expect.closeTo(0.25, 12),
    ]);
    expect(out[3]!.text).toContain('no load report');
  });
});

describe('PredictiveWeigher golden', () => {
  it('splits two identical backends 1/2, 1/2 with reason MODEL', () => {
    const out = weighers.create('predictive', undefined).weigh([backend('a'), backend('b')]);
    expect(out.map((d) => d.weight)).toEqual([expect.closeTo(0.5, 12), expect.closeTo(0.5, 12)]);
    expect(out.every((d) => d.reason === 'MODEL')).toBe(true);
  });

  it('log share is the sum of its attributions', () => {
    const out = weighers
      .create('predictive', undefined)
      .weigh([backend('a'), backend('b', { ewmaLatencyMs: 30, errorRate: 0.1 })], {
        affinity: new Map([['a', 0.4]]),
      });
    for (const d of out) {
      const total = Object.values(d.attributions).reduce((s, v) => s + v, 0);
      expect(total).toBeCloseTo(Math.log(d.weight), 9);
    }
  });
});

describe('limitShares golden', () => {
  it('projects 0.9/0.1 onto ±0.1 of 0.5/0.5 → 0.6/0.4', () => {
    expect(limitShares([0.9, 0.1], [0.5, 0.5], { floorShare: 0, maxStepShare: 0.1 })).toEqual([
      expect.closeTo(0.6, 9),
      expect.closeTo(0.4, 9),
    ]);
  });

  it('pins an ejected backend to the floor and raises the rest to it', () => {
    const w = limitShares([0.5, 0.5, 0], undefined, { floorShare: 0.1, maxStepShare: 1 }, [
      true,
      false,
      false,
    ]);
    expect(w).toEqual([expect.closeTo(0.1, 9), expect.closeTo(0.8, 9), expect.closeTo(0.1, 9)]);
  });
});
