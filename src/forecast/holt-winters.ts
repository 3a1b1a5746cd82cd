/**
 * @module forecast/holt-winters
 * Additive Holt-Winters with a damped trend (Holt 1957, "Forecasting seasonals and trends by
 * exponentially weighted moving averages", ONR memo 52; Winters 1960, Management Science 6(3);
 * damping: Gardner & McKenzie 1985; the component form of Hyndman & Athanasopoulos, FPP3 §8.3):
 *
 *   ℓ_t = α (y_t − s_{t−m}) + (1 − α)(ℓ_{t−1} + φ b_{t−1})
 *   b_t = β (ℓ_t − ℓ_{t−1}) + (1 − β) φ b_{t−1}
 *   s_t = γ (y_t − ℓ_{t−1} − φ b_{t−1}) + (1 − γ) s_{t−m}
 *   ŷ(t, k) = ℓ_t + (φ + φ² + … + φ^k) b_t + s_{t+k−m⌈k/m⌉}
 *
 * with m the daily season (`holt-winters`) or one week, seven daily seasons
 * (`holt-winters-weekly`, which keeps weekday / weekend shapes apart; with under two weeks of
 * training data it uses the daily season). Without one (`season` 0, or less than two seasons of training data)
 * it is Holt's damped linear trend (s ≡ 0).
 *
 * Fitting. The parameters are chosen to minimise the mean absolute error over horizons 1..h at
 * every origin of the training part, not the one-step squared error of the textbook fit: on
 * traffic series the one-step fit picks a large α that chases noise, which is right for the next
 * point and poor twelve points ahead. A coarse grid over (α, β, γ, φ) is followed by Nelder–Mead
 * (`nelder-mead.ts`) from the best grid point; α ∈ [0.001, 0.999], β ∈ [0, 0.5],
 * γ ∈ [0, 1 − α], φ ∈ [0.8, 1]. One evaluation is one O(n·h) pass, so fitting 15,000 points
 * takes well under a second. The first season of origins is left out of the objective (burn-in).
 * Initial state, from the first K = min(4, seasons in training) seasons: ℓ = mean of season 0,
 * b = (mean of season K−1 − mean of season 0) / ((K−1) m), s_i = the mean over those seasons of
 * `y[jm+i] − mean of season j − b (i − (m−1)/2)`; these numbers are fitted parameters like α.
 *
 * Serving. `forecast(values, origin, h)` runs the recursion from the stored initial state over
 * `values[0..origin]` (no refit), and keeps the state reached, per `values` array, so the next
 * call at a later origin only advances through the new points: a rolling backtest over thousands
 * of origins costs O(n + origins·h). A call at an earlier origin restarts from the latest
 * checkpoint at or before it (one is kept every {@link CHECKPOINT_EVERY} steps). The state never
 * holds a point after the origin asked for. As with a live series, a `values` array may grow
 * between calls but points already read must not change (a changed point at the cached position is
 * detected and the state recomputed; earlier in-place edits are not).
 *
 * Intervals: the shared empirical per-horizon error quantiles (`intervals.ts`).
 */
import type { FittedForecaster, Forecaster, Quantiles, SeriesInfo } from './forecaster.js';
import { forecasters } from './forecaster.js';
import { errorQuantiles, withIntervals, type ErrorQuantiles } from './intervals.js';
import { nelderMead } from './nelder-mead.js';

/** Steps between kept states for restarting at an earlier origin. */
export const CHECKPOINT_EVERY = 1024;

export interface HoltWintersParams {
  readonly alpha: number;
  readonly beta: number;
  readonly gamma: number;
  readonly phi: number;
}

/** The state before `values[0]` (fitted), and the season length (1 = no seasonality). */
export interface HoltWintersInit {
  readonly level: number;
  readonly trend: number;
  /** Seasonal component for time t at index t mod m. */
  readonly seasonal: Float64Array;
}

interface State {
  /** Index of the last point applied (−1: none). */
  t: number;
  level: number;
  trend: number;
  seasonal: Float64Array;
  /** `values[t]` when the state was reached, to detect a different series in the same array. */
  yAtT: number;
}

