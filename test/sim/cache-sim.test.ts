import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../src/policy/builtin.js';
import { evictionPolicies } from '../../src/policy/eviction-policy.js';
import {
  capacityFor,
  computeNextAccess,
  loadTrace,
  nextAccessOf,
  simulate,
  simulateLoaded,
  tracePrefix,
} from '../../src/sim/cache-sim.js';
import {
  benchEviction,
  benchLoadedTrace,
  formatTable,
  gapClosed,
  jsonReport,
  minVsLru,
  warmUpJit,
} from '../../src/sim/bench-eviction.js';
import type { TraceRequest } from '../../src/sim/trace-reader.js';
import { readTrace } from '../../src/sim/trace-reader.js';

const unit = (s: string): TraceRequest[] => s.split(' ').map((key) => ({ key, sizeBytes: 1 }));
const lru = (capacity: number, u: 'objects' | 'bytes' = 'objects') =>
  evictionPolicies.create('lru', { capacity, unit: u });

describe('simulate', () => {
  it('counts hits and the hit ratio (LRU, capacity 2: a b c a d a b → 1 hit)', async () => {
    const r = await simulate([unit('a b c a'), unit('d a b')], lru(2));
    expect(r).toMatchObject({ requests: 7, hits: 1, bytes: 7, byteHits: 1, evictions: 4 });
    expect(r.hitRatio).toBeCloseTo(1 / 7, 12);
    expect(r.byteHitRatio).toBeCloseTo(1 / 7, 12);
    expect(r.requestsPerSec).toBeGreaterThan(0);
  });

  it('byte hit ratio weighs hits by size (bytes mode)', async () => {
    // capacity 10: a(6) m · b(3) m · c(4) m evict a · a(6) m evict b · c(4) HIT → 4 of 23 bytes
    const trace: TraceRequest[] = [
      { key: 'a', sizeBytes: 6 },
      { key: 'b', sizeBytes: 3 },
      { key: 'c', sizeBytes: 4 },
      { key: 'a', sizeBytes: 6 },
      { key: 'c', sizeBytes: 4 },
    ];
    const r = await simulate([trace], lru(10, 'bytes'));
    expect(r).toMatchObject({ requests: 5, hits: 1, bytes: 23, byteHits: 4 });
    expect(r.byteHitRatio).toBeCloseTo(4 / 23, 12);
    // unitSize: the same trace as unit size, objects mode (capacity 2 objects).
    const u = await simulate([trace], lru(2), { unitSize: true });
    expect(u).toMatchObject({ bytes: 5, byteHits: u.hits });
  });

  it('gives the future only to usesFuture policies, computed in two passes', async () => {
    const seen: (number | undefined)[] = [];
    const spy = {
      id: 'spy',
      usesFuture: false,
      evictions: 0,
      used: 0,
      has: () => false,
      access: (r: { nextAccessVtime?: number }) => {
        seen.push(r.nextAccessVtime);
        return false;
      },
    };
    await simulate([unit('a b a')], spy);
    expect(seen).toEqual([undefined, undefined, undefined]);
    // Bélády from a plain stream (no oracle field): a b c a d a b, capacity 2 → 3 hits.
    const r = await simulate(
      [unit('a b c'), unit('a d a b')],
      evictionPolicies.create('belady', { capacity: 2, unit: 'objects' }),
    );
    expect(r.hits).toBe(3);
  });

  it('uses the trace’s 1-based oracle next_access_vtime, shifted to 0-based', async () => {
    const got: (number | undefined)[] = [];
    const spy = {
      id: 'spy',
      usesFuture: true,
      evictions: 0,
      used: 0,
      has: () => false,
      access: (r: { nextAccessVtime?: number }) => {
        got.push(r.nextAccessVtime);
        return false;
      },
    };
    // a b a: next of request 0 is position 2, i.e. vtime 3 in libCacheSim's 1-based count.
    const oracle: TraceRequest[] = [
      { key: 'a', sizeBytes: 1, timestamp: 1, nextAccessVtime: 3 },
      { key: 'b', sizeBytes: 1, timestamp: 2, nextAccessVtime: -1 },
      { key: 'a', sizeBytes: 1, timestamp: 3, nextAccessVtime: -1 },
    ];
    await simulate([oracle], spy);
    expect(got).toEqual([2, -1, -1]);
    const loaded = await loadTrace([oracle]);
    expect([...nextAccessOf(loaded)]).toEqual([2, -1, -1]);
  });

  it('handles an empty trace', async () => {
    const r = await simulate([], lru(2));
    expect(r).toMatchObject({ requests: 0, hits: 0, hitRatio: 0, byteHitRatio: 0 });
  });
});

