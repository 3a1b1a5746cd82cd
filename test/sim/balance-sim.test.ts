/** The balancer simulator on tiny synthetic scenarios (no shared data). */
import { describe, expect, it } from 'vitest';
import { PredictiveWeigher } from '../../src/balance/predictive-weigher.js';
import {
  ALGORITHMS,
  capacityPerSec,
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
