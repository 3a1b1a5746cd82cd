/**
 * @module features/feature-store
 * The online feature store: folds validated telemetry into per-key, per-backend and per-series
 * features that policies, weighers, forecasters and the API read. Pure and synchronous: no I/O,
 * no wall clock (the store clock is the latest event time seen), so replaying the same telemetry
 * gives the same features, and {@link FeatureStore.snapshot} / {@link FeatureStore.restore}
 * carry the whole state across restarts bit for bit.
 *
 * Composition: {@link KeyTable} (struct-of-arrays key features with LRU lists and sampled LFU
 * forgetting), {@link BackendStats} (EWMA, peak-EWMA, DDSketch percentiles), {@link SeriesTable}
 * (request-rate ring buffers), {@link SnapshotWriter} (binary checkpoint format).
 */
import { SnapshotFormatError } from '../errors.js';
import type { AccessEvent, LatencyEvent } from '../telemetry/events.js';
import { BackendStats } from './backend-stats.js';
import { KeyTable, OP_DEL, OP_EVICT, OP_GET, OP_SET } from './key-table.js';
import type { RateSeries } from './series.js';
import { SeriesTable } from './series.js';
import { SnapshotReader, SnapshotWriter } from './snapshot-codec.js';
import type {
  BackendFeatures,
  ChangedTargets,
  FeatureStats,
  Features,
  FeatureStoreOptions,
  KeyFeatures,
  SeriesView,
} from './types.js';

interface BackendEntry {
  readonly stats: BackendStats;
  /** `backend.<pool>.<backend>`, null when refused by `maxSeries`. */
  readonly series: RateSeries | null;
}

interface PoolEntry {
  readonly name: string;
  readonly series: RateSeries | null;
  readonly backends: Map<string, BackendEntry>;
}

export class FeatureStore implements Features {
  private readonly options: FeatureStoreOptions;
  // Not readonly: restore() swaps in the decoded parts.
  private table: KeyTable;
  private seriesTable: SeriesTable;
  private readonly nodeIndex = new Map<string, number>();
  private readonly nodeNames: string[] = [];
  private readonly nodeSeries: (RateSeries | null)[] = [];
  private readonly poolMap = new Map<string, PoolEntry>();
  private backendCount = 0;
  private clock = 0;
  private readonly changedNodes = new Set<string>();
  private readonly changedPools = new Set<string>();

  /** `options` are trusted: they were validated once with the rest of the configuration. */
  constructor(options: FeatureStoreOptions) {
    this.options = options;
    this.table = new KeyTable(options.maxTrackedKeys, options.decayHalfLivesSec, options.seed ?? 1);
    this.seriesTable = new SeriesTable(
      options.seriesStepSec * 1000,
      options.seriesHistorySteps,
      options.maxSeries,
    );
  }

  /** Latest event time seen (epoch ms), 0 before any event. */
  get clockMs(): number {
    return this.clock;
  }

  private nodeIndexOf(node: string): number {
    const found = this.nodeIndex.get(node);
    if (found !== undefined) return found;
    const i = this.table.addNode();
    this.nodeIndex.set(node, i);
    this.nodeNames.push(node);
    this.nodeSeries.push(this.seriesTable.open(`node.${node}`));
    return i;
  }

  private pool(name: string): PoolEntry {
    let p = this.poolMap.get(name);
    if (p === undefined) {
      p = { name, series: this.seriesTable.open(`pool.${name}`), backends: new Map() };
      this.poolMap.set(name, p);
    }
    return p;
  }

