/**
 * The `forecast` model kind: a version's files round trip to the same forecasts, corrupt and
 * NaN-producing files are refused with PRESCIENT_E_MODEL_INVALID, and the shadow evaluation never
 * reads past the candidate's holdout (later values change no score; holdout values change no
 * candidate).
 */
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ModelInvalidError } from '../../src/errors.js';
import '../../src/forecast/builtin.js';
import { HoltWintersForecaster } from '../../src/forecast/holt-winters.js';
import { NaiveForecaster } from '../../src/forecast/naive.js';
import { SeasonalNaiveForecaster } from '../../src/forecast/seasonal-naive.js';
import { SelectorForecaster } from '../../src/forecast/selector.js';
import type { ChampionModel, FitFn } from '../../src/forecast/service.js';
import type { SeriesView } from '../../src/features/types.js';
import { decodeForecastModel } from '../../src/learn/forecast-model-files.js';
import type { ForecastModel } from '../../src/learn/forecast-model-files.js';
import { ForecastModelKind } from '../../src/learn/forecast-model-kind.js';
import type { StoredModelFiles } from '../../src/learn/model-files.js';

const SEASON = 10;
const H = 3;
const SERIES = 'pool.web';
const BASE = [3, 4, 6, 9, 12, 12, 9, 6, 4, 3];
/** A seasonal series with deterministic noise, n complete steps (requests/s, 1 s steps). */
const series = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => BASE[i % SEASON]! * (1 + 0.15 * Math.sin(i * 1.7)) + 0.05 * i,
  );

const fit: FitFn = async (values, trainEnd, info, h) => {
  const selector = new SelectorForecaster(
    [
      new HoltWintersForecaster(),
      new SeasonalNaiveForecaster('seasonal-naive', 1),
      new NaiveForecaster(),
    ],
    { rule: 'inverse-mae', top: 3 },
  );
  const fitted = await selector.fit(values, trainEnd, info, h);
  return { fitted, model: { id: 'served', version: fitted.selection.rule } };
};

function kindOn(values: () => number[]) {
  const served = new Map<string, ChampionModel | undefined>();
  const kind = new ForecastModelKind({
    source: {
      seriesIds: () => [SERIES],
      series: (id): SeriesView | undefined =>
        id === SERIES
          ? { id, stepSec: 1, startMs: 1_700_000_000_000, counts: [...values(), 0] } // + the filling bucket
          : undefined,
    },
    seriesIds: () => [SERIES],
    horizon: H,
    season: () => SEASON,
    minFitSeasons: 2,
    fit,
    promoteMargin: 0.05,
    serve: (s, c) => served.set(s, c),
    now: () => 1234,
  });
  return { kind, served };
}

async function trained(kind: ForecastModelKind): Promise<ForecastModel> {
  const r = await kind.train(SERIES, (seq) => `${SERIES}@${seq}`);
  if (!r.ok) throw new Error(r.reason);
  return r.model;
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ModelInvalidError);
    return (err as ModelInvalidError).code;
  }
  return 'accepted';
};

