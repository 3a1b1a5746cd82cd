/**
 * @module forecast/selector
 * The forecaster the engine serves (id `served`): chosen, per series, among candidate forecasters
 * by a rolling-origin backtest on a validation tail of the training part — model selection by
 * out-of-sample error (Tashman 2000) and forecast combination (Bates & Granger 1969, "The
 * combination of forecasts"; inverse-error weights: Stock & Watson 2004; the median of forecasts:
 * the "forecast combination puzzle", Claeskens et al. 2016 and the M4 results, Makridakis et al.
 * 2020, where simple combinations beat most single models).
 *
 * Fit, given the training part `values[0..trainEnd)` (copied for steps 1–2, so the selection
 * cannot read the holdout whatever the candidates do):
 *   1. Split it: candidates are fit on `[0, v)` and backtested on the tail `[v, trainEnd)` with
 *      `v = trainEnd − ⌈validation · trainEnd⌉` (default 20 %), origins every step (`backtest.ts`).
 *      A candidate whose fit throws or whose validation MAE is not finite is left out (recorded in
 *      `selection.failed`).
 *   2. Choose a rule by the same validation errors: `best` (the single model with the lowest MAE),
 *      `inverse-mae` (the `top` best, p50 weighted ∝ 1 / MAE) or `median` (the median p50 of the
 *      `top` best). With `rule: 'auto'` (the default) the rule with the lowest validation MAE
 *      wins; a fixed rule can be forced.
 *   3. Refit the chosen models on the whole training part. A single model serves its own
 *      quantiles; a combination's p10/p90 are the shared empirical error quantiles of the combined
 *      p50 on the training part (`intervals.ts`).
 * With no validation origins (a very short training part) the first candidate is served.
 *
 * Any `Forecaster` can be a candidate: pass the learned one (`learned-quantile`, src/learn) in the
 * list and it competes on the same validation tail; it is fitted twice (validation, then refit).
 */
import { backtest } from './backtest.js';
import type { FittedForecaster, Forecaster, Quantiles, SeriesInfo } from './forecaster.js';
import { errorQuantiles, withIntervals, type ErrorQuantiles } from './intervals.js';

export type CombineRule = 'best' | 'inverse-mae' | 'median';

export interface SelectorOptions {
  /** Fraction of the training part used as the validation tail (default 0.2). */
  readonly validation?: number;
  /** Combination rule, or `auto` to pick it by validation MAE (default `auto`). */
  readonly rule?: CombineRule | 'auto';
  /** Models in a combination (default 3). */
  readonly top?: number;
}

/** What the selector chose and why (validation MAE per candidate and per rule). */
export interface Selection {
  readonly rule: CombineRule;
  readonly models: readonly string[];
  readonly weights: readonly number[];
  readonly validationMae: Readonly<Record<string, number>>;
  readonly ruleMae: Readonly<Partial<Record<CombineRule, number>>>;
  readonly failed: Readonly<Record<string, string>>;
}

/** Combined p50 of several forecasts: weighted mean, or the (unweighted) median. */
function combine(
  p50s: readonly Float64Array[],
  weights: readonly number[],
  median: boolean,
): Float64Array {
  const h = p50s[0]!.length;
  const out = new Float64Array(h);
  const col = new Float64Array(p50s.length);
  for (let k = 0; k < h; k++) {
    if (median) {
      for (let j = 0; j < p50s.length; j++) col[j] = p50s[j]![k]!;
      col.sort();
      const mid = col.length >> 1;
      out[k] = col.length % 2 === 1 ? col[mid]! : (col[mid - 1]! + col[mid]!) / 2;
    } else {
      let s = 0;
      for (let j = 0; j < p50s.length; j++) s += weights[j]! * p50s[j]![k]!;
      out[k] = s;
    }
  }
  return out;
}

export class SelectedFitted implements FittedForecaster {
  constructor(
    readonly selection: Selection,
    /** The chosen models, fitted, in `selection.models` order (read to version them). */
    readonly members: readonly FittedForecaster[],
    /** Shared interval offsets of a combination; undefined for a single model. */
    readonly errors: ErrorQuantiles | undefined,
  ) {}

  /** Combined point forecast (the single member's p50 for `best`). */
  point(values: ArrayLike<number>, origin: number, h: number): Float64Array {
    const p50s = this.members.map((m) => m.forecast(values, origin, h).p50);
    return p50s.length === 1
      ? p50s[0]!
      : combine(p50s, this.selection.weights, this.selection.rule === 'median');
  }

  forecast(values: ArrayLike<number>, origin: number, h: number): Quantiles {
    if (this.errors === undefined) return this.members[0]!.forecast(values, origin, h);
    return withIntervals(this.point(values, origin, h), this.errors);
  }
}

