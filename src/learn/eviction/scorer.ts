/**
 * @module learn/eviction/scorer
 * The forward pass of the learned eviction models in plain JavaScript: the one pure module that
 * both the simulator policy ({@link LearnedPolicy}) and the engine / a cache-side adapter call to
 * score keys. Weights are copied out of tfjs after each retrain ({@link MlpWeights}), so scoring a
 * candidate costs a few hundred multiply-adds and no tensor allocation (the per-request budget of
 * a cache; LRB scores its 64 sampled candidates the same way, outside its training library).
 *
 * Two small networks (one tanh hidden layer each), inputs standardised with the training
 * buffer's mean and deviation:
 * - the popularity predictor: base features → logit of P(key requested again within horizon H);
 * - the network agent (agent kind `network`): base features + that logit → Q(evict the key),
 *   the expected log-distance to its next request; the policy evicts the highest Q.
 * The default agent is a table instead (./victim-table.ts, kind `table`): the logit of
 * P(not requested within B) of the key's cell, plus its views' and, once fitted, its boosted
 * trees' logits (./boosted-trees.ts). Either way the score of an eviction decision is
 * the agent's value: higher = evict sooner.
 */

import {
  AGENT_FEATURES,
  BASE_FEATURES,
  extractFeatures,
  type FeatureClock,
  type KeyStats,
} from './features.js';
import { tableValue, type VictimTable } from './victim-table.js';

/** One tanh-hidden-layer network, inputs standardised. Plain arrays, serialisable as JSON. */
export interface MlpWeights {
  readonly inputs: number;
  readonly hidden: number;
  /** Input standardisation: z = (x − mean) / std. */
  readonly mean: Float64Array;
  readonly std: Float64Array;
  /** Row-major [inputs × hidden]: w1[f · hidden + j]. */
  readonly w1: Float64Array;
  readonly b1: Float64Array;
  readonly w2: Float64Array;
  readonly b2: number;
  /** w1 / std and b1 − Σ mean·w1/std: standardisation folded in, for the hot path. */
  readonly fw1: Float64Array;
  readonly fb1: Float64Array;
}

/** Builds weights with the standardisation folded into the first layer. */
export function makeMlpWeights(w: Omit<MlpWeights, 'fw1' | 'fb1'>): MlpWeights {
  const H = w.hidden;
  const fw1 = new Float64Array(w.w1.length);
  const fb1 = Float64Array.from(w.b1);
  for (let f = 0; f < w.inputs; f++) {
    for (let j = 0; j < H; j++) {
      fw1[f * H + j] = w.w1[f * H + j]! / w.std[f]!;
      fb1[j] = fb1[j]! - w.mean[f]! * fw1[f * H + j]!;
    }
  }
  return { ...w, fw1, fb1 };
}

let hiddenScratch = new Float64Array(64);

/**
 * What the policy scores with: the popularity predictor and one eviction agent — the tabular
 * agent ({@link VictimTable}, the default) or the network agent. A model carries exactly one of
 * the two (model files are checked for it).
 */
export interface EvictionModel {
  readonly predictor: MlpWeights;
  /** The network agent: Q(evict) from base features + the predictor's logit. */
  readonly agent?: MlpWeights | undefined;
  /** The tabular agent: logit P(not requested within B) per cell of the key's state. */
  readonly victimTable?: VictimTable | undefined;
  /** How many retrains produced these weights (1 = first). */
  readonly version: number;
}

/** Output of the network at raw input `x` (read from `x[offset..offset+inputs)`). */
export function mlpForward(w: MlpWeights, x: ArrayLike<number>, offset = 0): number {
  const H = w.hidden;
  const F = w.inputs;
  const fw1 = w.fw1;
  if (hiddenScratch.length < H) hiddenScratch = new Float64Array(H);
  const h = hiddenScratch;
  for (let j = 0; j < H; j++) h[j] = w.fb1[j]!;
  for (let f = 0; f < F; f++) {
    const xf = x[offset + f]!;
    const row = f * H;
    for (let j = 0; j < H; j++) h[j]! += xf * fw1[row + j]!;
  }
  let out = w.b2;
  for (let j = 0; j < H; j++) out += Math.tanh(h[j]!) * w.w2[j]!;
  return out;
}

/** Gradient of the output with respect to the raw input, written into `grad`; returns f(x). */
export function mlpGradient(w: MlpWeights, x: ArrayLike<number>, grad: Float64Array): number {
  const H = w.hidden;
  grad.fill(0);
  let out = w.b2;
  for (let j = 0; j < H; j++) {
    let a = w.b1[j]!;
    for (let f = 0; f < w.inputs; f++) a += ((x[f]! - w.mean[f]!) / w.std[f]!) * w.w1[f * H + j]!;
    const h = Math.tanh(a);
    out += h * w.w2[j]!;
    const back = w.w2[j]! * (1 - h * h);
    for (let f = 0; f < w.inputs; f++) grad[f] = grad[f]! + (back * w.w1[f * H + j]!) / w.std[f]!;
  }
  return out;
}

/** Approximate number of bytes the weights take (Float64 arrays). */
export function mlpBytes(w: MlpWeights): number {
  return 8 * (w.mean.length + w.std.length + w.w1.length + w.b1.length + w.w2.length + 1);
}

/** Scratch space for {@link scoreKey}; one per caller, reused across calls. */
export class ScoreScratch {
  readonly agentInput = new Float64Array(AGENT_FEATURES);
}

/**
 * Scores one key — higher means evict sooner: with the tabular agent, the logit of P(not
 * requested within B) of the key's cell; with the network agent, Q(evict). Writes the key's base
 * features into `scratch.agentInput`, and for the network agent the popularity logit after them.
 */
export function scoreKey(
  model: EvictionModel,
  stats: KeyStats,
  clock: FeatureClock,
  scratch: ScoreScratch,
): number {
  const x = scratch.agentInput;
  extractFeatures(stats, clock, x, 0);
  if (model.victimTable !== undefined) {
    return tableValue(model.victimTable, x, 0, clock.missingGapT);
  }
  if (model.agent === undefined) throw new Error('eviction model without an agent');
  x[BASE_FEATURES] = clampLogit(mlpForward(model.predictor, x, 0));
  return mlpForward(model.agent, x, 0);
}

/** Logits are clipped so a saturated predictor cannot push the agent's input off its range. */
export function clampLogit(z: number): number {
  return z > 12 ? 12 : z < -12 ? -12 : z;
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}
