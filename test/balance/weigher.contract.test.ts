/** The contract every weigher passes, run for each registered id; then golden cases. */
import { describe, expect, it } from 'vitest';
import { weighers } from '../../src/balance/weigher.js';
import '../../src/balance/builtin.js';
import { EqualWeigher } from '../../src/balance/equal-weigher.js';
import { GrpcWrrWeigher, GRPC_WRR_DEFAULTS } from '../../src/balance/grpc-wrr-weigher.js';
import { PeakEwmaWeigher } from '../../src/balance/peak-ewma-weigher.js';
import { PredictiveWeigher } from '../../src/balance/predictive-weigher.js';
import { effectiveFloor, type ShareLimits } from '../../src/balance/shares.js';
import type { Weigher } from '../../src/balance/weigher.js';
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

  it('never returns NaN or all-zero shares, with or without a context', () => {
    const ctx = {
      pool: 'p',
      nowMs: 1,
      forecast: { p50: [50], p90: [80], spike: false },
      previous: new Map([
        ['a', 0.9],
        ['b', 0.1],
      ]),
      affinity: new Map([['a', 0.5]]),
    };
    for (const pool of pools) {
      const out = weighers.create(id, undefined).weigh(pool, ctx);
      expect(out.some((d) => d.weight > 0)).toBe(true);
      expect(out.every((d) => !Number.isNaN(d.weight))).toBe(true);
      expect(out.reduce((s, d) => s + d.weight, 0)).toBeCloseTo(1, 9);
    }
  });
});

/** Weighers that bound their shares expose `limits`; the contract checks those bounds. */
const limited: [string, () => Weigher & { readonly limits: ShareLimits }][] = [
  ['equal (limited)', () => new EqualWeigher({ floorShare: 0.05, maxStepShare: 0.05 })],
  ['peak-ewma (limited)', () => new PeakEwmaWeigher({ floorShare: 0.05, maxStepShare: 0.05 })],
  [
    'grpc-wrr (limited)',
    () => new GrpcWrrWeigher({ ...GRPC_WRR_DEFAULTS, floorShare: 0.05, maxStepShare: 0.05 }),
  ],
  ['predictive', () => new PredictiveWeigher()],
];

describe.each(limited)('weigher limits: %s', (_name, make) => {
  const pool = [backend('a', 10), backend('b', 20), backend('c', 40), backend('d', 15)];

  it('keeps every share at or above the floor', () => {
    const w = make();
    const floor = effectiveFloor(w.limits, pool.length);
    for (const d of w.weigh(pool)) expect(d.weight).toBeGreaterThanOrEqual(floor - 1e-12);
  });

  it('moves no share more than maxStepShare from the previous one', () => {
    const w = make();
    const previous = new Map([
      ['a', 0.1],
      ['b', 0.6],
      ['c', 0.2],
      ['d', 0.1],
    ]);
    const out = w.weigh(pool, { previous });
    for (const d of out)
      expect(Math.abs(d.weight - previous.get(d.backend)!)).toBeLessThanOrEqual(
        w.limits.maxStepShare + 1e-9,
      );
    expect(out.reduce((s, d) => s + d.weight, 0)).toBeCloseTo(1, 9);
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
