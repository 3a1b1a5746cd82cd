/**
 * @module policy/arc
 * ARC, Adaptive Replacement Cache (Megiddo & Modha, "ARC: A Self-Tuning, Low Overhead
 * Replacement Cache", FAST'03). Two resident LRU lists, T1 (seen once recently) and T2 (seen at
 * least twice), and two ghost lists of evicted keys, B1 and B2. A ghost hit in B1 means T1 was
 * too small: the target size p of T1 grows; a ghost hit in B2 shrinks it. REPLACE evicts from T1
 * when |T1| exceeds p (or equals it on a B2 hit), else from T2, the evicted key entering the
 * matching ghost list.
 *
 * In unit 'objects' this is the paper's Figure 4 exactly (cases I–IV, δ1 = max(1, |B2|/|B1|),
 * δ2 = max(1, |B1|/|B2|)). In unit 'bytes' list sizes are byte sums, the adaptation step is
 * scaled by the object's size, evictions repeat until the object fits, and the ghosts are
 * trimmed to |T1|+|B1| ≤ c and |T1|+|T2|+|B1|+|B2| ≤ 2c (the paper's invariants).
 */
import {
  evictionPolicies,
  type CacheRequest,
  type EvictionPolicy,
  type PolicyOptions,
} from './eviction-policy.js';
import { checkOptions, SlotList, SlotTable } from './slot-table.js';

const T1 = 1;
const T2 = 2;
const B1 = 3;
const B2 = 4;

export class ArcPolicy implements EvictionPolicy {
  readonly id = 'arc';
  readonly usesFuture = false;
  evictions = 0;
  /** Target size of T1 (objects or bytes). */
  private p = 0;
  private readonly c: number;
  private readonly bytes: boolean;
  private readonly t: SlotTable;
  private readonly t1: SlotList;
  private readonly t2: SlotList;
  private readonly b1: SlotList;
  private readonly b2: SlotList;

  constructor(o: PolicyOptions) {
    this.c = checkOptions('arc', o);
    this.bytes = o.unit === 'bytes';
    this.t = new SlotTable(this.bytes ? 1024 : Math.min(2 * this.c + 2, 1 << 20));
    this.t1 = new SlotList(this.t);
    this.t2 = new SlotList(this.t);
    this.b1 = new SlotList(this.t);
    this.b2 = new SlotList(this.t);
  }

  get used(): number {
    return this.t1.weight + this.t2.weight;
  }

  has(key: string): boolean {
    const s = this.t.slotOf(key);
    return s !== -1 && this.t.tag[s]! <= T2;
  }

  access(req: CacheRequest): boolean {
    const t = this.t;
    const s = t.lookup(req.key, req.keyId);
    const tag = s === -1 ? 0 : t.tag[s]!;
    if (s !== -1 && (tag === T1 || tag === T2)) {
      // Case I: hit; to the MRU end of T2.
      if (tag === T1) {
        this.t1.remove(s);
        this.t2.pushFront(s);
        t.tag[s] = T2;
      } else {
        this.t2.moveToFront(s);
      }
      return true;
    }
    const w = this.bytes ? req.sizeBytes : 1;
    if (w > this.c) return false;
    const c = this.c;
    if (s !== -1) {
      // Cases II and III: ghost hit. Adapt p, make room, fetch into T2.
      const inB2 = tag === B2;
      if (!inB2) {
        const d = this.b1.weight >= this.b2.weight ? 1 : this.b2.weight / this.b1.weight;
        this.p = Math.min(c, this.p + d * w);
        this.b1.remove(s);
      } else {
        const d = this.b2.weight >= this.b1.weight ? 1 : this.b1.weight / this.b2.weight;
        this.p = Math.max(0, this.p - d * w);
        this.b2.remove(s);
      }
      // The ghost entry's weight is the size it was evicted with; the request's size wins.
      t.weight[s] = w;
      while (this.used + w > c) this.replace(inB2);
      this.t2.pushFront(s);
      t.tag[s] = T2;
      this.trimGhosts();
      return false;
    }
    // Case IV: a brand-new key.
    if (this.t1.weight + this.b1.weight + w > c) {
      // (A) L1 is full.
      while (this.t1.weight + this.b1.weight + w > c && this.b1.length > 0) this.drop(this.b1);
      if (this.t1.weight + w > c) {
        // T1 alone fills the cache: evict its LRU without keeping a ghost.
        while (this.t1.weight + w > c) {
          t.release(this.t1.popBack());
          this.evictions++;
        }
      }
    } else {
      // (B) L1 has room; keep the whole directory within 2c.
      const total = () => this.t1.weight + this.t2.weight + this.b1.weight + this.b2.weight;
      while (total() + w > 2 * c && this.b2.length > 0) this.drop(this.b2);
      while (total() + w > 2 * c && this.b1.length > 0) this.drop(this.b1);
    }
    while (this.used + w > c) this.replace(false);
    const n = t.alloc(req.key, w, req.keyId);
    t.tag[n] = T1;
    this.t1.pushFront(n);
    this.trimGhosts();
    return false;
  }

  /** REPLACE(x, p): evict the LRU of T1 or T2 into its ghost list. */
  private replace(inB2: boolean): void {
    const t1 = this.t1.weight;
    const fromT1 =
      this.t1.length > 0 && (t1 > this.p || (inB2 && t1 === this.p) || this.t2.length === 0);
    const v = fromT1 ? this.t1.popBack() : this.t2.popBack();
    this.t.tag[v] = fromT1 ? B1 : B2;
    (fromT1 ? this.b1 : this.b2).pushFront(v);
    this.evictions++;
  }

  private drop(ghosts: SlotList): void {
    this.t.release(ghosts.popBack());
  }

  private trimGhosts(): void {
    const c = this.c;
    while (this.t1.weight + this.b1.weight > c && this.b1.length > 0) this.drop(this.b1);
    while (
      this.t1.weight + this.t2.weight + this.b1.weight + this.b2.weight > 2 * c &&
      this.b2.length > 0
    ) {
      this.drop(this.b2);
    }
  }
}

evictionPolicies.register('arc', (o) => new ArcPolicy(o));
