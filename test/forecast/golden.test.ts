/** Known answers: series where the right forecast, error and coverage are known exactly. */
import { describe, expect, it } from 'vitest';
import '../../src/forecast/builtin.js';
import { backtest, maseScale } from '../../src/forecast/backtest.js';
import type { FittedForecaster } from '../../src/forecast/forecaster.js';
import { forecasters } from '../../src/forecast/forecaster.js';
import { fitHoltWinters } from '../../src/forecast/holt-winters.js';
import { hourly, gaussian } from './helpers.js';

const create = (id: string) => forecasters.create(id, undefined);

describe('golden: seasonal naive on a periodic series', () => {
  it('has MASE exactly 0 when the series repeats its season', async () => {
    const m = 24;
    const base = Array.from({ length: m }, (_, i) => 50 + 10 * Math.sin((2 * Math.PI * i) / m));
    // The first season is perturbed (so the MASE scale is not 0); from then on it repeats exactly.
    const values = Float64Array.from({ length: m * 12 }, (_, t) => base[t % m]! + (t < m ? t : 0));
    const trainEnd = m * 8;
    const f = await create('seasonal-naive').fit(values, trainEnd, hourly(m), 12);
    const r = backtest(values, hourly(m), f, { trainEnd, h: 12 });
    expect(r.scale).toBeGreaterThan(0);
    expect(r.mae).toBe(0);
    expect(r.mase).toBe(0);
  });

  it('weekly seasonal naive reads one week back, and the day before with under a week', async () => {
    const m = 4;
    const values = Float64Array.from({ length: 80 }, (_, t) => t);
    const f = await create('seasonal-naive-weekly').fit(values, 60, hourly(m), 2);
    expect(Array.from(f.forecast(values, 40, 2).p50)).toEqual([41 - 28, 42 - 28]);
    expect(Array.from(f.forecast(values, 10, 2).p50)).toEqual([7, 8]);
  });
});

describe('golden: Holt-Winters on a linear trend', () => {
  for (const season of [24, 0]) {
    it(`converges to the line (season ${season}): holdout errors ~0`, async () => {
      const values = Float64Array.from({ length: 24 * 15 }, (_, t) => 10 + 0.5 * t);
      const trainEnd = 24 * 12;
      const f = await create('holt-winters').fit(values, trainEnd, hourly(season), 12);
      const r = backtest(values, hourly(season), f, { trainEnd, h: 12 });
      expect(r.mae).toBeLessThan(1e-3);
      expect(r.mase).toBeLessThan(1e-3);
    });
  }

  it('fits for the multi-step error: damping and smoothing reach the trend', () => {
    const values = Float64Array.from({ length: 24 * 10 }, (_, t) => 10 + 0.5 * t);
    const { params, mae } = fitHoltWinters(values, values.length, 24, 12);
    expect(mae).toBeLessThan(1e-6);
    expect(params.phi).toBeGreaterThan(0.99);
  });
});

describe('golden: naive on a constant', () => {
  it('forecasts the constant with zero error and a zero-width interval', async () => {
    const values = new Float64Array(200).fill(42);
    const f = await create('naive').fit(values, 150, hourly(24), 5);
    const q = f.forecast(values, 170, 5);
    expect(Array.from(q.p50)).toEqual([42, 42, 42, 42, 42]);
    expect(Array.from(q.p10)).toEqual(Array.from(q.p50));
    const r = backtest(values, hourly(24), f, { trainEnd: 150, h: 5 });
    expect(r.mae).toBe(0);
    expect(r.mase).toBe(0);
    expect(r.coverage80).toBe(1);
  });
});

describe('calibrated intervals', () => {
  // i.i.d. Gaussian noise around a daily sine: every model's k-step errors have a stable
  // distribution, so its empirical 10–90 % interval should cover about 80 % of the holdout.
  const m = 24;
  const z = gaussian(12345);
  const values = Float64Array.from(
    { length: m * 150 },
    (_, t) => 200 + 30 * Math.sin((2 * Math.PI * t) / m) + 5 * z(),
  );
  const trainEnd = m * 110;
  for (const id of [
    'naive',
    'seasonal-naive',
    'seasonal-naive-weekly',
    'holt-winters',
    'holt-winters-weekly',
  ]) {
    it(`${id}: coverage80 near 0.8 on seeded Gaussian noise`, async () => {
      const f = await create(id).fit(values, trainEnd, hourly(m), 12);
      const r = backtest(values, hourly(m), f, { trainEnd, h: 12 });
      expect(r.coverage80).toBeGreaterThan(0.74);
      expect(r.coverage80).toBeLessThan(0.86);
    });
  }
});

describe('backtest', () => {
  it('computes MAE, MASE and coverage as defined (hand-computed)', () => {
    // season 2, trainEnd 4 → scale = (|3−1| + |4−2|) / 2 = 2.
    // Origins 3..4 (n − 1 − h = 4), naive p50 ± 2.5:
    //   t=3: [4, 4] vs [6, 8] → errors 2, 4;  t=4: [6, 6] vs [8, 9] → errors 2, 3.
    // MAE = 11 / 4 = 2.75, MASE = 1.375, covered (|e| ≤ 2.5) = 2 of 4.
    const values = [1, 2, 3, 4, 6, 8, 9];
    const info = { stepSec: 60, startMs: 0, season: 2 };
    const stub: FittedForecaster = {
      forecast: (v, t, h) => {
        const p50 = new Float64Array(h).fill(v[t]!);
        return { p10: p50.map((x) => x - 2.5), p50, p90: p50.map((x) => x + 2.5) };
      },
    };
    let clock = 0;
    const r = backtest(values, info, stub, { trainEnd: 4, h: 2, now: () => (clock += 1) });
    expect(maseScale(values, 4, 2)).toBe(2);
    expect(r.origins).toBe(2);
    expect(r.mae).toBe(2.75);
    expect(r.mase).toBe(1.375);
    expect(r.coverage80).toBe(0.5);
    expect(r.serveMs).toEqual({ median: 1, p99: 1, max: 1 });
  });

  it('scales by the naive (lag 1) without a season', () => {
    expect(maseScale([1, 3, 2, 6], 4, 0)).toBe((2 + 1 + 4) / 3);
  });
});
