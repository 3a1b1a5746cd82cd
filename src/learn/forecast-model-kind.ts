/**
 * @module learn/forecast-model-kind
 * The `forecast` kind of the model registry: targets are the forecast series (`pool.<pool>`,
 * `node.<node>`), versions `<series>@<n>` with n the number of steps the candidate was fit on
 * (raised above earlier versions by the registry), files as `learn/forecast-model-files.ts`.
 *
 * - A candidate is the served forecaster (the selector, `forecast/served.ts`, or whatever fit the
 *   engine's ForecastService uses) fitted on the series' complete steps **except the last
 *   `holdout` ones**: H = max(4 × horizon, one season). Those H steps are the shadow evaluation's
 *   holdout, so the candidate never saw what it is scored on; the version keeps that fit (what
 *   was evaluated is what is served; serving still forecasts from the latest step).
 * - Evaluation: a rolling-origin backtest (`forecast/backtest.ts`: origins every step, horizons
 *   1..h) on steps [trainEnd, trainEnd + H) of the series, for the candidate, the champion and
 *   seasonal naive fitted on the same training part; nothing after that window is read. Scores
 *   are −ln(MASE) (higher is better, as the registry compares), so the registry's absolute
 *   margin `−ln(1 − PRESCIENT_FORECAST_PROMOTE_MARGIN)` means: promoted only when the
 *   candidate's MASE ≤ (1 − margin) × min(champion's, seasonal naive's). A champion fit on a
 *   series window that has since moved cannot be scored here (null: compared with the heuristic
 *   only); a champion fit more recently than the candidate's training end may have seen part of
 *   the holdout, which can only make promotion harder. A candidate with a non-finite MASE is
 *   refused.
 * - The champion is installed in the ForecastService (`setChampion`).
 */
import { ModelInvalidError } from '../errors.js';
import { backtest } from '../forecast/backtest.js';
import type { SeriesInfo } from '../forecast/forecaster.js';
import { SeasonalNaiveForecaster } from '../forecast/seasonal-naive.js';
import {
  completeValues,
  type ChampionModel,
  type FitFn,
  type SeriesSource,
} from '../forecast/service.js';
import {
  buildFitted,
  decodeForecastModel,
  describeFitted,
  encodeForecastModel,
  type ForecastModel,
} from './forecast-model-files.js';
import type { ModelFiles, StoredModelFiles } from './model-files.js';
import type { ModelKindPlugin } from './model-registry.js';
import type { Evaluation, EvaluationScores } from './promotion.js';

export interface ForecastModelKindOptions {
  readonly source: SeriesSource;
  /** Series that can have a model (the engine: `pool.*` and `node.*`). */
  readonly seriesIds: () => string[];
  /** Steps forecast ahead (PRESCIENT_FORECAST_HORIZON_STEPS). */
  readonly horizon: number;
  /** Daily season in steps for a step (the ForecastService's rule). */
  readonly season: (stepSec: number) => number;
  /** Seasons of training data a candidate needs (PRESCIENT_FORECAST_MIN_SEASONS). */
  readonly minFitSeasons: number;
  /** Fits the candidate (the ForecastService's `fitServed`). */
  readonly fit: FitFn;
  /** Relative MASE improvement needed for automatic promotion, in [0, 1). */
  readonly promoteMargin: number;
  /** Serves a champion (undefined: none; the service refits by itself). */
  readonly serve: (series: string, champion: ChampionModel | undefined) => void;
  readonly now?: () => number;
}

/** Floor of MASE before the logarithm (a perfect forecast scores −ln 1e-9 ≈ 20.7). */
const MIN_MASE = 1e-9;

export class ForecastModelKind implements ModelKindPlugin<ForecastModel> {
  readonly kind = 'forecast';
  readonly heuristicId = 'seasonal-naive';
  /** Absolute margin on −ln(MASE) equivalent to the relative margin on MASE. */
  readonly margin: number;

  constructor(private readonly o: ForecastModelKindOptions) {
    this.margin = -Math.log(1 - Math.min(0.99, Math.max(0, o.promoteMargin)));
  }

  /** Holdout steps for a horizon and season. */
  static holdoutSteps(h: number, season: number): number {
    return Math.max(4 * h, season);
  }

  targets(): string[] {
    return this.o.seriesIds();
  }

  latest(): ForecastModel | undefined {
    // No online model: a series' first candidate comes from the schedule or the API.
    return undefined;
  }

