import { describe, expect, it } from 'vitest';
import { ForecastService, type FitFn } from '../../src/forecast/service.js';
import type { SeriesView } from '../../src/features/types.js';

/** Seasonal naive with a ±1 interval, counting its fits: enough to test the service's logic. */
function seasonalNaive(id: string, calls: { n: number }): FitFn {
  return (_values, _trainEnd, info, _h) => {
    calls.n++;
    return Promise.resolve({
      model: { id, version: String(calls.n) },
      fitted: {
        forecast(values, origin, h) {
          const p50 = new Float64Array(h);
          for (let k = 0; k < h; k++) {
            const i = origin + 1 + k - (info.season || 1) * Math.ceil((k + 1) / (info.season || 1));
            p50[k] = values[Math.max(0, i)]!;
          }
          return { p10: p50.map((v) => v - 1), p50, p90: p50.map((v) => v + 1) };
        },
      },
    });
  };
}

/** A series source over one series of bucket counts (step 1 s; the last bucket is partial). */
function source(counts: number[]) {
  const view = (): SeriesView => ({ id: 'pool.web', stepSec: 1, startMs: 0, counts: [...counts] });
  return {
    seriesIds: () => ['pool.web'],
    series: (id: string) => (id === 'pool.web' ? view() : undefined),
  };
}

const pattern = (i: number) => [5, 10, 20, 10][i % 4]!;

describe('ForecastService', () => {
  it('uses the fallback until two seasons exist, then the served model, refit on schedule', async () => {
    const served = { n: 0 };
    const fallback = { n: 0 };
    const svc = new ForecastService({
      horizon: 4,
      refitIntervalMs: 6_000,
      seasonSteps: 4,
      minFitSeasons: 2,
      fitServed: seasonalNaive('served', served),
      fitFallback: seasonalNaive('fallback', fallback),
    });
    const counts = [pattern(0), pattern(1), pattern(2)]; // 2 complete buckets + 1 partial
    expect((await svc.update(source(counts)))[0]).toMatchObject({
      reason: 'FALLBACK',
      model: { id: 'fallback' },
      originMs: 1000,
    });
    expect(await svc.update(source(counts))).toEqual([]); // no new complete bucket: nothing to do
    for (let i = 3; i < 9; i++) counts.push(pattern(i)); // 8 complete
    const v = (await svc.update(source(counts)))[0]!;
    expect(v).toMatchObject({
      reason: 'MODEL',
      model: { id: 'served', version: '1' },
      originMs: 7000,
      unit: 'requests/s',
    });
    // Seasonal naive over 4 steps: the next 4 steps repeat the last season.
    expect(v.points.map((p) => [p.ts, p.p50])).toEqual([
      [8000, 5],
      [9000, 10],
      [10_000, 20],
      [11_000, 10],
    ]);
    expect(v.history.slice(-4)).toEqual([5, 10, 20, 10]);
    counts.push(pattern(9));
    await svc.update(source(counts));
    expect(served.n).toBe(1); // 1 s later: no refit yet
    for (let i = 10; i < 16; i++) counts.push(pattern(i));
    await svc.update(source(counts));
    expect(served.n).toBe(2); // 7 s after the first fit: refit
  });

  it('raises the spike flag when a complete step leaves the interval forecast for it', async () => {
    const svc = new ForecastService({
      horizon: 4,
      refitIntervalMs: 1e9,
      seasonSteps: 4,
      minFitSeasons: 2,
      fitServed: seasonalNaive('s', { n: 0 }),
      fitFallback: seasonalNaive('f', { n: 0 }),
    });
    const counts = Array.from({ length: 13 }, (_, i) => pattern(i)); // 12 complete
    const before = (await svc.update(source(counts)))[0]!;
    expect(before.spike).toBeNull(); // no earlier forecast to compare with
    // The next step was forecast at 5 ± 1; 50 arrives.
    counts[12] = 50;
    counts.push(1);
    const after = (await svc.update(source(counts)))[0]!;
    expect(after.spike).toEqual({
      active: true,
      direction: 'up',
      ts: 12_000,
      actual: 50,
      p10: 4,
      p90: 6,
    });
    expect(after.text).toContain('SPIKE');
    counts[13] = 10;
    counts.push(1);
    expect((await svc.update(source(counts)))[0]!.spike).toMatchObject({
      active: false,
      actual: 10,
    });
  });

  it('never reads the bucket still filling', async () => {
    const calls = { n: 0 };
    const svc = new ForecastService({
      horizon: 2,
      refitIntervalMs: 1e9,
      seasonSteps: 4,
      minFitSeasons: 1,
      fitServed: seasonalNaive('s', calls),
      fitFallback: seasonalNaive('f', calls),
    });
    const a = Array.from({ length: 9 }, (_, i) => pattern(i));
    const b = [...a.slice(0, 8), 1_000_000];
    const va = (await svc.update(source(a)))[0]!;
    const svc2 = new ForecastService({
      horizon: 2,
      refitIntervalMs: 1e9,
      seasonSteps: 4,
      minFitSeasons: 1,
      fitServed: seasonalNaive('s', calls),
      fitFallback: seasonalNaive('f', calls),
    });
    const vb = (await svc2.update(source(b)))[0]!;
    expect(vb.points).toEqual(va.points);
  });
});
