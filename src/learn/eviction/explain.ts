/**
 * @module learn/eviction/explain
 * Per-feature attributions of eviction scores by integrated gradients (Sundararajan, Taly & Yan,
 * ICML'17): a_i = (x_i − b_i) · ∫₀¹ ∂f/∂x_i (b + α(x − b)) dα, approximated by the midpoint
 * rule with analytic gradients of the plain-JS network. The baseline `b` is the training mean
 * (the "average key" of the last retrain), so attributions say why this key scores differently
 * from an average one. Completeness — Σ a_i = f(x) − f(b) — is checked and the number of steps
 * doubled until it holds within 1 % (the networks are smooth, so 32 steps almost always do).
 *
 * The tabular agent (./victim-table.ts) is explained by exact Shapley values (Shapley 1953; as
 * SHAP uses them, Lundberg & Lee, NeurIPS'17) over its state's three coordinates against the
 * table's most populated cell: with three players all 8 coalitions are evaluated, so completeness
 * holds exactly, not within a tolerance. When the table carries boosted trees
 * (./boosted-trees.ts), their margin is explained along each tree's decision path against the
 * trees' expected margin (Saabas' method, exact by construction), and a feature's attribution is
 * the sum of its two parts (the table's coordinates and the trees' inputs share names where they
 * are the same quantity).
 */

import type { EvictionDecision, ReasonCode } from '../../decisions.js';

import {
  BOOST_FEATURE_NAMES,
  BOOST_FEATURES,
  boostAttributions,
  boostExpected,
  boostFeatures,
} from './boosted-trees.js';
import {
  AGENT_FEATURE_NAMES,
  BASE_FEATURE_NAMES,
  type FeatureClock,
  type KeyStats,
} from './features.js';
import {
  clampLogit,
  type EvictionModel,
  mlpForward,
  mlpGradient,
  type MlpWeights,
  ScoreScratch,
  scoreKey,
  sigmoid,
} from './scorer.js';
import {
  cellOf,
  coordinatesOf,
  idleBinCentre,
  stateCoordinates,
  stateScore,
  tableCoordinates,
  VICTIM_STATE_COORDINATES,
  type VictimTable,
} from './victim-table.js';

export interface IntegratedGradients {
  readonly attributions: Float64Array;
  readonly fx: number;
  readonly fBaseline: number;
  /** |Σ a − (f(x) − f(b))| / max(|f(x) − f(b)|, 1e-9). */
  readonly completenessError: number;
  readonly steps: number;
}

/** Relative completeness tolerance (the issue's 1 %). */
export const IG_TOLERANCE = 0.01;

/**
 * Integrated gradients of `w` at `x` against `baseline` (default: the training mean).
 * Starts with `steps` midpoints and doubles up to `maxSteps` until completeness holds.
 */
export function integratedGradients(
  w: MlpWeights,
  x: ArrayLike<number>,
  baseline: ArrayLike<number> = w.mean,
  steps = 32,
  maxSteps = 1024,
): IntegratedGradients {
  const n = w.inputs;
  const fx = mlpForward(w, x);
  const fBaseline = mlpForward(w, baseline);
  const delta = fx - fBaseline;
  const point = new Float64Array(n);
  const grad = new Float64Array(n);
  for (let m = steps; ; m *= 2) {
    const sum = new Float64Array(n);
    for (let k = 0; k < m; k++) {
      const alpha = (k + 0.5) / m;
      for (let i = 0; i < n; i++) point[i] = baseline[i]! + alpha * (x[i]! - baseline[i]!);
      mlpGradient(w, point, grad);
      for (let i = 0; i < n; i++) sum[i] = sum[i]! + grad[i]!;
    }
    const attributions = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      attributions[i] = ((x[i]! - baseline[i]!) * sum[i]!) / m;
      total += attributions[i]!;
    }
    const completenessError = Math.abs(total - delta) / Math.max(Math.abs(delta), 1e-9);
    if (completenessError <= IG_TOLERANCE || m * 2 > maxSteps) {
      return { attributions, fx, fBaseline, completenessError, steps: m };
    }
  }
}

