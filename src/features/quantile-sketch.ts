/**
 * @module features/quantile-sketch
 * Latency percentiles with a guaranteed relative error, after DDSketch (Masson, Rim and Lee,
 * "DDSketch: A fast and fully-mergeable quantile sketch with relative-error guarantees",
 * VLDB 2019). A value `x > 0` falls in bucket `k = ceil(log_γ x)` with `γ = (1 + α) / (1 - α)`;
 * the bucket's representative `2 γ^k / (γ + 1)` is within `α` of every value in it, so any
 * quantile is answered within `α` (1 %) of the true sample at that rank, with a few hundred
 * counters whatever the number of samples. Buckets live in a dense array that grows around the
 * keys seen; past {@link MAX_BINS} the lowest buckets are collapsed (DDSketch's
 * `CollapsingLowestDenseStore`), so only the fastest latencies lose accuracy, never the tail.
 *
 * {@link WindowedQuantileSketch} keeps a ring of sub-sketches, each covering `1/SLICES` of the
 * window in event time; a slice is cleared when the ring comes round to it, and a query merges
 * the slices still inside the window. Sketches merge exactly, so the window costs no accuracy.
 */
import type { SnapshotReader, SnapshotWriter } from './snapshot-codec.js';

/** Relative accuracy α of every quantile. */
export const RELATIVE_ACCURACY = 0.01;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);
const VALUE_FACTOR = 2 / (1 + GAMMA);
/** Values at or below this (ms) are counted as zero: 1 ns is below any meaningful latency. */
export const MIN_INDEXABLE = 1e-6;
/** Buckets per sketch at most: with α = 1 % that spans values over 17 orders of magnitude. */
export const MAX_BINS = 2048;
const INITIAL_BINS = 64;

/** One DDSketch over all samples added since the last {@link QuantileSketch.clear}. */
export class QuantileSketch {
  private bins = new Uint32Array(0);
  /** Key of `bins[0]`. */
  private offset = 0;
  /** Lowest and highest non-empty keys (meaningful when `count > zeroCount`). */
  private minKey = 0;
  private maxKey = -1;
  count = 0;
  zeroCount = 0;
  min = Infinity;
  max = -Infinity;

  clear(): void {
    if (this.count > this.zeroCount) this.bins.fill(0);
    this.minKey = 0;
    this.maxKey = -1;
    this.count = 0;
    this.zeroCount = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }

  add(value: number): void {
    this.addCount(value, 1);
  }