describe('forecast model kind', () => {
  it('round trips a version to the same forecasts', async () => {
    const values = series(80);
    const { kind } = kindOn(() => values);
    const m = await trained(kind);
    // Fit on all but the holdout: max(4 h, season) = 12 steps.
    expect(m.spec.trainEnd).toBe(80 - 12);
    expect(m.version).toBe(`${SERIES}@68`);
    expect(m.spec.members.map((s) => s.id).sort()).toEqual(
      ['holt-winters', 'naive', 'seasonal-naive'].sort(),
    );
    const back = kind.decode(kind.encode(m, null));
    const a = m.fitted.forecast(values, 79, H);
    const b = back.fitted.forecast(values, 79, H);
    expect(Array.from(b.p50)).toEqual(Array.from(a.p50));
    expect(Array.from(b.p90)).toEqual(Array.from(a.p90));
    expect(back.metadata.trainingWindow).toMatchObject({ firstStep: 0, lastStep: 67 });
  });

  it('refuses corrupt and NaN-producing files', async () => {
    const { kind } = kindOn(() => series(80));
    const files = kind.encode(await trained(kind), null);
    const json = () =>
      JSON.parse(new TextDecoder().decode(files['model.json'])) as Record<string, unknown>;
    const withJson = (j: unknown, text?: string): StoredModelFiles => ({
      ...files,
      'model.json': new TextEncoder().encode(text ?? JSON.stringify(j)),
    });
    const refused = ERROR_CODES.MODEL_INVALID;
    expect(codeOf(() => decodeForecastModel(files))).toBe('accepted');
    // Truncated weights.bin.
    expect(
      codeOf(() =>
        decodeForecastModel({ ...files, 'weights.bin': files['weights.bin'].subarray(8) }),
      ),
    ).toBe(refused);
    // A NaN weight.
    const nan = Uint8Array.from(files['weights.bin']);
    new DataView(nan.buffer).setFloat64(0, Number.NaN, true);
    expect(codeOf(() => decodeForecastModel({ ...files, 'weights.bin': nan }))).toBe(refused);
    // Not JSON, another format.
    expect(codeOf(() => decodeForecastModel(withJson(null, '{"format":')))).toBe(refused);
    expect(codeOf(() => decodeForecastModel(withJson({ ...json(), format: 'x' })))).toBe(refused);
    // A non-finite parameter (JSON's 1e999 reads as Infinity).
    const hwAt = (json()['members'] as { id: string }[]).findIndex((m) => m.id === 'holt-winters');
    const text = new TextDecoder().decode(files['model.json']);
    const inf = text.replace(/"level":[-0-9.e+]+/, '"level":1e999');
    expect(inf).not.toBe(text);
    expect(codeOf(() => decodeForecastModel(withJson(null, inf)))).toBe(refused);
    // Finite parameters whose forecasts overflow to ±∞: refused by the probe.
    const j = json();
    const members = j['members'] as Record<string, unknown>[];
    members[hwAt] = { ...members[hwAt], level: 1e308, trend: 1e308 };
    expect(codeOf(() => decodeForecastModel(withJson(j)))).toBe(refused);
    // An unknown forecaster.
    const k = json();
    (k['members'] as Record<string, unknown>[])[0]!['id'] = 'mystery';
    expect(codeOf(() => decodeForecastModel(withJson(k)))).toBe(refused);
  });

  it('evaluates on the holdout only: later values change no score, holdout values no candidate', async () => {
    let values = series(80);
    const { kind } = kindOn(() => values);
    const m = await trained(kind);
    const first = await kind.evaluate(SERIES, m, undefined);
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(first.scores).toMatchObject({ metric: 'negLogMase', champion: null });
    expect(first.scores.requests).toBe((12 - H + 1) * H);
    // Steps after the evaluation window (trainEnd + 12 = 80): more of them, wild values.
    values = [...series(80), 1e6, 0, 5e5, 3];
    const later = await kind.evaluate(SERIES, m, m);
    expect(later.ok && later.scores.candidate).toBe(first.scores.candidate);
    expect(later.ok && later.scores.heuristic).toBe(first.scores.heuristic);
    // The champion evaluated on the same window scores the same as the candidate.
    expect(later.ok && later.scores.champion).toBe(first.scores.candidate);

    // Values inside the holdout [68, 80) changed: the candidate trained is the same model.
    const before = kind.encode(m, null);
    values = series(80).map((v, i) => (i >= 68 ? v * 3 + 100 : v));
    const again = await trained(kind);
    const after = kind.encode(again, null);
    expect(after['model.json']).toEqual(before['model.json']);
    expect(after['weights.bin']).toEqual(before['weights.bin']);
    // ...while its score on the changed holdout differs.
    const changed = await kind.evaluate(SERIES, again, undefined);
    expect(changed.ok && changed.scores.candidate).not.toBe(first.scores.candidate);
  });

  it('promotes only by a relative MASE margin (−ln(1 − margin) on −ln MASE)', () => {
    const { kind } = kindOn(() => series(80));
    expect(kind.margin).toBeCloseTo(-Math.log(0.95), 12);
  });

  it('does not train a series with too little history, and installs champions', async () => {
    const { kind, served } = kindOn(() => series(25));
    const r = await kind.train(SERIES, (seq) => `${SERIES}@${seq}`);
    expect(r).toMatchObject({ ok: false });
    const { kind: k2, served: s2 } = kindOn(() => series(80));
    const m = await trained(k2);
    k2.install(SERIES, m);
    expect(s2.get(SERIES)?.model.version).toBe(m.version);
    k2.install(SERIES, undefined);
    expect(s2.get(SERIES)).toBeUndefined();
    expect(served.size).toBe(0);
  });
});
