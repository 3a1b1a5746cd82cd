/**
 * @module sim/bench-forecast
 * `prescient bench forecast --series FILE.csv|DIR [--horizon 12] [--season auto|STEPS]
 * [--holdout 0.2] [--models all|id,id,…] [--json]`: rolling-origin backtest of every forecaster
 * (and of `served`, the selector over them) on a `timestamp,value` series.
 *
 * For each model: fit on the first `1 − holdout` of the series (timed: fitSeconds), then forecast
 * at every origin of the holdout (`forecast/backtest.ts` defines origins, MAE, MASE and
 * coverage80), timing every `forecast()` call (serve ms, median and max; the table only).
 * `served` is the selector (`forecast/selector.ts`) with the listed models as candidates; its fit
 * time includes fitting them on the validation split and refitting the chosen ones.
 *
 * With a directory, every `*.csv` in it, then a summary: MASE per series and model, the geometric
 * mean, the mean coverage, and served / seasonal naive per series. With --json one document per
 * series and line, exactly
 * `{"series","points","step","season","horizon","results":[{"model","mae","mase","coverage80","fitSeconds"}]}`.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { formatTable } from '../cli/table.js';
import { UsageError } from '../errors.js';
import { backtest, type BacktestResult } from '../forecast/backtest.js';
import '../forecast/builtin.js';
import { forecasters, type Forecaster } from '../forecast/forecaster.js';
import { SelectorForecaster, type Selection, type SelectorOptions } from '../forecast/selector.js';
import '../learn/forecast-registration.js';
import { readSeries, type Series } from './series-reader.js';

export interface ForecastBenchOptions {
  readonly horizon: number;
  /** `auto`: the daily season from the series step; a number overrides it (0 = none). */
  readonly season: 'auto' | number;
  /** Fraction of the series held out at the end. */
  readonly holdout: number;
  /** Registered forecaster ids, or `all`. */
  readonly models: 'all' | readonly string[];
  readonly selector?: SelectorOptions;
}

export interface ForecastModelRow {
  readonly model: string;
  readonly mae: number;
  readonly mase: number;
  readonly coverage80: number;
  readonly fitSeconds: number;
  /** Serving latency per `forecast()` call over the holdout origins, ms (table only). */
  readonly serveMs: { readonly median: number; readonly p99: number; readonly max: number };
}

export interface ForecastBenchResult {
  readonly series: string;
  readonly points: number;
  /** Step between points, seconds. */
  readonly step: number;
  readonly season: number;
  readonly horizon: number;
  readonly results: readonly ForecastModelRow[];
  /** What `served` chose (table only). */
  readonly selection: Selection;
}

const round = (x: number, digits: number) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

function row(model: string, r: BacktestResult, fitSeconds: number): ForecastModelRow {
  return {
    model,
    mae: round(r.mae, 4),
    mase: round(r.mase, 4),
    coverage80: round(r.coverage80, 4),
    fitSeconds: round(fitSeconds, 3),
    serveMs: {
      median: round(r.serveMs.median, 4),
      p99: round(r.serveMs.p99, 3),
      max: round(r.serveMs.max, 3),
    },
  };
}

/** Backtests every model and `served` on one series. */
export async function benchForecastSeries(
  series: Series,
  o: ForecastBenchOptions,
  onModel?: (model: string) => void,
): Promise<ForecastBenchResult> {
  const info = o.season === 'auto' ? series.info : { ...series.info, season: o.season };
  const { values } = series;
  const h = o.horizon;
  const trainEnd = values.length - Math.round(o.holdout * values.length);
  if (trainEnd < 2 || values.length - trainEnd < h + 1) {
    throw new UsageError(
      `${series.name}: ${values.length} points are too few for --holdout ${o.holdout} and --horizon ${h}`,
    );
  }
  const ids = o.models === 'all' ? forecasters.ids() : o.models;
  const models: Forecaster[] = ids.map((id) => forecasters.create(id, undefined));
  const results: ForecastModelRow[] = [];
  const timed = async (f: Forecaster) => {
    onModel?.(f.id);
    const t0 = performance.now();
    const fitted = await f.fit(values, trainEnd, info, h);
    const fitSeconds = (performance.now() - t0) / 1000;
    return { fitted, fitSeconds };
  };
  for (const m of models) {
    const { fitted, fitSeconds } = await timed(m);
    results.push(row(m.id, backtest(values, info, fitted, { trainEnd, h }), fitSeconds));
  }
  const selector = new SelectorForecaster(models, o.selector);
  const served = await timed(selector);
  results.push(
    row('served', backtest(values, info, served.fitted, { trainEnd, h }), served.fitSeconds),
  );
  return {
    series: series.name,
    points: values.length,
    step: info.stepSec,
    season: info.season,
    horizon: h,
    results,
    selection: (served.fitted as Awaited<ReturnType<SelectorForecaster['fit']>>).selection,
  };
}