export class SelectorForecaster implements Forecaster {
  readonly id = 'served';

  constructor(
    readonly candidates: readonly Forecaster[],
    private readonly options: SelectorOptions = {},
  ) {
    if (candidates.length === 0) throw new Error('the selector needs at least one candidate');
  }

  async fit(
    values: ArrayLike<number>,
    trainEnd: number,
    info: SeriesInfo,
    h: number,
  ): Promise<SelectedFitted> {
    const train = Float64Array.from({ length: trainEnd }, (_, i) => values[i]!);
    const top = Math.max(1, this.options.top ?? 3);
    const v = trainEnd - Math.max(h + 1, Math.ceil((this.options.validation ?? 0.2) * trainEnd));
    const first = v - 1;
    const last = trainEnd - 1 - h;
    const validationMae: Record<string, number> = {};
    const failed: Record<string, string> = {};
    // p50 of each candidate at each validation origin, to score combinations without refitting.
    const p50s = new Map<string, Float64Array>();
    const origins = last - first + 1;
    if (v >= 2 && origins >= 1) {
      for (const c of this.candidates) {
        try {
          const f = await c.fit(train, v, info, h);
          const rows = new Float64Array(origins * h);
          const recording: FittedForecaster = {
            forecast: (vals, t, hh) => {
              const q = f.forecast(vals, t, hh);
              rows.set(q.p50, (t - first) * h);
              return q;
            },
          };
          const r = backtest(train, info, recording, { trainEnd: v, h });
          if (!Number.isFinite(r.mae)) throw new Error(`validation MAE is ${r.mae}`);
          validationMae[c.id] = r.mae;
          p50s.set(c.id, rows);
        } catch (err) {
          failed[c.id] = err instanceof Error ? err.message : String(err);
        }
      }
    }
    const ranked = Object.keys(validationMae).sort((a, b) => validationMae[a]! - validationMae[b]!);
    const ruleMae: Partial<Record<CombineRule, number>> = {};
    const plans: Record<CombineRule, { models: string[]; weights: number[] }> = {
      best: { models: ranked.slice(0, 1), weights: [1] },
      'inverse-mae': { models: ranked.slice(0, top), weights: [] },
      median: { models: ranked.slice(0, top), weights: [] },
    };
    const inv = plans['inverse-mae'].models.map((id) => 1 / Math.max(validationMae[id]!, 1e-12));
    const invSum = inv.reduce((a, b) => a + b, 0);
    plans['inverse-mae'].weights = inv.map((w) => w / invSum);
    const n = plans.median.models.length;
    plans.median.weights = plans.median.models.map(() => 1 / n);

    let rule: CombineRule = 'best';
    if (ranked.length > 0) {
      for (const r of ['best', 'inverse-mae', 'median'] as const) {
        const plan = plans[r];
        const rows = plan.models.map((id) => p50s.get(id)!);
        let sum = 0;
        for (let o = 0; o < origins; o++) {
          const f = combine(
            rows.map((row) => row.subarray(o * h, (o + 1) * h)),
            plan.weights,
            r === 'median',
          );
          for (let k = 0; k < h; k++) sum += Math.abs(train[first + o + 1 + k]! - f[k]!);
        }
        ruleMae[r] = sum / (origins * h);
      }
      const forced = this.options.rule ?? 'auto';
      rule =
        forced !== 'auto'
          ? forced
          : (['best', 'inverse-mae', 'median'] as const).reduce((a, b) =>
              ruleMae[b]! < ruleMae[a]! ? b : a,
            );
    }
    const plan =
      ranked.length > 0 ? plans[rule] : { models: [this.candidates[0]!.id], weights: [1] };
    if (plan.models.length === 1) rule = 'best';
    const byId = new Map(this.candidates.map((c) => [c.id, c]));
    const members: FittedForecaster[] = [];
    // The refit gets the caller's array (candidates read only `[0, trainEnd)`, as the contract
    // test checks), so stateful members are already warm at the end of training when served.
    for (const id of plan.models) members.push(await byId.get(id)!.fit(values, trainEnd, info, h));
    const selection: Selection = {
      rule,
      models: plan.models,
      weights: plan.models.length === 1 ? [1] : plan.weights,
      validationMae,
      ruleMae,
      failed,
    };
    if (members.length === 1) return new SelectedFitted(selection, members, undefined);
    const combined = new SelectedFitted(selection, members, undefined);
    const errors = errorQuantiles(
      (vals, t, hh) => combined.point(vals, t, hh),
      values,
      trainEnd,
      h,
    );
    return new SelectedFitted(selection, members, errors);
  }
}
