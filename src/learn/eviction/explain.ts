/**
 * @module learn/eviction/explain
 * Per-feature attributions of eviction scores by integrated gradients (Sundararajan, Taly & Yan,
 * ICML'17): a_i = (x_i − b_i) · ∫₀¹ ∂f/∂x_i (b + α(x − b)) dα, approximated by the midpoint
 * rule with analytic gradients of the plain-JS network. The baseline `b` is the training mean
 * (the "average key" of the last retrain), so attributions say why this key scores differently
 * from an average one. Completeness — Σ a_i = f(x) − f(b) — is checked and the number of steps
 * doubled until it holds within 1 % (the networks are smooth, so 32 steps almost always do).
 */

import type { EvictionDecision, ReasonCode } from '../../decisions.js';

import { AGENT_FEATURE_NAMES, type FeatureClock, type KeyStats } from './features.js';
import {
  type EvictionModel,
  mlpForward,
  mlpGradient,
  type MlpWeights,
  ScoreScratch,
  scoreKey,
  sigmoid,
} from './scorer.js';

export interface IntegratedGradients {
  readonly attributions: Float64Array;
  readonly fx: number;
  readonly fBaseline: number;
  /** |Σ a − (f(x) − f(b))| / max(|f(x) − f(b)|, 1e-9). */
  readonly completenessError: number;
  readonly steps: number;
}

/** Relative completeness tolerance (the 1 %). */
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

/**
 * The explained eviction score of one key: Q(evict) from the agent, integrated-gradients
 * attributions over the agent's inputs, and a one-sentence reason (code `MODEL`).
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
  const ig = integratedGradients(model.agent, x);
  const attributions: Record<string, number> = {};
  const inputs: Record<string, number> = {};
  AGENT_FEATURE_NAMES.forEach((name, i) => {
    attributions[name] = ig.attributions[i]!;
    inputs[name] = x[i]!;
  });
  const top = AGENT_FEATURE_NAMES.map((name, i) => ({ name, a: ig.attributions[i]! }))
    .sort((p, q) => Math.abs(q.a) - Math.abs(p.a))
    .slice(0, 2)
    .map((t) => `${PHRASES[t.name] ?? t.name} ${t.a >= 0 ? '+' : ''}${t.a.toFixed(3)}`);
  const pReuse = sigmoid(x[x.length - 1]!);
  const idleT = Math.expm1(x[0]!);
  const text =
    `Q(evict) ${score.toFixed(3)} vs ${ig.fBaseline.toFixed(3)} for an average key ` +
    `(idle ${idleT.toFixed(2)} T, P(reuse) ${pReuse.toFixed(2)}); mostly ${top.join(', ')}`;
  return { key, score, reason: 'MODEL', text, attributions, inputs };
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