/** The exact JSON document of one series (no serving latency, no selection). */
export function forecastBenchJson(r: ForecastBenchResult): string {
  return JSON.stringify({
    series: r.series,
    points: r.points,
    step: r.step,
    season: r.season,
    horizon: r.horizon,
    results: r.results.map(({ model, mae, mase, coverage80, fitSeconds }) => ({
      model,
      mae,
      mase,
      coverage80,
      fitSeconds,
    })),
  });
}

function describeSelection(s: Selection): string {
  if (s.models.length === 1) return `${s.rule}: ${s.models[0]}`;
  return `${s.rule}: ${s.models.map((m, i) => `${m}×${(s.weights[i] ?? 0).toFixed(2)}`).join(' + ')}`;
}

/** The table of one series. */
export function forecastBenchTable(r: ForecastBenchResult): string {
  const head = `${r.series}: ${r.points.toLocaleString('en')} points, step ${r.step} s, season ${r.season}, horizon ${r.horizon}; served = ${describeSelection(r.selection)}`;
  const rows = r.results.map((m) => [
    m.model,
    m.mae.toPrecision(5),
    m.mase.toFixed(3),
    m.coverage80.toFixed(3),
    m.fitSeconds.toFixed(2),
    `${m.serveMs.median.toFixed(3)} / ${m.serveMs.p99.toFixed(3)} / ${m.serveMs.max.toFixed(2)}`,
  ]);
  return `${head}\n${formatTable(['model', 'MAE', 'MASE', 'cov80', 'fit s', 'serve ms p50 / p99 / max'], rows)}`;
}

const geoMean = (xs: readonly number[]) =>
  Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

/** The summary of several series: MASE per series and model, geo-mean, mean coverage. */
export function forecastBenchSummary(rs: readonly ForecastBenchResult[]): string {
  const models = rs[0]?.results.map((m) => m.model) ?? [];
  const mase = (r: ForecastBenchResult, m: string) =>
    r.results.find((x) => x.model === m)?.mase ?? Number.NaN;
  const col = (m: string, f: (x: ForecastModelRow) => number) =>
    rs.map((r) => f(r.results.find((x) => x.model === m)!));
  const rows = rs.map((r) => [
    r.series,
    ...models.map((m) => mase(r, m).toFixed(3)),
    (mase(r, 'served') / mase(r, 'seasonal-naive')).toFixed(3),
  ]);
  const fmt = (xs: number[], d: number) => xs.map((x) => x.toFixed(d));
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  rows.push(
    [
      'geo-mean MASE',
      ...fmt(
        models.map((m) => geoMean(col(m, (x) => x.mase))),
        3,
      ),
      '',
    ],
    [
      'mean coverage80',
      ...fmt(
        models.map((m) => mean(col(m, (x) => x.coverage80))),
        3,
      ),
      '',
    ],
    [
      'max fit s',
      ...fmt(
        models.map((m) => Math.max(...col(m, (x) => x.fitSeconds))),
        2,
      ),
      '',
    ],
    [
      'median serve ms',
      ...fmt(
        models.map((m) => Math.max(...col(m, (x) => x.serveMs.median))),
        3,
      ),
      '',
    ],
    [
      'p99 serve ms',
      ...fmt(
        models.map((m) => Math.max(...col(m, (x) => x.serveMs.p99))),
        3,
      ),
      '',
    ],
    [
      'max serve ms',
      ...fmt(
        models.map((m) => Math.max(...col(m, (x) => x.serveMs.max))),
        2,
      ),
      '',
    ],
  );
  const served = rs.map((r) => `  ${r.series}: ${describeSelection(r.selection)}`).join('\n');
  return `MASE (h = ${rs[0]?.horizon ?? '?'}; 'median serve ms' is the worst series' median)\n${formatTable(['series', ...models, 'served/snaive'], rows)}\n\nserved:\n${served}`;
}

