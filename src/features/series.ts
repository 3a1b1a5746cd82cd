/**
 * @module features/series
 * Request-rate series for the forecasters: requests per `stepSec` bucket in a ring buffer of
 * `historySteps` buckets (a round-robin archive, as in RRDtool or Graphite's Whisper), one per
 * cache node (`node.<node>`), pool (`pool.<pool>`) and backend (`backend.<pool>.<backend>`).
 *
 * A ring starts at {@link INITIAL_BUCKETS} and doubles up to `historySteps` as the history
 * lengthens, so ten thousand young series do not each hold a week of empty buckets. Events older
 * than the ring are dropped and counted; series past `maxSeries` are refused and counted.
 */
import type { SnapshotReader, SnapshotWriter } from './snapshot-codec.js';
import type { SeriesView } from './types.js';

const INITIAL_BUCKETS = 64;

export class RateSeries {
  private counts: Uint32Array;
  /** Bucket numbers (floor(ts / stepMs)) of the oldest and newest kept buckets; -1 when empty. */
  private first = -1;
  private head = -1;

  constructor(
    readonly id: string,
    private readonly stepMs: number,
    private readonly steps: number,
    capacity = Math.min(steps, INITIAL_BUCKETS),
  ) {
    this.counts = new Uint32Array(capacity);
  }

  /** [hotLoMs, hotHiMs) is the bucket counted last, at position hotPos: most events land there. */
  private hotLoMs = 0;
  private hotHiMs = -1;
  private hotPos = 0;

  /** Counts one request at `tsMs`; false when it is older than the ring (dropped). */
  add(tsMs: number): boolean {
    if (tsMs >= this.hotLoMs && tsMs < this.hotHiMs) {
      this.counts[this.hotPos]!++;
      return true;
    }
    const b = Math.floor(tsMs / this.stepMs);
    if (this.head < 0) {
      this.first = b;
      this.head = b;
    } else if (b > this.head) {
      this.advance(b);
    } else if (b <= this.head - this.steps) {
      return false;
    } else if (b < this.first) {
      const span = this.head - b + 1;
      if (span > this.counts.length) this.grow(span);
      this.first = b;
    }
    const pos = b % this.counts.length;
    this.counts[pos]!++;
    this.hotLoMs = b * this.stepMs;
    this.hotHiMs = this.hotLoMs + this.stepMs;
    this.hotPos = pos;
    return true;
  }

  private advance(b: number): void {
    const span = b - this.first + 1;
    if (span > this.counts.length && this.counts.length < this.steps) this.grow(span);
    const cap = this.counts.length;
    // Buckets between the old head and b had no requests; they reuse the oldest positions.
    if (b - this.head >= cap) this.counts.fill(0);
    else for (let k = this.head + 1; k <= b; k++) this.counts[k % cap] = 0;
    this.head = b;
    if (b - this.first + 1 > cap) this.first = b - cap + 1;
  }

  private grow(span: number): void {
    let cap = this.counts.length;
    while (cap < span && cap < this.steps) cap *= 2;
    cap = Math.min(cap, this.steps);
    const next = new Uint32Array(cap);
    const old = this.counts;
    for (let k = this.first; k <= this.head; k++) next[k % cap] = old[k % old.length]!;
    this.counts = next;
  }

  /** Buckets from the oldest kept up to the one holding `clockMs` (or the newest, if later). */
  view(clockMs: number): SeriesView {
    if (this.head < 0) return { id: this.id, stepSec: this.stepMs / 1000, startMs: 0, counts: [] };
    const end = Math.max(this.head, Math.floor(clockMs / this.stepMs));
    const start = Math.max(this.first, end - this.steps + 1);
    const counts: number[] = [];
    const cap = this.counts.length;
    for (let k = start; k <= end; k++) counts.push(k <= this.head ? this.counts[k % cap]! : 0);
    return { id: this.id, stepSec: this.stepMs / 1000, startMs: start * this.stepMs, counts };
  }

  writeTo(w: SnapshotWriter): void {
    w.string(this.id);
    w.f64(this.first);
    w.f64(this.head);
    if (this.head < 0) return;
    const span = this.head - this.first + 1;
    const cap = this.counts.length;
    const ordered = new Uint32Array(span);
    for (let k = this.first; k <= this.head; k++) ordered[k - this.first] = this.counts[k % cap]!;
    w.u32(span);
    w.column(ordered, span);
  }

  static readFrom(r: SnapshotReader, stepMs: number, steps: number): RateSeries {
    const id = r.string();
    const first = r.f64();
    const head = r.f64();
    if (head < 0) return new RateSeries(id, stepMs, steps);
    const span = r.count(4, steps);
    if (!(Number.isInteger(first) && head - first + 1 === span && first >= 0))
      r.fail(`series ${id} bounds`);
    let cap = Math.min(steps, INITIAL_BUCKETS);
    while (cap < span) cap = Math.min(steps, cap * 2);
    const s = new RateSeries(id, stepMs, steps, cap);
    const ordered = new Uint32Array(span);
    r.column(ordered, span);
    for (let k = first; k <= head; k++) s.counts[k % cap] = ordered[k - first]!;
    s.first = first;
    s.head = head;
    return s;
  }
}

/** All series, capped at `maxSeries`. */
export class SeriesTable {
  private readonly byId = new Map<string, RateSeries>();
  /** Series refused because `maxSeries` was reached. */
  droppedSeries = 0;
  /** Events older than their series' ring. */
  droppedEvents = 0;

  constructor(
    private readonly stepMs: number,
    private readonly steps: number,
    private readonly maxSeries: number,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  get(id: string): RateSeries | undefined {
    return this.byId.get(id);
  }

  ids(): string[] {
    return [...this.byId.keys()].sort();
  }

  /** The series `id`, created if there is room; null (and counted) when refused. */
  open(id: string): RateSeries | null {
    const found = this.byId.get(id);
    if (found !== undefined) return found;
    if (this.byId.size >= this.maxSeries) {
      this.droppedSeries++;
      return null;
    }
    const s = new RateSeries(id, this.stepMs, this.steps);
    this.byId.set(id, s);
    return s;
  }

  /** Counts one request in `series` (null: a refused series, ignored). */
  add(series: RateSeries | null, tsMs: number): void {
    if (series !== null && !series.add(tsMs)) this.droppedEvents++;
  }

  writeTo(w: SnapshotWriter): void {
    w.f64(this.droppedSeries);
    w.f64(this.droppedEvents);
    w.u32(this.byId.size);
    for (const s of this.byId.values()) s.writeTo(w);
  }

  static readFrom(
    r: SnapshotReader,
    stepMs: number,
    steps: number,
    maxSeries: number,
  ): SeriesTable {
    const t = new SeriesTable(stepMs, steps, maxSeries);
    t.droppedSeries = r.f64();
    t.droppedEvents = r.f64();
    const n = r.count(20);
    if (n > maxSeries)
      r.fail(
        `it holds ${n} series, more than maxSeries ${maxSeries}; restore with maxSeries ≥ ${n}`,
      );
    for (let i = 0; i < n; i++) {
      const s = RateSeries.readFrom(r, stepMs, steps);
      t.byId.set(s.id, s);
    }
    return t;
  }
}
