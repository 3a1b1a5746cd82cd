/** The predictive weigher's behaviours, on hand-made features. */
import { describe, expect, it } from 'vitest';
import { PredictiveWeigher } from '../../src/balance/predictive-weigher.js';
import type { BackendFeatures } from '../../src/features/types.js';
import { mulberry32 } from '../../src/random.js';

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

  it('re-admits on probation a backend ejected with no response since, with a doubling back-off', () => {
    const w = new PredictiveWeigher({ maxEjectionMs: 10_000 });
    const healthy = (now: number) =>
      ['a', 'b', 'c'].map((n) => backend(n, { requests: 100 + now, lastSeenMs: now }));
    // `slow` answered last at 1 s, 10× slower than the rest, and nothing since.
    const slow = (over: Partial<BackendFeatures> = {}) =>
      backend('slow', { ewmaLatencyMs: 100, requests: 50, lastSeenMs: 1000, ...over });
    const at = (now: number, over?: Partial<BackendFeatures>) =>
      w.weigh([...healthy(now), slow(over)], { nowMs: now })[3]!;
    expect(at(1000).inputs['ejected']).toBe(1);
    expect(at(10_000).inputs['ejected']).toBe(1); // 9 s: still out
    const probe = at(11_000); // 10 s without a response: on probation
    expect(probe.inputs['ejected']).toBe(0);
    expect(probe.inputs['probation']).toBe(1);
    expect(probe.weight).toBeGreaterThan(0.01);
    expect(probe.text).toMatch(/re-admitted on probation/);
    // The same stale figures cannot eject it again…
    expect(at(12_000).inputs['ejected']).toBe(0);
    // …a fresh response still 10× slower does, and the next probe waits twice as long.
    expect(at(13_000, { requests: 51, lastSeenMs: 12_500 }).inputs['ejected']).toBe(1);
    expect(at(32_000, { requests: 51, lastSeenMs: 12_500 }).inputs['ejected']).toBe(1);
    expect(at(33_000, { requests: 51, lastSeenMs: 12_500 }).inputs['probation']).toBe(1);
    // Past the 30 s ramp, still without a response: still not judged on the old figures.
    const late = at(70_000, { requests: 51, lastSeenMs: 12_500 });
    expect(late.inputs['ejected']).toBe(0);
    expect(late.weight).toBeGreaterThan(0.2);
  });

  it('keeps judging on fresh figures a backend that answers at the floor (no probation)', () => {
    const w = new PredictiveWeigher({ maxEjectionMs: 10_000 });
    for (let now = 1000; now <= 60_000; now += 1000) {
      const out = w.weigh(
        [
          backend('a', { requests: now, lastSeenMs: now }),
          backend('b', { requests: now, lastSeenMs: now }),
          backend('c', { requests: now, lastSeenMs: now }),
          backend('slow', { ewmaLatencyMs: 100, requests: now / 100, lastSeenMs: now }),
        ],
        { nowMs: now },
      );
      expect(out[3]!.inputs['ejected']).toBe(1);
      expect(out[3]!.inputs['probation']).toBe(0);
    }
  });

  it('does not fit a near-flat slope to noisy light-load observations (capacity stays bounded)', () => {
    // Latency flat at 20 ms ± 15 % while the rate wanders over 5–60 req/s: the data say nothing
    // about the slope. With the noise-aware prior the capacity stays near the prior's; without
    // it (an infinite prior spread) chance correlations fit a slope near 0, a capacity far above.
    const capacity = (priorSlopeSpread: number) => {
      const w = new PredictiveWeigher({ priorSlopeSpread });
      const rng = mulberry32(3);
      let requests = 0;
      for (let i = 0; i < 60; i++) {
        const rate = 5 + 55 * rng();
        requests += rate;
        const lat = 20 * (1 + 0.3 * (rng() - 0.5));
        w.weigh(
          [backend('a', { requests, requestRatePerSec: rate, ewmaLatencyMs: lat, p99Ms: 4 * lat })],
          { nowMs: i * 1000 },
        );
      }
      return w.curve('p', 'a')!.capacityPerSec;
    };
    expect(capacity(0.1)).toBeLessThan(250);
    expect(capacity(Infinity)).toBeGreaterThan(250);
  });

  describe('noise band', () => {
    /**
     * Three replicas answering in milliseconds at 20 req/s each (the learned capacity dwarfs the
     * load), decided once a second. Each second's p99 is drawn around `p99Ms(name, t)` with a
     * log-normal spread of 0.3. Returns the shares published at every second.
     */
    function run(w: PredictiveWeigher, p99Ms: (name: string, t: number) => number, seconds = 120) {
      const rng = mulberry32(11);
      const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
      const names = ['a', 'b', 'c'];
      const shares: Record<string, number>[] = [];
      let previous: Map<string, number> | undefined;
      for (let t = 1; t <= seconds; t++) {
        const out = w.weigh(
          names.map((n) =>
            backend(n, {
              requests: 20 * t,
              requestRatePerSec: 20,
              ewmaLatencyMs: 2,
              p99Ms: p99Ms(n, t) * Math.exp(0.3 * gauss()),
              lastSeenMs: t * 1000,
            }),
          ),
          { pool: 'p', nowMs: t * 1000, ...(previous ? { previous } : {}) },
        );
        previous = new Map(out.map((d) => [d.backend, d.weight]));
        shares.push(Object.fromEntries(out.map((d) => [d.backend, d.weight])));
      }
      return shares;
    }
    const starved = (shares: Record<string, number>[], from: number) =>
      shares.slice(from).filter((s) => Math.min(...Object.values(s)) < 1 / 6).length;

    it('keeps identical fast replicas near a fair share; without it they are split on noise', () => {
      const same = () => 6;
      expect(starved(run(new PredictiveWeigher(), same), 20)).toBeLessThanOrEqual(2);
      expect(starved(run(new PredictiveWeigher({ latencyNoiseZ: 0 }), same), 20)).toBeGreaterThan(
        30,
      );
    });

    it('still moves traffic off a replica whose p99 is 10× the others', () => {
      const shares = run(new PredictiveWeigher(), (n, t) => (n === 'c' && t > 60 ? 60 : 6));
      const below = shares.findIndex((s, t) => t >= 60 && s['c']! < 1 / 6);
      expect(below).toBeGreaterThanOrEqual(60);
      expect(below - 60).toBeLessThanOrEqual(5);
      expect(shares.at(-1)!['c']!).toBeLessThan(0.05);
    });
  });
});
