/**
 * @module policy/sieve
 * SIEVE (Zhang, Yang, Yue, Vigfusson, Rashmi, "SIEVE is Simpler than LRU: an Efficient Turn-Key
 * Eviction Algorithm for Web Caches", NSDI'24). One FIFO queue, one visited bit per object and a
 * "hand": new objects enter at the head; a hit only sets the visited bit; to evict, the hand walks
 * from where it stopped towards the head (starting at the tail, wrapping from head to tail),
 * clearing visited bits, and evicts the first unvisited object. Unlike CLOCK, survivors stay in
 * place rather than moving to the head (lazy promotion, quick demotion).
 */
import {
  evictionPolicies,
  type CacheRequest,
  type EvictionPolicy,
  type PolicyOptions,
} from './eviction-policy.js';
import { checkOptions, SlotList, SlotTable } from './slot-table.js';

export class SievePolicy implements EvictionPolicy {
  readonly id = 'sieve';
  readonly usesFuture = false;
  evictions = 0;
  private readonly capacity: number;
  private readonly bytes: boolean;
  private readonly t: SlotTable;
  /** head = newest, tail = oldest; `prev` points towards the head. */
  private readonly queue: SlotList;
  /** Slot the hand points at, −1: start from the tail. */
  private hand = -1;

  constructor(o: PolicyOptions) {
    this.capacity = checkOptions('sieve', o);
    this.bytes = o.unit === 'bytes';
    this.t = new SlotTable(this.bytes ? 1024 : Math.min(this.capacity + 1, 1 << 20));
    this.queue = new SlotList(this.t);
  }

  get used(): number {
    return this.queue.weight;
  }

  has(key: string): boolean {
    return this.t.slotOf(key) !== -1;
  }

  access(req: CacheRequest): boolean {
    const t = this.t;
    const s = t.lookup(req.key, req.keyId);
    if (s !== -1) {
      t.aux[s] = 1;
      return true;
    }
    const w = this.bytes ? req.sizeBytes : 1;
    if (w > this.capacity) return false;
    while (this.queue.weight + w > this.capacity) this.evict();
    this.queue.pushFront(t.alloc(req.key, w, req.keyId));
    return false;
  }

  private evict(): void {
    const t = this.t;
    let h = this.hand === -1 ? this.queue.tail : this.hand;
    while (t.aux[h] === 1) {
      t.aux[h] = 0;
      h = t.prev[h]!;
      if (h === -1) h = this.queue.tail;
    }
    const p = t.prev[h]!;
    this.hand = p;
    this.queue.remove(h);
    t.release(h);
    this.evictions++;
  }
}

evictionPolicies.register('sieve', (o) => new SievePolicy(o));
