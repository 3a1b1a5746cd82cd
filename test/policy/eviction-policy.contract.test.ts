/**
 * The contract every eviction policy passes (hono `common.case.test.ts` style): every registered
 * id, including `learned` once src/learn registers it, plus golden tests on tiny traces whose
 * hits are computed by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import { ABLATION_POLICY_IDS } from '../../src/learn/eviction/ablation.js';
import '../../src/learn/eviction-registration.js';
import '../../src/policy/builtin.js';
import {
  evictionPolicies,
  type CacheRequest,
  type EvictionPolicy,
  type PolicyOptions,
} from '../../src/policy/eviction-policy.js';
import { seededRandom } from '../../src/policy/slot-table.js';
import {
  computeNextAccess,
  loadTrace,
  simulate,
  simulateLoaded,
  type SimResult,
} from '../../src/sim/cache-sim.js';
import type { TraceRequest } from '../../src/sim/trace-reader.js';

interface Req {
  readonly key: string;
  readonly sizeBytes: number;
}

/** Drives `policy` by hand (the simulator's job), giving the future only to `usesFuture`. */
function drive(
  policy: EvictionPolicy,
  trace: readonly Req[],
  each?: (hit: boolean, i: number) => void,
): boolean[] {
  const ids = new Map<string, number>();
  const idOf = new Int32Array(trace.length);
  trace.forEach((r, i) => {
    if (!ids.has(r.key)) ids.set(r.key, ids.size);
    idOf[i] = ids.get(r.key)!;
  });
  const next = computeNextAccess(idOf, ids.size);
  return trace.map((r, i) => {
    const req: CacheRequest = policy.usesFuture
      ? { key: r.key, sizeBytes: r.sizeBytes, vtime: i, nextAccessVtime: next[i]! }
      : { key: r.key, sizeBytes: r.sizeBytes, vtime: i };
    const hit = policy.access(req);
    each?.(hit, i);
    return hit;
  });
}

const unit = (s: string): Req[] => s.split(' ').map((key) => ({ key, sizeBytes: 1 }));
const make = (id: string, o: PolicyOptions) => evictionPolicies.create(id, o);
const hits = (id: string, capacity: number, trace: string) =>
  drive(make(id, { capacity, unit: 'objects' }), unit(trace)).map((h) => (h ? 1 : 0));

function randomTrace(n: number, keys: number, maxSize: number, seed: number): Req[] {
  const rnd = seededRandom(seed);
  const sizes = Array.from({ length: keys }, () => 1 + Math.floor(rnd() * maxSize));
  // Skewed popularity (squared uniform) so hits happen.
  return Array.from({ length: n }, () => {
    const k = Math.floor(rnd() * rnd() * keys);
    return { key: `k${k}`, sizeBytes: maxSize === 1 ? 1 : sizes[k]! };
  });
}

