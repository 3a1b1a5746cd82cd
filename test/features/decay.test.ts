import { describe, expect, it } from 'vitest';
import {
  decayedIncrement,
  decayedValue,
  decayFactor,
  decayRatePerMs,
  expNeg,
  ewmaWeight,
} from '../../src/features/decay.js';

describe('decay', () => {
  const rate = decayRatePerMs(60);

  it('halves a value over one half-life', () => {
    expect(decayedValue(8, rate, 0, 60_000)).toBeCloseTo(4, 12);
    expect(decayedValue(8, rate, 0, 120_000)).toBeCloseTo(2, 12);
  });

  it('adds accesses at 0, 60 s, 120 s to 1 + 0.5 + 0.25', () => {
    let v = decayedIncrement(0, rate, 0, 0);
    v = decayedIncrement(v, rate, 0, 60_000);
    v = decayedIncrement(v, rate, 60_000, 120_000);
    expect(v).toBeCloseTo(1.75, 12);
  });

  it('treats an out-of-order event (dt < 0) as dt = 0', () => {
    expect(decayFactor(rate, -5_000)).toBe(1);
    expect(decayedIncrement(3, rate, 10_000, 5_000)).toBe(4);
    expect(decayedValue(3, rate, 10_000, 5_000)).toBe(3);
  });

  it('computes exp(-x) within 1e-12 relative on both sides of the polynomial cut-over', () => {
    for (const x of [0, 1e-9, 1e-4, 0.01, 0.0199, 0.02, 0.5, 5, 50]) {
      expect(Math.abs(expNeg(x) / Math.exp(-x) - 1)).toBeLessThan(1e-12);
    }
  });

  it('weights EWMA samples by elapsed time', () => {
    expect(ewmaWeight(0, 1000)).toBe(0);
    expect(ewmaWeight(-10, 1000)).toBe(0);
    expect(ewmaWeight(1000, 1000)).toBeCloseTo(1 - Math.exp(-1), 15);
  });
});
