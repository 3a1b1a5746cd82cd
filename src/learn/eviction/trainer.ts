/**
 * @module learn/eviction/trainer
 * Trains one small network ({@link MlpWeights}) in TensorFlow.js, synchronously: minibatch Adam
 * through `optimizer.minimize` (synchronous on every backend, unlike `model.fit`), so a retrain
 * happens inside the simulator's `access()` call at a request count fixed in advance and the
 * replay does not depend on timing. Weights persist across retrains (warm start); after each
 * retrain they are copied out into plain arrays for the JavaScript forward pass.
 *
 * Tensor hygiene: the variables and Adam's slots are the only kept tensors; every step runs in
 * `tidy()`, so `tf.memory().numTensors` stays flat across retrains (tested).
 */

import type * as tfjs from '@tensorflow/tfjs';

import type { Tf } from '../tf.js';

import { Rng } from './rng.js';
import { makeMlpWeights, type MlpWeights } from './scorer.js';

export type MlpLoss = 'logistic' | 'squared';

export interface MlpTrainerOptions {
  readonly inputs: number;
  /** Hidden units; default 16. */
  readonly hidden?: number;
  readonly loss: MlpLoss;
  /** Adam learning rate; default 0.01. */
  readonly learningRate?: number;
  readonly seed: number;
}

/** A training set in row-major raw (unstandardised) features. */
export interface TrainingSet {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly rows: number;
}

export class MlpTrainer {
  readonly inputs: number;
  readonly hidden: number;
  private readonly w1: tfjs.Variable;
  private readonly b1: tfjs.Variable;
  private readonly w2: tfjs.Variable;
  private readonly b2: tfjs.Variable;
  private readonly optimizer: tfjs.Optimizer;
  private readonly rng: Rng;
  private disposed = false;

  constructor(
    private readonly tf: Tf,
    private readonly opts: MlpTrainerOptions,
  ) {
    this.inputs = opts.inputs;
    this.hidden = opts.hidden ?? 16;
    this.rng = new Rng(opts.seed);
    const F = this.inputs;
    const H = this.hidden;
    // Glorot-normal initialisation from our own seeded PRNG (tfjs initialisers use a global seed).
    const init = (n: number, scale: number): Float32Array => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = this.rng.normal() * scale;
      return a;
    };
    // tidy() frees the initial values; variables are never tracked by tidy, so they survive.
    this.w1 = tf.tidy(() => tf.variable(tf.tensor2d(init(F * H, Math.sqrt(2 / (F + H))), [F, H])));
    this.b1 = tf.tidy(() => tf.variable(tf.zeros([H])));
    this.w2 = tf.tidy(() => tf.variable(tf.tensor2d(init(H, Math.sqrt(2 / (H + 1))), [H, 1])));
    this.b2 = tf.tidy(() => tf.variable(tf.zeros([1])));
    this.optimizer = tf.train.adam(opts.learningRate ?? 0.01);
  }

  /**
   * Runs `epochs` passes of minibatch Adam over `data` (standardised with its own mean and
   * deviation) and returns the weights copied out of tfjs.
   */
  train(data: TrainingSet, epochs: number, batchSize: number): MlpWeights {
    if (this.disposed) throw new Error('MlpTrainer used after dispose()');
    const { tf } = this;
    const F = this.inputs;
    const n = data.rows;
    const mean = new Float64Array(F);
    const std = new Float64Array(F);
    for (let r = 0; r < n; r++) for (let f = 0; f < F; f++) mean[f]! += data.x[r * F + f]!;
    for (let f = 0; f < F; f++) mean[f] = mean[f]! / Math.max(1, n);
    for (let r = 0; r < n; r++) {
      for (let f = 0; f < F; f++) std[f]! += (data.x[r * F + f]! - mean[f]!) ** 2;
    }
    for (let f = 0; f < F; f++) std[f] = Math.max(1e-3, Math.sqrt(std[f]! / Math.max(1, n)));

    const z = new Float32Array(n * F);
    for (let r = 0; r < n; r++) {
      for (let f = 0; f < F; f++) z[r * F + f] = (data.x[r * F + f]! - mean[f]!) / std[f]!;
    }
    const order = Array.from({ length: n }, (_, i) => i);
    const bx = new Float32Array(batchSize * F);
    const by = new Float32Array(batchSize);
    const vars = [this.w1, this.b1, this.w2, this.b2];
    for (let e = 0; e < epochs; e++) {
      for (let i = n - 1; i > 0; i--) {
        const j = this.rng.int(i + 1);
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
      for (let start = 0; start + batchSize <= n; start += batchSize) {
        for (let b = 0; b < batchSize; b++) {
          const r = order[start + b]!;
          bx.set(z.subarray(r * F, r * F + F), b * F);
          by[b] = data.y[r]!;
        }
        tf.tidy(() => {
          const xs = tf.tensor2d(bx, [batchSize, F]);
          const ys = tf.tensor2d(by, [batchSize, 1]);
          this.optimizer.minimize(
            () => {
              const out = tf.add(
                tf.matMul(tf.tanh(tf.add(tf.matMul(xs, this.w1), this.b1)), this.w2),
                this.b2,
              );
              return this.opts.loss === 'logistic'
                ? tf.losses.sigmoidCrossEntropy(ys, out)
                : tf.losses.meanSquaredError(ys, out);
            },
            false,
            vars,
          );
        });
      }
    }
    return makeMlpWeights({
      inputs: F,
      hidden: this.hidden,
      mean,
      std,
      w1: Float64Array.from(this.w1.dataSync()),
      b1: Float64Array.from(this.b1.dataSync()),
      w2: Float64Array.from(this.w2.dataSync()),
      b2: this.b2.dataSync()[0] ?? 0,
    });
  }

  /** Frees the variables and the optimizer's slots. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer.dispose();
    for (const v of [this.w1, this.b1, this.w2, this.b2]) v.dispose();
  }
}
