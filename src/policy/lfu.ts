/**
 * @module policy/lfu
 * LFU with Dynamic Aging, LFU-DA (Arlitt, Cherkasova, Dilley, Friedrich, Jin, "Evaluating
 * content management techniques for Web proxy caches", ACM SIGMETRICS PER 2000). Each cached
 * object has the key K = L + F, where F is its request count while cached (1 on admission) and L
 * the cache's age: the K of the last evicted object. The smallest K is evicted (ties: least
 * recently used first). On a hit, K is recomputed with the current L, so objects popular long
 * ago age out instead of squatting forever, the weakness of plain LFU. The cost term C of the
 * paper is 1 (hit-ratio oriented; GDSF would divide by size). Frequencies are forgotten on
 * eviction (in-cache LFU).
 */
import {
  evictionPolicies,
  type CacheRequest,
  type EvictionPolicy,
  type PolicyOptions,
} from './eviction-policy.js';
import { checkOptions, SlotHeap, SlotTable } from './slot-table.js';

export class LfuPolicy implements EvictionPolicy {
  readonly id = 'lfu';
  readonly usesFuture = false;
  evictions = 0;
  used = 0;
  /** The age L: K of the last evicted object. */
  private age = 0;
  private readonly capacity: number;
  private readonly bytes: boolean;
  private readonly t: SlotTable;
  /** Min-heap on (K, last request vtime). */
  private readonly heap = new SlotHeap();

  constructor(o: PolicyOptions) {
    this.capacity = checkOptions('lfu', o);
    this.bytes = o.unit === 'bytes';
    this.t = new SlotTable(this.bytes ? 1024 : Math.min(this.capacity + 1, 1 << 20));
  }

  has(key: string): boolean {
    return this.t.slotOf(key) !== -1;
  }

  access(req: CacheRequest): boolean {
    const t = this.t;
    const heap = this.heap;
    const s = t.lookup(req.key, req.keyId);
    if (s !== -1) {
      const f = ++t.aux[s]!;
      heap.primary[s] = this.age + f;
      heap.secondary[s] = req.vtime;
      heap.update(s);
      return true;
    }
    const w = this.bytes ? req.sizeBytes : 1;
    if (w > this.capacity) return false;
    while (this.used + w > this.capacity) {
      const v = heap.top();
      this.age = heap.primary[v]!;
      heap.remove(v);
      this.used -= t.weight[v]!;
      t.release(v);
      this.evictions++;
    }
    const n = t.alloc(req.key, w, req.keyId);
    t.aux[n] = 1;
    heap.ensure(n);
    heap.primary[n] = this.age + 1;
    heap.secondary[n] = req.vtime;
    heap.push(n);
    this.used += w;
    return false;
  }
}

evictionPolicies.register('lfu', (o) => new LfuPolicy(o));