/** Attributions of a tabular agent's score, with the two scores they explain. */
export interface TableShapley {
  /**
   * One per coordinate of {@link VICTIM_STATE_COORDINATES} the table reads: the base state's
   * three, then one per extra view.
   */
  readonly attributions: Float64Array;
  readonly fx: number;
  readonly fBaseline: number;
  /** |Σ a − (f(x) − f(b))|: 0 up to rounding. */
  readonly completenessError: number;
}

/** n! for the Shapley weights (n ≤ 7 coordinates). */
const FACTORIAL = [1, 1, 2, 6, 24, 120, 720, 5040];

function popcount(mask: number): number {
  let c = 0;
  for (let m = mask; m !== 0; m &= m - 1) c++;
  return c;
}

/**
 * Exact Shapley values of a table's score at state coordinates `coords` (and idle feature
 * `idleX`, for the recency tie-break) against a typical candidate: the base table's most
 * populated cell for idle time, access count and last gap (where idle is the centre of that
 * cell's idle bin), and each extra view's most populated cell for that view's coordinate. The
 * players are the coordinates the table reads (3, or 7 with its four views); all 2^n coalitions
 * are evaluated, so the attributions add up to f(x) − f(baseline) exactly.
 */
export function tableShapley(
  t: VictimTable,
  coords: ArrayLike<number>,
  idleX: number,
  /** As {@link stateScore}'s: false for the admission table, which decides by its cell. */
  betweenBins = true,
): TableShapley {
  const views = t.views ?? [];
  const n = 3 + views.length;
  const base = [
    ...coordinatesOf(t.baselineCell),
    ...views.map((v) => coordinatesOf(v.baselineCell)[2]),
  ];
  const baseIdleX = idleBinCentre(base[0]!);
  const c = new Int32Array(n);
  // f(S): the score with the coordinates in S (bit j) from the key, the others from the baseline.
  const f = (mask: number): number => {
    for (let j = 0; j < n; j++) c[j] = (mask >> j) & 1 ? coords[j]! : base[j]!;
    return stateScore(t, c, mask & 1 ? idleX : baseIdleX, betweenBins);
  };
  const full = (1 << n) - 1;
  const values = new Float64Array(full + 1);
  for (let mask = 0; mask <= full; mask++) values[mask] = f(mask);
  const attributions = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    for (let mask = 0; mask <= full; mask++) {
      if ((mask >> j) & 1) continue;
      const size = popcount(mask);
      const weight = (FACTORIAL[size]! * FACTORIAL[n - size - 1]!) / FACTORIAL[n]!;
      attributions[j] = attributions[j]! + weight * (values[mask | (1 << j)]! - values[mask]!);
    }
  }
  const fx = values[full]!;
  const fBaseline = values[0]!;
  let total = 0;
  for (let j = 0; j < n; j++) total += attributions[j]!;
  return { attributions, fx, fBaseline, completenessError: Math.abs(total - (fx - fBaseline)) };
}

/** Phrases for the reason text, by feature. */
const PHRASES: Readonly<Record<string, string>> = {
  idle: 'idle time',
  gap1: 'last inter-arrival gap',
  gap2: '2nd gap',
  gap3: '3rd gap',
  gap4: '4th gap',
  decayedCountShort: 'recent request rate',
  decayedCountMid: 'mid-term request rate',
  decayedCountLong: 'long-term request rate',
  accesses: 'access count',
  sizeLog: 'size',
  lifetime: 'time since first seen',
  popularityLogit: 'predicted reuse',
};

/** Phrases for the tabular agent's state coordinates. */
const TABLE_PHRASES: Readonly<Record<(typeof VICTIM_STATE_COORDINATES)[number], string>> = {
  idle: 'idle time',
  accesses: 'access count',
  gap1: 'last inter-arrival gap',
  meanGap: 'mean inter-arrival gap',
  due: 'last gap − idle time',
  lifetime: 'time since first seen',
  gap2: 'second-last gap',
};

