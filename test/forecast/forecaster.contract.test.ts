/**
 * The contract every forecaster passes (hono `common.case.test.ts` style), run for each
 * registered id and for `served` (the selector over all of them): shape and ordering of the
 * quantiles, no leakage (a forecast at origin t never depends on a point after t, nor a fit on a
 * point at or after trainEnd), and short histories.
 */
import { describe, expect, it } from 'vitest';
import '../../src/forecast/builtin.js';
import '../../src/learn/forecast-registration.js';
import type { FittedForecaster, Forecaster, Quantiles } from '../../src/forecast/forecaster.js';
import { forecasters } from '../../src/forecast/forecaster.js';
import { SelectorForecaster } from '../../src/forecast/selector.js';
import { hourly, noisySeasonal } from './helpers.js';

const season = 24;
const info = hourly(season);
const n = season * 20;
const trainEnd = season * 16;
const h = 6;
const values = noisySeasonal(n, season, 3, 7);

function expectValid(q: Quantiles, horizon: number): void {
  for (const a of [q.p10, q.p50, q.p90]) {
    expect(a.length).toBe(horizon);
    for (const x of a) expect(Number.isFinite(x)).toBe(true);
  }
  for (let k = 0; k < horizon; k++) {
    expect(q.p10[k]!).toBeLessThanOrEqual(q.p50[k]!);
    expect(q.p50[k]!).toBeLessThanOrEqual(q.p90[k]!);
  }
}

const builtins = [
  'naive',
  'seasonal-naive',
  'seasonal-naive-weekly',
  'holt-winters',
  'holt-winters-weekly',
];
const cases: [string, () => Forecaster][] = [
  ...forecasters
    .ids()
    .map((id): [string, () => Forecaster] => [id, () => forecasters.create(id, undefined)]),
  ['served', () => new SelectorForecaster(builtins.map((id) => forecasters.create(id, undefined)))],
];

describe.each(cases)('forecaster contract: %s', (_id, make) => {
  let fitted: FittedForecaster | undefined;
  const fitOnce = async () => (fitted ??= await make().fit(values, trainEnd, info, h));

  it('gives h finite quantiles with p10 ≤ p50 ≤ p90 at every origin', async () => {
    const f = await fitOnce();
    for (const origin of [trainEnd - 1, trainEnd + 5, n - 1 - h, 0, season * 3, trainEnd - 1])
      expectValid(f.forecast(values, origin, h), h);
    expectValid(f.forecast(values, trainEnd + 1, 1), 1);
  });

  it('never reads past the origin: garbage after t leaves the forecast at t unchanged', async () => {
    const f = await fitOnce();
    // Forecast far ahead first, so a stateful model has moved past t and must go back.
    f.forecast(values, n - 1 - h, h);
    for (const t of [trainEnd + 10, trainEnd - 1 - season, trainEnd + 40]) {
      const clean = f.forecast(values, t, h);
      const garbage = Float64Array.from(values);
      for (let i = t + 1; i < n; i++) garbage[i] = i % 2 === 0 ? 1e9 : -1e9;
      const dirty = f.forecast(garbage, t, h);
      expect(Array.from(dirty.p50)).toEqual(Array.from(clean.p50));
      expect(Array.from(dirty.p10)).toEqual(Array.from(clean.p10));
      expect(Array.from(dirty.p90)).toEqual(Array.from(clean.p90));
    }
  });

  it('never reads past trainEnd when fitting', async () => {
    const readPast: number[] = [];
    const spy = new Proxy(values, {
      get(target, prop) {
        if (typeof prop === 'string' && /^\d+$/.test(prop) && Number(prop) >= trainEnd)
          readPast.push(Number(prop));
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    await make().fit(spy, trainEnd, info, h);
    expect(readPast).toEqual([]);
  });

  it('works with short histories and without a season', async () => {
    for (const [end, s] of [
      [30, season],
      [12, season],
      [40, 0],
    ] as const) {
      const f = await make().fit(values, end, hourly(s), h);
      for (const origin of [0, 1, end - 1, end + 3]) expectValid(f.forecast(values, origin, h), h);
    }
  });
});