  /**
   * Applies a batch of access events from cache `node`. `get`/`set` count as accesses (hits and
   * misses are counted for `get` only, since a `set` usually follows a miss already counted);
   * `del`/`evict` only make the key non-resident. The node's series counts client requests
   * (`get`, `set`, `del`), not the cache's own evictions.
   */
  applyAccess(node: string, events: readonly AccessEvent[]): void {
    if (events.length === 0) return;
    const n = this.nodeIndexOf(node);
    const series = this.nodeSeries[n] ?? null;
    const table = this.table;
    let clock = this.clock;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const ts = e.ts;
      if (ts > clock) clock = ts;
      const op =
        e.op === undefined || e.op === 'get'
          ? OP_GET
          : e.op === 'set'
            ? OP_SET
            : e.op === 'del'
              ? OP_DEL
              : OP_EVICT;
      if (op !== OP_EVICT) this.seriesTable.add(series, ts);
      table.access(n, e.key, ts, op, e.hit, e.size ?? -1, clock);
    }
    this.clock = clock;
    this.changedNodes.add(node);
  }

  /** Applies a batch of latency events reported by `proxy` (the proxy does not key any feature). */
  applyLatency(proxy: string, events: readonly LatencyEvent[]): void {
    let pool: PoolEntry | undefined;
    let entry: BackendEntry | undefined;
    for (const e of events) {
      if (pool?.name !== e.pool) {
        pool = this.pool(e.pool);
        entry = undefined;
        this.changedPools.add(e.pool);
      }
      if (entry?.stats.backend !== e.backend)
        entry = pool.backends.get(e.backend) ?? this.addBackend(pool, e.backend);
      if (e.ts > this.clock) this.clock = e.ts;
      entry.stats.record(e.ts, e.latencyMs, e.status, e.inflight ?? -1);
      this.seriesTable.add(pool.series, e.ts);
      this.seriesTable.add(entry.series, e.ts);
    }
  }

  private addBackend(pool: PoolEntry, backend: string): BackendEntry {
    const o = this.options;
    const stats = new BackendStats(pool.name, backend, o.ewmaTauMs, o.latencyWindowSec * 1000);
    const entry = { stats, series: this.seriesTable.open(`backend.${pool.name}.${backend}`) };
    pool.backends.set(backend, entry);
    this.backendCount++;
    return entry;
  }

  /** Features of `key` on `node`, decayed counts evaluated at the store clock; undefined if not tracked. */
  keyFeatures(node: string, key: string): KeyFeatures | undefined {
    const n = this.nodeIndex.get(node);
    if (n === undefined) return undefined;
    const slot = this.table.slotOf(n, key);
    return slot === undefined ? undefined : this.keyRow(node, slot);
  }

  private keyRow(node: string, slot: number): KeyFeatures {
    const { nodeIndex: _n, ...row } = this.table.row(slot, this.clock);
    return { node, asOfMs: this.clock, ...row };
  }

  /** Resident keys of `node` (0 for an unknown node); O(resident keys), call it rarely. */
  residentKeys(node: string): number {
    const n = this.nodeIndex.get(node);
    return n === undefined ? 0 : this.table.residentCount(n);
  }

  /** Up to `limit` resident keys of `node`, least recently used first (evict/del'd keys excluded). */
  lruVictims(node: string, limit: number): KeyFeatures[] {
    const n = this.nodeIndex.get(node);
    if (n === undefined) return [];
    return this.table.lruSlots(n, limit).map((slot) => this.keyRow(node, slot));
  }

  /** Resident keys of `node` starting with `prefix`, least recently used first, at most `limit`. */
  keysWithPrefix(node: string, prefix: string, limit: number): string[] {
    const n = this.nodeIndex.get(node);
    return n === undefined ? [] : this.table.keysWithPrefix(n, prefix, limit);
  }

  /**
   * The `k` hottest resident keys of `node` by decayed count over the half-life at `halfLifeIndex`
   * (default 0, the shortest), hottest first.
   */
  hottestKeys(node: string, k: number, halfLifeIndex = 0): KeyFeatures[] {
    const n = this.nodeIndex.get(node);
    if (n === undefined) return [];
    const index = Math.min(Math.max(0, halfLifeIndex), this.options.decayHalfLivesSec.length - 1);
    return this.table.hottestSlots(n, k, index, this.clock).map((slot) => this.keyRow(node, slot));
  }

  backendFeatures(pool: string, backend: string): BackendFeatures | undefined {
    return this.poolMap.get(pool)?.backends.get(backend)?.stats.features(this.clock);
  }

  /** Every backend of `pool`, sorted by backend name; empty for an unknown pool. */
  poolBackends(pool: string): BackendFeatures[] {
    const p = this.poolMap.get(pool);
    if (p === undefined) return [];
    return [...p.backends.keys()].sort().map((b) => p.backends.get(b)!.stats.features(this.clock));
  }

  /** Cache nodes seen, sorted. */
  nodes(): string[] {
    return [...this.nodeNames].sort();
  }

  /** Backend pools seen, sorted. */
  pools(): string[] {
    return [...this.poolMap.keys()].sort();
  }

  /** The series `id`, buckets up to the one holding the store clock; undefined if not tracked. */
  series(id: string): SeriesView | undefined {
    return this.seriesTable.get(id)?.view(this.clock);
  }

  seriesIds(): string[] {
    return this.seriesTable.ids();
  }

  stats(): FeatureStats {
    return {
      trackedKeys: this.table.trackedKeys,
      maxTrackedKeys: this.options.maxTrackedKeys,
      forgottenKeys: this.table.forgotten,
      nodes: this.nodeNames.length,
      pools: this.poolMap.size,
      backends: this.backendCount,
      series: this.seriesTable.size,
      droppedSeries: this.seriesTable.droppedSeries,
      clockMs: this.clock,
    };
  }

  /** Nodes and pools whose features changed since the previous call (sorted), then forgets them. */
  drainChanged(): ChangedTargets {
    const changed = { nodes: [...this.changedNodes].sort(), pools: [...this.changedPools].sort() };
    this.changedNodes.clear();
    this.changedPools.clear();
    return changed;
  }

  /** The whole state in the binary format of {@link ./snapshot-codec.ts}. */
  snapshot(): Uint8Array {
    const o = this.options;
    const w = new SnapshotWriter(1 << 20);
    w.u32(o.decayHalfLivesSec.length);
    for (const h of o.decayHalfLivesSec) w.f64(h);
    w.f64(o.latencyWindowSec);
    w.f64(o.ewmaTauMs);
    w.f64(o.seriesStepSec);
    w.u32(o.seriesHistorySteps);
    w.f64(this.clock);
    w.u32(this.nodeNames.length);
    for (const name of this.nodeNames) w.string(name);
    this.table.writeTo(w);
    w.u32(this.poolMap.size);
    for (const p of this.poolMap.values()) {
      w.string(p.name);
      w.u32(p.backends.size);
      for (const b of p.backends.values()) b.stats.writeTo(w);
    }
    this.seriesTable.writeTo(w);
    return w.finish();
  }

  /**
   * A store with the state of `bytes` and the limits of `options`. The options that give stored
   * values their meaning (half-lives, latency window, tau, series step and length) must equal the
   * snapshot's; the limits may grow. Every restored node and pool is reported by the next
   * {@link drainChanged}, since a consumer has seen none of it. Throws SnapshotFormatError.
   */
  static restore(bytes: Uint8Array, options: FeatureStoreOptions): FeatureStore {
    const r = new SnapshotReader(bytes);
    const store = new FeatureStore(options);
    const halfLives: number[] = [];
    const h = r.count(8, 4);
    for (let i = 0; i < h; i++) halfLives.push(r.f64());
    const mismatch = (name: string, was: unknown, now: unknown): never => {
      throw new SnapshotFormatError(
        `Snapshot was taken with ${name} = ${String(was)} but the store is configured with ${String(now)}; restore with the same ${name} or start empty.`,
      );
    };
    if (halfLives.join(',') !== options.decayHalfLivesSec.join(','))
      mismatch('decayHalfLivesSec', halfLives, options.decayHalfLivesSec);
    const windowSec = r.f64();
    if (windowSec !== options.latencyWindowSec)
      mismatch('latencyWindowSec', windowSec, options.latencyWindowSec);
    const tau = r.f64();
    if (tau !== options.ewmaTauMs) mismatch('ewmaTauMs', tau, options.ewmaTauMs);
    const stepSec = r.f64();
    if (stepSec !== options.seriesStepSec)
      mismatch('seriesStepSec', stepSec, options.seriesStepSec);
    const steps = r.u32();
    if (steps !== options.seriesHistorySteps)
      mismatch('seriesHistorySteps', steps, options.seriesHistorySteps);
    store.clock = r.f64();

    const nodeCount = r.count(4);
    const nodeNames: string[] = [];
    for (let i = 0; i < nodeCount; i++) nodeNames.push(r.string());
    const table = KeyTable.readFrom(
      r,
      options.maxTrackedKeys,
      options.decayHalfLivesSec,
      options.seed ?? 1,
      nodeCount,
    );
    store.table = table;

    const pools: { name: string; backends: BackendStats[] }[] = [];
    const poolCount = r.count(8);
    for (let i = 0; i < poolCount; i++) {
      const name = r.string();
      const n = r.count(8);
      const backends: BackendStats[] = [];
      for (let j = 0; j < n; j++)
        backends.push(
          BackendStats.readFrom(r, name, options.ewmaTauMs, options.latencyWindowSec * 1000),
        );
      pools.push({ name, backends });
    }
    const seriesTable = SeriesTable.readFrom(
      r,
      options.seriesStepSec * 1000,
      options.seriesHistorySteps,
      options.maxSeries,
    );
    store.seriesTable = seriesTable;
    r.done();

    // Re-link targets to their series by id: a target whose series is absent was refused.
    for (const name of nodeNames) {
      if (store.nodeIndex.has(name)) r.fail(`node ${name} twice`);
      store.nodeIndex.set(name, store.nodeNames.length);
      store.nodeNames.push(name);
      store.nodeSeries.push(seriesTable.get(`node.${name}`) ?? null);
      store.changedNodes.add(name);
    }
    for (const p of pools) {
      if (store.poolMap.has(p.name)) r.fail(`pool ${p.name} twice`);
      const entry: PoolEntry = {
        name: p.name,
        series: seriesTable.get(`pool.${p.name}`) ?? null,
        backends: new Map(),
      };
      for (const stats of p.backends) {
        entry.backends.set(stats.backend, {
          stats,
          series: seriesTable.get(`backend.${p.name}.${stats.backend}`) ?? null,
        });
      }
      if (entry.backends.size !== p.backends.length) r.fail(`pool ${p.name} has a backend twice`);
      store.backendCount += entry.backends.size;
      store.poolMap.set(p.name, entry);
      store.changedPools.add(p.name);
    }
    return store;
  }
}
