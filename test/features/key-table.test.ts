import { describe, expect, it } from 'vitest';
import { FeatureStore } from '../../src/features/feature-store.js';
import type { AccessEvent } from '../../src/telemetry/events.js';
import { BASE_OPTIONS } from './helpers.js';

const get = (key: string, ts: number, hit = true): AccessEvent => ({ ts, key, hit });

describe('key features', () => {
  it('decays counts, keeps gaps newest first and counts hits and misses (hand-computed)', () => {
    const store = new FeatureStore(BASE_OPTIONS);
    store.applyAccess('n1', [
      get('k', 0, false),
      get('k', 60_000),
      { ts: 120_000, key: 'k', hit: false, op: 'set', size: 512 },
    ]);
    const f = store.keyFeatures('n1', 'k')!;
    expect(f.accesses).toBe(3);
    expect(f.decayedCounts[0]).toBeCloseTo(1.75, 6); // 0.25 + 0.5 + 1
    expect(f.asOfMs).toBe(120_000);
    expect(f.gapsMs).toEqual([60_000, 60_000]);
    expect(f.firstSeenMs).toBe(0);
    expect(f.lastAccessMs).toBe(120_000);
    expect(f.sizeBytes).toBe(512);
    // Hits and misses count `get`s only: the set that follows a miss is not a second miss.
    expect(f.hits).toBe(1);
    expect(f.misses).toBe(1);
    expect(f.resident).toBe(true);

    // Another key moves the store clock to 180 s: k's count is read decayed to it.
    store.applyAccess('n1', [get('other', 180_000)]);
    expect(store.keyFeatures('n1', 'k')!.decayedCounts[0]).toBeCloseTo(0.875, 6);
    expect(store.keyFeatures('n1', 'k')!.asOfMs).toBe(180_000);
  });

  it('keeps one counter per half-life and at most 4 gaps', () => {
    const store = new FeatureStore({ ...BASE_OPTIONS, decayHalfLivesSec: [60, 120] });
    store.applyAccess(
      'n1',
      [0, 1000, 3000, 6000, 10_000, 15_000].map((ts) => get('k', ts)),
    );
    const f = store.keyFeatures('n1', 'k')!;
    expect(f.gapsMs).toEqual([5000, 4000, 3000, 2000]);
    const expected = (hl: number) =>
      [0, 1000, 3000, 6000, 10_000, 15_000].reduce(
        (sum, ts) => sum + 2 ** (-(15_000 - ts) / (hl * 1000)),
        0,
      );
    expect(f.decayedCounts[0]).toBeCloseTo(expected(60), 5);
    expect(f.decayedCounts[1]).toBeCloseTo(expected(120), 5);
    expect(f.sizeBytes).toBeNull();
  });

  it('counts an out-of-order access without decay and keeps the latest access time', () => {
    const store = new FeatureStore(BASE_OPTIONS);
    store.applyAccess('n1', [get('k', 60_000), get('k', 0)]);
    const f = store.keyFeatures('n1', 'k')!;
    expect(f.decayedCounts[0]).toBeCloseTo(2, 6);
    expect(f.lastAccessMs).toBe(60_000);
    expect(f.firstSeenMs).toBe(0);
    expect(f.gapsMs).toEqual([0]);
  });

  it('lists LRU victims least recently used first; evict/del leave, the next get/set returns', () => {
    const store = new FeatureStore(BASE_OPTIONS);
    store.applyAccess('n1', [get('a', 1), get('b', 2), get('c', 3), get('d', 4), get('a', 5)]);
    const order = () => store.lruVictims('n1', 10).map((f) => f.key);
    expect(order()).toEqual(['b', 'c', 'd', 'a']);
    expect(store.lruVictims('n1', 2).map((f) => f.key)).toEqual(['b', 'c']);

    store.applyAccess('n1', [
      { ts: 6, key: 'c', hit: false, op: 'evict' },
      { ts: 7, key: 'a', hit: false, op: 'del' },
    ]);
    expect(order()).toEqual(['b', 'd']);
    expect(store.keyFeatures('n1', 'c')!.resident).toBe(false);
    // Eviction is not an access: the history stays as it was.
    expect(store.keyFeatures('n1', 'c')!.accesses).toBe(1);

    store.applyAccess('n1', [{ ts: 8, key: 'c', hit: false, op: 'set', size: 10 }, get('b', 9)]);
    expect(order()).toEqual(['d', 'c', 'b']);
    expect(store.keyFeatures('n1', 'c')!.resident).toBe(true);
    expect(store.keyFeatures('n1', 'c')!.accesses).toBe(2);
    // Nodes are separate lists; a del of an untracked key creates nothing.
    store.applyAccess('n2', [get('a', 10), { ts: 11, key: 'zz', hit: false, op: 'del' }]);
    expect(store.lruVictims('n2', 10).map((f) => f.key)).toEqual(['a']);
    expect(store.keyFeatures('n2', 'zz')).toBeUndefined();
    expect(store.lruVictims('nobody', 10)).toEqual([]);
  });

  it('forgets the least frequently used key when full (table ≤ 8 keys: sampling sees all)', () => {
    const store = new FeatureStore({ ...BASE_OPTIONS, maxTrackedKeys: 4 });
    const events: AccessEvent[] = [];
    let ts = 0;
    for (const [key, n] of [
      ['a', 5],
      ['b', 3],
      ['c', 1],
      ['d', 2],
    ] as const)
      for (let i = 0; i < n; i++) events.push(get(key, ts++));
    store.applyAccess('n1', events);
    store.applyAccess('n1', [get('e', ts++)]);
    expect(store.keyFeatures('n1', 'c')).toBeUndefined();
    for (const k of ['a', 'b', 'd', 'e']) expect(store.keyFeatures('n1', k)).toBeDefined();
    expect(store.stats()).toMatchObject({ trackedKeys: 4, maxTrackedKeys: 4, forgottenKeys: 1 });
    expect(store.lruVictims('n1', 10).map((f) => f.key)).toEqual(['a', 'b', 'd', 'e']);
  });

  it('breaks a frequency tie by forgetting the key accessed longest ago', () => {
    const store = new FeatureStore({ ...BASE_OPTIONS, maxTrackedKeys: 3 });
    // Same ms for all, so the decayed counts are exactly equal (1 each).
    store.applyAccess('n1', [get('x', 500), get('y', 500), get('z', 500)]);
    store.applyAccess('n1', [get('y', 400)]); // out of order: count 2, last access stays 500
    store.applyAccess('n2', [get('w', 500)]);
    // x and z tie at 1 with the same last access; one of them goes, never y.
    expect(store.keyFeatures('n1', 'y')).toBeDefined();
    expect(store.stats().forgottenKeys).toBe(1);

    const older = new FeatureStore({
      ...BASE_OPTIONS,
      maxTrackedKeys: 2,
      decayHalfLivesSec: [1e9],
    });
    older.applyAccess('n1', [get('old', 1000), get('new', 2000)]);
    older.applyAccess('n1', [get('third', 3000)]);
    // With a practically infinite half-life both count ~1; 'old' was accessed longest ago.
    expect(older.keyFeatures('n1', 'old')).toBeUndefined();
    expect(older.keyFeatures('n1', 'new')).toBeDefined();
  });

  it('stays at maxTrackedKeys under a stream of new keys and keeps the hot ones', () => {
    const store = new FeatureStore({
      ...BASE_OPTIONS,
      maxTrackedKeys: 1000,
      decayHalfLivesSec: [60, 3600],
    });
    let ts = 0;
    for (let round = 0; round < 50; round++) {
      const batch: AccessEvent[] = [];
      for (let h = 0; h < 10; h++) batch.push(get(`hot${h}`, ts++));
      for (let i = 0; i < 200; i++) batch.push(get(`cold${round}-${i}`, ts++));
      store.applyAccess('n1', batch);
    }
    const s = store.stats();
    expect(s.trackedKeys).toBe(1000);
    expect(s.forgottenKeys).toBe(10 + 50 * 200 - 1000);
    for (let h = 0; h < 10; h++) expect(store.keyFeatures('n1', `hot${h}`)?.accesses).toBe(50);
    expect(store.lruVictims('n1', 5000)).toHaveLength(1000);
  });
});
