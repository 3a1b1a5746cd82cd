import { describe, expect, it } from 'vitest';

import { forecasters, type SeriesInfo } from '../../src/forecast/forecaster.js';
import '../../src/learn/forecast-registration.js';
import { QuantileMlpForecaster, mulberry32 } from '../../src/learn/quantile-forecaster.js';
import { loadTf } from '../../src/learn/tf.js';

const H = 6;
const SEASON = 24;
const INFO: SeriesInfo = { stepSec: 3600, startMs: Date.UTC(2024, 0, 1), season: SEASON };

/** Hourly series, 40 days: level 100 with a +0.5 %/day trend... in steps, a daily shape, noise. */
function syntheticSeries(n = 40 * SEASON, seed = 7): Float64Array {
  const rng = mulberry32(seed);
  const out = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    const level = 100 + 0.4 * t;
    const daily = 1 + 0.5 * Math.sin((2 * Math.PI * t) / SEASON);
    out[t] = level * daily + (rng() - 0.5) * 10;
  }
  return out;
}

/** Small, fast settings: a few hundred rows, a few epochs. */
const SMALL = { hidden: 8, maxRows: 400, epochs: 30, patience: 5, batchSize: 64, seed: 3 };

function seasonalNaiveMae(values: Float64Array, from: number, to: number, h: number): number {
  let sum = 0;
  let n = 0;
  for (let t = from; t + h < to; t++) {
    for (let k = 1; k <= h; k++) {
      sum += Math.abs((values[t + k] ?? 0) - (values[t + k - SEASON] ?? 0));
      n++;
    }
  }
  return sum / n;
}

describe('learned-quantile', () => {
  it('is registered', () => {
    expect(forecasters.ids()).toContain('learned-quantile');
    expect(forecasters.create('learned-quantile', undefined).id).toBe('learned-quantile');
  });

  it('beats seasonal naive on a seasonal series with trend, with ordered quantiles', async () => {
    const values = syntheticSeries();
    const trainEnd = Math.floor(values.length * 0.8);
    const fitted = await new QuantileMlpForecaster(SMALL).fit(values, trainEnd, INFO, H);
    let sum = 0;
    let n = 0;
    for (let t = trainEnd - 1; t + H < values.length; t++) {
      const q = fitted.forecast(values, t, H);
      expect(q.p50).toHaveLength(H);
      for (let k = 0; k < H; k++) {
        const p10 = q.p10[k] ?? Number.NaN;
        const p50 = q.p50[k] ?? Number.NaN;
        const p90 = q.p90[k] ?? Number.NaN;
        expect(p10).toBeLessThanOrEqual(p50);
        expect(p50).toBeLessThanOrEqual(p90);
        sum += Math.abs((values[t + 1 + k] ?? 0) - p50);
        n++;
      }
    }
    const mae = sum / n;
    const naive = seasonalNaiveMae(values, trainEnd - 1, values.length, H);
    // The trend adds 0.4·24 ≈ 9.6 (× the daily shape) per day that seasonal naive misses.
    expect(mae).toBeLessThan(0.8 * naive);
  });

  it('reads only values[0..origin]: changing later points never changes the forecast', async () => {
    const values = syntheticSeries();
    const trainEnd = Math.floor(values.length * 0.8);
    const fitted = await new QuantileMlpForecaster({ ...SMALL, epochs: 3 }).fit(
      values,
      trainEnd,
      INFO,
      H,
    );
    for (const origin of [trainEnd - 1, trainEnd + 5, values.length - H - 1]) {
      const before = fitted.forecast(values, origin, H);
      const changed = Float64Array.from(values);
      for (let i = origin + 1; i < changed.length; i++) changed[i] = 1e6 * (i % 3);
      const after = fitted.forecast(changed, origin, H);
      expect(after.p10).toEqual(before.p10);
      expect(after.p50).toEqual(before.p50);
      expect(after.p90).toEqual(before.p90);
    }
  });

  it('fit never reads past trainEnd', async () => {
    const values = syntheticSeries();
    const trainEnd = Math.floor(values.length * 0.8);
    const model = new QuantileMlpForecaster({ ...SMALL, epochs: 3 });
    const a = await model.fit(values, trainEnd, INFO, H);
    const changed = Float64Array.from(values);
    for (let i = trainEnd; i < changed.length; i++) changed[i] = -5e5;
    const b = await model.fit(changed, trainEnd, INFO, H);
    // Same origin inside the training part: both fits must give the same model.
    expect(b.forecast(values, trainEnd - 1, H).p50).toEqual(
      a.forecast(values, trainEnd - 1, H).p50,
    );
  });

  it('is deterministic for a seed and holds no tensors after fit and forecast', async () => {
    const { tf } = await loadTf();
    const values = syntheticSeries();
    const trainEnd = Math.floor(values.length * 0.8);
    const model = new QuantileMlpForecaster({ ...SMALL, epochs: 4 });
    const before = tf.memory().numTensors;
    const results: Float64Array[] = [];
    for (let i = 0; i < 2; i++) {
      const fitted = await model.fit(values, trainEnd, INFO, H);
      results.push(fitted.forecast(values, values.length - H - 1, H).p50);
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(results[1]).toEqual(results[0]);
    const other = await new QuantileMlpForecaster({ ...SMALL, epochs: 4, seed: 99 }).fit(
      values,
      trainEnd,
      INFO,
      H,
    );
    expect(other.forecast(values, values.length - H - 1, H).p50).not.toEqual(results[0]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('falls back to the last value before enough history, and serves any h', async () => {
    const values = syntheticSeries();
    const trainEnd = Math.floor(values.length * 0.8);
    const fitted = await new QuantileMlpForecaster({ ...SMALL, epochs: 2 }).fit(
      values,
      trainEnd,
      INFO,
      H,
    );
    const early = fitted.forecast(values, 3, H);
    expect(Array.from(early.p50)).toEqual(new Array<number>(H).fill(values[3] ?? 0));
    const longer = fitted.forecast(values, trainEnd, 2 * H);
    expect(longer.p50).toHaveLength(2 * H);
    expect(longer.p50[2 * H - 1]).toBe(longer.p50[H - 1]);
  });
});
