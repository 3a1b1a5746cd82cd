/**
 * @module forecast/seasonal-naive
 * The seasonal naive forecaster: each horizon gets the value one period earlier,
 * `ŷ(t, k) = y[t + k − P·⌈k/P⌉]` (Hyndman & Athanasopoulos, FPP3 §5.2 "Seasonal naïve method";
 * the scale of MASE, Hyndman & Koehler 2006). Two registered variants:
 *   - `seasonal-naive`: P = the daily season (`info.season`), the floor learned forecasters are
 *     reported against;
 *   - `seasonal-naive-weekly`: P = 7 daily seasons (same time last week, which keeps weekday /
 *     weekend patterns); at origins with less than a week of history it falls back to the daily
 *     period.
 * Without a daily season (`season` 0), or with less than one period of history at the origin,
 * both fall back to the naive forecast (the last value). Intervals: the shared empirical
 * per-horizon error quantiles (`intervals.ts`).
 */
import type { FittedForecaster, Forecaster, SeriesInfo } from './forecaster.js';
import { forecasters } from './forecaster.js';
import { calibratedForecaster, type PointForecast } from './intervals.js';

/** Point forecast repeating the values one period back; the first period that fits wins. */
export function seasonalNaivePoint(periods: readonly number[]): PointForecast {
  return (values, origin, h) => {
    const out = new Float64Array(h);
    const period = periods.find((p) => p > 0 && origin + 1 >= p);
    for (let k = 1; k <= h; k++) {
      out[k - 1] =
        period === undefined
          ? values[origin]!
          : values[origin + k - period * Math.ceil(k / period)]!;
    }
    return out;
  };
}

export class SeasonalNaiveForecaster implements Forecaster {
  /** @param seasonsBack 1 → daily period; 7 → weekly period falling back to daily. */
  constructor(
    readonly id: string,
    private readonly seasonsBack: 1 | 7,
  ) {}

  fit(
    values: ArrayLike<number>,
    trainEnd: number,
    info: SeriesInfo,
    h: number,
  ): Promise<FittedForecaster> {
    const m = info.season;
    const periods = this.seasonsBack === 7 ? [7 * m, m] : [m];
    return Promise.resolve(calibratedForecaster(seasonalNaivePoint(periods), values, trainEnd, h));
  }
}

forecasters.register('seasonal-naive', () => new SeasonalNaiveForecaster('seasonal-naive', 1));
forecasters.register(
  'seasonal-naive-weekly',
  () => new SeasonalNaiveForecaster('seasonal-naive-weekly', 7),
);
