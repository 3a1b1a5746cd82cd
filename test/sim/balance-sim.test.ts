/** The balancer simulator on tiny synthetic scenarios (no shared data). */
import { describe, expect, it } from 'vitest';
import { PredictiveWeigher } from '../../src/balance/predictive-weigher.js';
import {
  ALGORITHMS,
  BASELINES,
  capacityPerSec,
  fifoCompletionMs,
  generateWorkload,
  latencyLowerBoundMs,
  simulate,
  type SimBackend,
  type SimScenario,
} from '../../src/sim/balance-sim.js';

const two: SimBackend[] = [
  { name: 'a', workers: 2, meanServiceMs: 10 },
  { name: 'b', workers: 2, meanServiceMs: 10 },
];
const opts = { seed: 7, weigher: () => new PredictiveWeigher() };

describe('simulate', () => {
  const scenario: SimScenario = {
    name: 'tiny',
    description: 'two equal backends at 50 %',
    durationMs: 5000,
    backends: two,
    ratesPerSec: [0.5 * capacityPerSec(two)],
    stepMs: 5000,
  };

  it.each(ALGORITHMS)('%s is deterministic for a seed', (alg) => {
    const r1 = simulate(scenario, alg, opts);
    expect(simulate(scenario, alg, opts)).toEqual(r1);
    expect(r1.requests).toBeGreaterThan(800);
    expect(r1.requests).toBeLessThan(1200);
    expect(simulate(scenario, alg, { ...opts, seed: 8 }).p99Ms).not.toBe(r1.p99Ms);
  });

  it('gives every algorithm the same arrivals', () => {
    const counts = ALGORITHMS.map((a) => simulate(scenario, a, opts).requests);
    expect(new Set(counts).size).toBe(1);
  });

  it('gives every request the same size whatever the other requests did (common random numbers)', () => {
    // Workers enough that no request ever waits: a request's latency is its size × the mean
    // service time of the backend it went to, or 1 ms where it failed. b fails everything.
    const wide: SimScenario = {
      ...scenario,
      backends: [
        { name: 'a', workers: 10_000, meanServiceMs: 10 },
        {
          name: 'b',
          workers: 10_000,
          meanServiceMs: 10,
          errors: { fromMs: 0, probability: 1, latencyMs: 1 },
        },
      ],
    };
    const work = generateWorkload(wide, opts.seed);
    const n = work.size.length;
    expect(n).toBe(simulate(wide, 'round-robin', opts).requests);
    const p50 = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.ceil(0.5 * xs.length) - 1]!;
    // Round robin: the even requests on a, served in size × 10 ms; the odd ones fail on b.
    const rr = work.size.map((z, i) => (i % 2 === 0 ? z * 10 : 1));
    expect(simulate(wide, 'round-robin', opts).p50Ms).toBeCloseTo(p50(rr), 2);
    // The oracle never sends a request where it would fail: every request is size × 10 ms, and
    // the p99 reaches the lower bound exactly (nothing waits, every request on its best backend).
    const oracle = simulate(wide, 'oracle', opts);
    expect(oracle.errorRate).toBe(0);
    expect(oracle.p50Ms).toBeCloseTo(p50(work.size.map((z) => z * 10)), 2);
    expect(oracle.p99Ms).toBe(
      latencyLowerBoundMs({ ...wide, backends: [wide.backends[0]!] }, work),
    );
  });

  it('draws the workload from the seed alone', () => {
    const w = generateWorkload(scenario, 7);
    expect(generateWorkload(scenario, 7)).toEqual(w);
    expect(w.arrivalMs.every((t, i) => i === 0 || t >= w.arrivalMs[i - 1]!)).toBe(true);
    expect(w.arrivalMs.at(-1)!).toBeLessThan(scenario.durationMs);
    // Exp(1) sizes: mean ≈ 1 over ~1000 requests.
    const mean = w.size.reduce((a, b) => a + b, 0) / w.size.length;
    expect(mean).toBeGreaterThan(0.9);
    expect(mean).toBeLessThan(1.1);
    expect(w.errorDraw.every((u) => u >= 0 && u < 1)).toBe(true);
  });

  it('round robin over a healthy and an always-failing backend: half the requests fail', () => {
    // Hand-checkable: RR alternates a, b, a, b…; b answers every request with a 5xx in 1 ms,
    // so errors = ⌊requests / 2⌋, each backend gets half, and b is never diverted from.
    const failing: SimScenario = {
      ...scenario,
      backends: [two[0]!, { ...two[1]!, errors: { fromMs: 0, probability: 1, latencyMs: 1 } }],
      degraded: { backend: 'b', fromMs: 0, toMs: 5000 },
    };
    const r = simulate(failing, 'round-robin', opts);
    expect(Math.round(r.errorRate * r.requests)).toBe(Math.floor(r.requests / 2));
    expect(r.requestShare['a']).toBeCloseTo(0.5, 2);
    expect(r.divertSec).toBe(5);
    // Half the answers take 1 ms, so the p99 of all answers is the p98 of a's; the p99 of the
    // successful ones is a's own p99, and higher.
    expect(r.p99OkMs).toBeGreaterThan(r.p99Ms);
    const healthy = simulate(scenario, 'round-robin', opts);
    expect(healthy.errorRate).toBe(0);
    expect(healthy.p99OkMs).toBe(healthy.p99Ms);
    // The predictive weights eject the failing backend within a few publish intervals.
    const p = simulate(failing, 'prescient-wp2c', opts);
    // Requests before the first publish (1 s) split as P2C picks them; then b is at the floor.
    expect(p.errorRate).toBeLessThan(0.25);
    expect(p.divertSec).toBeLessThanOrEqual(3);
  });

  it('an unloaded single worker answers in its service time: p50 ≈ mean × ln 2', () => {
    const one: SimScenario = {
      name: 'one',
      description: 'one worker at 1 % load',
      durationMs: 200_000,
      backends: [{ name: 'a', workers: 1, meanServiceMs: 10 }],
      ratesPerSec: [1],
      stepMs: 200_000,
    };
    const r = simulate(one, 'round-robin', opts);
    expect(r.p50Ms).toBeGreaterThan(10 * Math.LN2 * 0.85);
    expect(r.p50Ms).toBeLessThan(10 * Math.LN2 * 1.15);
    expect(r.divertSec).toBeNull();
  });

  it('prescient weights move traffic off a backend that turns 10× slower', () => {
    const slow: SimScenario = {
      name: 'slow',
      description: 'b 10× slower from 5 s',
      durationMs: 15_000,
      backends: [
        ...two,
        { name: 'c', workers: 2, meanServiceMs: 10 },
        {
          name: 'd',
          workers: 2,
          meanServiceMs: 10,
          slowdown: { fromMs: 5000, toMs: 15_000, factor: 10 },
        },
      ],
      ratesPerSec: [0.5 * 4 * 200],
      stepMs: 15_000,
      degraded: { backend: 'd', fromMs: 5000, toMs: 15_000 },
    };
    const rr = simulate(slow, 'round-robin', opts);
    const p = simulate(slow, 'prescient-wrr', opts);
    expect(p.requestShare['d']).toBeLessThan(rr.requestShare['d']!);
    expect(p.divertSec).not.toBeNull();
    expect(p.divertSec!).toBeLessThan(5);
    expect(p.p99Ms).toBeLessThan(rr.p99Ms);
  });
});

