/**
 * @module forecast/intervals
 * Calibrated p10 / p90 for any point forecaster, from the empirical quantiles of its own k-step
 * errors on the training part (the "empirical prediction intervals" of Williams & Goodman 1971,
 * and Hyndman & Athanasopoulos, FPP3 §5.5 "bootstrapped residuals", made per horizon).
 *
 * For each sampled training origin t the point forecaster is run exactly as it is served (reading
 * `values[0..t]` only), and the error `y[t+k] − ŷ(t, k)` is recorded for each horizon k = 1..h.
 * The 10 % and 90 % quantiles of the errors at horizon k are then added to the point forecast:
 * `p10[k] = p50[k] + q10_k`, `p90[k] = p50[k] + q90_k`. Because the quantiles come from the same
 * model's own errors at the same horizon, the intervals are calibrated for each model (a model
 * with larger 12-step errors gets wider 12-step intervals), and a biased model gets skewed ones.
 * `q10` is clipped to ≤ 0 and `q90` to ≥ 0 so that p10 ≤ p50 ≤ p90 always holds.
 *
 * Origins: by default every origin of the last half of the training part whose h targets are all
 * in it (recent errors are the relevant ones), thinned evenly to at most
 * {@link DEFAULT_MAX_ORIGINS}. With too little history for that, the earliest possible origins;
 * with none at all, zero offsets (a degenerate interval p10 = p50 = p90).
 *
 * The errors are in-sample for a model whose parameters were fit on the same data; for models with
 * a handful of parameters (Holt-Winters) the optimism is small. A model with many parameters (the
 * learned one) should pass `from` at the start of a tail it was not trained on.
 */
import type { FittedForecaster, Quantiles } from './forecaster.js';

/** A point forecast for horizons 1..h after `values[origin]`, reading `values[0..origin]` only. */
export type PointForecast = (values: ArrayLike<number>, origin: number, h: number) => Float64Array;

/** Per-horizon error quantiles (index 0 = horizon 1), added to the point forecast. */
export interface ErrorQuantiles {
  /** 10 % quantile of `actual − forecast` per horizon, ≤ 0. */
  readonly lo: Float64Array;
  /** 90 % quantile of `actual − forecast` per horizon, ≥ 0. */
  readonly hi: Float64Array;
  /** Number of origins the quantiles come from. */
  readonly origins: number;
}

export interface CalibrationOptions {
  /** First origin to sample (default: half of `trainEnd`, or earlier if needed for any origin). */
  readonly from?: number;
  /** Most origins to sample, spread evenly (default {@link DEFAULT_MAX_ORIGINS}). */
  readonly maxOrigins?: number;
  /** Lower and upper quantile levels (default 0.1 and 0.9). */
  readonly levels?: readonly [number, number];
}

export const DEFAULT_MAX_ORIGINS = 2000;

/** Linear-interpolated quantile of a sorted array (type 7, as R's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const a = sorted[lo]!;
  return a + (sorted[hi]! - a) * (pos - lo);
}

/**
 * The per-horizon error quantiles of `point` on the training part `values[0..trainEnd)` (see the
 * module header). Reads no value at or after `trainEnd`.
 */
export function errorQuantiles(
  point: PointForecast,
  values: ArrayLike<number>,
  trainEnd: number,
  h: number,
  options: CalibrationOptions = {},
): ErrorQuantiles {
  const [qLo, qHi] = options.levels ?? [0.1, 0.9];
  const last = trainEnd - 1 - h; // last origin whose h targets are all in the training part
  let from = options.from ?? Math.floor(trainEnd / 2);
  if (from > last) from = Math.max(0, last);
  const lo = new Float64Array(h);
  const hi = new Float64Array(h);
  if (last < 0 || h < 1) return { lo, hi, origins: 0 };
  const count = last - from + 1;
  const maxOrigins = Math.max(1, options.maxOrigins ?? DEFAULT_MAX_ORIGINS);
  const used = Math.min(count, maxOrigins);
  const errors = Array.from({ length: h }, () => new Float64Array(used));
  for (let i = 0; i < used; i++) {
    // Evenly spread, increasing origins (stateful forecasters advance incrementally).
    const t = used === count ? from + i : from + Math.floor((i * (count - 1)) / (used - 1 || 1));
    const f = point(values, t, h);
    for (let k = 0; k < h; k++) errors[k]![i] = values[t + 1 + k]! - f[k]!;
  }
  for (let k = 0; k < h; k++) {
    const e = errors[k]!.sort();
    lo[k] = Math.min(0, quantileSorted(e, qLo));
    hi[k] = Math.max(0, quantileSorted(e, qHi));
  }
  return { lo, hi, origins: used };
}

/** p10 / p50 / p90 from a point forecast and error quantiles; horizons beyond them reuse the last. */
export function withIntervals(p50: Float64Array, q: ErrorQuantiles): Quantiles {
  const h = p50.length;
  const p10 = new Float64Array(h);
  const p90 = new Float64Array(h);
  const last = q.lo.length - 1;
  for (let k = 0; k < h; k++) {
    const j = Math.min(k, last);
    p10[k] = p50[k]! + (j >= 0 ? q.lo[j]! : 0);
    p90[k] = p50[k]! + (j >= 0 ? q.hi[j]! : 0);
  }
  return { p10, p50, p90 };
}

/**
 * A fitted forecaster from a point forecast, with intervals calibrated on the training part:
 * the one-liner every point forecaster (and the learned one, if it wants) ends its `fit` with.
 */
export function calibratedForecaster(
  point: PointForecast,
  values: ArrayLike<number>,
  trainEnd: number,
  h: number,
  options: CalibrationOptions = {},
): FittedForecaster & { readonly errors: ErrorQuantiles } {
  const errors = errorQuantiles(point, values, trainEnd, h, options);
  return {
    errors,
    forecast: (v, origin, hh) => withIntervals(point(v, origin, hh), errors),
  };
}