/** Initial state from the first seasons of `values[0..trainEnd)`; `m` ≤ 1 → non-seasonal. */
export function initialState(
  values: ArrayLike<number>,
  trainEnd: number,
  m: number,
): HoltWintersInit {
  const seasons = m > 1 ? Math.min(4, Math.floor(trainEnd / m)) : 0;
  if (seasons < 2) {
    // Non-seasonal: the slope over the first (up to) 10 steps, ending at values[0] before time 0.
    const span = Math.min(10, trainEnd - 1);
    const y0 = trainEnd > 0 ? values[0]! : 0;
    const trend = span > 0 ? (values[span]! - y0) / span : 0;
    return { level: y0 - trend, trend, seasonal: new Float64Array(1) };
  }
  const means: number[] = [];
  for (let j = 0; j < seasons; j++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += values[j * m + i]!;
    means.push(s / m);
  }
  const trend = (means[seasons - 1]! - means[0]!) / ((seasons - 1) * m);
  // Detrended within each season, so a ramp is not mistaken for a seasonal shape.
  const seasonal = new Float64Array(m);
  for (let j = 0; j < seasons; j++)
    for (let i = 0; i < m; i++)
      seasonal[i]! += (values[j * m + i]! - means[j]! - trend * (i - (m - 1) / 2)) / seasons;
  // ℓ_{−1}: the mean of season 0 sits at its centre, (m − 1) / 2 steps after time 0.
  const level = means[0]! - trend * ((m + 1) / 2);
  return { level, trend, seasonal };
}

/**
 * One step of the additive damped Holt-Winters recursion for observation `y` at season index
 * `i`: updates level and trend in `lt` and the seasonal component in place. The fitting
 * objective and the served model share it, so what is fit is what is served.
 */
function update(
  lt: { level: number; trend: number },
  seas: Float64Array,
  y: number,
  i: number,
  p: HoltWintersParams,
): void {
  const { alpha, beta, gamma, phi } = p;
  const s = seas[i]!;
  const prior = lt.level + phi * lt.trend;
  const next = alpha * (y - s) + (1 - alpha) * prior;
  lt.trend = beta * (next - lt.level) + (1 - beta) * phi * lt.trend;
  seas[i] = gamma * (y - prior) + (1 - gamma) * s;
  lt.level = next;
}

/** Cumulative damping sums φ + … + φ^k for k = 0..h (index k). */
function dampSums(phi: number, h: number): Float64Array {
  const out = new Float64Array(h + 1);
  let p = 1;
  for (let k = 1; k <= h; k++) {
    p *= phi;
    out[k] = out[k - 1]! + p;
  }
  return out;
}

/**
 * Mean absolute error over horizons 1..h at every origin t ∈ [burn, n−1−h] of `values[0..n)`,
 * running the recursion once (the fitting objective).
 */
export function multiStepMae(
  values: ArrayLike<number>,
  n: number,
  p: HoltWintersParams,
  init: HoltWintersInit,
  h: number,
  burn: number,
): number {
  const seas = Float64Array.from(init.seasonal);
  const m = seas.length;
  const damp = dampSums(p.phi, h);
  const lt = { level: init.level, trend: init.trend };
  let sum = 0;
  let count = 0;
  for (let t = 0; t < n; t++) {
    update(lt, seas, values[t]!, t % m, p);
    if (t >= burn && t + h < n) {
      for (let k = 1; k <= h; k++)
        sum += Math.abs(values[t + k]! - (lt.level + damp[k]! * lt.trend + seas[(t + k) % m]!));
      count += h;
    }
  }
  return count > 0 ? sum / count : Number.POSITIVE_INFINITY;
}

/** Parameters from a point of the unit box (α, β/0.5, γ/(1−α), (φ−0.8)/0.2). */
function paramsOf(x: readonly number[]): HoltWintersParams {
  const alpha = 0.001 + 0.998 * x[0]!;
  return { alpha, beta: 0.5 * x[1]!, gamma: (1 - alpha) * x[2]!, phi: 0.8 + 0.2 * x[3]! };
}

/** Fits (α, β, γ, φ) to the multi-step MAE of `values[0..trainEnd)` (see the module header). */
export function fitHoltWinters(
  values: ArrayLike<number>,
  trainEnd: number,
  season: number,
  h: number,
): { params: HoltWintersParams; init: HoltWintersInit; mae: number } {
  const init = initialState(values, trainEnd, season);
  const m = init.seasonal.length;
  const burn = Math.min(m > 1 ? m : 0, Math.floor(trainEnd / 4));
  const seasonal = m > 1;
  const loss = (x: readonly number[]) =>
    multiStepMae(
      values,
      trainEnd,
      paramsOf(seasonal ? x : [x[0]!, x[1]!, 0, x[3]!]),
      init,
      h,
      burn,
    );
  let best = { x: [0.1, 0.02, 0.1, 0.9], v: Number.POSITIVE_INFINITY };
  for (const a of [0.01, 0.05, 0.15, 0.35, 0.7])
    for (const b of [0, 0.02, 0.2])
      for (const g of seasonal ? [0.02, 0.1, 0.3, 0.7] : [0])
        for (const f of [0.5, 0.9]) {
          const x = [a, b, g, f];
          const v = loss(x);
          if (v < best.v) best = { x, v };
        }
  const nm = nelderMead(loss, best.x, { maxEvals: 160, step: [0.05, 0.02, 0.05, 0.1] });
  const x = nm.value < best.v ? nm.x : best.x;
  const params = paramsOf(seasonal ? x : [x[0]!, x[1]!, 0, x[3]!]);
  return { params, init, mae: Math.min(nm.value, best.v) };
}

