/**
 * @module forecast/naive
 * The naive (random-walk) forecaster: every horizon gets the last observed value,
 * `ŷ(t, k) = y[t]`. The floor every other forecaster must beat on series without seasonality
 * (Hyndman & Athanasopoulos, FPP3 §5.2 "Naïve method"). Intervals: the shared empirical
 * per-horizon error quantiles (`intervals.ts`).
 */
import type { FittedForecaster, Forecaster, SeriesInfo } from './forecaster.js';
import { forecasters } from './forecaster.js';
import { calibratedForecaster } from './intervals.js';

/** Last value repeated h times. */
export function naivePoint(values: ArrayLike<number>, origin: number, h: number): Float64Array {
  return new Float64Array(h).fill(values[origin]!);
}

export class NaiveForecaster implements Forecaster {
  readonly id = 'naive';

  fit(
    values: ArrayLike<number>,
    trainEnd: number,
    _info: SeriesInfo,
    h: number,
  ): Promise<FittedForecaster> {
    return Promise.resolve(calibratedForecaster(naivePoint, values, trainEnd, h));
  }
}

forecasters.register('naive', () => new NaiveForecaster());
