/**
 * @module forecast/forecaster
 * The contract of forecasters (request rate per pool, backend or cache node). One file per
 * algorithm, a registry, and one shared contract test (`test/forecast/forecaster.contract.test.ts`)
 * every implementation passes, including the leakage check: a forecast made at origin t reads
 * only `values[0..t]`, so changing any later point never changes it.
 *
 * Two phases, as in a rolling-origin backtest: `fit` once on the training part (may be slow,
 * may be async for tfjs), then `forecast` at any origin without refitting (must be fast: the
 * engine serves it). A fitted model may keep state that it advances as origins move forward,
 * as long as that state only ever holds points at or before the origin asked for.
 */
import { Registry } from '../registry.js';

export interface SeriesInfo {
  /** Step between consecutive points, seconds. */
  readonly stepSec: number;
  /** Epoch ms of `values[0]` (for calendar features: hour of day, day of week). */
  readonly startMs: number;
  /** Daily season in steps (e.g. 288 for 5-minute points); 0 when the step does not divide a day. */
  readonly season: number;
}

/** p10 / p50 / p90 for horizons 1..h (index 0 = one step after the origin). */
export interface Quantiles {
  readonly p10: Float64Array;
  readonly p50: Float64Array;
  readonly p90: Float64Array;
}

export interface FittedForecaster {
  /** Forecasts h steps after `values[origin]`, reading `values[0..origin]` only. */
  forecast(values: ArrayLike<number>, origin: number, h: number): Quantiles;
}

export interface Forecaster {
  readonly id: string;
  /**
   * Fits on the training part `values[0..trainEnd)` for horizon `h`. Never reads
   * `values[trainEnd..]`.
   */
  fit(
    values: ArrayLike<number>,
    trainEnd: number,
    info: SeriesInfo,
    h: number,
  ): Promise<FittedForecaster>;
}

export const forecasters = new Registry<Forecaster>('forecaster');
