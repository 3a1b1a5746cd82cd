/**
 * @module features/types
 * What the online feature store exposes to policies, weighers, forecasters and the API.
 * Times are event times (epoch ms from the telemetry `ts`), never the wall clock, so replaying
 * the same telemetry gives the same features.
 */

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

/** Targets whose features changed since the last {@link FeatureStoreApi.drainChanged}. */
export interface ChangedTargets {
  readonly nodes: readonly string[];
  readonly pools: readonly string[];
}
