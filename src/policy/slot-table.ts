/**
 * @module policy/slot-table
 * Shared plumbing of the eviction policies, built for replay speed (millions of requests a
 * second): a key → slot index over parallel typed arrays, intrusive doubly-linked lists that
 * thread those slots (a slot sits in at most one list at a time), an indexed binary min-heap over
 * slots, and a seeded PRNG. Same idea as libCacheSim's `cache_obj_t` pool with list pointers:
 * one index lookup per request, no allocation per request.
 *
 * The index has two modes. Requests that carry a dense key id ({@link CacheRequest.keyId}, set by
 * the simulator replaying a loaded trace) are looked up in a growable `Int32Array` id → slot: an
 * array read instead of hashing a string, which was most of the time of an LRU replay. Requests
 * without one (the streaming simulator, the engine) use a `Map` key → slot. The first admission
 * picks the mode; a request without an id arriving in id mode moves the table to the `Map` for
 * good (rebuilt from the resident keys), so a caller that mixes the two stays correct, only
 * slower.
 */
import type { CacheRequest, PolicyOptions } from './eviction-policy.js';

const INITIAL_SLOTS = 1024;
/**
 * Bytes of one key in a `Map<string, number>` (the key strings excluded): 21–46 B measured on
 * Node 20 with `--expose-gc`, 10,000 to 1,000,000 keys (the hash table doubles, so the load
 * factor moves it); the upper end, rounded, is counted.
 */
const MAP_ENTRY_BYTES = 48;
/** "No key id": the key is looked up by string. */
const NO_ID = -1;

const UNDECIDED = 0;
const BY_ID = 1;
const BY_KEY = 2;
type IndexMode = typeof UNDECIDED | typeof BY_ID | typeof BY_KEY;

/** Key ↔ slot table with per-slot weight, list links and two small per-policy fields. */
export class SlotTable {
  /** Key → slot, in key mode. */
  private readonly index = new Map<string, number>();
  /** Key id → slot (−1: absent), in id mode; grows to the largest id seen. */
  private slotById = new Int32Array(0);
  /** Slot → key id, in id mode. */
  private idBySlot: Int32Array;
  private mode: IndexMode = UNDECIDED;
  /** Key of each live slot (undefined once released), in both modes. */
  keys: (string | undefined)[] = [];
  /** Weight charged against the capacity: 1 (objects) or bytes. */
  weight: Float64Array;
  prev: Int32Array;
  next: Int32Array;
  /** Per-policy tag, e.g. which list the slot is in. */
  tag: Uint8Array;
  /** Per-policy small integer, e.g. a frequency counter or a visited bit. */
  aux: Int32Array;
  private free: Int32Array;
  private freeCount = 0;
  private highWater = 0;

  constructor(initialSlots = INITIAL_SLOTS) {
    const n = Math.max(16, initialSlots);
    this.weight = new Float64Array(n);
    this.prev = new Int32Array(n);
    this.next = new Int32Array(n);
    this.tag = new Uint8Array(n);
    this.aux = new Int32Array(n);
    this.free = new Int32Array(n);
    this.idBySlot = new Int32Array(n);
  }

  get capacity(): number {
    return this.weight.length;
  }

  /**
   * Bytes the table holds: its typed arrays at their allocated length (the slots grow by
   * doubling), 8 B per reference in its key array and, in key mode, its `Map`
   * ({@link MAP_ENTRY_BYTES} a key). The key strings are not counted: the caller holds them.
   */
  get bytes(): number {
    return (
      this.weight.byteLength +
      this.prev.byteLength +
      this.next.byteLength +
      this.tag.byteLength +
      this.aux.byteLength +
      this.free.byteLength +
      this.idBySlot.byteLength +
      this.slotById.byteLength +
      8 * this.keys.length +
      MAP_ENTRY_BYTES * this.index.size
    );
  }

  /** Live slots (allocated, not yet released). */
  get size(): number {
    return this.highWater - this.freeCount;
  }

