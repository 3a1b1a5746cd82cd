import { describe, expect, it } from 'vitest';
import { PolicyHistory } from '../../src/publish/history.js';
import { evictionDocument, weightsDocument } from '../../src/publish/document.js';

const model = { id: 'inverse-latency', version: '1' };

function weights(pool: string, version: number, shares: Record<string, number>) {
  return weightsDocument(
    { target: pool, version, generatedAt: 1000 * version, ttlMs: 30_000, model },
    Object.entries(shares).map(([backend, weight]) => ({
      backend,
      weight,
      reason: 'HEURISTIC' as const,
      text: 't',
      attributions: {},
      inputs: {},
    })),
  );
}

describe('PolicyHistory', () => {
  it('records the shares of each weights document, oldest first', () => {
    const h = new PolicyHistory();
    h.record(weights('web', 1, { a: 0.5, b: 0.5 }));
    h.record(weights('web', 2, { a: 0.75, b: 0.25 }));
    expect(h.points('web')).toEqual([
      { ts: 1000, version: 1, weights: { a: 0.5, b: 0.5 } },
      { ts: 2000, version: 2, weights: { a: 0.75, b: 0.25 } },
    ]);
    expect(h.points('web', 1)).toEqual([{ ts: 2000, version: 2, weights: { a: 0.75, b: 0.25 } }]);
    expect(h.points('api')).toBeUndefined();
  });

  it('ignores other document kinds', () => {
    const h = new PolicyHistory();
    h.record(evictionDocument({ target: 'n1', version: 1, generatedAt: 1, ttlMs: 1, model }, []));
    expect(h.poolNames()).toEqual([]);
  });

  it('keeps at most pointsPerPool points per pool, dropping the oldest', () => {
    const h = new PolicyHistory({ pointsPerPool: 3 });
    for (let v = 1; v <= 7; v++) h.record(weights('web', v, { a: v / 10 }));
    expect(h.points('web')?.map((p) => p.version)).toEqual([5, 6, 7]);
    expect(h.points('web', 2)?.map((p) => p.version)).toEqual([6, 7]);
    expect(h.points('web', 10)?.map((p) => p.version)).toEqual([5, 6, 7]);
    expect(h.points('web', 0)).toEqual([]);
  });

  it('defaults to 600 points per pool', () => {
    const h = new PolicyHistory();
    for (let v = 1; v <= 650; v++) h.record(weights('web', v, { a: 1 }));
    const points = h.points('web')!;
    expect(points).toHaveLength(600);
    expect(points[0]?.version).toBe(51);
    expect(points.at(-1)?.version).toBe(650);
  });

  it('keeps at most maxPools pools, forgetting the one published least recently', () => {
    const h = new PolicyHistory({ maxPools: 2 });
    h.record(weights('a', 1, { x: 1 }));
    h.record(weights('b', 1, { x: 1 }));
    h.record(weights('a', 2, { x: 1 })); // a is now the most recent
    h.record(weights('c', 1, { x: 1 }));
    expect(h.poolNames().sort()).toEqual(['a', 'c']);
    expect(h.points('b')).toBeUndefined();
    expect(h.points('a')?.map((p) => p.version)).toEqual([1, 2]);
  });
});
