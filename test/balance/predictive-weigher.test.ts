/** The predictive weigher's behaviours, on hand-made features. */
import { describe, expect, it } from 'vitest';
import { PredictiveWeigher } from '../../src/balance/predictive-weigher.js';
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
    p90Ms: 20,
    p99Ms: 40,
    inflight: 1,
    requestRatePerSec: 50,
    lastSeenMs: 1,
    ...over,
  };
}
const share = (out: { backend: string; weight: number }[], name: string) =>
  out.find((d) => d.backend === name)!.weight;

describe('PredictiveWeigher', () => {
  it('ejects a backend 10× slower than the pool to the floor, and says why', () => {
    const w = new PredictiveWeigher();
    const out = w.weigh([
      backend('a'),
      backend('b'),
      backend('c'),
      backend('slow', { ewmaLatencyMs: 100 }),
    ]);
    const slow = out[3]!;
    expect(slow.weight).toBeCloseTo(0.01, 9);
    expect(slow.inputs['ejected']).toBe(1);
    expect(slow.attributions['ejection']).toBeLessThan(0);
    expect(slow.text).toMatch(/ejected/);
    expect(slow.text).toMatch(/10\.0× the pool median/);
  });

  it('ejects at most maxEjectedFraction of the pool, worst first', () => {
    const w = new PredictiveWeigher({ maxEjectedFraction: 0.25 });
    const out = w.weigh([
      backend('a', { ewmaLatencyMs: 1 }),
      backend('b', { ewmaLatencyMs: 1 }),
      backend('c', { ewmaLatencyMs: 1 }),
      backend('d', { ewmaLatencyMs: 100 }),
      backend('e', { ewmaLatencyMs: 200 }),
    ]);
    expect(out.map((d) => d.inputs['ejected'])).toEqual([0, 0, 0, 0, 1]);
    // Default cap 50 %: both outliers go (2 ≤ floor(2.5)).
    const all = new PredictiveWeigher().weigh([
      backend('a', { ewmaLatencyMs: 1 }),
      backend('b', { ewmaLatencyMs: 1 }),
      backend('c', { ewmaLatencyMs: 1 }),
      backend('d', { ewmaLatencyMs: 100 }),
      backend('e', { ewmaLatencyMs: 200 }),
    ]);
    expect(all.map((d) => d.inputs['ejected'])).toEqual([0, 0, 0, 1, 1]);
  });

  it('slow-starts a backend that joins later, then ramps it up', () => {
    const w = new PredictiveWeigher({ slowStartWindowMs: 30_000, slowStartMinFactor: 0.1 });
    w.weigh([backend('a'), backend('b')], { nowMs: 1000 });
    const early = w.weigh([backend('a'), backend('b'), backend('new')], { nowMs: 4000 });
    expect(share(early, 'new')).toBeLessThan(share(early, 'a') / 5);
    expect(early[2]!.attributions['slowStart']).toBeCloseTo(Math.log(0.1), 9);
    expect(early[2]!.text).toMatch(/slow start/);
    const mid = w.weigh([backend('a'), backend('b'), backend('new')], { nowMs: 19_000 });
    expect(mid[2]!.attributions['slowStart']).toBeCloseTo(Math.log(0.5), 9);
    const late = w.weigh([backend('a'), backend('b'), backend('new')], { nowMs: 40_000 });
    expect(share(late, 'new')).toBeCloseTo(share(late, 'a'), 6);
    expect(late[2]!.attributions['slowStart']).toBe(0);
  });

  it('penalises errors', () => {
    const out = new PredictiveWeigher().weigh([
      backend('ok'),
      backend('flaky', { errorRate: 0.15 }),
    ]);
    expect(share(out, 'flaky')).toBeLessThan(share(out, 'ok'));
    expect(out[1]!.attributions['errors']).toBeCloseTo(2 * Math.log(0.85), 9);
  });

  it('ejects a fast backend that answers mostly errors', () => {
    const out = new PredictiveWeigher().weigh([
      backend('a'),
      backend('b'),
      backend('c'),
      backend('failing', { errorRate: 0.6, ewmaLatencyMs: 1 }),
    ]);
    expect(out[3]!.inputs['ejected']).toBe(1);
    expect(out[3]!.text).toMatch(/error rate 60\.0 %/);
  });

  it('follows cache affinity', () => {
    const out = new PredictiveWeigher().weigh([backend('a'), backend('b')], {
      affinity: new Map([['b', 0.8]]),
    });
    expect(share(out, 'b')).toBeGreaterThan(share(out, 'a'));
    expect(out[1]!.attributions['affinity']).toBeCloseTo(Math.log(1.8), 9);
    expect(out[1]!.text).toMatch(/affinity/);
  });

  it('uses the forecast: a higher forecast load flattens the split toward capacity', () => {
    const pool = [
      backend('fast', { ewmaLatencyMs: 10, p99Ms: 40, requestRatePerSec: 50 }),
      backend('slow', { ewmaLatencyMs: 25, p99Ms: 100, requestRatePerSec: 50 }),
    ];
    const low = new PredictiveWeigher().weigh(pool, {
      forecast: { p50: [100], p90: [100], spike: false },
    });
    const high = new PredictiveWeigher().weigh(pool, {
      forecast: { p50: [400], p90: [500], spike: true },
    });
    const gap = (o: typeof low) => share(o, 'fast') - share(o, 'slow');
    expect(gap(low)).toBeGreaterThan(gap(high));
    expect(gap(high)).toBeGreaterThan(0);
    expect(high[0]!.inputs['forecastLoadPerSec']).toBeCloseTo(2.5 * 500, 9);
    expect(high[1]!.attributions['forecastLoad']).toBeGreaterThan(0);
  });

  it('learns an M/M/1 latency curve (base 10 ms, capacity 100 req/s) from observations', () => {
    const w = new PredictiveWeigher({ forgetting: 0.98 });
    let requests = 0;
    for (let i = 0; i < 200; i++) {
      const rate = 10 + ((i * 37) % 81); // 10..90 req/s, scrambled
      requests += rate;
      w.weigh(
        [backend('a', { requestRatePerSec: rate, ewmaLatencyMs: 1000 / (100 - rate), requests })],
        { nowMs: i * 1000 },
      );
    }
    const c = w.curve('p', 'a')!;
    expect(c.baseMs).toBeGreaterThan(9);
    expect(c.baseMs).toBeLessThan(11);
    expect(c.capacityPerSec).toBeGreaterThan(90);
    expect(c.capacityPerSec).toBeLessThan(110);
    expect(w.predictP99Ms('p', 'a', 50)).toBeGreaterThan(w.predictP99Ms('p', 'a', 10)!);
  });

  it('keeps its per-backend state bounded', () => {
    const w = new PredictiveWeigher({ maxBackends: 8 });
    for (let i = 0; i < 50; i++) w.weigh([backend(`b${i}`)], { nowMs: i });
    expect(w.trackedBackends).toBeLessThanOrEqual(8);
  });

  it('falls back, equal and explained, before any backend was observed', () => {
    const out = new PredictiveWeigher().weigh([
      backend('a', { requests: 0, requestRatePerSec: 0 }),
      backend('b', { requests: 0, requestRatePerSec: 0 }),
    ]);
    expect(out.every((d) => d.reason === 'FALLBACK')).toBe(true);
    expect(out.map((d) => d.weight)).toEqual([expect.closeTo(0.5, 9), expect.closeTo(0.5, 9)]);
  });
});
