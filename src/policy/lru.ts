/**
 * @module policy/lru
 * Least recently used: on a miss, evict the object whose last request is oldest. The classic
 * floor every other policy is measured against; its stack property and one-pass analysis come
 * from Mattson et al., "Evaluation techniques for storage hierarchies", IBM Systems Journal 1970.
 *
 * A key → slot index (a {@link SlotTable}: an array by key id when the simulator gives ids,
 * else a `Map`) plus an intrusive doubly-linked list over typed arrays: O(1) per request, no
 * allocation per request. Bytes mode evicts from the tail until the new object fits; an object
 * larger than the whole capacity is not admitted.
 */
import {
  evictionPolicies,
  type CacheRequest,
  type EvictionPolicy,
  type PolicyOptions,
} from './eviction-policy.js';
import { checkOptions, SlotList, SlotTable } from './slot-table.js';

export class LruPolicy implements EvictionPolicy {
  readonly id: string = 'lru';
  readonly usesFuture = false;
  evictions = 0;
  protected readonly capacity: number;
  protected readonly bytes: boolean;
  protected readonly t: SlotTable;
  protected readonly list: SlotList;

  constructor(o: PolicyOptions) {
    this.capacity = checkOptions('lru', o);
    this.bytes = o.unit === 'bytes';
    this.t = new SlotTable(this.bytes ? 1024 : Math.min(this.capacity + 1, 1 << 20));
    this.list = new SlotList(this.t);
  }

  get used(): number {
    return this.list.weight;
  }

  has(key: string): boolean {
    return this.t.slotOf(key) !== -1;
  }

  access(req: CacheRequest): boolean {
    const s = this.t.lookup(req.key, req.keyId);
    if (s !== -1) {
      this.onHit(s);
      return true;
    }
    const w = this.bytes ? req.sizeBytes : 1;
    if (w > this.capacity) return false;
    while (this.list.weight + w > this.capacity) {
      this.t.release(this.list.popBack());
      this.evictions++;
    }
    this.list.pushFront(this.t.alloc(req.key, w, req.keyId));
    return false;
  }

  protected onHit(s: number): void {
    this.list.moveToFront(s);
  }
}

evictionPolicies.register('lru', (o) => new LruPolicy(o));
