/**
 * The contract every victim ranker passes (hono `common.case.test.ts` style): run for each
 * registered id. Plus golden cases for each implementation below.
 */
import { describe, expect, it } from 'vitest';
import { victimRankers } from '../../src/policy/victim-ranker.js';
import '../../src/policy/lru-victims.js';
import '../../src/policy/learned-victims.js';
import { LearnedVictimRanker } from '../../src/policy/learned-victims.js';
import { modelFavouring } from '../helpers/eviction-model.js';
import { REASON_CODES } from '../../src/decisions.js';
import type { KeyFeatures } from '../../src/features/types.js';

function key(k: string, lastAccessMs: number, asOfMs = 100_000): KeyFeatures {
  return {
    node: 'n',
    key: k,
    accesses: 3,
    decayedCounts: [1, 2, 3],
    asOfMs,
    lastAccessMs,
    firstSeenMs: 0,
    gapsMs: [10],
    sizeBytes: 100,
    hits: 1,
    misses: 2,
    resident: true,
  };
}
const candidates = [key('a', 10_000), key('b', 20_000), key('c', 30_000), key('d', 90_000)];

describe.each(victimRankers.ids())('victim ranker contract: %s', (id) => {
  const ranker = victimRankers.create(id, undefined);

  it('returns at most `limit` decisions, each for a distinct candidate', () => {
    for (const limit of [0, 1, 2, 10]) {
      const out = ranker.rank(candidates, limit);
      expect(out.length).toBe(Math.min(limit, candidates.length));
      expect(new Set(out.map((d) => d.key)).size).toBe(out.length);
      for (const d of out) expect(candidates.map((c) => c.key)).toContain(d.key);
    }
  });

  it('orders by score, highest (evict first) first, with finite scores', () => {
    const out = ranker.rank(candidates, 10);
    for (const d of out) expect(Number.isFinite(d.score)).toBe(true);
    for (let i = 1; i < out.length; i++)
      expect(out[i - 1]!.score).toBeGreaterThanOrEqual(out[i]!.score);
  });

  it('explains every decision: a reason code, a text, finite attributions and inputs', () => {
    for (const d of ranker.rank(candidates, 10)) {
      expect(REASON_CODES).toContain(d.reason);
      expect(d.text.length).toBeGreaterThan(0);
      expect(Object.keys(d.attributions).length).toBeGreaterThan(0);
      for (const v of [...Object.values(d.attributions), ...Object.values(d.inputs)])
        expect(Number.isFinite(v)).toBe(true);
    }
  });

  it('handles no candidates and does not mutate its input', () => {
    expect(ranker.rank([], 5)).toEqual([]);
    const copy = structuredClone(candidates);
    ranker.rank(candidates, 10);
    expect(candidates).toEqual(copy);
  });

  it('names its model', () => {
    expect(ranker.model.id.length).toBeGreaterThan(0);
    expect(ranker.model.version.length).toBeGreaterThan(0);
  });
});

describe('unknown ids', () => {
  it('fail listing the known ones', () => {
    expect(() => victimRankers.create('nope', undefined)).toThrow(/known: .*lru/);
  });
});

describe('LruVictimRanker golden', () => {
  it('scores idle seconds and keeps LRU order', () => {
    const out = victimRankers.create('lru', undefined).rank(candidates, 3);
    expect(out.map((d) => [d.key, d.score, d.reason])).toEqual([
      ['a', 90, 'HEURISTIC'],
      ['b', 80, 'HEURISTIC'],
      ['c', 70, 'HEURISTIC'],
    ]);
    expect(out[0]!.attributions).toEqual({ idleSec: 90 });
  });
});

describe('LearnedVictimRanker golden', () => {
  it('falls back to LRU order with reason FALLBACK before the node has a model', () => {
    const out = victimRankers.create('learned', undefined).rank(candidates, 3);
    expect(out.map((d) => [d.key, d.score, d.reason])).toEqual([
      ['a', 90, 'FALLBACK'],
      ['b', 80, 'FALLBACK'],
      ['c', 70, 'FALLBACK'],
    ]);
  });

  it("ranks by the node's model, highest Q first, with integrated-gradient attributions", () => {
    // Q(evict) grows with size: the model must override LRU order.
    const sized = candidates.map((c, i) => ({ ...c, sizeBytes: 10 ** (i + 1) }));
    const ranker = new LearnedVictimRanker({
      current: (node) =>
        node === 'n'
          ? { model: modelFavouring(9), timeScaleMs: 10_000, missingGapT: 16, version: 'n@3' }
          : undefined,
    });
    const out = ranker.rank(sized, 4);
    expect(out.map((d) => d.key)).toEqual(['d', 'c', 'b', 'a']);
    for (const d of out) {
      expect(d.reason).toBe('MODEL');
      expect(d.attributions['sizeLog']).toBeDefined();
    }
    expect(Math.abs(out[0]!.attributions['sizeLog']!)).toBeGreaterThan(0);
    expect(ranker.modelFor('n')).toEqual({ id: 'learned', version: 'n@3' });
    expect(ranker.modelFor('other')).toEqual({ id: 'learned', version: 'other@0' });
  });
});