function topTwo(
  names: readonly string[],
  a: Float64Array,
  phrases: Readonly<Record<string, string>>,
): string {
  return names
    .map((name, i) => ({ name, a: a[i]! }))
    .sort((p, q) => Math.abs(q.a) - Math.abs(p.a))
    .slice(0, 2)
    .map((t) => `${phrases[t.name] ?? t.name} ${t.a >= 0 ? '+' : ''}${t.a.toFixed(3)}`)
    .join(', ');
}

/**
 * The explained eviction score of one key, with reason code `MODEL`: the agent's value, its
 * attributions (exact Shapley values over the tabular agent's state, or integrated gradients
 * over the network agent's inputs) and a one-sentence reason.
 */
export function explainKey(
  model: EvictionModel,
  key: string,
  stats: KeyStats,
  clock: FeatureClock,
): EvictionDecision {
  const scratch = new ScoreScratch();
  const score = scoreKey(model, stats, clock, scratch);
  const x = scratch.agentInput;
  if (model.victimTable !== undefined) return explainTable(model, model.victimTable, key, x, clock);
  const ig = integratedGradients(model.agent!, x);
  const attributions: Record<string, number> = {};
  const inputs: Record<string, number> = {};
  AGENT_FEATURE_NAMES.forEach((name, i) => {
    attributions[name] = ig.attributions[i]!;
    inputs[name] = x[i]!;
  });
  const pReuse = sigmoid(x[x.length - 1]!);
  const idleT = Math.expm1(x[0]!);
  const text =
    `Q(evict) ${score.toFixed(3)} vs ${ig.fBaseline.toFixed(3)} for an average key ` +
    `(idle ${idleT.toFixed(2)} T, P(reuse) ${pReuse.toFixed(2)}); mostly ` +
    topTwo(AGENT_FEATURE_NAMES, ig.attributions, PHRASES);
  return { key, score, reason: 'MODEL', text, attributions, inputs };
}

/**
 * Shapley attributions of a table's value for base features `x` (see {@link tableShapley}), with
 * the decision record's inputs every table explanation carries: the base features, the cell and
 * the baseline score.
 */
function explainCell(
  table: VictimTable,
  x: Float64Array,
  clock: FeatureClock,
  betweenBins: boolean,
): {
  sh: TableShapley;
  attributions: Record<string, number>;
  inputs: Record<string, number>;
  /** The key's idle time (units of T) and request count, for the reason text. */
  idleT: number;
  requests: number;
  /** The coordinates the attributions are over, in their order. */
  names: readonly string[];
} {
  const coords = new Int32Array(VICTIM_STATE_COORDINATES.length);
  stateCoordinates(x, 0, clock.missingGapT, coords);
  const sh = tableShapley(table, coords, x[0]!, betweenBins);
  const names = tableCoordinates(table);
  const attributions: Record<string, number> = {};
  names.forEach((name, i) => (attributions[name] = sh.attributions[i]!));
  const inputs: Record<string, number> = {};
  BASE_FEATURE_NAMES.forEach((name, i) => (inputs[name] = x[i]!));
  inputs['cell'] = cellOf(coords);
  inputs['baselineScore'] = sh.fBaseline;
  const idleT = Math.expm1(x[0]!);
  return { sh, attributions, inputs, idleT, requests: Math.round(Math.expm1(x[8]!)), names };
}

