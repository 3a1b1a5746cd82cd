import { describe, expect, it } from 'vitest';
import { QuantileSketch, WindowedQuantileSketch } from '../../src/features/quantile-sketch.js';
import { seeded } from './helpers.js';

/** The sample at rank floor(q (n - 1)), the rank the sketch promises to be within 1 % of. */
function exact(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

const QS = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

describe('QuantileSketch', () => {
  it('answers 1..10000 within 1 % relative error', () => {
    const s = new QuantileSketch();
    const values: number[] = [];
    for (let v = 1; v <= 10_000; v++) {
      s.add(v);
      values.push(v);
    }
    for (const q of QS) {
      const truth = exact(values, q);
      expect(Math.abs(s.quantile(q) - truth) / truth).toBeLessThanOrEqual(0.01);
    }
    expect(s.quantile(0.5)).toBeGreaterThan(4900);
  });

  it('answers a seeded log-normal latency distribution within 1 %', () => {
    const random = seeded(7);
    const s = new QuantileSketch();
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      // Box-Muller: median e^3 ≈ 20 ms, long tail.
      const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      const v = Math.exp(3 + 1.2 * z);
      s.add(v);
      values.push(v);
    }
    values.sort((a, b) => a - b);
    for (const q of QS) {
      const truth = exact(values, q);
      expect(Math.abs(s.quantile(q) - truth) / truth).toBeLessThanOrEqual(0.01);
    }
  });

  it('counts zeros, returns 0 when empty and clamps to the exact min and max', () => {
    const s = new QuantileSketch();
    expect(s.quantile(0.5)).toBe(0);
    s.add(0);
    s.add(0);
    s.add(42);
    expect(s.quantile(0)).toBe(0);
    expect(s.quantile(0.5)).toBe(0);
    expect(s.quantile(1)).toBe(42);
  });

  it('merges exactly: merged quantiles equal those of one sketch over all values', () => {
    const a = new QuantileSketch();
    const b = new QuantileSketch();
    const all = new QuantileSketch();
    for (let v = 1; v <= 1000; v++) {
      (v % 2 === 0 ? a : b).add(v * 0.37);
      all.add(v * 0.37);
    }
    const merged = new QuantileSketch();
    merged.merge(a);
    merged.merge(b);
    for (const q of QS) expect(merged.quantile(q)).toBe(all.quantile(q));
  });

  it('keeps the tail exact when values span more buckets than it holds (lowest collapse)', () => {
    const s = new QuantileSketch();
    for (let e = -5; e <= 14; e++) s.add(10 ** e); // 19 decades ≈ 2200 buckets at 1 %
    expect(Math.abs(s.quantile(1) - 1e14) / 1e14).toBeLessThanOrEqual(0.01);
    expect(Math.abs(s.quantile(0.9) - 1e12) / 1e12).toBeLessThanOrEqual(0.01);
    expect(s.count).toBe(20);
  });
});

describe('WindowedQuantileSketch', () => {
  it('forgets samples once the window has rotated past them', () => {
    const w = new WindowedQuantileSketch(60_000);
    const out = new QuantileSketch();
    for (let i = 0; i < 100; i++) w.add(1000 + i, 1000);
    expect(w.collect(1100, out).quantile(0.5)).toBeCloseTo(1000, -1);
    for (let i = 0; i < 100; i++) w.add(30_000 + i, 10);
    expect(w.collect(30_100, out).count).toBe(200);
    // 70 s later the first batch (t ≈ 1 s) is out of the 60 s window, the second is not.
    w.add(71_000, 10);
    const s = w.collect(71_000, out);
    expect(s.count).toBe(101);
    expect(s.quantile(0.99)).toBe(10);
    // Far later nothing is left.
    expect(w.collect(500_000, out).count).toBe(0);
  });

  it('drops samples already older than the window', () => {
    const w = new WindowedQuantileSketch(60_000);
    const out = new QuantileSketch();
    w.add(200_000, 5);
    w.add(100_000, 500);
    expect(w.collect(200_000, out).count).toBe(1);
    expect(out.quantile(1)).toBe(5);
  });
});