  /**
   * Slot of the key, or −1: by `keyId` when given (a {@link CacheRequest.keyId}) and the table
   * is in id mode, else by `key`. The hot path of every policy.
   */
  lookup(key: string, keyId: number = NO_ID): number {
    if (this.mode === BY_ID) {
      if (keyId >= 0) {
        const byId = this.slotById;
        return keyId < byId.length ? byId[keyId]! : -1;
      }
      this.useKeys();
    }
    const s = this.index.get(key);
    return s === undefined ? -1 : s;
  }

  /**
   * Slot of `key`, or −1, from the string alone (`EvictionPolicy.has`): a `Map` lookup in key
   * mode, a scan of the slots in id mode, where the table keeps no string index (`has` serves
   * tests and diagnostics, not the replay loop).
   */
  slotOf(key: string): number {
    if (this.mode !== BY_ID) return this.lookup(key);
    return this.keys.indexOf(key);
  }

  /** Key id of a live slot, or −1 in key mode (to look it up again with {@link lookup}). */
  idOf(s: number): number {
    return this.mode === BY_ID ? this.idBySlot[s]! : NO_ID;
  }

  /** Takes a slot for `key` (not in the table), indexed by `keyId` when given. */
  alloc(key: string, weight: number, keyId: number = NO_ID): number {
    if (this.mode === UNDECIDED) this.mode = keyId >= 0 ? BY_ID : BY_KEY;
    else if (this.mode === BY_ID && keyId < 0) this.useKeys();
    let s: number;
    if (this.freeCount > 0) {
      s = this.free[--this.freeCount]!;
    } else {
      if (this.highWater === this.weight.length) this.grow();
      s = this.highWater++;
    }
    if (this.mode === BY_ID) {
      if (keyId >= this.slotById.length) this.growIds(keyId);
      this.slotById[keyId] = s;
      this.idBySlot[s] = keyId;
    } else {
      this.index.set(key, s);
    }
    this.keys[s] = key;
    this.weight[s] = weight;
    this.prev[s] = -1;
    this.next[s] = -1;
    this.tag[s] = 0;
    this.aux[s] = 0;
    return s;
  }

  release(s: number): void {
    if (this.mode === BY_ID) {
      this.slotById[this.idBySlot[s]!] = -1;
    } else {
      const key = this.keys[s];
      if (key !== undefined) this.index.delete(key);
    }
    this.keys[s] = undefined;
    this.free[this.freeCount++] = s;
  }

  /** Leaves id mode for good: the `Map` is rebuilt from the live slots' keys. */
  private useKeys(): void {
    this.mode = BY_KEY;
    this.slotById = new Int32Array(0);
    for (let s = 0; s < this.highWater; s++) {
      const key = this.keys[s];
      if (key !== undefined) this.index.set(key, s);
    }
  }

  private growIds(keyId: number): void {
    let n = Math.max(this.slotById.length, this.weight.length);
    while (n <= keyId) n *= 2;
    const b = new Int32Array(n).fill(-1);
    b.set(this.slotById);
    this.slotById = b;
  }

  private grow(): void {
    const n = this.weight.length * 2;
    const g64 = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.weight = g64(this.weight);
    this.prev = g32(this.prev);
    this.next = g32(this.next);
    this.aux = g32(this.aux);
    this.free = g32(this.free);
    this.idBySlot = g32(this.idBySlot);
    const tag = new Uint8Array(n);
    tag.set(this.tag);
    this.tag = tag;
  }
}

/**
 * Intrusive doubly-linked list over a {@link SlotTable}: head = most recently inserted (MRU),
 * tail = oldest (LRU). Tracks its length and total weight.
 */
export class SlotList {
  head = -1;
  tail = -1;
  length = 0;
  weight = 0;

  constructor(private readonly t: SlotTable) {}

  pushFront(s: number): void {
    const { prev, next } = this.t;
    prev[s] = -1;
    next[s] = this.head;
    if (this.head !== -1) prev[this.head] = s;
    else this.tail = s;
    this.head = s;
    this.length++;
    this.weight += this.t.weight[s]!;
  }

