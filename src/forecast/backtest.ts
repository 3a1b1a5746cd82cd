/**
 * @module forecast/backtest
 * Rolling-origin evaluation of fitted forecasters on a holdout (Tashman 2000, "Out-of-sample tests
 * of forecasting accuracy", IJF 16(4); MASE: Hyndman & Koehler 2006, IJF 22(4)). Pure.
 *
 * Definitions (the issue's, made precise):
 *   - The training part is `values[0..trainEnd)`, the holdout `values[trainEnd..n)`.
 *   - Origins: every t from `trainEnd − 1` (the last training point: its forecasts are the first
 *     holdout points) to `n − 1 − h` (the last origin whose h targets all exist), step 1. So every
 *     holdout point is forecast at every horizon it can be, and no origin is skipped.
 *   - MAE = the mean of |y[t+k] − p50(t, k)| over every origin t and every horizon k = 1..h.
 *   - MASE = MAE / scale, scale = the in-sample MAE of the daily seasonal naive on the training
 *     part: the mean of |y[t] − y[t−m]| over t ∈ [m, trainEnd), m = `info.season` (lag 1, the naive
 *     forecast, when the series has no season or the training part is shorter than one season).
 *     MAE 0 gives MASE 0 even when the scale is 0 (a perfectly periodic training part); otherwise
 *     a zero scale gives Infinity.
 *   - coverage80 = the fraction of those (origin, horizon) actuals with p10 ≤ y ≤ p90.
 * The time of every `forecast()` call is recorded (median, p99 and max, ms): the serving latency.
 */
import type { FittedForecaster, SeriesInfo } from './forecaster.js';

export interface BacktestOptions {
  /** End of the training part (exclusive): the holdout is `values[trainEnd..]`. */
  readonly trainEnd: number;
  /** Forecast horizon in steps. */
  readonly h: number;
  /** Overrides of the first and last origin (defaults `trainEnd − 1` and `n − 1 − h`). */
  readonly origins?: { readonly first?: number; readonly last?: number };
  /** Clock in ms for the serving latency (default `performance.now`). */
  readonly now?: () => number;
}

export interface BacktestResult {
  readonly mae: number;
  readonly mase: number;
  /** Fraction of actuals within [p10, p90]. */
  readonly coverage80: number;
  /** Number of origins (each contributes h errors). */
  readonly origins: number;
  /** The MASE denominator (see the module header). */
  readonly scale: number;
  /** Time per `forecast()` call, ms. */
  readonly serveMs: { readonly median: number; readonly p99: number; readonly max: number };
}

/** The MASE scale: in-sample MAE of the daily seasonal naive on `values[0..trainEnd)`. */
export function maseScale(values: ArrayLike<number>, trainEnd: number, season: number): number {
  const lag = season > 0 && trainEnd > season ? season : 1;
  let sum = 0;
  for (let t = lag; t < trainEnd; t++) sum += Math.abs(values[t]! - values[t - lag]!);
  return trainEnd > lag ? sum / (trainEnd - lag) : 0;
}

/** Rolling-origin backtest of one fitted forecaster (see the module header). */
export function backtest(
  values: ArrayLike<number>,
  info: SeriesInfo,
  fitted: FittedForecaster,
  options: BacktestOptions,
): BacktestResult {
  const { trainEnd, h } = options;
  const n = values.length;
  const now = options.now ?? (() => performance.now());
  const first = Math.max(0, options.origins?.first ?? trainEnd - 1);
  const last = Math.min(n - 1 - h, options.origins?.last ?? n - 1 - h);
  let absSum = 0;
  let covered = 0;
  let count = 0;
  const times: number[] = [];
  for (let t = first; t <= last; t++) {
    const start = now();
    const q = fitted.forecast(values, t, h);
    times.push(now() - start);
    for (let k = 0; k < h; k++) {
      const y = values[t + 1 + k]!;
      absSum += Math.abs(y - q.p50[k]!);
      if (q.p10[k]! <= y && y <= q.p90[k]!) covered++;
      count++;
    }
  }
  const scale = maseScale(values, trainEnd, info.season);
  const mae = count > 0 ? absSum / count : Number.NaN;
  times.sort((a, b) => a - b);
  return {
    mae,
    mase: mae === 0 ? 0 : mae / scale,
    coverage80: count > 0 ? covered / count : Number.NaN,
    origins: times.length,
    scale,
    serveMs: {
      median: times.length > 0 ? times[(times.length - 1) >> 1]! : 0,
      p99:
        times.length > 0
          ? times[Math.min(times.length - 1, Math.ceil(0.99 * times.length) - 1)]!
          : 0,
      max: times.at(-1) ?? 0,
    },
  };
}

/** {@link backtest} for several fitted forecasters on the same origins, by model id. */
export function rollingBacktest(
  values: ArrayLike<number>,
  info: SeriesInfo,
  fitted: Readonly<Record<string, FittedForecaster>>,
  options: BacktestOptions,
): Record<string, BacktestResult> {
  const out: Record<string, BacktestResult> = {};
  for (const [id, f] of Object.entries(fitted)) out[id] = backtest(values, info, f, options);
  return out;
}
