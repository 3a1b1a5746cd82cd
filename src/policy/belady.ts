/**
 * @module policy/belady
 * Bélády's MIN, the offline optimum (Belady, "A study of replacement algorithms for a
 * virtual-storage computer", IBM Systems Journal 1966): evict the object whose next request is
 * farthest in the future. THIS POLICY READS THE FUTURE (`usesFuture = true`): it is the CEILING
 * learned and online policies are reported against, never a policy to deploy.
 *
 * The new object competes too: it is inserted, then the farthest objects go until the cache fits;
 * if the farthest is the new object itself it is simply not admitted (bypass), which is what
 * makes MIN optimal for unit sizes. Objects never requested again count as infinitely far. With
 * variable sizes (unit 'bytes') optimal caching is NP-hard; farthest-next-request is the usual
 * ceiling there (as in libCacheSim's Belady), not a proven optimum.
 *
 * Needs `nextAccessVtime` on every request: run it through the simulator, which provides it.
 */
import { ERROR_CODES, PrescientError } from '../errors.js';
import {
  evictionPolicies,
  type CacheRequest,
  type EvictionPolicy,
  type PolicyOptions,
} from './eviction-policy.js';
import { checkOptions, SlotHeap, SlotTable } from './slot-table.js';

const NEVER = Number.MAX_SAFE_INTEGER;

export class BeladyPolicy implements EvictionPolicy {
  readonly id = 'belady';
  readonly usesFuture = true;
  evictions = 0;
  used = 0;
  private readonly capacity: number;
  private readonly bytes: boolean;
  private readonly t: SlotTable;
  /** Min-heap on −(next request): the top is the farthest. */
  private readonly heap = new SlotHeap();

  constructor(o: PolicyOptions) {
    this.capacity = checkOptions('belady', o);
    this.bytes = o.unit === 'bytes';
    this.t = new SlotTable(this.bytes ? 1024 : Math.min(this.capacity + 2, 1 << 20));
  }

  has(key: string): boolean {
    return this.t.slotOf(key) !== -1;
  }

  access(req: CacheRequest): boolean {
    const nextVtime = req.nextAccessVtime;
    if (nextVtime === undefined) {
      throw new PrescientError(
        ERROR_CODES.INTERNAL,
        'belady needs nextAccessVtime on every request; replay it with simulate(), which provides it',
      );
    }
    const far = nextVtime < 0 ? NEVER : nextVtime;
    const t = this.t;
    const heap = this.heap;
    const s = t.lookup(req.key, req.keyId);
    if (s !== -1) {
      heap.primary[s] = -far;
      heap.update(s);
      return true;
    }
    const w = this.bytes ? req.sizeBytes : 1;
    if (w > this.capacity) return false;
    const n = t.alloc(req.key, w, req.keyId);
    heap.ensure(n);
    heap.primary[n] = -far;
    // Ties (several never requested again): evict the older admission first.
    heap.secondary[n] = req.vtime;
    heap.push(n);
    this.used += w;
    while (this.used > this.capacity) {
      const v = heap.top();
      heap.remove(v);
      this.used -= t.weight[v]!;
      t.release(v);
      if (v !== n) this.evictions++;
    }
    return false;
  }
}

evictionPolicies.register('belady', (o) => new BeladyPolicy(o));
