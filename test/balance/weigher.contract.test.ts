/** The contract every weigher passes, run for each registered id; then golden cases. */
import { describe, expect, it } from 'vitest';
import { weighers } from '../../src/balance/weigher.js';
import '../../src/balance/inverse-latency-weigher.js';
import { REASON_CODES } from '../../src/decisions.js';
import type { BackendFeatures } from '../../src/features/types.js';
import { haproxyWeights } from '../../src/publish/document.js';

function backend(name: string, ewmaLatencyMs: number, errorRate = 0): BackendFeatures {
  return {
    pool: 'p',
    backend: name,
    requests: 100,
    errors: 0,
    errorRate,
    ewmaLatencyMs,
    peakEwmaLatencyMs: ewmaLatencyMs,
    p50Ms: ewmaLatencyMs,
    p90Ms: ewmaLatencyMs,
    p99Ms: ewmaLatencyMs,
    inflight: 0,
    requestRatePerSec: 10,
    lastSeenMs: 1,
  };
}

const pools: BackendFeatures[][] = [
  [backend('a', 10)],
  [backend('a', 10), backend('b', 20), backend('c', 40)],
  [backend('a', 0), backend('b', 0)],
  [backend('a', 5, 1), backend('b', 5, 0)],
  [backend('a', 1e9), backend('b', 1e-9)],
];

describe.each(weighers.ids())('weigher contract: %s', (id) => {
  const weigher = weighers.create(id, undefined);

  it.each(pools.map((p, i) => [i, p] as const))(
    'pool %i: one finite share in [0, 1] per backend, summing to 1',
    (_i, pool) => {
      const out = weigher.weigh(pool);
      expect(out.map((d) => d.backend)).toEqual(pool.map((b) => b.backend));
      for (const d of out) {
        expect(Number.isFinite(d.weight)).toBe(true);
        expect(d.weight).toBeGreaterThanOrEqual(0);
        expect(d.weight).toBeLessThanOrEqual(1);
      }
      expect(out.reduce((s, d) => s + d.weight, 0)).toBeCloseTo(1, 9);
    },
  );

  it('explains every share', () => {
    for (const pool of pools) {
      for (const d of weigher.weigh(pool)) {
        expect(REASON_CODES).toContain(d.reason);
        expect(d.text.length).toBeGreaterThan(0);
        for (const v of [...Object.values(d.attributions), ...Object.values(d.inputs)])
          expect(Number.isFinite(v)).toBe(true);
      }
    }
  });

  it('weighs an empty pool as empty', () => {
    expect(weigher.weigh([])).toEqual([]);
  });
});

describe('InverseLatencyWeigher golden', () => {
  it('splits 10/20/40 ms as 4/7, 2/7, 1/7', () => {
    const out = weighers.create('inverse-latency', undefined).weigh(pools[1]!);
    expect(out.map((d) => d.weight * 7)).toEqual([
      expect.closeTo(4, 9),
      expect.closeTo(2, 9),
      expect.closeTo(1, 9),
    ]);
    expect(haproxyWeights(out.map((d) => d.weight))).toEqual([256, 128, 64]);
  });

  it('starves a backend that only answers errors', () => {
    const [failing, healthy] = weighers.create('inverse-latency', undefined).weigh(pools[3]!);
    expect(failing!.weight).toBeLessThan(0.001);
    expect(healthy!.weight).toBeGreaterThan(0.999);
  });
});

describe('haproxyWeights', () => {
  it('maps shares to 0..256 with the largest at 256 and any non-zero share at least 1', () => {
    expect(haproxyWeights([0.5, 0.5])).toEqual([256, 256]);
    expect(haproxyWeights([0.999, 0.001])).toEqual([256, 1]);
    expect(haproxyWeights([1, 0])).toEqual([256, 0]);
    expect(haproxyWeights([0, 0])).toEqual([0, 0]);
  });
});
