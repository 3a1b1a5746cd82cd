/**
 * @module features/key-table
 * Per-key-per-node access features in struct-of-arrays form: one typed-array column per field,
 * indexed by a slot number, so a million keys cost a few dozen bytes of columns each instead of
 * a JS object each (no per-key hidden class, no per-key GC tracing; the layout of Caffeine's
 * frequency sketch and of column stores generally).
 *
 * Each node has a `Map<string, slot>` and an intrusive doubly-linked LRU list threaded through
 * the `prev`/`next` columns (most recent at the head), so the least recently used resident keys
 * are read from the tail in O(N). An `evict`/`del` op unlinks the key (not resident) but keeps
 * its history; the next `get`/`set` links it again.
 *
 * The table is bounded by `maxTrackedKeys` over all nodes. When a new key arrives at the limit,
 * one key is forgotten: 8 occupied slots are sampled with a seeded mulberry32 PRNG and the one
 * with the lowest decayed count over the longest half-life (ties: oldest last access) goes, like
 * Redis' approximated LFU eviction (`evictionPoolPopulate`, `maxmemory-samples`). Columns start
 * small and double up to the limit, so an idle store does not hold a million empty slots.
 */
import { decayRatePerMs, expNeg } from './decay.js';
import type { NumberColumn, SnapshotReader, SnapshotWriter } from './snapshot-codec.js';

/** Slots sampled per forget decision (Redis' default `maxmemory-samples` is 5; 8 is closer to exact LFU). */
export const FORGET_SAMPLES = 8;
/** Inter-arrival gaps kept per key. */
export const GAP_SLOTS = 4;
const INITIAL_CAPACITY = 1024;
const NIL = -1;

/** Access kinds the table distinguishes (`get`/`set` touch the key, `del`/`evict` make it non-resident). */
export const OP_GET = 0;
export const OP_SET = 1;
export const OP_DEL = 2;
export const OP_EVICT = 3;

// flags column: bit 0 occupied, bit 1 resident, bits 2-3 next gap ring position, bits 4-6 gap count.
const F_OCCUPIED = 1;
const F_RESIDENT = 2;
const GAP_POS_SHIFT = 2;
const GAP_COUNT_SHIFT = 4;