describe('fifoCompletionMs', () => {
  it('starts each job on the first worker free, in order (hand-computed)', () => {
    // Two workers free at 5 and 8 ms; a queued job of 3 ms starts at 5, ends at 8; the new job
    // of 4 ms then starts at 8 (both workers free) and ends at 12.
    const durations = [3, 4];
    expect(fifoCompletionMs([5, 8], 2, 2, (j) => durations[j]!)).toBe(12);
    // The duration may depend on the start time (a backend slowed from 6 ms on: × 10).
    expect(fifoCompletionMs([5, 8], 2, 2, (j, t) => durations[j]! * (t >= 6 ? 10 : 1))).toBe(48);
    // An idle worker (free now, at 2 ms) takes the job at once.
    expect(fifoCompletionMs([2, 8], 2, 1, () => 4)).toBe(6);
  });
});

describe('the oracle and the lower bound', () => {
  // capacityPerSec counts healthy capacity: the slow-down and the errors do not change it.
  const backends: SimBackend[] = [
    { name: 'fast', workers: 2, meanServiceMs: 5 },
    { name: 'slow', workers: 2, meanServiceMs: 20 },
    {
      name: 'flaky',
      workers: 2,
      meanServiceMs: 10,
      slowdown: { fromMs: 5000, toMs: 10_000, factor: 4 },
      errors: { fromMs: 12_000, probability: 0.3, latencyMs: 2 },
    },
  ];
  const mixed: SimScenario = {
    name: 'mixed',
    description: 'a fast, a slow and a flaky backend at 75 %',
    durationMs: 20_000,
    backends,
    ratesPerSec: [0.75 * capacityPerSec(backends)],
    stepMs: 20_000,
  };

  it('no algorithm goes below the lower bound; the oracle beats every baseline here', () => {
    const bound = latencyLowerBoundMs(mixed, generateWorkload(mixed, 3));
    const results = ALGORITHMS.map((a) => simulate(mixed, a, { ...opts, seed: 3 }));
    for (const r of results) expect(r.p99Ms).toBeGreaterThanOrEqual(bound);
    const oracle = results.find((r) => r.algorithm === 'oracle')!;
    for (const r of results.filter((x) => BASELINES.includes(x.algorithm)))
      expect(oracle.p99Ms).toBeLessThan(r.p99Ms);
    expect(oracle.errorRate).toBe(0);
    expect(BASELINES).not.toContain('oracle');
  });
});