describe.each(evictionPolicies.ids())('eviction policy %s: contract', (id) => {
  for (const mode of ['objects', 'bytes'] as const) {
    const capacity = mode === 'objects' ? 20 : 400;
    const trace = randomTrace(4000, 150, mode === 'objects' ? 1 : 40, 7);
    const keys = [...new Set(trace.map((r) => r.key))];

    it(`${mode}: never exceeds capacity, hit iff cached, evictions counted`, () => {
      const p = make(id, { capacity, unit: mode, seed: 3 });
      expect(p.id).toBe(id);
      let admissions = 0;
      let hitCount = 0;
      let wasCached = false;
      drive(p, trace, (hit, i) => {
        const r = trace[i]!;
        expect(hit).toBe(wasCached);
        if (hit) hitCount++;
        else if (p.has(r.key)) admissions++;
        expect(p.used).toBeLessThanOrEqual(capacity);
        expect(p.used).toBeGreaterThanOrEqual(0);
        const nextReq = trace[i + 1];
        wasCached = nextReq !== undefined && p.has(nextReq.key);
      });
      // `wasCached` for request 0: nothing is cached yet, so the first request must miss.
      const cachedNow = keys.filter((k) => p.has(k)).length;
      expect(hitCount).toBeGreaterThan(0);
      expect(p.evictions).toBe(admissions - cachedNow);
      expect(p.evictions).toBeGreaterThan(0);
    });

    it(`${mode}: deterministic for a seed`, () => {
      const a = drive(make(id, { capacity, unit: mode, seed: 42 }), trace);
      const b = drive(make(id, { capacity, unit: mode, seed: 42 }), trace);
      expect(a).toEqual(b);
    });
  }

  it('a repeat of the key just requested hits (capacity ≥ 1)', () => {
    for (const capacity of [1, 2, 3, 10, 100]) {
      const p = make(id, { capacity, unit: 'objects' });
      const trace = randomTrace(300, 50, 1, capacity).flatMap((r) => [r, r]);
      const h = drive(p, trace);
      for (let i = 1; i < h.length; i += 2) expect(h[i]).toBe(true);
    }
    // Bytes: objects up to a tenth of the capacity (S3-FIFO admits nothing larger than its small
    // queue, a tenth of the cache, as in libCacheSim).
    const p = make(id, { capacity: 1000, unit: 'bytes' });
    const trace = randomTrace(300, 50, 100, 5).flatMap((r) => [r, r]);
    const h = drive(p, trace);
    for (let i = 1; i < h.length; i += 2) expect(h[i]).toBe(true);
  });

  it('bytes: an object larger than the capacity is not admitted', () => {
    const p = make(id, { capacity: 100, unit: 'bytes' });
    drive(p, [
      { key: 'a', sizeBytes: 5 },
      { key: 'a', sizeBytes: 5 },
    ]);
    const used = p.used;
    const h = drive(p, [
      { key: 'big', sizeBytes: 101 },
      { key: 'big', sizeBytes: 101 },
    ]);
    expect(h).toEqual([false, false]);
    expect(p.has('big')).toBe(false);
    expect(p.used).toBe(used);
  });

  it('capacity 0 caches nothing', () => {
    const p = make(id, { capacity: 0, unit: 'objects' });
    expect(drive(p, unit('a a b a'))).toEqual([false, false, false, false]);
    expect(p.used).toBe(0);
  });
});

describe('registry', () => {
  it('has the built-in ids; an unknown id fails listing them', () => {
    expect(evictionPolicies.ids()).toEqual(
      expect.arrayContaining([
        'lru',
        'fifo',
        'lfu',
        'arc',
        'sieve',
        's3fifo',
        'wtinylfu',
        'redis-lru',
        'belady',
      ]),
    );
    expect(() => make('nope', { capacity: 1, unit: 'objects' })).toThrow(
      expect.objectContaining({ code: 'PRESCIENT_E_CONFIG' }),
    );
  });

  it('only the ceilings read the future: belady and the learned ablations', () => {
    const future = evictionPolicies
      .ids()
      .filter((id) => make(id, { capacity: 1, unit: 'objects' }).usesFuture);
    expect(future.sort()).toEqual(['belady', ...ABLATION_POLICY_IDS].sort());
    expect(make('learned', { capacity: 1, unit: 'objects' }).usesFuture).toBe(false);
  });
});

