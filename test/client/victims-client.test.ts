import { describe, expect, it } from 'vitest';
import { VictimsClient } from '../../src/client/victims-client.js';
import { clientHooks, policyDocument, T0 } from '../helpers/policy-documents.js';

function doc(version: number, generatedAt: number, keys: readonly string[], ttlMs = 30_000) {
  const entries = keys.map((key, i) => ({ key, rank: i + 1, score: 100 - i }));
  return policyDocument('eviction', 'cache-1', 'lru', { version, generatedAt, ttlMs, entries });
}

function client(clock: { now: number }, errors: string[] = []) {
  return new VictimsClient({ node: 'cache-1', clientId: 'cache-1', ...clientHooks(clock, errors) });
}

/** A cache's own recency order: the first key is the least recently used. */
function localLru(keys: string[]) {
  const resident = new Set(keys);
  return {
    isResident: (k: string) => resident.has(k),
    lruKey: () => resident.values().next().value,
    evict: (k: string) => resident.delete(k),
  };
}

describe('VictimsClient', () => {
  it('evicts by local LRU until a document arrives, then by its ranking', () => {
    const clock = { now: T0 };
    const c = client(clock);
    const cache = localLru(['a', 'b', 'c', 'd']);
    expect(c.status()).toMatchObject({ state: 'waiting', source: 'lru', victims: [], version: 0 });
    expect(c.status().detail).toContain('local LRU');
    expect(c.pickVictim(cache.isResident, cache.lruKey)).toEqual({ key: 'a', source: 'lru' });

    expect(c.applyDocument(doc(1, T0, ['c', 'gone', 'b']))).toBe(true);
    expect(c.status()).toMatchObject({
      state: 'live',
      source: 'document',
      version: 1,
      expiresAt: T0 + 30_000,
      victims: ['c', 'gone', 'b'],
    });
    // Ranked keys the cache no longer holds are skipped; each listed key is handed out once.
    const picks = [];
    for (let i = 0; i < 3; i++) {
      const v = c.pickVictim(cache.isResident, cache.lruKey)!;
      cache.evict(v.key);
      picks.push(v);
    }
    expect(picks).toEqual([
      { key: 'c', source: 'document' },
      { key: 'b', source: 'document' },
      { key: 'a', source: 'lru' },
    ]);
    cache.evict('d');
    expect(c.pickVictim(cache.isResident, cache.lruKey)).toBeUndefined();
  });

  it('keeps the last known good document until its TTL, then falls back to LRU and says so', () => {
    const clock = { now: T0 };
    const c = client(clock);
    const cache = localLru(['x', 'y', 'z']);
    c.applyDocument(doc(3, T0, ['z', 'y'], 2_000));
    clock.now = T0 + 2_000;
    expect(c.status().state).toBe('live');
    expect(c.pickVictim(cache.isResident, cache.lruKey)).toEqual({ key: 'z', source: 'document' });

    clock.now = T0 + 5_001;
    expect(c.status()).toMatchObject({ state: 'stale', source: 'lru', victims: [], version: 3 });
    expect(c.status().detail).toBe(
      'version 3 is stale since 3 s: evicting by local LRU until a fresh one arrives',
    );
    expect(c.victims()).toEqual([]);
    expect(c.pickVictim(cache.isResident, cache.lruKey)).toEqual({ key: 'x', source: 'lru' });

    // A fresh version brings the ranking back, from its first key.
    expect(c.applyDocument(doc(4, clock.now, ['y', 'z'], 2_000))).toBe(true);
    expect(c.status()).toMatchObject({ state: 'live', version: 4 });
    expect(c.pickVictim(cache.isResident, cache.lruKey)).toEqual({ key: 'y', source: 'document' });
  });

  it('refuses malformed, older and already stale documents, keeping the last known good', () => {
    const clock = { now: T0 };
    const errors: string[] = [];
    const c = client(clock, errors);
    expect(c.applyDocument(doc(5, T0 - 40_000, ['a']))).toBe(false);
    expect(c.status()).toMatchObject({ state: 'waiting', rejected: 1 });
    expect(c.status().detail).toContain('arrived stale');

    expect(c.applyDocument(doc(5, T0, ['a']))).toBe(true);
    expect(c.applyDocument(doc(4, T0, ['b']))).toBe(false);
    expect(c.applyDocument({ ...doc(6, T0, []), entries: [{ rank: 1 }] })).toBe(false);
    expect(c.applyDocument({ ...doc(6, T0, []), kind: 'weights' })).toBe(false);
    expect(c.applyDocument({ ...doc(6, T0, []), ttlMs: Number.NaN })).toBe(false);
    expect(c.applyDocument(null)).toBe(false);
    expect(c.status()).toMatchObject({ state: 'live', version: 5, victims: ['a'], rejected: 6 });
    expect(errors).toHaveLength(6);
    expect(errors.every((e) => e.startsWith('eviction.cache-1: '))).toBe(true);

    // An empty ranking is valid (a node with no resident key): the cache uses its LRU.
    expect(c.applyDocument(doc(7, T0, []))).toBe(true);
    expect(
      c.pickVictim(
        () => true,
        () => 'k',
      ),
    ).toEqual({ key: 'k', source: 'lru' });
  });
});
