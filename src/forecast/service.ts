/**
 * @module forecast/service
 * Forecasts for the engine's live series (requests per second per pool, backend or cache node,
 * from the feature store's buckets). At every step a series gains a complete bucket, the served
 * model forecasts the next `horizon` steps from it (origin = the last complete bucket; the
 * bucket still filling is never used), and the actual of the new bucket is checked against the
 * interval forecast for it one step earlier: outside p10..p90 raises the **spike flag**, the
 * reactive path for spikes no history predicts. The served model is refit every
 * `refitIntervalMs` on the history at hand; a series with less than `minFitSeasons` seasons of
 * history is forecast by the fallback (seasonal naive, or naive under one season) with reason
 * code `FALLBACK`.
 *
 * A series with a champion in the model registry (`forecast` kind, {@link setChampion}) is
 * forecast by it instead, without refitting, while the series still starts where the champion was
 * fit (the models index steps from that start); a champion that could not be loaded
 * (`unservedChampion`) makes the series serve the fallback with reason `FALLBACK`.
 */
import type { ReasonCode } from '../decisions.js';
import type { SeriesView } from '../features/types.js';
import type { FittedForecaster, Quantiles, SeriesInfo } from './forecaster.js';

export interface ForecastPoint {
  /** Start (epoch ms) of the step forecast. */
  readonly ts: number;
  readonly p10: number;
  readonly p50: number;
  readonly p90: number;
}

export interface SpikeFlag {
  readonly active: boolean;
  readonly direction: 'up' | 'down' | null;
  /** Start (epoch ms) of the bucket checked. */
  readonly ts: number;
  readonly actual: number;
  readonly p10: number;
  readonly p90: number;
}

export interface ForecastView {
  readonly series: string;
  readonly stepSec: number;
  /** Values are requests per second averaged over each step. */
  readonly unit: 'requests/s';
  /** Start (epoch ms) of the last complete bucket: the forecast origin. */
  readonly originMs: number;
  /** Complete buckets, oldest first, starting at `historyStartMs`. */
  readonly historyStartMs: number;
  readonly history: readonly number[];
  readonly points: readonly ForecastPoint[];
  readonly model: { readonly id: string; readonly version: string };
  readonly reason: ReasonCode;
  readonly text: string;
  readonly spike: SpikeFlag | null;
}

export interface ServedModel {
  readonly fitted: FittedForecaster;
  readonly model: { readonly id: string; readonly version: string };
}

/** Fits a model on `values[0..trainEnd)` for horizon h. */
export type FitFn = (
  values: Float64Array,
  trainEnd: number,
  info: SeriesInfo,
  h: number,
) => Promise<ServedModel>;

export interface ForecastServiceOptions {
  /** Steps forecast ahead. */
  readonly horizon: number;
  /** Refit the served model at most this often per series (ms of event time). */
  readonly refitIntervalMs: number;
  /** Daily season in steps; 0 = 86400 / step when that divides a day. */
  readonly seasonSteps: number;
  /** Seasons of history needed before the served model is fit. */
  readonly minFitSeasons: number;
  /** The served model (the backtest-chosen selector in the engine). */
  readonly fitServed: FitFn;
  /** Used while a series is too short for the served model. */
  readonly fitFallback: FitFn;
  /** The series' registry champion that could not be served (refused at start), if any. */
  readonly unservedChampion?: (series: string) => string | undefined;
}

/** A registry champion, as {@link ForecastService.setChampion} serves it. */
export interface ChampionModel extends ServedModel {
  /** Start (epoch ms) and step of the series it was fit on: index 0 of its `values`. */
  readonly startMs: number;
  readonly stepSec: number;
}

/** A series' complete buckets as requests per second (the bucket still filling is left out). */
export function completeValues(view: SeriesView): Float64Array {
  const complete = Math.max(0, view.counts.length - 1);
  const values = new Float64Array(complete);
  for (let i = 0; i < complete; i++) values[i] = view.counts[i]! / view.stepSec;
  return values;
}

/** What the service reads: the feature store's series. */
export interface SeriesSource {
  seriesIds(): string[];
  series(id: string): SeriesView | undefined;
}

interface State {
  served: ServedModel | undefined;
  fallback: ServedModel | undefined;
  fittedAtMs: number;
  lastOriginMs: number;
  view: ForecastView | undefined;
  lastQuantiles: Quantiles | undefined;
}

export class ForecastService {
  private readonly states = new Map<string, State>();
  private readonly champions = new Map<string, ChampionModel>();

  constructor(private readonly o: ForecastServiceOptions) {}

  /** Serves `champion` for `series` from its next forecast on (undefined: refit as before). */
  setChampion(series: string, champion: ChampionModel | undefined): void {
    if (champion) this.champions.set(series, champion);
    else this.champions.delete(series);
  }

  /** The latest forecast of a series, if one was made. */
  view(series: string): ForecastView | undefined {
    return this.states.get(series)?.view;
  }