describe('golden traces (hits computed by hand)', () => {
  it('lru, capacity 2: a b c a d a b', () => {
    // a m [a] · b m [b a] · c m, evict a [c b] · a m, evict b [a c] · d m, evict c [d a]
    // · a HIT [a d] · b m, evict d [b a]
    expect(hits('lru', 2, 'a b c a d a b')).toEqual([0, 0, 0, 0, 0, 1, 0]);
  });

  it('fifo, capacity 2: a b a c a', () => {
    // a m [a] · b m [a b] · a HIT (no move) · c m, evict a (oldest) [b c] · a m
    // (LRU would have kept a: a b a c a → 0 0 1 0 1)
    expect(hits('fifo', 2, 'a b a c a')).toEqual([0, 0, 1, 0, 0]);
    expect(hits('lru', 2, 'a b a c a')).toEqual([0, 0, 1, 0, 1]);
  });

  it('lfu (dynamic aging), capacity 2: a a b c a d', () => {
    // L = 0. a m K=1 · a HIT f=2 K=2 · b m K=1 · c m: evict b (K 1), L=1, c K=L+1=2
    // · a HIT f=3 K=L+3=4 · d m: evict c (K 2), L=2, d K=3 → cache {a, d}
    // (LRU: a m · a h · b m · c m evict a · a m · d m → 0 1 0 0 0 0)
    const p = make('lfu', { capacity: 2, unit: 'objects' });
    expect(drive(p, unit('a a b c a d')).map(Number)).toEqual([0, 1, 0, 0, 1, 0]);
    expect(['a', 'b', 'c', 'd'].filter((k) => p.has(k))).toEqual(['a', 'd']);
    expect(hits('lru', 2, 'a a b c a d')).toEqual([0, 1, 0, 0, 0, 0]);
  });

  it('lfu ages: an object popular long ago is evicted once others catch up', () => {
    // Capacity 1: a a a (K=3), then b m: evict a, L=3, b K=4. No plain-LFU lock-in.
    const p = make('lfu', { capacity: 1, unit: 'objects' });
    drive(p, unit('a a a b'));
    expect(p.has('b')).toBe(true);
  });

  it('arc, capacity 2: a b a c b a b c (Figure 4 of the paper)', () => {
    // p=0. a m T1=[a] · b m T1=[b a] · a HIT → T2=[a], T1=[b]
    // · c m (case IV B, total 2 ≥ c): REPLACE, |T1|=1 > p=0 → b to B1; T1=[c]
    // · b m, ghost hit in B1: p=1; REPLACE: |T1|=1 not > p → a (T2 LRU) to B2; T2=[b]
    // · a m, ghost hit in B2: p=0; REPLACE: |T1|=1 > 0 → c to B1; T2=[a b]
    // · b HIT T2=[b a] · c m, ghost hit in B1: p=1; REPLACE: T1 empty → a (T2 LRU) to B2;
    //   T2=[c b], B2=[a]
    const p = make('arc', { capacity: 2, unit: 'objects' });
    expect(drive(p, unit('a b a c b a b c')).map(Number)).toEqual([0, 0, 1, 0, 0, 0, 1, 0]);
    expect(['a', 'b', 'c'].filter((k) => p.has(k))).toEqual(['b', 'c']);
    // a is now a B2 ghost: requesting it shrinks p and evicts from T1 if |T1| > p, else T2.
    expect(p.access({ key: 'a', sizeBytes: 1, vtime: 8 })).toBe(false);
    // p = max(0, 1 − 1) = 0; T1 empty → REPLACE evicts b (T2 LRU); T2=[a c]
    expect(['a', 'b', 'c'].filter((k) => p.has(k))).toEqual(['a', 'c']);
  });

  it('sieve, capacity 2: a b b a c b', () => {
    // a m [a] · b m [b a] (head first) · b HIT visited · a HIT visited
    // · c m: hand at tail a: visited → clear, to b: visited → clear, wrap to tail a: evict a;
    //   hand → b. [c b] · b HIT (LRU would have evicted b: 0 0 1 1 0 0)
    expect(hits('sieve', 2, 'a b b a c b')).toEqual([0, 0, 1, 1, 0, 1]);
    expect(hits('lru', 2, 'a b b a c b')).toEqual([0, 0, 1, 1, 0, 0]);
  });

  it('s3fifo, capacity 10 (small 1, main 9, ghost 9)', () => {
    // Original S3-FIFO (SOSP'23, libCacheSim S3FIFOv0): every non-ghost miss enters small, even
    // while the cache fills. a..j m → small [j..a] (10, no eviction before the cache is full)
    // · k m: main 0 not over 9 → evict small: a (freq 0) → ghost [a]; k → small
    // · a m, ghost hit: evict small b → ghost; a → main [a] · b m, ghost hit: evict small c →
    //   ghost; b → main [b a] · l m: evict small d → ghost [d c]; l → small [l k j i h g f e]
    // · k HIT (small, freq 1) · c m, ghost hit: evict small e → ghost; c → main [c b a]
    // · a HIT (main) · d m, ghost hit: evict small f → ghost; d → main [d c b a]
    const p = make('s3fifo', { capacity: 10, unit: 'objects' });
    const h = drive(p, unit('a b c d e f g h i j k a b l k c a d')).map(Number);
    expect(h).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0]);
    // Evicted from small: a, b, c, d, e, f.
    expect(p.evictions).toBe(6);
    expect(['a', 'b', 'c', 'd', 'k', 'l'].every((k) => p.has(k))).toBe(true);
    expect(['e', 'f'].some((k) => p.has(k))).toBe(false);
  });

  it('wtinylfu, capacity 2 (window 1, main 1): a a a b c a b c', () => {
    // a m, window [a] (sketch a=1) · a HIT a=2 · a HIT a=3
    // · b m b=1: window [b a] over 1 → candidate a; main has room → probation [a]
    // · c m c=1: candidate b (freq 1) vs victim a (freq 3) → b evicted; window [c]
    // · a HIT (a=4; to protected) · b m (b=2): candidate c (1) vs a (4) → c evicted
    // · c m (c=2): candidate b (2) vs a (4) → b evicted
    // LRU, capacity 2: 0 1 1 0 0 0 0 0
    const p = make('wtinylfu', { capacity: 2, unit: 'objects' });
    expect(drive(p, unit('a a a b c a b c')).map(Number)).toEqual([0, 1, 1, 0, 0, 1, 0, 0]);
    expect(['a', 'b', 'c'].filter((k) => p.has(k))).toEqual(['a', 'c']);
    expect(hits('lru', 2, 'a a a b c a b c')).toEqual([0, 1, 1, 0, 0, 0, 0, 0]);
  });

  it('wtinylfu admission: the window victim competes, ties reject, misses count', () => {
    const cached = (p: EvictionPolicy) => ['a', 'b', 'c', 'd'].filter((k) => p.has(k));
    // Capacity 2 → window 1, main 1. a m [a] · b m: window victim a → main (room) · c m: the
    // candidate is b (the window victim, not the new key c): freq b 1 = freq a 1 → rejected.
    const tie = make('wtinylfu', { capacity: 2, unit: 'objects' });
    expect(drive(tie, unit('a b c')).map(Number)).toEqual([0, 0, 0]);
    expect(cached(tie)).toEqual(['a', 'c']);
    // a m · b m (a → main) · b HIT (b=2) · c m: candidate b (2) > victim a (1) → a evicted.
    const win = make('wtinylfu', { capacity: 2, unit: 'objects' });
    expect(drive(win, unit('a b b c')).map(Number)).toEqual([0, 0, 1, 0]);
    expect(cached(win)).toEqual(['b', 'c']);
    // Misses are counted too: a m · b m (a → main) · c m: b (1) vs a (1) → b out · b m (b=2,
    // a miss) : c (1) vs a (1) → c out · d m: candidate b (2) > a (1) → a evicted.
    const miss = make('wtinylfu', { capacity: 2, unit: 'objects' });
    expect(drive(miss, unit('a b c b d')).map(Number)).toEqual([0, 0, 0, 0, 0]);
    expect(cached(miss)).toEqual(['b', 'd']);
  });

  it('redis-lru with capacity 1 is LRU (the only sample is the only key)', () => {
    expect(hits('redis-lru', 1, 'a a b b a c c a')).toEqual(hits('lru', 1, 'a a b b a c c a'));
  });

  it('redis-lru approximates LRU on a skewed trace and depends on its seed', () => {
    const trace = randomTrace(20_000, 2000, 1, 11);
    const ratio = (p: EvictionPolicy) => drive(p, trace).filter(Boolean).length / trace.length;
    const lru = ratio(make('lru', { capacity: 100, unit: 'objects' }));
    const r1 = ratio(make('redis-lru', { capacity: 100, unit: 'objects', seed: 1 }));
    const r2 = drive(make('redis-lru', { capacity: 100, unit: 'objects', seed: 2 }), trace);
    expect(Math.abs(r1 - lru)).toBeLessThan(0.02);
    expect(r2).not.toEqual(
      drive(make('redis-lru', { capacity: 100, unit: 'objects', seed: 1 }), trace),
    );
  });

  it('belady, capacity 2: a b c a d a b (reads the future)', () => {
    // next uses: a0→3, b1→6, c2→never, a3→5, d4→never, a5→never, b6→never
    // a m · b m · c m: c never again → not admitted · a HIT · d m: never again → not admitted
    // · a HIT · b HIT   (LRU: 1 hit)
    expect(hits('belady', 2, 'a b c a d a b')).toEqual([0, 0, 0, 1, 0, 1, 1]);
  });

  it('belady refuses to run without nextAccessVtime', () => {
    const p = make('belady', { capacity: 2, unit: 'objects' });
    expect(() => p.access({ key: 'a', sizeBytes: 1, vtime: 0 })).toThrow(
      expect.objectContaining({ code: 'PRESCIENT_E_INTERNAL' }),
    );
  });

  it('lru in bytes, capacity 10: a(6) b(3) c(4) a(6) c(4)', () => {
    // a m used 6 · b m 9 · c m: 9+4 > 10 → evict a → 3, +4 = 7 · a m: 7+6 > 10 → evict b → 4,
    // +6 = 10 · c HIT
    const p = make('lru', { capacity: 10, unit: 'bytes' });
    const trace: Req[] = [
      { key: 'a', sizeBytes: 6 },
      { key: 'b', sizeBytes: 3 },
      { key: 'c', sizeBytes: 4 },
      { key: 'a', sizeBytes: 6 },
      { key: 'c', sizeBytes: 4 },
    ];
    expect(drive(p, trace)).toEqual([false, false, false, false, true]);
    expect(p.used).toBe(10);
    expect(p.evictions).toBe(2);
  });
});

