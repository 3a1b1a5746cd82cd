/**
 * @module policy/redis-lru
 * Redis' approximated LRU (`maxmemory-policy allkeys-lru`, redis `src/evict.c`; described in the
 * Redis docs "Key eviction" and by Sanfilippo, "Random notes on improving the Redis LRU
 * algorithm", 2016). Redis keeps no LRU list: each key stores its last access time, and to evict
 * it samples `maxmemory-samples` (5) keys, puts them into an eviction pool of 16 candidates kept
 * sorted by idle time (a candidate enters if the pool has room or it is idler than the least idle
 * entry, which is then dropped), and evicts the idlest pool entry that still exists.
 *
 * What this implements, seeded (`PolicyOptions.seed`, default 1): the 5 samples are drawn
 * uniformly with replacement from the cached keys (Redis' `dictGetSomeKeys` walks random
 * buckets, close to uniform for this purpose); idle time is measured in requests (`vtime`), not
 * in Redis' 1-second LRU clock ticks, i.e. an exact clock; pool entries keep the idle time
 * computed when they were sampled (stale, as in Redis) and are skipped when their key has left
 * the cache; a key already in the pool is not added twice (its idle time is refreshed).
 */
import {
  evictionPolicies,
  type CacheRequest,
  type EvictionPolicy,
  type PolicyOptions,
} from './eviction-policy.js';
import { checkOptions, seededRandom, SlotTable } from './slot-table.js';

/** Redis' default `maxmemory-samples`. */
export const REDIS_SAMPLES = 5;
/** Redis' `EVPOOL_SIZE`. */
export const REDIS_POOL_SIZE = 16;

export class RedisLruPolicy implements EvictionPolicy {
  readonly id = 'redis-lru';
  readonly usesFuture = false;
  evictions = 0;
  used = 0;
  private readonly capacity: number;
  private readonly bytes: boolean;
  private readonly random: () => number;
  private readonly t: SlotTable;
  /** Last access vtime per slot. */
  private lastAccess = new Float64Array(1024);
  /** Dense array of cached slots, for uniform sampling; `where[slot]` is the position. */
  private dense = new Int32Array(1024);
  private where = new Int32Array(1024);
  private count = 0;
  /**
   * Eviction pool, ascending idle time: keys, their key ids (−1 without ids: looked up by key)
   * and their idle time when sampled.
   */
  private readonly poolKeys: string[] = [];
  private readonly poolIds: number[] = [];
  private readonly poolIdle: number[] = [];
  private now = 0;

  constructor(o: PolicyOptions) {
    this.capacity = checkOptions('redis-lru', o);
    this.bytes = o.unit === 'bytes';
    this.random = seededRandom(o.seed ?? 1);
    this.t = new SlotTable(this.bytes ? 1024 : Math.min(this.capacity + 1, 1 << 20));
  }

  has(key: string): boolean {
    return this.t.slotOf(key) !== -1;
  }

  access(req: CacheRequest): boolean {
    const t = this.t;
    this.now = req.vtime;
    const s = t.lookup(req.key, req.keyId);
    if (s !== -1) {
      this.lastAccess[s] = req.vtime;
      return true;
    }
    const w = this.bytes ? req.sizeBytes : 1;
    if (w > this.capacity) return false;
    while (this.used + w > this.capacity) this.evictOne();
    const n = t.alloc(req.key, w, req.keyId);
    this.ensure(n);
    this.lastAccess[n] = req.vtime;
    this.where[n] = this.count;
    this.dense[this.count++] = n;
    this.used += w;
    return false;
  }

  private evictOne(): void {
    const t = this.t;
    for (;;) {
      this.populate();
      // Idlest first; skip entries whose key has left (or was re-admitted: Redis re-checks the
      // key exists, not its idle time).
      while (this.poolKeys.length > 0) {
        const key = this.poolKeys.pop()!;
        const keyId = this.poolIds.pop()!;
        this.poolIdle.pop();
        const v = t.lookup(key, keyId);
        if (v === -1) continue;
        this.removeDense(v);
        this.used -= t.weight[v]!;
        t.release(v);
        this.evictions++;
        return;
      }
    }
  }

  /** Samples {@link REDIS_SAMPLES} cached keys into the pool (Redis `evictionPoolPopulate`). */
  private populate(): void {
    const keys = this.poolKeys;
    const ids = this.poolIds;
    const idles = this.poolIdle;
    for (let j = 0; j < REDIS_SAMPLES; j++) {
      const s = this.dense[Math.floor(this.random() * this.count)]!;
      const key = this.t.keys[s]!;
      const keyId = this.t.idOf(s);
      const idle = this.now - this.lastAccess[s]!;
      const existing = keys.indexOf(key);
      if (existing !== -1) {
        keys.splice(existing, 1);
        ids.splice(existing, 1);
        idles.splice(existing, 1);
      }
      // First position whose idle time is not below ours.
      let k = 0;
      while (k < keys.length && idles[k]! < idle) k++;
      if (keys.length >= REDIS_POOL_SIZE) {
        // Full: not idler than anything → skip; else drop the least idle (position 0).
        if (k === 0) continue;
        keys.shift();
        ids.shift();
        idles.shift();
        k--;
      }
      keys.splice(k, 0, key);
      ids.splice(k, 0, keyId);
      idles.splice(k, 0, idle);
    }
  }

  private removeDense(s: number): void {
    const i = this.where[s]!;
    const last = this.dense[--this.count]!;
    this.dense[i] = last;
    this.where[last] = i;
  }

  private ensure(slot: number): void {
    if (slot < this.dense.length) return;
    let n = this.dense.length;
    while (n <= slot) n *= 2;
    const grow32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.dense = grow32(this.dense);
    this.where = grow32(this.where);
    const la = new Float64Array(n);
    la.set(this.lastAccess);
    this.lastAccess = la;
  }
}

evictionPolicies.register('redis-lru', (o) => new RedisLruPolicy(o));
