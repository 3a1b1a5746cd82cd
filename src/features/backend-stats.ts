/**
 * @module features/backend-stats
 * Per-backend health from proxied requests: counts, a time-decayed error rate, EWMA and
 * peak-EWMA latency, windowed percentiles, in-flight count and a decayed request rate.
 *
 * Peak-EWMA is the load metric of Finagle's `PeakEwma` balancer and Linkerd 2's
 * `tower::load::PeakEwma`: a sample above the current cost replaces it at once (a backend that
 * just got slow is avoided immediately), a lower one pulls it down with the time-based weight
 * `w = 1 - exp(-dt / tau)` (so the cost recovers over ~tau, not over a number of requests).
 * The plain EWMA and the error rate use the same time-based weight. Samples are taken to be at
 * least {@link MIN_SAMPLE_SPACING_MS} apart: timestamps have millisecond resolution, and a busy
 * backend answers many requests in the same millisecond, each of which must still count
 * (with dt = 0 the pure time-based weight would be 0 and ignore them all).
 *
 * The request rate is an exponentially decayed event rate: each request adds `1 / tau` to a
 * value that decays with time constant tau, which estimates requests per ms over ~tau.
 */
import { ewmaWeight } from './decay.js';
import { QuantileSketch, WindowedQuantileSketch } from './quantile-sketch.js';
import type { SnapshotReader, SnapshotWriter } from './snapshot-codec.js';
import type { BackendFeatures } from './types.js';

/** Smallest spacing assumed between two samples when weighing them (the timestamp resolution). */
export const MIN_SAMPLE_SPACING_MS = 1;

/** Shared scratch for percentile queries (queries are rare; adds never allocate). */
const scratch = new QuantileSketch();

export class BackendStats {
  requests = 0;
  errors = 0;
  errorRate = 0;
  ewmaLatencyMs = 0;
  peakEwmaLatencyMs = 0;
  inflight = 0;
  /** Decayed requests per ms as of `lastSeenMs` (see the module comment). */
  private rate = 0;
  lastSeenMs = 0;
  readonly latency: WindowedQuantileSketch;

  constructor(
    readonly pool: string,
    readonly backend: string,
    private readonly tauMs: number,
    windowMs: number,
    latency?: WindowedQuantileSketch,
  ) {
    this.latency = latency ?? new WindowedQuantileSketch(windowMs);
  }

  /** One proxied request answered at `tsMs`; `inflight` is -1 when not reported. */
  record(tsMs: number, latencyMs: number, status: number, inflight: number): void {
    const isError = status >= 500 ? 1 : 0;
    if (this.requests === 0) {
      this.errorRate = isError;
      this.ewmaLatencyMs = latencyMs;
      this.peakEwmaLatencyMs = latencyMs;
      this.rate = 1 / this.tauMs;
      this.lastSeenMs = tsMs;
    } else {
      const dt = tsMs - this.lastSeenMs;
      const ws = ewmaWeight(Math.max(dt, MIN_SAMPLE_SPACING_MS), this.tauMs);
      this.errorRate += ws * (isError - this.errorRate);
      this.ewmaLatencyMs += ws * (latencyMs - this.ewmaLatencyMs);
      if (latencyMs > this.peakEwmaLatencyMs) this.peakEwmaLatencyMs = latencyMs;
      else this.peakEwmaLatencyMs += ws * (latencyMs - this.peakEwmaLatencyMs);
      // The rate decays with true elapsed time only.
      this.rate = this.rate * (1 - ewmaWeight(dt, this.tauMs)) + 1 / this.tauMs;
      if (dt > 0) this.lastSeenMs = tsMs;
    }
    this.requests++;
    this.errors += isError;
    if (inflight >= 0) this.inflight = inflight;
    this.latency.add(tsMs, latencyMs);
  }

  /** The features, with the rate decayed and the percentile window ending at `nowMs`. */
  features(nowMs: number): BackendFeatures {
    const s = this.latency.collect(nowMs, scratch);
    const dt = nowMs - this.lastSeenMs;
    const rate = dt > 0 ? this.rate * Math.exp(-dt / this.tauMs) : this.rate;
    return {
      pool: this.pool,
      backend: this.backend,
      requests: this.requests,
      errors: this.errors,
      errorRate: this.errorRate,
      ewmaLatencyMs: this.ewmaLatencyMs,
      peakEwmaLatencyMs: this.peakEwmaLatencyMs,
      p50Ms: s.quantile(0.5),
      p90Ms: s.quantile(0.9),
      p99Ms: s.quantile(0.99),
      inflight: this.inflight,
      requestRatePerSec: rate * 1000,
      lastSeenMs: this.lastSeenMs,
    };
  }

  writeTo(w: SnapshotWriter): void {
    w.string(this.backend);
    w.f64(this.requests);
    w.f64(this.errors);
    w.f64(this.errorRate);
    w.f64(this.ewmaLatencyMs);
    w.f64(this.peakEwmaLatencyMs);
    w.f64(this.inflight);
    w.f64(this.rate);
    w.f64(this.lastSeenMs);
    this.latency.writeTo(w);
  }

  static readFrom(r: SnapshotReader, pool: string, tauMs: number, windowMs: number): BackendStats {
    const backend = r.string();
    const requests = r.f64();
    const errors = r.f64();
    const errorRate = r.f64();
    const ewma = r.f64();
    const peak = r.f64();
    const inflight = r.f64();
    const rate = r.f64();
    const lastSeenMs = r.f64();
    const b = new BackendStats(
      pool,
      backend,
      tauMs,
      windowMs,
      WindowedQuantileSketch.readFrom(r, windowMs),
    );
    b.requests = requests;
    b.errors = errors;
    b.errorRate = errorRate;
    b.ewmaLatencyMs = ewma;
    b.peakEwmaLatencyMs = peak;
    b.inflight = inflight;
    b.rate = rate;
    b.lastSeenMs = lastSeenMs;
    return b;
  }
}