/**
 * Wraps `p` to record its answers and whether each request carried a key id; the policy itself is
 * what `simulate` / `simulateLoaded` drive.
 */
function recording(p: EvictionPolicy) {
  const hits: boolean[] = [];
  const withIds: boolean[] = [];
  const policy: EvictionPolicy = {
    id: p.id,
    usesFuture: p.usesFuture,
    get evictions() {
      return p.evictions;
    },
    get used() {
      return p.used;
    },
    has: (key) => p.has(key),
    access: (req) => {
      withIds.push(req.keyId !== undefined);
      const hit = p.access(req);
      hits.push(hit);
      return hit;
    },
  };
  return { policy, hits, withIds };
}

describe.each(evictionPolicies.ids())('eviction policy %s: key ids change nothing', (id) => {
  for (const mode of ['objects', 'bytes'] as const) {
    // More distinct keys than a slot table starts with, so the id → slot array grows. The oracle's
    // next accesses (1-based) let the ceilings stream too; timestamps in bytes mode give the
    // simulator's other request shapes.
    const reqs = randomTrace(6000, 3000, mode === 'objects' ? 1 : 40, 13);
    const idOf = new Map<string, number>();
    const ids = Int32Array.from(reqs, (r) => {
      if (!idOf.has(r.key)) idOf.set(r.key, idOf.size);
      return idOf.get(r.key)!;
    });
    const next = computeNextAccess(ids, idOf.size);
    const trace: TraceRequest[] = reqs.map((r, i) => ({
      ...r,
      ...(mode === 'bytes' ? { timestamp: i } : {}),
      nextAccessVtime: next[i]! < 0 ? -1 : next[i]! + 1,
    }));
    const chunks = [trace.slice(0, 2500), trace.slice(2500)];
    const capacity = mode === 'objects' ? 60 : 2400;

    it(`${mode}: simulateLoaded (key ids) and simulate (keys) give identical hits`, async () => {
      const o = { capacity, unit: mode, seed: 5 };
      const byKey = recording(make(id, o));
      const byId = recording(make(id, o));
      const a: SimResult = await simulate(chunks, byKey.policy);
      const b = simulateLoaded(await loadTrace(chunks), byId.policy);
      expect(byKey.withIds.some(Boolean)).toBe(false);
      expect(byId.withIds.every(Boolean)).toBe(true);
      expect(a.hits).toBeGreaterThan(0);
      expect(byId.hits).toEqual(byKey.hits);
      expect([b.hits, b.byteHits, b.evictions]).toEqual([a.hits, a.byteHits, a.evictions]);
      expect(byId.policy.used).toBe(byKey.policy.used);
      // `has` by key string agrees in both modes (a scan of the slots in id mode).
      const keys = [...idOf.keys()];
      const cached = keys.filter((k) => byKey.policy.has(k));
      expect(cached.length).toBeGreaterThan(0);
      expect(keys.filter((k) => byId.policy.has(k))).toEqual(cached);
    });
  }
});
