/**
 * @module publish/history
 * The recent shares of each pool, one point per published weights document, for the dashboard's
 * charts (`GET /v1/pools/:pool/history`). Pure and bounded: a ring of at most `pointsPerPool`
 * points per pool, and at most `maxPools` pools (a new pool past it replaces the pool published
 * least recently). Kept in memory only: after a restart the charts start empty.
 */
import type { PolicyDocument } from './document.js';

export interface HistoryPoint {
  /** The document's generatedAt (epoch ms). */
  readonly ts: number;
  readonly version: number;
  /** Backend → share of traffic in [0, 1]. */
  readonly weights: Readonly<Record<string, number>>;
}

export interface PolicyHistoryOptions {
  /** Points kept per pool (default 600: ten minutes at the default 1 s publish interval). */
  readonly pointsPerPool?: number;
  /** Pools kept (default 1000). */
  readonly maxPools?: number;
}

/** A fixed-size ring; `items()` is oldest first. */
class Ring<T> {
  private readonly slots: (T | undefined)[];
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.slots = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.slots[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  /** The newest `limit` items (all by default), oldest first. */
  items(limit = this.size): T[] {
    const n = Math.max(0, Math.min(limit, this.size));
    const out: T[] = [];
    for (let i = n; i > 0; i--) {
      out.push(this.slots[(this.next - i + this.capacity) % this.capacity]!);
    }
    return out;
  }
}

export class PolicyHistory {
  readonly pointsPerPool: number;
  readonly maxPools: number;
  /** Insertion order is recency of publication: a recorded pool moves to the end. */
  private readonly pools = new Map<string, Ring<HistoryPoint>>();

  constructor(options: PolicyHistoryOptions = {}) {
    this.pointsPerPool = Math.max(1, Math.floor(options.pointsPerPool ?? 600));
    this.maxPools = Math.max(1, Math.floor(options.maxPools ?? 1000));
  }

  /** Records a weights document; other kinds are ignored (a publisher listener gets them all). */
  record(doc: PolicyDocument): void {
    if (doc.kind !== 'weights') return;
    const weights: Record<string, number> = {};
    for (const e of doc.entries as readonly { backend: string; weight: number }[]) {
      weights[e.backend] = e.weight;
    }
    let ring = this.pools.get(doc.target);
    if (ring) {
      this.pools.delete(doc.target);
    } else {
      ring = new Ring<HistoryPoint>(this.pointsPerPool);
      if (this.pools.size >= this.maxPools) {
        const stalest = this.pools.keys().next().value;
        if (stalest !== undefined) this.pools.delete(stalest);
      }
    }
    this.pools.set(doc.target, ring);
    ring.push({ ts: doc.generatedAt, version: doc.version, weights });
  }

  /** The newest `limit` points of a pool (all kept by default), oldest first; undefined if unknown. */
  points(pool: string, limit?: number): HistoryPoint[] | undefined {
    return this.pools.get(pool)?.items(limit);
  }

  /** Pools with at least one point. */
  poolNames(): string[] {
    return [...this.pools.keys()];
  }
}