  views(): ForecastView[] {
    return [...this.states.values()].flatMap((s) => (s.view ? [s.view] : []));
  }

  season(stepSec: number): number {
    if (this.o.seasonSteps > 0) return this.o.seasonSteps;
    return 86_400 % stepSec === 0 ? 86_400 / stepSec : 0;
  }

  /**
   * Forecasts every series (among `ids`) that gained a complete bucket since the last call;
   * returns the new forecasts.
   */
  async update(
    source: SeriesSource,
    ids: readonly string[] = source.seriesIds(),
  ): Promise<ForecastView[]> {
    const out: ForecastView[] = [];
    for (const id of ids) {
      const view = source.series(id);
      if (!view || view.counts.length < 3) continue; // need two complete buckets
      const stepMs = view.stepSec * 1000;
      const complete = view.counts.length - 1; // the last bucket is still filling
      const originMs = view.startMs + (complete - 1) * stepMs;
      let state = this.states.get(id);
      if (state?.lastOriginMs === originMs) continue;
      state ??= {
        served: undefined,
        fallback: undefined,
        fittedAtMs: -Infinity,
        lastOriginMs: -Infinity,
        view: undefined,
        lastQuantiles: undefined,
      };
      this.states.set(id, state);
      out.push(await this.forecastSeries(id, view, complete, originMs, state));
    }
    return out;
  }

  private async forecastSeries(
    id: string,
    view: SeriesView,
    complete: number,
    originMs: number,
    state: State,
  ): Promise<ForecastView> {
    const h = this.o.horizon;
    const stepMs = view.stepSec * 1000;
    const values = completeValues(view);
    const season = this.season(view.stepSec);
    const info: SeriesInfo = { stepSec: view.stepSec, startMs: view.startMs, season };
    const enough = season > 0 && complete >= this.o.minFitSeasons * season;

    let model: ServedModel;
    let reason: ReasonCode;
    let text: string;
    const champion = this.champions.get(id);
    const unserved = champion ? undefined : this.o.unservedChampion?.(id);
    if (enough && champion?.startMs === view.startMs && champion.stepSec === view.stepSec) {
      model = champion;
      reason = 'MODEL';
      text = `forecast by champion ${champion.model.version} (${complete} steps)`;
    } else if (enough && unserved === undefined) {
      if (!state.served || originMs - state.fittedAtMs >= this.o.refitIntervalMs) {
        state.served = await this.o.fitServed(values, complete, info, h);
        state.fittedAtMs = originMs;
      }
      model = state.served;
      reason = 'MODEL';
      text = `forecast by ${model.model.id} fit on ${complete} steps`;
    } else {
      // Cheap to refit every step while the history is short.
      state.fallback = await this.o.fitFallback(values, complete, info, h);
      model = state.fallback;
      reason = 'FALLBACK';
      text =
        enough && unserved !== undefined
          ? `champion ${unserved} cannot be served (refused at load): fallback`
          : season > 0
            ? `${complete} steps of history; the served model needs ${this.o.minFitSeasons * season} (${this.o.minFitSeasons} seasons)`
            : `step ${view.stepSec} s does not divide a day: no seasonal model`;
    }
    const q = model.fitted.forecast(values, complete - 1, h);
    const points: ForecastPoint[] = [];
    for (let k = 0; k < h; k++)
      points.push({
        ts: originMs + (k + 1) * stepMs,
        p10: q.p10[k]!,
        p50: q.p50[k]!,
        p90: q.p90[k]!,
      });

    // Spike: the new origin's actual against the interval forecast for it from the previous origin.
    let spike: SpikeFlag | null = null;
    const prev = state.lastQuantiles;
    if (prev && state.lastOriginMs > -Infinity) {
      const k = Math.round((originMs - state.lastOriginMs) / stepMs) - 1;
      if (k >= 0 && k < prev.p50.length) {
        const actual = values[complete - 1]!;
        const lo = prev.p10[k]!;
        const hi = prev.p90[k]!;
        const direction = actual > hi ? 'up' : actual < lo ? 'down' : null;
        spike = { active: direction !== null, direction, ts: originMs, actual, p10: lo, p90: hi };
      }
    }
    state.lastOriginMs = originMs;
    state.lastQuantiles = q;
    const keep = Math.min(complete, Math.max(2 * h, season > 0 ? season : 0, 60));
    state.view = {
      series: id,
      stepSec: view.stepSec,
      unit: 'requests/s',
      originMs,
      historyStartMs: view.startMs + (complete - keep) * stepMs,
      history: Array.from(values.subarray(complete - keep)),
      points,
      model: model.model,
      reason,
      text: spike?.active
        ? `${text}; SPIKE: ${spike.actual.toFixed(2)} req/s is ${spike.direction === 'up' ? 'above' : 'below'} the forecast interval ${spike.p10.toFixed(2)}..${spike.p90.toFixed(2)}`
        : text,
      spike,
    };
    return state.view;
  }
}