export class HoltWintersFitted implements FittedForecaster {
  private readonly states = new WeakMap<object, { current: State; checkpoints: State[] }>();
  private readonly damp: Float64Array;
  /** Interval offsets, set once by the forecaster after fitting. */
  errors: ErrorQuantiles | undefined;

  constructor(
    readonly params: HoltWintersParams,
    readonly init: HoltWintersInit,
    h: number,
  ) {
    this.damp = dampSums(params.phi, Math.max(1, h));
  }

  private fresh(): State {
    const { level, trend, seasonal } = this.init;
    return { t: -1, level, trend, seasonal: Float64Array.from(seasonal), yAtT: Number.NaN };
  }

  private copy(s: State): State {
    return { ...s, seasonal: Float64Array.from(s.seasonal) };
  }

  /** The state after applying `values[0..origin]`, reusing and advancing the cached one. */
  private stateAt(values: ArrayLike<number>, origin: number): State {
    const key = values as object;
    let entry = this.states.get(key);
    if (!entry) {
      entry = { current: this.fresh(), checkpoints: [] };
      this.states.set(key, entry);
    }
    const valid = (s: State) => s.t <= origin && (s.t < 0 || Object.is(values[s.t], s.yAtT));
    let state = entry.current;
    if (!valid(state)) {
      // Restart from the latest checkpoint at or before the origin whose point is unchanged;
      // a changed one, and every later one, is dropped. Nothing after the origin is read.
      const cps = entry.checkpoints;
      let cp: State | undefined;
      for (let j = cps.length - 1; j >= 0; j--) {
        const c = cps[j]!;
        if (c.t > origin) continue;
        if (valid(c)) {
          cp = c;
          break;
        }
        cps.length = j;
      }
      state = cp ? this.copy(cp) : this.fresh();
    }
    const seas = state.seasonal;
    const m = seas.length;
    for (let t = state.t + 1; t <= origin; t++) {
      const y = values[t]!;
      update(state, seas, y, t % m, this.params);
      if ((t + 1) % CHECKPOINT_EVERY === 0 && (entry.checkpoints.at(-1)?.t ?? -1) < t) {
        entry.checkpoints.push({
          t,
          level: state.level,
          trend: state.trend,
          seasonal: Float64Array.from(seas),
          yAtT: y,
        });
      }
    }
    if (origin > state.t) {
      state.t = origin;
      state.yAtT = values[origin]!;
    }
    entry.current = state;
    return state;
  }

  /** Point forecast for horizons 1..h after `values[origin]`. */
  point(values: ArrayLike<number>, origin: number, h: number): Float64Array {
    const s = this.stateAt(values, origin);
    const damp = h < this.damp.length ? this.damp : dampSums(this.params.phi, h);
    const m = s.seasonal.length;
    const out = new Float64Array(h);
    for (let k = 1; k <= h; k++)
      out[k - 1] = s.level + damp[k]! * s.trend + s.seasonal[(origin + k) % m]!;
    return out;
  }

  forecast(values: ArrayLike<number>, origin: number, h: number): Quantiles {
    const p50 = this.point(values, origin, h);
    return withIntervals(
      p50,
      this.errors ?? { lo: new Float64Array(0), hi: new Float64Array(0), origins: 0 },
    );
  }
}

export class HoltWintersForecaster implements Forecaster {
  /**
   * @param seasonsPerPeriod 1: the seasonal period is the daily season; 7: one week (7 daily
   *   seasons), falling back to the daily season when the training part holds under two weeks.
   */
  constructor(
    readonly id: string = 'holt-winters',
    private readonly seasonsPerPeriod: 1 | 7 = 1,
  ) {}

  fit(
    values: ArrayLike<number>,
    trainEnd: number,
    info: SeriesInfo,
    h: number,
  ): Promise<FittedForecaster> {
    const weekly = this.seasonsPerPeriod * info.season;
    const m = weekly > 0 && trainEnd >= 2 * weekly ? weekly : info.season;
    const { params, init } = fitHoltWinters(values, trainEnd, m, h);
    const fitted = new HoltWintersFitted(params, init, h);
    fitted.errors = errorQuantiles((v, t, hh) => fitted.point(v, t, hh), values, trainEnd, h);
    return Promise.resolve(fitted);
  }
}

forecasters.register('holt-winters', () => new HoltWintersForecaster('holt-winters', 1));
forecasters.register(
  'holt-winters-weekly',
  () => new HoltWintersForecaster('holt-winters-weekly', 7),
);
