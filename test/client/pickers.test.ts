import { describe, expect, it } from 'vitest';
import {
  SmoothWeightedRoundRobin,
  WeightedP2C,
  seededRandom,
  smoothWeightedPick,
  weightedP2CPick,
} from '../../src/client/pickers.js';

describe('SmoothWeightedRoundRobin', () => {
  it('gives nginx’s sequence for weights 5/1/1', () => {
    const p = new SmoothWeightedRoundRobin([
      { backend: 'a', weight: 5 },
      { backend: 'b', weight: 1 },
      { backend: 'c', weight: 1 },
    ]);
    const seq = Array.from({ length: 14 }, () => p.pick()).join(' ');
    expect(seq).toBe('a a b a c a a a a b a c a a');
  });

  it('never picks a zero weight and answers undefined with none usable', () => {
    const p = new SmoothWeightedRoundRobin([
      { backend: 'a', weight: 0 },
      { backend: 'b', weight: 2 },
    ]);
    expect(new Set(Array.from({ length: 10 }, () => p.pick()))).toEqual(new Set(['b']));
    expect(new SmoothWeightedRoundRobin([{ backend: 'a', weight: 0 }]).pick()).toBeUndefined();
  });
});

describe('WeightedP2C', () => {
  it('with nothing in flight keeps the heavier of the two drawn (seeded, exact odds)', () => {
    const p = new WeightedP2C(
      [
        { backend: 'a', weight: 0.6 },
        { backend: 'b', weight: 0.3 },
        { backend: 'c', weight: 0.1 },
      ],
      () => 0,
      seededRandom(42),
    );
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    const n = 20_000;
    for (let i = 0; i < n; i++) counts[p.pick()!]!++;
    // b wins only when the pair drawn is {b, c}: 0.3 · 0.1/0.7 + 0.1 · 0.3/0.9 = 0.0762.
    expect(counts['c']).toBe(0);
    expect(counts['b']! / n).toBeCloseTo(0.0762, 2);
  });

  it('balances in-flight load in proportion to weight (closed loop, seeded)', () => {
    const inflight: Record<string, number> = { a: 0, b: 0, c: 0 };
    const p = new WeightedP2C(
      [
        { backend: 'a', weight: 3 },
        { backend: 'b', weight: 2 },
        { backend: 'c', weight: 1 },
      ],
      (b) => inflight[b]!,
      seededRandom(7),
    );
    const served: Record<string, number> = { a: 0, b: 0, c: 0 };
    const queue: string[] = [];
    const rng = seededRandom(99);
    for (let i = 0; i < 30_000; i++) {
      const b = p.pick()!;
      inflight[b]!++;
      served[b]!++;
      queue.push(b);
      // 60 calls in flight; a random one finishes each step.
      if (queue.length > 60) {
        const j = Math.floor(rng() * queue.length);
        const done = queue.splice(j, 1)[0]!;
        inflight[done]!--;
      }
    }
    const total = served['a']! + served['b']! + served['c']!;
    expect(served['a']! / total).toBeCloseTo(3 / 6, 1);
    expect(served['b']! / total).toBeCloseTo(2 / 6, 1);
    expect(served['c']! / total).toBeCloseTo(1 / 6, 1);
  });

  it('is reproducible with the same seed', () => {
    const mk = () =>
      new WeightedP2C(
        [
          { backend: 'a', weight: 1 },
          { backend: 'b', weight: 1 },
          { backend: 'c', weight: 1 },
        ],
        () => 0,
        seededRandom(5),
      );
    const x = mk();
    const y = mk();
    expect(Array.from({ length: 50 }, () => x.pick())).toEqual(
      Array.from({ length: 50 }, () => y.pick()),
    );
  });
});

describe('the index-level core (shared with the balancer simulator)', () => {
  it('smooth WRR skips zero and NaN weights and leaves their current value alone', () => {
    const current = [0, 0, 0, 0];
    const seq = Array.from({ length: 7 }, () => smoothWeightedPick([5, 0, 1, NaN], current));
    expect(seq).toEqual([0, 0, 0, 2, 0, 0, 0]);
    expect(current[1]).toBe(0);
    expect(current[3]).toBe(0);
    expect(smoothWeightedPick([0, 0], [0, 0])).toBe(-1);
  });

  it('weighted P2C scores (inflight + 1) / weight: a heavier backend wins with more in flight', () => {
    // random() = 0 draws index 0 first; the second draw (0 excluded) is index 1.
    const zero = () => 0;
    const inflight = [3, 1];
    // 0: (3 + 1) / 0.6 = 6.7; 1: (1 + 1) / 0.1 = 20 → 0, although it has more in flight.
    expect(weightedP2CPick([0.6, 0.1], (i) => inflight[i]!, zero)).toBe(0);
    // With 12 in flight, 0 costs 21.7 > 20 → 1.
    inflight[0] = 12;
    expect(weightedP2CPick([0.6, 0.1], (i) => inflight[i]!, zero)).toBe(1);
    // A single usable backend is returned without drawing; none → −1.
    expect(
      weightedP2CPick(
        [0, 2],
        () => 0,
        () => Number.NaN,
      ),
    ).toBe(1);
    expect(weightedP2CPick([0, 0], () => 0, zero)).toBe(-1);
  });

  it('the SDK classes pick exactly what the core picks', () => {
    const backends = [
      { backend: 'a', weight: 0.5 },
      { backend: 'b', weight: 0 },
      { backend: 'c', weight: 0.3 },
      { backend: 'd', weight: 0.2 },
    ];
    const usable = backends.filter((b) => b.weight > 0);
    const load: Record<string, number> = { a: 4, c: 1, d: 0 };
    const sdk = new WeightedP2C(backends, (b) => load[b]!, seededRandom(11));
    const rng = seededRandom(11);
    const weights = usable.map((b) => b.weight);
    const core = () => usable[weightedP2CPick(weights, (i) => load[usable[i]!.backend]!, rng)]!;
    for (let k = 0; k < 200; k++) expect(sdk.pick()).toBe(core().backend);
    const swrr = new SmoothWeightedRoundRobin(backends);
    const current = weights.map(() => 0);
    for (let k = 0; k < 50; k++)
      expect(swrr.pick()).toBe(usable[smoothWeightedPick(weights, current)]!.backend);
  });
});