const HELP = `usage: prescient bench forecast --series FILE.csv|DIR [--horizon 12] [--season auto|STEPS]
                                 [--holdout 0.2] [--models all|id,id,...] [--json]

  --series P    a timestamp,value CSV, or a directory: every *.csv in it
  --horizon H   forecast horizon in steps (default 12)
  --season S    daily season in steps, or auto (86400 / step when it divides a day; default)
  --holdout F   fraction of each series held out for the rolling backtest (default 0.2)
  --models M    registered forecasters to compare, comma-separated, or all (default)
  --rule R      served combination rule: auto (default), best, inverse-mae, median
  --json        one JSON document per series and line instead of tables

registered: ${forecasters.ids().join(', ')}`;

export async function benchForecastCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      series: { type: 'string' },
      horizon: { type: 'string', default: '12' },
      season: { type: 'string', default: 'auto' },
      holdout: { type: 'string', default: '0.2' },
      models: { type: 'string', default: 'all' },
      rule: { type: 'string', default: 'auto' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.series === undefined) throw new UsageError(`--series is required\n${HELP}`);
  if (
    !/^\d+$/.test(values.horizon) ||
    Number(values.horizon) < 1 ||
    Number(values.horizon) > 10_000
  )
    throw new UsageError('--horizon must be a whole number from 1 to 10000');
  if (values.season !== 'auto' && !/^\d+$/.test(values.season))
    throw new UsageError('--season must be auto or a whole number of steps (0 = none)');
  const holdout = Number(values.holdout);
  if (!(holdout > 0 && holdout < 1)) throw new UsageError('--holdout must be a fraction in (0, 1)');
  const rules = ['auto', 'best', 'inverse-mae', 'median'] as const;
  const rule = rules.find((r) => r === values.rule);
  if (rule === undefined) throw new UsageError(`--rule must be one of ${rules.join(', ')}`);
  const models =
    values.models === 'all' ? ('all' as const) : values.models.split(',').map((s) => s.trim());
  if (models !== 'all') for (const id of models) forecasters.create(id, undefined); // unknown id → error
  const o: ForecastBenchOptions = {
    horizon: Number(values.horizon),
    season: values.season === 'auto' ? 'auto' : Number(values.season),
    holdout,
    models,
    selector: { rule },
  };
  const path = values.series;
  const kind = await stat(path).catch((err: unknown) => {
    throw new UsageError(`--series ${path}: ${err instanceof Error ? err.message : String(err)}`);
  });
  const files = kind.isDirectory()
    ? (await readdir(path))
        .filter((f) => f.endsWith('.csv'))
        .sort()
        .map((f) => join(path, f))
    : [path];
  if (files.length === 0) throw new UsageError(`no *.csv in ${path}`);
  const results: ForecastBenchResult[] = [];
  const tty = process.stderr.isTTY && !values.json;
  for (const file of files) {
    const series = await readSeries(file);
    const r = await benchForecastSeries(series, o, (m) => {
      if (tty) process.stderr.write(`\r\x1b[K${series.name}: ${m}…`);
    });
    if (tty) process.stderr.write('\r\x1b[K');
    results.push(r);
    process.stdout.write(
      values.json ? `${forecastBenchJson(r)}\n` : `${forecastBenchTable(r)}\n\n`,
    );
  }
  if (!values.json && results.length > 1)
    process.stdout.write(`${forecastBenchSummary(results)}\n`);
  return 0;
}
