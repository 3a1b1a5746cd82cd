/**
 * @module features/types
 * What the online feature store exposes to policies, weighers, forecasters and the API.
 * Times are event times (epoch ms from the telemetry `ts`), never the wall clock, so replaying
 * the same telemetry gives the same features.
 */
import type { AccessEvent, LatencyEvent } from '../telemetry/events.js';

export interface FeatureStoreOptions {
  /** Keys tracked over all nodes together; past it a sampled least-frequently-used key is forgotten. */
  readonly maxTrackedKeys: number;
  /** Half-lives (seconds) of the decayed access counters, 1 to 4 of them, e.g. [60, 600, 3600]. */
  readonly decayHalfLivesSec: readonly number[];
  /** Window (seconds) of the per-backend latency percentiles. */
  readonly latencyWindowSec: number;
  /** Time constant (ms) of the per-backend EWMA / peak-EWMA latency and error rate. */
  readonly ewmaTauMs: number;
  /** Bucket width (seconds) of the request-rate series. */
  readonly seriesStepSec: number;
  /** Buckets kept per series. */
  readonly seriesHistorySteps: number;
  /** Series tracked at most. */
  readonly maxSeries: number;
  /** Seed of the sampling used to pick keys to forget (deterministic replays). Default 1. */
  readonly seed?: number;
}

/** Per key per cache node. */
export interface KeyFeatures {
  readonly node: string;
  readonly key: string;
  /** Accesses seen since the key started being tracked. */
  readonly accesses: number;
  /** Exponentially decayed access counts, one per half-life, decayed to `asOfMs`. */
  readonly decayedCounts: readonly number[];
  /** The store clock the decayed counts refer to (latest event time seen by the store). */
  readonly asOfMs: number;
  readonly lastAccessMs: number;
  readonly firstSeenMs: number;
  /** Most recent inter-arrival gaps in ms, newest first, at most 4. */
  readonly gapsMs: readonly number[];
  /** Last reported size in bytes, or null when no event carried one. */
  readonly sizeBytes: number | null;
  readonly hits: number;
  readonly misses: number;
  /** False after an `evict` or `del` op, true again on the next get/set. */
  readonly resident: boolean;
}

/** Per backend per pool. */
export interface BackendFeatures {
  readonly pool: string;
  readonly backend: string;
  readonly requests: number;
  /** Responses with status ≥ 500. */
  readonly errors: number;
  /** Time-decayed fraction of responses with status ≥ 500 (0..1). */
  readonly errorRate: number;
  readonly ewmaLatencyMs: number;
  /** Finagle/Linkerd peak-EWMA: jumps to a higher sample at once, decays toward lower ones. */
  readonly peakEwmaLatencyMs: number;
  /** Percentiles over the last `latencyWindowSec`, from a relative-error sketch (≤ 1 %). */
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  /** Last reported in-flight count (0 when never reported). */
  readonly inflight: number;
  /** Requests per second, time-decayed with `ewmaTauMs`. */
  readonly requestRatePerSec: number;
  readonly lastSeenMs: number;
}

/** Request-rate series. Ids: `node.<node>`, `pool.<pool>`, `backend.<pool>.<backend>`. */
export interface SeriesView {
  readonly id: string;
  readonly stepSec: number;
  /** Start (epoch ms, aligned to the step) of `counts[0]`. */
  readonly startMs: number;
  /** Requests per bucket, oldest first, up to the bucket holding the latest event. */
  readonly counts: readonly number[];
}

export interface FeatureStats {
  readonly trackedKeys: number;
  readonly maxTrackedKeys: number;
  /** Keys forgotten because the table was full. */
  readonly forgottenKeys: number;
  readonly nodes: number;
  readonly pools: number;
  readonly backends: number;
  readonly series: number;
  /** Series refused because `maxSeries` was reached. */
  readonly droppedSeries: number;
  /** Latest event time seen (epoch ms), 0 before any event. */
  readonly clockMs: number;
}

/** Targets whose features changed since the last {@link Features.drainChanged}. */
export interface ChangedTargets {
  readonly nodes: readonly string[];
  readonly pools: readonly string[];
}

/**
 * The feature store as the rest of the engine uses it: fold telemetry in, read features out.
 * Implemented by one {@link ./feature-store.ts | FeatureStore} and by a
 * {@link ./sharded-store.ts | ShardedFeatureStore} of several. Checkpointing (`snapshot` /
 * `restore`) is left out: it belongs to one concrete store, not to this view of it.
 */
export interface Features {
  /** Latest event time seen (epoch ms), 0 before any event. */
  readonly clockMs: number;
  /** Folds a batch of access events reported by cache `node` into its keys and series. */
  applyAccess(node: string, events: readonly AccessEvent[]): void;
  /** Folds a batch of latency events reported by `proxy` into backend, pool and series features. */
  applyLatency(proxy: string, events: readonly LatencyEvent[]): void;
  /** Features of `key` on `node`, decayed to the store clock; undefined if not tracked. */
  keyFeatures(node: string, key: string): KeyFeatures | undefined;
  /** Resident keys of `node` (0 for an unknown node); O(resident keys), call it rarely. */
  residentKeys(node: string): number;
  /** Up to `limit` resident keys of `node`, least recently used first; [] for an unknown node. */
  lruVictims(node: string, limit: number): KeyFeatures[];
  /** Resident keys of `node` starting with `prefix`, least recently used first, at most `limit`. */
  keysWithPrefix(node: string, prefix: string, limit: number): string[];
  /** The `k` hottest resident keys of `node` by the decayed count at `halfLifeIndex` (default 0). */
  hottestKeys(node: string, k: number, halfLifeIndex?: number): KeyFeatures[];
  backendFeatures(pool: string, backend: string): BackendFeatures | undefined;
  /** Every backend of `pool`, sorted by backend name; [] for an unknown pool. */
  poolBackends(pool: string): BackendFeatures[];
  /** Cache nodes seen, sorted. */
  nodes(): string[];
  /** Backend pools seen, sorted. */
  pools(): string[];
  /** The series `id` up to the bucket holding the store clock; undefined if not tracked. */
  series(id: string): SeriesView | undefined;
  /** Ids of the tracked series, sorted. */
  seriesIds(): string[];
  stats(): FeatureStats;
  /** Nodes and pools whose features changed since the previous call (sorted), then forgets them. */
  drainChanged(): ChangedTargets;
}