  remove(s: number): void {
    const { prev, next } = this.t;
    const p = prev[s]!;
    const n = next[s]!;
    if (p !== -1) next[p] = n;
    else this.head = n;
    if (n !== -1) prev[n] = p;
    else this.tail = p;
    prev[s] = -1;
    next[s] = -1;
    this.length--;
    this.weight -= this.t.weight[s]!;
  }

  moveToFront(s: number): void {
    if (this.head === s) return;
    const { prev, next } = this.t;
    const p = prev[s]!;
    const n = next[s]!;
    // s is not the head, so p !== -1.
    next[p] = n;
    if (n !== -1) prev[n] = p;
    else this.tail = p;
    prev[s] = -1;
    next[s] = this.head;
    prev[this.head] = s;
    this.head = s;
  }

  /** Removes and returns the tail (oldest) slot, or −1 when empty. */
  popBack(): number {
    const s = this.tail;
    if (s !== -1) this.remove(s);
    return s;
  }
}

/**
 * Indexed binary min-heap over slots ordered by (`primary`, `secondary`), both set by the caller
 * before {@link SlotHeap.push} / {@link SlotHeap.update}.
 */
export class SlotHeap {
  heap = new Int32Array(1024);
  /** Position of a slot in `heap`, or −1. */
  pos = new Int32Array(1024).fill(-1);
  primary = new Float64Array(1024);
  secondary = new Float64Array(1024);
  size = 0;

  ensure(slot: number): void {
    if (slot < this.pos.length) return;
    let n = this.pos.length;
    while (n <= slot) n *= 2;
    const pos = new Int32Array(n).fill(-1);
    pos.set(this.pos);
    this.pos = pos;
    const p = new Float64Array(n);
    p.set(this.primary);
    this.primary = p;
    const q = new Float64Array(n);
    q.set(this.secondary);
    this.secondary = q;
    const h = new Int32Array(n);
    h.set(this.heap);
    this.heap = h;
  }

  top(): number {
    return this.size === 0 ? -1 : this.heap[0]!;
  }

  push(slot: number): void {
    this.ensure(slot);
    const i = this.size++;
    this.heap[i] = slot;
    this.pos[slot] = i;
    this.up(i);
  }

  /** Restores order after the slot's keys changed. */
  update(slot: number): void {
    const i = this.pos[slot]!;
    this.up(i);
    this.down(this.pos[slot]!);
  }

  remove(slot: number): void {
    const i = this.pos[slot]!;
    const last = this.heap[--this.size]!;
    this.pos[slot] = -1;
    if (i === this.size) return;
    this.heap[i] = last;
    this.pos[last] = i;
    this.up(i);
    this.down(this.pos[last]);
  }

  private less(a: number, b: number): boolean {
    const pa = this.primary[a]!;
    const pb = this.primary[b]!;
    return pa < pb || (pa === pb && this.secondary[a]! < this.secondary[b]!);
  }

  private up(i: number): void {
    const { heap, pos } = this;
    const s = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const ps = heap[parent]!;
      if (!this.less(s, ps)) break;
      heap[i] = ps;
      pos[ps] = i;
      i = parent;
    }
    heap[i] = s;
    pos[s] = i;
  }

  private down(i: number): void {
    const { heap, pos } = this;
    const s = heap[i]!;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.less(heap[r]!, heap[l]!)) c = r;
      const cs = heap[c]!;
      if (!this.less(cs, s)) break;
      heap[i] = cs;
      pos[cs] = i;
      i = c;
    }
    heap[i] = s;
    pos[s] = i;
  }
}

export { mulberry32 as seededRandom } from '../random.js';

/** Validates the options every policy shares; returns the capacity. */
export function checkOptions(id: string, o: PolicyOptions): number {
  if (!(o.capacity >= 0) || !Number.isFinite(o.capacity)) {
    throw new RangeError(`${id}: capacity must be a finite number ≥ 0, got ${o.capacity}`);
  }
  return o.capacity;
}

/** Weight of a request: 1 in 'objects' mode, its size in 'bytes' mode. */
export function weigher(o: PolicyOptions): (req: CacheRequest) => number {
  return o.unit === 'bytes' ? (req) => req.sizeBytes : () => 1;
}
