import { describe, expect, it } from 'vitest';
import {
  ModelDrivenCache,
  ReplayEvaluator,
  replayEvaluate,
} from '../../src/learn/eviction/replay-eval.js';
import { makeMlpWeights } from '../../src/learn/eviction/scorer.js';
import { LruPolicy } from '../../src/policy/lru.js';
import { modelFavouring } from '../helpers/eviction-model.js';

/** `hot` keys in a loop, a one-shot key between each two: a hot key returns after 2·hot requests. */
function loopTrace(n: number, hot = 30): string[] {
  return Array.from({ length: n }, (_, i) => (i % 2 === 0 ? `hot-${(i / 2) % hot}` : `once-${i}`));
}

function lruHits(keys: readonly string[], capacity: number, from: number): number {
  const lru = new LruPolicy({ capacity, unit: 'objects' });
  let hits = 0;
  keys.forEach((key, t) => {
    if (lru.access({ key, sizeBytes: 1, vtime: t }) && t >= from) hits++;
  });
  return hits;
}

describe('replayEvaluate', () => {
  it('an idle-time model with every resident sampled is exactly LRU (golden)', () => {
    const keys = loopTrace(3000);
    const capacity = 12; // ≤ the 16 sampled: every resident is a candidate
    const r = replayEvaluate(keys, {
      capacity,
      candidate: modelFavouring(0),
      missingGapT: 16,
    });
    expect(r.requests).toBe(3000);
    expect(r.countedRequests).toBe(3000 - 600);
    expect(r.candidate).toBe(r.heuristic);
    expect(r.heuristic).toBe(lruHits(keys, capacity, 600) / 2400);
    expect(r.champion).toBeNull();
    expect(r.nonFiniteScores).toEqual({ candidate: 0, champion: 0 });
  });

  it('scores a gap-aware challenger above LRU and an LRU-like champion under scan pollution', () => {
    // 10 hot keys, each back after 20 requests of 20 distinct keys: LRU of 16 never keeps one.
    const keys = loopTrace(4000, 10);
    const r = replayEvaluate(keys, {
      capacity: 16,
      candidate: modelFavouring(1), // evicts the largest last gap: one-shot keys (gap unknown)
      champion: modelFavouring(0), // evicts the idlest: LRU
      missingGapT: 16,
    });
    expect(r.heuristic).toBe(0);
    expect(r.champion).toBe(0);
    // The 10 hot keys stay resident: every hot request after the warm-up hits.
    expect(r.candidate).toBeCloseTo(0.5, 2);
  });

  it('warms up for at least the capacity, and feeding in chunks gives the same result', () => {
    const keys = loopTrace(1000);
    const o = { capacity: 300, candidate: modelFavouring(1), missingGapT: 16 };
    const whole = replayEvaluate(keys, o);
    expect(whole.countedRequests).toBe(700);
    const ev = new ReplayEvaluator(keys.length, o);
    for (let i = 0; i < keys.length; i += 97) ev.feed(keys, i, Math.min(keys.length, i + 97));
    expect(ev.result()).toEqual(whole);
  });

  it('counts non-finite scores (a NaN-producing model) and still evicts', () => {
    const m = modelFavouring(0);
    const nan = makeMlpWeights({ ...m.agent!, b2: Number.NaN });
    const r = replayEvaluate(loopTrace(500), {
      capacity: 10,
      candidate: { ...m, agent: nan },
      missingGapT: 16,
    });
    expect(r.nonFiniteScores.candidate).toBeGreaterThan(0);
    // Every score NaN: the least recently used sampled key goes, as LRU would.
    expect(r.candidate).toBe(r.heuristic);
  });
});

describe('ModelDrivenCache', () => {
  it('never holds more than its capacity and reports hits', () => {
    const c = new ModelDrivenCache(modelFavouring(0), 3, 16);
    expect(['a', 'b', 'c', 'a', 'd', 'a', 'b'].map((k, t) => c.access(k, t))).toEqual([
      false,
      false,
      false,
      true,
      false, // evicts b (idlest)
      true,
      false,
    ]);
  });
});