/** {@link explainKey} for the tabular agent; `x` holds the key's base features. */
function explainTable(
  model: EvictionModel,
  table: VictimTable,
  key: string,
  x: Float64Array,
  clock: FeatureClock,
): EvictionDecision {
  const cell = explainCell(table, x, clock, true);
  const { sh, attributions, inputs, idleT, requests } = cell;
  let names: readonly string[] = cell.names;
  let shares = sh.attributions;
  let score = sh.fx;
  let baseline = sh.fBaseline;
  // Every attributed name has its input: the base features are there; the views' `meanGap` and
  // `due` (binned in the tables, raw in the trees) are given raw, in T.
  const f = new Float64Array(BOOST_FEATURES);
  boostFeatures(x, 0, clock.missingGapT, f);
  BOOST_FEATURE_NAMES.forEach((name, i) => (inputs[name] ??= f[i]!));
  const trees = table.boost;
  if (trees !== undefined) {
    // The trees' part: decision-path attributions over their inputs, added to the table's.
    const a = new Float64Array(BOOST_FEATURES);
    const margin = boostAttributions(trees, f, a);
    const expected = boostExpected(trees);
    const merged = new Map<string, number>();
    cell.names.forEach((name, i) => merged.set(name, sh.attributions[i]!));
    BOOST_FEATURE_NAMES.forEach((name, i) => merged.set(name, (merged.get(name) ?? 0) + a[i]!));
    names = [...merged.keys()];
    shares = Float64Array.from(merged.values());
    for (const [name, v] of merged) attributions[name] = v;
    score += margin;
    baseline += expected;
    inputs['treesMargin'] = margin;
    inputs['baselineScore'] = baseline;
  }
  const logit = clampLogit(mlpForward(model.predictor, x, 0));
  inputs['popularityLogit'] = logit;
  const p = (z: number) => sigmoid(z).toFixed(2);
  const views = table.views?.length ?? 0;
  // With views or trees the score adds several logits: a ranking value, not one probability's.
  const tables = views === 0 ? 'its table' : `${1 + views} views of the key`;
  const parts = `${tables}${trees === undefined ? '' : ' and boosted trees'}`;
  const value =
    views === 0 && trees === undefined
      ? `P(not requested within ${table.horizonT} T) ${p(score)} vs ${p(baseline)}`
      : `value ${score.toFixed(2)} (logits of P(not requested within ${table.horizonT} T) ` +
        `from ${parts}, added) vs ${baseline.toFixed(2)}`;
  const text =
    `${value} for a typical candidate (idle ${idleT.toFixed(2)} T, ${requests} requests, ` +
    `P(reuse within H) ${sigmoid(logit).toFixed(2)}); ` +
    `mostly ${topTwo(names, shares, { ...PHRASES, ...TABLE_PHRASES })}`;
  return { key, score, reason: 'MODEL', text, attributions, inputs };
}

/**
 * A key leaving probation (after `hits` hits there) and not admitted to the main cache by the
 * admission table (`table`: its logits are of P(not requested within A), A its `horizonT`): the
 * key's value, exact Shapley attributions over the state against the table's most populated
 * cell, and the bar it failed (`bar`: the share of the main cache's recent victims back within
 * A), reason code `MODEL`. `x` holds the key's base features.
 */
export function explainAdmission(
  key: string,
  table: VictimTable,
  x: Float64Array,
  clock: FeatureClock,
  bar: number,
  hits = 0,
): EvictionDecision {
  const { sh, attributions, inputs, idleT, requests, names } = explainCell(table, x, clock, false);
  const pBack = 1 - sigmoid(sh.fx);
  inputs['pBack'] = pBack;
  inputs['admissionBar'] = bar;
  inputs['probationHits'] = hits;
  const text =
    `probation FIFO exit, ${hits > 0 ? `hit there ${hits}×` : 'not hit there'}: ` +
    `P(requested within ${table.horizonT} T) ` +
    `${pBack.toFixed(3)} for its kind of key (idle ${idleT.toFixed(2)} T, ${requests} ` +
    `requests) < ${bar.toFixed(3)} for the main cache's recent victims → not admitted; mostly ` +
    topTwo(names, sh.attributions, TABLE_PHRASES);
  return { key, score: sh.fx, reason: 'MODEL', text, attributions, inputs };
}

/**
 * A decision of the classic rule (sampled LRU): `FALLBACK` before the first training,
 * `HEURISTIC` when the regret guard prefers it to the model.
 */
export function explainFallback(
  key: string,
  idleTicks: number,
  reason: Extract<ReasonCode, 'FALLBACK' | 'HEURISTIC' | 'OVERRIDE'>,
  why: string,
): EvictionDecision {
  return {
    key,
    score: idleTicks,
    reason,
    text: `${why}: least recently used of the sampled candidates, idle ${idleTicks} requests`,
    attributions: { idle: idleTicks },
    inputs: { idle: idleTicks },
  };
}
