import { describe, expect, it } from 'vitest';
import '../../src/forecast/builtin.js';
import { backtest } from '../../src/forecast/backtest.js';
import type { Forecaster } from '../../src/forecast/forecaster.js';
import { forecasters } from '../../src/forecast/forecaster.js';
import { SelectorForecaster } from '../../src/forecast/selector.js';
import { hourly, noisySeasonal } from './helpers.js';

const m = 24;
const info = hourly(m);
const values = noisySeasonal(m * 30, m, 4, 99);
const trainEnd = m * 24;
const h = 6;
const builtins = () =>
  ['naive', 'seasonal-naive', 'seasonal-naive-weekly', 'holt-winters'].map((id) =>
    forecasters.create(id, undefined),
  );

/** A candidate that knows the noiseless pattern: it must win the validation. */
const oracle: Forecaster = {
  id: 'oracle',
  fit: () =>
    Promise.resolve({
      forecast: (_v, t, hh) => {
        const p50 = Float64Array.from(
          { length: hh },
          (_, k) => 100 + 20 * Math.sin((2 * Math.PI * (t + 1 + k)) / m),
        );
        return { p10: p50.map((x) => x - 5), p50, p90: p50.map((x) => x + 5) };
      },
    }),
};

describe('SelectorForecaster', () => {
  it('never reads the holdout: garbage after trainEnd changes neither choice nor forecasts', async () => {
    const garbage = Float64Array.from(values, (x, i) => (i >= trainEnd ? (i % 2 ? 1e9 : -1e9) : x));
    const a = await new SelectorForecaster(builtins()).fit(values, trainEnd, info, h);
    const b = await new SelectorForecaster(builtins()).fit(garbage, trainEnd, info, h);
    expect(b.selection).toEqual(a.selection);
    for (const t of [trainEnd - 1, trainEnd - 20]) {
      expect(Array.from(b.forecast(values, t, h).p50)).toEqual(
        Array.from(a.forecast(values, t, h).p50),
      );
    }
  });

  it('picks an extra forecaster passed in when it is the best on validation', async () => {
    const f = await new SelectorForecaster([...builtins(), oracle], { rule: 'best' }).fit(
      values,
      trainEnd,
      info,
      h,
    );
    expect(f.selection.models).toEqual(['oracle']);
    expect(Object.keys(f.selection.validationMae).sort()).toEqual([
      'holt-winters',
      'naive',
      'oracle',
      'seasonal-naive',
      'seasonal-naive-weekly',
    ]);
  });

  it('leaves out a candidate whose fit throws and still serves', async () => {
    const broken: Forecaster = { id: 'broken', fit: () => Promise.reject(new Error('no')) };
    const f = await new SelectorForecaster([broken, ...builtins()]).fit(values, trainEnd, info, h);
    expect(f.selection.failed).toEqual({ broken: 'no' });
    expect(f.selection.models).not.toContain('broken');
  });

  it('combines: median and inverse-MAE rules give calibrated intervals around the combined p50', async () => {
    for (const rule of ['median', 'inverse-mae'] as const) {
      const f = await new SelectorForecaster(builtins(), { rule }).fit(values, trainEnd, info, h);
      expect(f.selection.rule).toBe(rule);
      expect(f.selection.models.length).toBe(3);
      expect(f.selection.weights.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 12);
      const r = backtest(values, info, f, { trainEnd, h });
      expect(r.coverage80).toBeGreaterThan(0.6);
      expect(r.coverage80).toBeLessThan(0.95);
    }
  });
});
