/**
 * @module learn/direct-features
 * Input rows and targets of the direct multi-horizon forecasters (`learned-quantile`,
 * `direct-ridge`), in plain JavaScript so fitting and serving build them identically.
 *
 * A row is built at an origin t from `values[0..t]` only (the leakage contract of
 * `forecast/forecaster.ts`): the last `recent` points, the same window one day earlier, the values
 * one and two days (and, when the training part is long enough, one week) before each target
 * time t+k, and the calendar of the first target (hour of day and day of week as sin/cos). Every
 * value is divided by a per-origin level (the mean absolute value of the last day) and shifted by
 * −1, so one model serves a series whose level drifts; targets use the same level. This is the
 * "direct" strategy with shared features of MQ-CNN (Wen et al. 2017), minus the encoder.
 */
import type { SeriesInfo } from '../forecast/forecaster.js';

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

/** What a fitted model needs to rebuild its input rows at any origin. */
export interface DirectLayout {
  /** Horizon the model was fit for (outputs per quantile). */
  readonly h: number;
  /** Daily season in steps (0: none, the seasonal inputs are left out). */
  readonly season: number;
  /** Number of most recent points read. */
  readonly recent: number;
  /** Whether the one-week-before input is present (needs enough training history). */
  readonly weekly: boolean;
  /** Points the level is averaged over (one season, or `recent` without a season). */
  readonly levelSpan: number;
  /** Floor of the level so near-zero stretches do not blow the ratios up. */
  readonly levelFloor: number;
  /** First origin a full row can be built at. */
  readonly minOrigin: number;
  /** Row width. */
  readonly width: number;
  readonly stepSec: number;
  readonly startMs: number;
  /**
   * Column of the one-day-before input of horizon k (k = 1..h) at `dailyCol + k − 1`, or −1:
   * the learned models start from seasonal naive by putting weight 1 there.
   */
  readonly dailyCol: number;
}

/** Chooses the layout for a series (no data read beyond `trainEnd`). */
export function directLayout(
  values: ArrayLike<number>,
  trainEnd: number,
  info: SeriesInfo,
  h: number,
  recent = 24,
): DirectLayout {
  const season = info.season;
  const levelSpan = season > 0 ? season : recent;
  let lookback = Math.max(recent, levelSpan);
  if (season > 0) lookback = Math.max(lookback, 2 * season + recent, 2 * season + h);
  // The weekly input costs 7 seasons of history before the first training origin: keep it only
  // when at least four days of training origins remain after that.
  const weekly = season > 0 && trainEnd - 7 * season - h >= 4 * season;
  if (weekly) lookback = Math.max(lookback, 7 * season);
  let sumAbs = 0;
  for (let i = 0; i < trainEnd; i++) sumAbs += Math.abs(values[i] ?? 0);
  const levelFloor = Math.max(1e-6, (1e-3 * sumAbs) / Math.max(1, trainEnd));
  const seasonal = season > 0 ? recent + (weekly ? 3 : 2) * h : 0;
  return {
    h,
    season,
    recent,
    weekly,
    levelSpan,
    levelFloor,
    minOrigin: lookback - 1,
    width: recent + seasonal + 4,
    stepSec: info.stepSec,
    startMs: info.startMs,
    dailyCol: season > 0 ? 2 * recent : -1,
  };
}

/** Level (scale) at origin t: mean |value| over the last `levelSpan` points, floored. */
export function levelAt(values: ArrayLike<number>, t: number, layout: DirectLayout): number {
  let sum = 0;
  for (let i = t - layout.levelSpan + 1; i <= t; i++) sum += Math.abs(values[i] ?? 0);
  return Math.max(layout.levelFloor, sum / layout.levelSpan);
}

/**
 * Writes the row of origin t into `out[offset..offset + width)` and returns the level used.
 * Reads `values[t − lookback + 1 .. t]` only; requires t ≥ `layout.minOrigin`.
 */
export function writeRow(
  values: ArrayLike<number>,
  t: number,
  layout: DirectLayout,
  out: Float32Array | Float64Array,
  offset = 0,
): number {
  const { recent, season, h } = layout;
  const level = levelAt(values, t, layout);
  const inv = 1 / level;
  let c = offset;
  for (let j = recent - 1; j >= 0; j--) out[c++] = (values[t - j] ?? 0) * inv - 1;
  if (season > 0) {
    for (let j = recent - 1; j >= 0; j--) out[c++] = (values[t - season - j] ?? 0) * inv - 1;
    // y[t + k − m·season], stepping back whole seasons until the point is ≤ t (h may exceed it).
    const lags = layout.weekly ? [1, 2, 7] : [1, 2];
    for (const days of lags) {
      for (let k = 1; k <= h; k++) {
        let i = t + k - days * season;
        while (i > t) i -= season;
        out[c++] = (values[i] ?? 0) * inv - 1;
      }
    }
  }
  const ms = layout.startMs + (t + 1) * layout.stepSec * 1000;
  const day = (((ms % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS;
  // 1970-01-01 was a Thursday; the phase is arbitrary, only its periodicity matters.
  const week = (((ms % WEEK_MS) + WEEK_MS) % WEEK_MS) / WEEK_MS;
  out[c++] = Math.sin(2 * Math.PI * day);
  out[c++] = Math.cos(2 * Math.PI * day);
  out[c++] = Math.sin(2 * Math.PI * week);
  out[c++] = Math.cos(2 * Math.PI * week);
  return level;
}

/** Training rows: origins, inputs (n × width), normalised targets (n × h), levels. */
export interface DirectDataset {
  readonly origins: Int32Array;
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly level: Float32Array;
  readonly n: number;
}

/**
 * Rows at training origins t with every target inside the training part (t + h < trainEnd),
 * taking every `stride`-th origin (counted back from the last) so at most `maxRows` are built.
 */
export function buildDataset(
  values: ArrayLike<number>,
  trainEnd: number,
  layout: DirectLayout,
  maxRows: number,
): DirectDataset {
  const first = layout.minOrigin;
  const last = trainEnd - 1 - layout.h;
  const available = Math.max(0, last - first + 1);
  const stride = Math.max(1, Math.ceil(available / maxRows));
  const n = Math.ceil(available / stride);
  const origins = new Int32Array(n);
  for (let r = 0; r < n; r++) origins[n - 1 - r] = last - r * stride;
  const x = new Float32Array(n * layout.width);
  const y = new Float32Array(n * layout.h);
  const level = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    const t = origins[r] ?? 0;
    const lv = writeRow(values, t, layout, x, r * layout.width);
    level[r] = lv;
    for (let k = 1; k <= layout.h; k++) y[r * layout.h + k - 1] = (values[t + k] ?? 0) / lv - 1;
  }
  return { origins, x, y, level, n };
}

/**
 * Forecast at an origin too early for a full row: the last value, with a ±20 % band. Only
 * reached when a series is shorter than the model's lookback.
 */
export function fallbackForecast(values: ArrayLike<number>, origin: number, h: number) {
  const last = origin >= 0 ? (values[origin] ?? 0) : 0;
  const p50 = new Float64Array(h).fill(last);
  const spread = Math.abs(last) * 0.2;
  return {
    p10: new Float64Array(h).fill(last - spread),
    p50,
    p90: new Float64Array(h).fill(last + spread),
  };
}