/** mulberry32 (Tommy Ettinger) output for an already advanced 32-bit state. */
function mulberry32Mix(state: number): number {
  let t = Math.imul(state ^ (state >>> 15), state | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/** A plain view of one row, decayed to `asOfMs`. */
export interface KeyRow {
  readonly nodeIndex: number;
  readonly key: string;
  readonly accesses: number;
  readonly decayedCounts: number[];
  readonly lastAccessMs: number;
  readonly firstSeenMs: number;
  readonly gapsMs: number[];
  readonly sizeBytes: number | null;
  readonly hits: number;
  readonly misses: number;
  readonly resident: boolean;
}

export class KeyTable {
  readonly maxKeys: number;
  /** Decay rates λ (per ms), one per half-life, in the order given. */
  readonly rates: Float64Array;
  /** Index in `rates` of the longest half-life (the one forgetting ranks by). */
  private readonly longest: number;
  private readonly h: number;

  private capacity = 0;
  /** Slots ever used: slots ≥ highWater have never held a key. */
  private highWater = 0;
  private freeHead = NIL;
  private size = 0;
  forgotten = 0;
  private rng: number;

  // Columns (see the module comment).
  private keys: string[] = [];
  private nodeOf = new Uint32Array(0);
  private lastAccess = new Float64Array(0);
  private firstSeen = new Float64Array(0);
  private sizeCol = new Float64Array(0);
  private decayed = new Float32Array(0);
  private gaps = new Float32Array(0);
  private accesses = new Uint32Array(0);
  private hits = new Uint32Array(0);
  private misses = new Uint32Array(0);
  private flags = new Uint8Array(0);
  private prev = new Int32Array(0);
  private next = new Int32Array(0);

  // Per node.
  private readonly maps: Map<string, number>[] = [];
  private readonly heads: number[] = [];
  private readonly tails: number[] = [];

  constructor(maxKeys: number, halfLivesSec: readonly number[], seed: number) {
    this.maxKeys = maxKeys;
    this.h = halfLivesSec.length;
    this.rates = Float64Array.from(halfLivesSec, decayRatePerMs);
    let longest = 0;
    for (let i = 1; i < this.h; i++)
      if ((halfLivesSec[i] ?? 0) > (halfLivesSec[longest] ?? 0)) longest = i;
    this.longest = longest;
    this.rng = seed >>> 0;
    this.grow(Math.min(maxKeys, INITIAL_CAPACITY));
  }

  get trackedKeys(): number {
    return this.size;
  }

  get nodeCount(): number {
    return this.maps.length;
  }

  /** Registers node `index` (dense, in order) for the table. */
  addNode(): number {
    this.maps.push(new Map());
    this.heads.push(NIL);
    this.tails.push(NIL);
    return this.maps.length - 1;
  }

  private grow(to: number): void {
    const old = this.capacity;
    const h = this.h;
    // Columns only grow, so every old column fits in the new one.
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(to);
      b.set(a);
      return b;
    };
    const f32 = (a: Float32Array, w: number) => {
      const b = new Float32Array(to * w);
      b.set(a);
      return b;
    };
    const u32 = (a: Uint32Array) => {
      const b = new Uint32Array(to);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(to);
      b.set(a);
      return b;
    };
    const flags = new Uint8Array(to);
    flags.set(this.flags);
    this.flags = flags;
    this.nodeOf = u32(this.nodeOf);
    this.lastAccess = f64(this.lastAccess);
    this.firstSeen = f64(this.firstSeen);
    this.sizeCol = f64(this.sizeCol);
    this.decayed = f32(this.decayed, h);
    this.gaps = f32(this.gaps, GAP_SLOTS);
    this.accesses = u32(this.accesses);
    this.hits = u32(this.hits);
    this.misses = u32(this.misses);
    this.prev = i32(this.prev);
    this.next = i32(this.next);
    this.keys.length = to;
    this.keys.fill('', old, to);
    this.capacity = to;
  }

  /**
   * Applies one event. `clockMs` is the store clock (for ranking keys to forget); `sizeBytes` is
   * -1 when the event has none. Returns nothing and never throws: this is the hot path.
   */
  access(
    node: number,
    key: string,
    tsMs: number,
    op: number,
    hit: boolean,
    sizeBytes: number,
    clockMs: number,
  ): void {
    const map = this.maps[node]!;
    let slot = map.get(key);
    if (slot === undefined) {
      // A del/evict of a key never seen carries no history worth a slot.
      if (op >= OP_DEL) return;
      slot = this.insert(node, map, key, tsMs, clockMs);
    } else if (op >= OP_DEL) {
      const fl = this.flags[slot]!;
      if (fl & F_RESIDENT) {
        this.unlink(node, slot);
        this.flags[slot] = fl & ~F_RESIDENT;
      }
      if (sizeBytes >= 0) this.sizeCol[slot] = sizeBytes;
      return;
    } else {
      this.touch(slot, tsMs);
      const fl = this.flags[slot]!;
      if (!(fl & F_RESIDENT)) {
        this.flags[slot] = fl | F_RESIDENT;
        this.pushHead(node, slot);
      } else if (this.heads[node] !== slot) {
        this.unlink(node, slot);
        this.pushHead(node, slot);
      }
      this.count(slot, op, hit, sizeBytes);
      return;
    }
    this.pushHead(node, slot);
    this.count(slot, op, hit, sizeBytes);
  }

  private count(slot: number, op: number, hit: boolean, sizeBytes: number): void {
    if (op === OP_GET) {
      if (hit) this.hits[slot]!++;
      else this.misses[slot]!++;
    }
    if (sizeBytes >= 0) this.sizeCol[slot] = sizeBytes;
  }

  /** Counts an access to an existing slot: decay, +1, gap ring, last access. */
  private touch(slot: number, tsMs: number): void {
    const last = this.lastAccess[slot]!;
    const dt = tsMs - last;
    const h = this.h;
    const base = slot * h;
    const d = this.decayed;
    if (dt > 0) {
      const rates = this.rates;
      for (let i = 0; i < h; i++) d[base + i] = d[base + i]! * expNeg(rates[i]! * dt) + 1;
      this.lastAccess[slot] = tsMs;
    } else {
      // Out of order or same ms: dt < 0 counts as dt = 0 (decay.ts).
      for (let i = 0; i < h; i++) d[base + i] = d[base + i]! + 1;
      if (tsMs < this.firstSeen[slot]!) this.firstSeen[slot] = tsMs;
    }
    const fl = this.flags[slot]!;
    const pos = (fl >> GAP_POS_SHIFT) & 3;
    const count = (fl >> GAP_COUNT_SHIFT) & 7;
    this.gaps[slot * GAP_SLOTS + pos] = dt > 0 ? dt : 0;
    this.flags[slot] =
      (fl & 3) |
      (((pos + 1) & 3) << GAP_POS_SHIFT) |
      ((count < GAP_SLOTS ? count + 1 : GAP_SLOTS) << GAP_COUNT_SHIFT);
    this.accesses[slot]!++;
  }

  private insert(
    node: number,
    map: Map<string, number>,
    key: string,
    tsMs: number,
    clockMs: number,
  ): number {
    if (this.size >= this.maxKeys) this.forgetOne(clockMs);
    let slot: number;
    if (this.freeHead !== NIL) {
      slot = this.freeHead;
      this.freeHead = this.next[slot]!;
    } else {
      if (this.highWater === this.capacity) this.grow(Math.min(this.maxKeys, this.capacity * 2));
      slot = this.highWater++;
    }
    this.size++;
    map.set(key, slot);
    this.keys[slot] = key;
    this.nodeOf[slot] = node;
    this.lastAccess[slot] = tsMs;
    this.firstSeen[slot] = tsMs;
    this.sizeCol[slot] = -1;
    const h = this.h;
    this.decayed.fill(1, slot * h, slot * h + h);
    this.accesses[slot] = 1;
    this.hits[slot] = 0;
    this.misses[slot] = 0;
    this.flags[slot] = F_OCCUPIED | F_RESIDENT;
    return slot;
  }

  /** Decayed count over the longest half-life, evaluated at `clockMs`. */
  private rank(slot: number, clockMs: number): number {
    const dt = clockMs - this.lastAccess[slot]!;
    const v = this.decayed[slot * this.h + this.longest]!;
    return dt > 0 ? v * expNeg(this.rates[this.longest]! * dt) : v;
  }

  private better(a: number, b: number, clockMs: number): boolean {
    const ra = this.rank(a, clockMs);
    const rb = this.rank(b, clockMs);
    return ra < rb || (ra === rb && this.lastAccess[a]! < this.lastAccess[b]!);
  }

  private forgetOne(clockMs: number): void {
    let victim = NIL;
    if (this.size <= FORGET_SAMPLES) {
      for (let s = 0; s < this.highWater; s++) {
        if (this.flags[s]! & F_OCCUPIED && (victim === NIL || this.better(s, victim, clockMs)))
          victim = s;
      }
    } else {
      for (let i = 0; i < FORGET_SAMPLES; i++) {
        let s: number;
        // Occupied slots are dense when the table is full, so this loop almost never repeats.
        do {
          this.rng = (this.rng + 0x6d2b79f5) | 0;
          s = mulberry32Mix(this.rng) % this.highWater;
        } while (!(this.flags[s]! & F_OCCUPIED));
        if (victim === NIL || this.better(s, victim, clockMs)) victim = s;
      }
    }
    if (victim === NIL) return;
    this.remove(victim);
    this.forgotten++;
  }

  private remove(slot: number): void {
    const node = this.nodeOf[slot]!;
    if (this.flags[slot]! & F_RESIDENT) this.unlink(node, slot);
    this.maps[node]!.delete(this.keys[slot]!);
    this.keys[slot] = '';
    this.flags[slot] = 0;
    this.next[slot] = this.freeHead;
    this.prev[slot] = NIL;
    this.freeHead = slot;
    this.size--;
  }

  private unlink(node: number, slot: number): void {
    const p = this.prev[slot]!;
    const n = this.next[slot]!;
    if (p === NIL) this.heads[node] = n;
    else this.next[p] = n;
    if (n === NIL) this.tails[node] = p;
    else this.prev[n] = p;
  }

  private pushHead(node: number, slot: number): void {
    const head = this.heads[node]!;
    this.prev[slot] = NIL;
    this.next[slot] = head;
    if (head === NIL) this.tails[node] = slot;
    else this.prev[head] = slot;
    this.heads[node] = slot;
  }

  slotOf(node: number, key: string): number | undefined {
    return this.maps[node]?.get(key);
  }

  /** Resident keys of `node` (walks its LRU list: O(resident), no allocation). */
  residentCount(node: number): number {
    let n = 0;
    for (let s = this.tails[node] ?? NIL; s !== NIL; s = this.prev[s]!) n++;
    return n;
  }

  /** Least recently used resident slots of `node`, oldest first, at most `limit`. */
  lruSlots(node: number, limit: number): number[] {
    const out: number[] = [];
    let s = this.tails[node] ?? NIL;
    while (s !== NIL && out.length < limit) {
      out.push(s);
      s = this.prev[s]!;
    }
    return out;
  }

  /**
   * Resident keys of `node` starting with `prefix`, least recently used first, at most `limit`
   * (walks the LRU list: O(resident); for operator overrides, not the hot path).
   */
  keysWithPrefix(node: number, prefix: string, limit: number): string[] {
    const out: string[] = [];
    for (let s = this.tails[node] ?? NIL; s !== NIL && out.length < limit; s = this.prev[s]!) {
      const key = this.keys[s]!;
      if (key.startsWith(prefix)) out.push(key);
    }
    return out;
  }

  /**
   * The `k` resident slots of `node` with the highest decayed count over half-life `index`
   * (evaluated at `clockMs`), highest first. One pass over the node's LRU list with a small
   * min-heap: O(n log k), no allocation per key.
   */
  hottestSlots(node: number, k: number, index: number, clockMs: number): number[] {
    if (k <= 0) return [];
    const heapSlots: number[] = [];
    const heapValues: number[] = [];
    const rate = this.rates[index]!;
    const siftDown = (i: number) => {
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heapValues.length && heapValues[l]! < heapValues[m]!) m = l;
        if (r < heapValues.length && heapValues[r]! < heapValues[m]!) m = r;
        if (m === i) return;
        [heapValues[i], heapValues[m]] = [heapValues[m]!, heapValues[i]!];
        [heapSlots[i], heapSlots[m]] = [heapSlots[m]!, heapSlots[i]!];
        i = m;
      }
    };
    for (let s = this.tails[node] ?? NIL; s !== NIL; s = this.prev[s]!) {
      const dt = clockMs - this.lastAccess[s]!;
      const v = this.decayed[s * this.h + index]!;
      const value = dt > 0 ? v * expNeg(rate * dt) : v;
      if (heapValues.length < k) {
        heapValues.push(value);
        heapSlots.push(s);
        for (let i = heapValues.length - 1; i > 0;) {
          const p = (i - 1) >> 1;
          if (heapValues[p]! <= heapValues[i]!) break;
          [heapValues[i], heapValues[p]] = [heapValues[p]!, heapValues[i]!];
          [heapSlots[i], heapSlots[p]] = [heapSlots[p]!, heapSlots[i]!];
          i = p;
        }
      } else if (value > heapValues[0]!) {
        heapValues[0] = value;
        heapSlots[0] = s;
        siftDown(0);
      }
    }
    return heapSlots
      .map((slot, i) => ({ slot, value: heapValues[i]! }))
      .sort((a, b) => b.value - a.value)
      .map((e) => e.slot);
  }

  /** The features of `slot`, its decayed counts evaluated at `asOfMs`. */
  row(slot: number, asOfMs: number): KeyRow {
    const h = this.h;
    const last = this.lastAccess[slot]!;
    const dt = asOfMs - last;
    const decayedCounts: number[] = [];
    for (let i = 0; i < h; i++) {
      const v = this.decayed[slot * h + i]!;
      decayedCounts.push(dt > 0 ? v * expNeg(this.rates[i]! * dt) : v);
    }
    const fl = this.flags[slot]!;
    const pos = (fl >> GAP_POS_SHIFT) & 3;
    const count = (fl >> GAP_COUNT_SHIFT) & 7;
    const gapsMs: number[] = [];
    for (let i = 1; i <= count; i++) gapsMs.push(this.gaps[slot * GAP_SLOTS + ((pos - i) & 3)]!);
    const size = this.sizeCol[slot]!;
    return {
      nodeIndex: this.nodeOf[slot]!,
      key: this.keys[slot]!,
      accesses: this.accesses[slot]!,
      decayedCounts,
      lastAccessMs: last,
      firstSeenMs: this.firstSeen[slot]!,
      gapsMs,
      sizeBytes: size < 0 ? null : size,
      hits: this.hits[slot]!,
      misses: this.misses[slot]!,
      resident: (fl & F_RESIDENT) !== 0,
    };
  }

  /**
   * Writes the slots as raw columns, free slots included, so that a restored table has the same
   * slot numbers, LRU links, free list and PRNG state, and forgets the same keys afterwards.
   */
  writeTo(w: SnapshotWriter): void {
    const n = this.highWater;
    w.u32(this.maps.length);
    for (let i = 0; i < this.maps.length; i++) {
      w.i32(this.heads[i]!);
      w.i32(this.tails[i]!);
      w.u32(this.maps[i]!.size);
    }
    w.u32(n);
    w.u32(this.size);
    w.i32(this.freeHead);
    w.f64(this.forgotten);
    w.u32(this.rng >>> 0);
    w.reserve(n * (4 + 8 + 8 + 8 + 4 * this.h + 4 * GAP_SLOTS + 4 + 4 + 4 + 1 + 4 + 4));
    for (const [col, count] of this.columns(n)) w.column(col, count);
    w.strings(this.keys, n);
  }

  /** The per-slot columns in snapshot order, with their lengths for `n` slots (one list for both directions). */
  private columns(n: number): [NumberColumn, number][] {
    return [
      [this.nodeOf, n],
      [this.lastAccess, n],
      [this.firstSeen, n],
      [this.sizeCol, n],
      [this.decayed, n * this.h],
      [this.gaps, n * GAP_SLOTS],
      [this.accesses, n],
      [this.hits, n],
      [this.misses, n],
      [this.flags, n],
      [this.prev, n],
      [this.next, n],
    ];
  }

  /** Reads what {@link writeTo} wrote and checks the structure (maps, links, free list). */
  static readFrom(
    r: SnapshotReader,
    maxKeys: number,
    halfLivesSec: readonly number[],
    seed: number,
    nodeCount: number,
  ): KeyTable {
    const t = new KeyTable(maxKeys, halfLivesSec, seed);
    const nodes = r.u32();
    if (nodes !== nodeCount) r.fail(`key table has ${nodes} nodes, the store ${nodeCount}`);
    const sizes: number[] = [];
    for (let i = 0; i < nodes; i++) {
      t.addNode();
      t.heads[i] = r.i32();
      t.tails[i] = r.i32();
      sizes.push(r.u32());
    }
    const n = r.count(1);
    const size = r.u32();
    if (size > maxKeys) {
      r.fail(
        `it tracks ${size} keys, more than maxTrackedKeys ${maxKeys}; restore with maxTrackedKeys ≥ ${size}`,
      );
    }
    if (n > maxKeys) r.fail(`it uses ${n} slots, more than maxTrackedKeys ${maxKeys}`);
    t.freeHead = r.i32();
    t.forgotten = r.f64();
    t.rng = r.u32();
    if (n > t.capacity) {
      let cap = t.capacity;
      while (cap < n) cap *= 2;
      t.grow(Math.min(maxKeys, cap));
    }
    t.highWater = n;
    t.size = size;
    for (const [col, count] of t.columns(n)) r.column(col, count);
    const keys = r.strings();
    if (keys.length !== n) r.fail(`${keys.length} keys for ${n} slots`);
    t.validate(keys, n, sizes, r);
    return t;
  }

  private validate(keys: string[], n: number, sizes: number[], r: SnapshotReader): void {
    let occupied = 0;
    for (let s = 0; s < n; s++) {
      const key = keys[s]!;
      this.keys[s] = key;
      if (!(this.flags[s]! & F_OCCUPIED)) continue;
      occupied++;
      const map = this.maps[this.nodeOf[s]!];
      if (map === undefined || key === '') r.fail(`slot ${s} has no node or key`);
      map.set(key, s);
    }
    if (occupied !== this.size) r.fail(`${occupied} occupied slots, ${this.size} expected`);
    let linked = 0;
    for (let i = 0; i < this.maps.length; i++) {
      if (this.maps[i]!.size !== sizes[i]) r.fail(`node ${i} has duplicate keys`);
      // Walk each LRU list: every link in range, resident, of this node, no cycle.
      let prev = NIL;
      let steps = 0;
      for (let s = this.heads[i]!; s !== NIL; s = this.next[s]!) {
        if (
          s < 0 ||
          s >= n ||
          (this.flags[s]! & (F_OCCUPIED | F_RESIDENT)) !== 3 ||
          this.nodeOf[s] !== i ||
          this.prev[s] !== prev ||
          ++steps > n
        ) {
          r.fail(`LRU list of node ${i} is broken at slot ${s}`);
        }
        prev = s;
      }
      if (prev !== this.tails[i]) r.fail(`LRU tail of node ${i}`);
      linked += steps;
    }
    let resident = 0;
    for (let s = 0; s < n; s++) if ((this.flags[s]! & (F_OCCUPIED | F_RESIDENT)) === 3) resident++;
    if (linked !== resident) r.fail(`${resident} resident keys but ${linked} in LRU lists`);
    let free = 0;
    for (let s = this.freeHead; s !== NIL; s = this.next[s]!) {
      if (s < 0 || s >= n || this.flags[s]! & F_OCCUPIED || ++free > n)
        r.fail(`free list broken at slot ${s}`);
    }
    if (free + occupied !== n) r.fail('free list does not cover the unused slots');
  }
}