  private addCount(value: number, n: number): void {
    this.count += n;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value <= MIN_INDEXABLE) {
      this.zeroCount += n;
      return;
    }
    this.addToKey(Math.ceil(Math.log(value) / LOG_GAMMA), n);
  }

  private addToKey(key: number, n: number): void {
    const hadBins = this.count - n > this.zeroCount;
    if (!hadBins) {
      this.minKey = key;
      this.maxKey = key;
    }
    let k = key;
    if (!hadBins || k < this.minKey || k > this.maxKey) k = this.extendTo(k, hadBins);
    this.bins[k - this.offset]! += n;
  }

  /** Makes room for `key` and returns the key to count it under (raised if collapsed). */
  private extendTo(key: number, hadBins: boolean): number {
    let lo = hadBins ? Math.min(this.minKey, key) : key;
    const hi = hadBins ? Math.max(this.maxKey, key) : key;
    let k = key;
    if (hi - lo + 1 > MAX_BINS) {
      lo = hi - MAX_BINS + 1;
      if (k < lo) k = lo;
    }
    const len = this.bins.length;
    if (len > 0 && lo >= this.offset && hi < this.offset + len) {
      this.minKey = lo;
      this.maxKey = hi;
      return k;
    }
    const span = hi - lo + 1;
    let newLen = Math.max(INITIAL_BINS, len);
    while (newLen < span) newLen *= 2;
    if (newLen > MAX_BINS) newLen = MAX_BINS;
    // Centre the used range so growth in either direction is amortised.
    const newOffset = lo - Math.floor((newLen - span) / 2);
    const next = new Uint32Array(newLen);
    if (hadBins) {
      for (let old = this.minKey; old <= this.maxKey; old++) {
        const c = this.bins[old - this.offset] ?? 0;
        if (c !== 0) next[Math.max(old, lo) - newOffset]! += c;
      }
    }
    this.bins = next;
    this.offset = newOffset;
    this.minKey = lo;
    this.maxKey = hi;
    return k;
  }

  /** Adds every sample of `other` (exact: sketches merge bucket by bucket). */
  merge(other: QuantileSketch): void {
    if (other.count === 0) return;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    this.zeroCount += other.zeroCount;
    this.count += other.zeroCount;
    if (other.count === other.zeroCount) return;
    for (let key = other.minKey; key <= other.maxKey; key++) {
      const c = other.bins[key - other.offset] ?? 0;
      if (c === 0) continue;
      this.count += c;
      this.addToKey(key, c);
    }
  }

  /**
   * The value at quantile `q` (0..1): within 1 % of the sample of rank `floor(q · (count - 1))`
   * in sorted order, clamped to the exact min and max. 0 when the sketch is empty.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.floor(q * (this.count - 1));
    // The extremes are known exactly.
    if (rank <= 0) return this.min;
    if (rank >= this.count - 1) return this.max;
    if (rank < this.zeroCount) return this.min > 0 ? this.min : 0;
    let seen = this.zeroCount;
    let key = this.maxKey;
    for (let k = this.minKey; k <= this.maxKey; k++) {
      seen += this.bins[k - this.offset] ?? 0;
      if (seen > rank) {
        key = k;
        break;
      }
    }
    const v = Math.exp(key * LOG_GAMMA) * VALUE_FACTOR;
    return v < this.min ? this.min : v > this.max ? this.max : v;
  }

  writeTo(w: SnapshotWriter): void {
    w.f64(this.count);
    w.f64(this.zeroCount);
    w.f64(this.min);
    w.f64(this.max);
    if (this.count > this.zeroCount) {
      const n = this.maxKey - this.minKey + 1;
      w.i32(this.minKey);
      w.u32(n);
      w.column(this.bins.subarray(this.minKey - this.offset), n);
    }
  }

  static readFrom(r: SnapshotReader): QuantileSketch {
    const s = new QuantileSketch();
    s.count = r.f64();
    s.zeroCount = r.f64();
    s.min = r.f64();
    s.max = r.f64();
    if (!(s.count >= s.zeroCount && s.zeroCount >= 0)) r.fail('sketch counts');
    if (s.count > s.zeroCount) {
      const minKey = r.i32();
      const n = r.count(4, MAX_BINS);
      if (n === 0) r.fail('empty sketch bins');
      const len = Math.min(MAX_BINS, Math.max(INITIAL_BINS, n));
      s.bins = new Uint32Array(len);
      r.column(s.bins, n);
      s.offset = minKey;
      s.minKey = minKey;
      s.maxKey = minKey + n - 1;
    }
    return s;
  }
}

/** Sub-windows per window: the window is exact to within 1/SLICES of its length. */
export const SLICES = 6;

/** A {@link QuantileSketch} over the last `windowMs` of event time. */
export class WindowedQuantileSketch {
  private readonly sliceMs: number;
  /** Slice number (floor(ts / sliceMs)) each sub-sketch holds, -1 when unused. */
  private readonly epochs = new Float64Array(SLICES).fill(-1);
  private readonly slices: QuantileSketch[] = [];
  private latestEpoch = -1;

  constructor(readonly windowMs: number) {
    this.sliceMs = windowMs / SLICES;
    for (let i = 0; i < SLICES; i++) this.slices.push(new QuantileSketch());
  }

  /** Adds `value` observed at `tsMs`; samples already older than the window are dropped. */
  add(tsMs: number, value: number): void {
    const e = Math.floor(tsMs / this.sliceMs);
    if (e <= this.latestEpoch - SLICES) return;
    const i = e % SLICES;
    const held = this.epochs[i]!;
    if (held !== e) {
      if (held > e) return;
      this.slices[i]!.clear();
      this.epochs[i] = e;
    }
    if (e > this.latestEpoch) this.latestEpoch = e;
    this.slices[i]!.add(value);
  }

  /** Merges the slices inside the window ending at `nowMs` into `into` (cleared first). */
  collect(nowMs: number, into: QuantileSketch): QuantileSketch {
    into.clear();
    const nowEpoch = Math.floor(nowMs / this.sliceMs);
    for (let i = 0; i < SLICES; i++) {
      const e = this.epochs[i]!;
      if (e > nowEpoch - SLICES && e <= nowEpoch) into.merge(this.slices[i]!);
    }
    return into;
  }

  writeTo(w: SnapshotWriter): void {
    w.f64(this.latestEpoch);
    w.column(this.epochs, SLICES);
    for (const s of this.slices) s.writeTo(w);
  }

  static readFrom(r: SnapshotReader, windowMs: number): WindowedQuantileSketch {
    const s = new WindowedQuantileSketch(windowMs);
    s.latestEpoch = r.f64();
    r.column(s.epochs, SLICES);
    for (let i = 0; i < SLICES; i++) s.slices[i] = QuantileSketch.readFrom(r);
    return s;
  }
}