  async train(
    series: string,
    version: (seq: number) => string,
  ): Promise<{ ok: true; model: ForecastModel } | { ok: false; reason: string }> {
    const view = this.o.source.series(series);
    if (view === undefined) return { ok: false, reason: `no series "${series}"` };
    const values = completeValues(view);
    const season = this.o.season(view.stepSec);
    if (season === 0) {
      return { ok: false, reason: `step ${view.stepSec} s does not divide a day: no season` };
    }
    const h = this.o.horizon;
    const holdout = ForecastModelKind.holdoutSteps(h, season);
    const trainEnd = values.length - holdout;
    const needed = this.o.minFitSeasons * season;
    if (trainEnd < needed) {
      return {
        ok: false,
        reason: `too little history: ${values.length} complete steps, ${needed + holdout} needed (${this.o.minFitSeasons} seasons to fit + ${holdout} to evaluate)`,
      };
    }
    const info: SeriesInfo = { stepSec: view.stepSec, startMs: view.startMs, season };
    // The fit gets only the training part: it cannot read the holdout whatever it does.
    const train = values.slice(0, trainEnd);
    const served = await this.o.fit(train, trainEnd, info, h);
    const described = describeFitted(served.fitted, info, h, trainEnd, holdout);
    if (!described.ok) return described;
    const spec = described.spec;
    const name = version(trainEnd);
    const stepMs = view.stepSec * 1000;
    return {
      ok: true,
      model: {
        series,
        version: name,
        spec,
        fitted: buildFitted(spec),
        metadata: {
          series,
          version: name,
          trainingWindow: {
            firstStep: 0,
            lastStep: trainEnd - 1,
            firstStepMs: view.startMs,
            lastStepMs: view.startMs + (trainEnd - 1) * stepMs,
          },
          features: spec.selection.models,
          metrics: {
            trainSteps: trainEnd,
            holdoutSteps: holdout,
            horizon: h,
            season,
            stepSec: view.stepSec,
            rule: spec.selection.rule,
            ...Object.fromEntries(
              Object.entries(spec.selection.validationMae).map(([k, v]) => [
                `validationMae.${k}`,
                v,
              ]),
            ),
          },
          savedAtMs: (this.o.now ?? Date.now)(),
        },
      },
    };
  }

  versionOf(m: ForecastModel): string {
    return m.version;
  }

  encode(m: ForecastModel, evaluation: Evaluation | null): ModelFiles {
    return encodeForecastModel(m, evaluation);
  }

  decode(files: StoredModelFiles): ForecastModel {
    return decodeForecastModel(files);
  }

  async evaluate(
    series: string,
    candidate: ForecastModel,
    champion: ForecastModel | undefined,
  ): Promise<{ ok: true; scores: EvaluationScores } | { ok: false; reason: string }> {
    const view = this.o.source.series(series);
    const { info, trainEnd, holdoutSteps, h } = candidate.spec;
    if (view?.startMs !== info.startMs || view.stepSec !== info.stepSec) {
      return { ok: false, reason: 'the series window moved since the candidate was fit' };
    }
    const all = completeValues(view);
    const end = trainEnd + holdoutSteps;
    if (all.length < end) {
      return { ok: false, reason: `the holdout is incomplete: ${all.length} of ${end} steps` };
    }
    // Only the training part and the holdout: nothing later can be read.
    const values = all.slice(0, end);
    const opts = { trainEnd, h };
    const naive = await new SeasonalNaiveForecaster('seasonal-naive', 1).fit(
      values,
      trainEnd,
      info,
      h,
    );
    const heuristic = backtest(values, info, naive, opts);
    if (heuristic.scale === 0) {
      return { ok: false, reason: 'the training part is constant: MASE is undefined' };
    }
    const cand = backtest(values, info, candidate.fitted, opts);
    if (!Number.isFinite(cand.mase)) {
      throw new ModelInvalidError(
        `forecast model ${candidate.version} is invalid: its MASE on the holdout is ${cand.mase}`,
        { version: candidate.version },
      );
    }
    let champ: number | null = null;
    if (
      champion?.spec.info.startMs === info.startMs &&
      champion.spec.info.stepSec === info.stepSec
    ) {
      const r = backtest(values, info, champion.fitted, opts).mase;
      if (Number.isFinite(r)) champ = r;
    }
    const score = (mase: number) => -Math.log(Math.max(MIN_MASE, mase));
    const scores = {
      metric: 'negLogMase',
      requests: cand.origins * h,
      candidate: score(cand.mase),
      champion: champ === null ? null : score(champ),
      heuristic: score(heuristic.mase),
      // Shown with the evaluation (GET /v1/models, metadata.json): the plain errors.
      mase: { candidate: cand.mase, champion: champ, heuristic: heuristic.mase },
      holdout: { firstStep: trainEnd, lastStep: end - 1, origins: cand.origins },
    };
    return { ok: true, scores };
  }

  install(series: string, m: ForecastModel | undefined): void {
    this.o.serve(
      series,
      m && {
        fitted: m.fitted,
        model: { id: 'served', version: m.version },
        startMs: m.spec.info.startMs,
        stepSec: m.spec.info.stepSec,
      },
    );
  }
}