describe('loadTrace / computeNextAccess / capacityFor', () => {
  it('interns keys and computes next accesses backwards', async () => {
    const t = await loadTrace([unit('a b a'), unit('c b')]);
    expect(t.keys).toEqual(['a', 'b', 'c']);
    expect([...t.ids]).toEqual([0, 1, 0, 2, 1]);
    expect(t.sized).toBe(false);
    expect(t.sizes).toBeUndefined();
    expect([...computeNextAccess(t.ids, t.uniqueKeys)]).toEqual([2, 4, -1, -1, -1]);
  });

  it('sums the FIRST seen size of each key as unique bytes', async () => {
    const t = await loadTrace([
      [
        { key: 'a', sizeBytes: 10 },
        { key: 'b', sizeBytes: 5 },
        { key: 'a', sizeBytes: 99 },
      ],
    ]);
    expect(t.uniqueBytes).toBe(15);
    expect(t.sized).toBe(true);
    expect(capacityFor(t, 0.5, 'bytes')).toBe(7);
    expect(capacityFor(t, 0.5, 'objects')).toBe(1);
  });

  it('simulateLoaded agrees with streaming simulate for every policy', async () => {
    const chunks = [unit('a b c a d a b e f a b c d e a a b'), unit('f g a b c')];
    const t = await loadTrace(chunks);
    for (const id of evictionPolicies.ids()) {
      const a = await simulate(
        chunks,
        evictionPolicies.create(id, { capacity: 3, unit: 'objects' }),
      );
      const b = simulateLoaded(t, evictionPolicies.create(id, { capacity: 3, unit: 'objects' }));
      expect([id, b.hits, b.evictions]).toEqual([id, a.hits, a.evictions]);
    }
  });
});

describe('bench eviction', () => {
  it('reports every policy between the LRU floor and the Bélády ceiling, from a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prescient-bench-'));
    const keys = Array.from({ length: 3000 }, (_, i) => `k${((i * 7919) % 97) % (1 + (i % 13))}`);
    writeFileSync(join(dir, 'tiny.csv'), `key\n${keys.join('\n')}\n`);
    const reports = await benchEviction({
      trace: dir,
      sizes: [0.1, 0.5],
      policies: ['s3fifo'],
      quiet: true,
    });
    expect(reports).toHaveLength(1);
    const rep = reports[0]!;
    // The --json document has exactly the documented fields.
    const doc = jsonReport(rep) as { results: object[] };
    expect(Object.keys(doc)).toEqual(['trace', 'requests', 'uniqueKeys', 'uniqueBytes', 'results']);
    expect(rep.trace).toBe('tiny');
    expect(rep.results.map((r) => r.policy)).toEqual([
      'lru',
      'lru',
      's3fifo',
      's3fifo',
      'belady',
      'belady',
    ]);
    expect(Object.keys(doc.results[0]!)).toEqual([
      'policy',
      'cacheSize',
      'capacity',
      'hitRatio',
      'byteHitRatio',
      'requestsPerSec',
    ]);
    // Cross-check one figure against a direct replay.
    let n = 0;
    for await (const c of readTrace(join(dir, 'tiny.csv'))) n += c.length;
    expect(rep.requests).toBe(n);
    const belady = rep.results.filter((r) => r.policy === 'belady');
    const floor = rep.results.filter((r) => r.policy === 'lru');
    belady.forEach((b, i) => expect(b.hitRatio).toBeGreaterThanOrEqual(floor[i]!.hitRatio));
    expect(formatTable(reports)).toContain('gap closed');
    expect(formatTable(reports)).toContain('min vs LRU');
    // LRU is never below itself; 3000 requests are one checkpoint, so min vs LRU compares the
    // final hit ratios (floored at 0).
    for (const r of rep.results) {
      const lru = floor.find((f) => f.cacheSize === r.cacheSize)!;
      const expected = Math.min(0, Math.round((r.hitRatio - lru.hitRatio) * 1e4) / 100);
      expect(r.minVsLruPt).toBeCloseTo(expected, 1);
    }
  });

  it('the JIT warm-up changes no result, for sampling and learning policies alike', async () => {
    // The warm-up replays the first 20,000 requests twice.
    const n = 30_000;
    let x = 12345;
    const keys = Array.from({ length: n }, (_, i) => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return `k${i % 3 === 0 ? x % 50 : x % 5000}`;
    });
    const trace = await loadTrace([unit(keys.join(' '))]);
    const o = { sizes: [0.05], policies: ['redis-lru', 'learned'], quiet: true };
    const hits = () =>
      benchLoadedTrace('t', trace, o).results.map((r) => [r.policy, r.cacheSize, r.hitRatio]);
    const prefix = tracePrefix(trace, 20_000);
    expect([prefix.requests, prefix.uniqueKeys, prefix.sized]).toEqual([
      20_000,
      trace.uniqueKeys,
      false,
    ]);
    expect(prefix.ids).toEqual(trace.ids.subarray(0, 20_000));
    const before = hits();
    warmUpJit(trace, o, 40_000, 20_000);
    expect(hits()).toEqual(before);
    // The learned policy did learn in the replays (not a trivially equal pair of LRU runs).
    const learned = before.filter((r) => r[0] === 'learned').map((r) => r[2] as number);
    const lruHits = before.filter((r) => r[0] === 'lru').map((r) => r[2] as number);
    expect(learned[0]).not.toBe(lruHits[0]);
  }, 120_000);

  it('min vs LRU is the lowest cumulative difference over the checkpoints, in points', () => {
    // After 10,000 requests 5 vs 6 hits (−0.01 pt), after 15,000: 15 vs 12 (+0.02 pt).
    expect(minVsLru([5, 15], [6, 12], 15_000)).toBe(-0.01);
    expect(minVsLru([7, 15], [6, 12], 15_000)).toBe(0);
    expect(minVsLru([7], undefined, 15_000)).toBeNaN();
  });

  it('gap closed is (h − LRU) / (Bélády − LRU)', () => {
    expect(gapClosed(0.5, 0.4, 0.6)).toBeCloseTo(0.5, 12);
    expect(gapClosed(0.4, 0.4, 0.4)).toBeNaN();
  });
});
