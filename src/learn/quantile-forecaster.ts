/**
 * @module learn/quantile-forecaster
 * `learned-quantile`: a direct multi-horizon quantile MLP fit per series in TensorFlow.js.
 *
 * At every training origin t a row of level-normalised inputs is built from `values[0..t]`
 * (`direct-features.ts`: recent points, the same window a day earlier, the values one/two days and
 * one week before each target, calendar). One small network maps it to the 0.1 / 0.5 / 0.9
 * quantiles of all h targets at once (the direct, multi-quantile output of MQ-RNN / MQ-CNN,
 * Wen et al. 2017, "A Multi-Horizon Quantile Recurrent Forecaster"), trained with the pinball
 * loss of quantile regression (Koenker & Bassett 1978). The network is a one-hidden-layer MLP plus
 * a linear skip path; the skip starts as the identity from the one-day-before inputs, so before any
 * training the model *is* seasonal naive and learning only has to find corrections to it (the
 * residual idea behind N-BEATS, Oreshkin et al. 2020). Dividing by a per-origin level follows
 * DeepAR's scale handling (Salinas et al. 2020).
 *
 * Training: Adam, minibatches in a seeded order, early stopping on the chronologically last part
 * of the training origins (the best epoch's weights are kept). Weights are initialised from a
 * seeded JS generator, so a fit is deterministic for a seed on a given backend. After fitting the
 * weights are copied to Float64Arrays and every tensor is disposed: `forecast` is a plain-JS
 * forward pass (a few microseconds), and a fitted model holds no tfjs memory.
 */
import type * as tfjs from '@tensorflow/tfjs';

import type {
  FittedForecaster,
  Forecaster,
  Quantiles,
  SeriesInfo,
} from '../forecast/forecaster.js';

import {
  buildDataset,
  directLayout,
  fallbackForecast,
  writeRow,
  type DirectDataset,
  type DirectLayout,
} from './direct-features.js';
import { loadTf, type Tf } from './tf.js';
import { mulberry32 } from '../random.js';

/** Quantile levels of the three outputs per horizon. */
export const QUANTILE_LEVELS = [0.1, 0.5, 0.9] as const;

/** Options of {@link QuantileMlpForecaster}; every default is here. */
export interface QuantileMlpOptions {
  /** Most recent points in a row; default 24. */
  readonly recent?: number;
  /** Hidden units (0 = linear quantile regression); default 32. */
  readonly hidden?: number;
  /** Cap on training rows (origins are subsampled evenly above it); default 3000. */
  readonly maxRows?: number;
  /** Maximum epochs; default 80. */
  readonly epochs?: number;
  /** Epochs without validation improvement before stopping; default 10. */
  readonly patience?: number;
  /** Minibatch size; default 128. */
  readonly batchSize?: number;
  /** Adam learning rate; default 0.003. */
  readonly learningRate?: number;
  /** L2 penalty on the weights (not biases), per weight; default 1e-4. */
  readonly l2?: number;
  /** Fraction of training origins (the latest) held out for early stopping; default 0.2. */
  readonly validationFraction?: number;
  /**
   * Weight each row's loss by its level (so the loss is the pinball loss in original units, as
   * MASE measures it) instead of in level-relative units; default true.
   */
  readonly levelWeighted?: boolean;
  /** Seed of initial weights and batch order; default 1. */
  readonly seed?: number;
  /** Wall-clock cap on training, seconds (stops early, keeping the best weights); default 30. */
  readonly maxFitSec?: number;
  /** After early stopping, retrain on all rows for the best epoch count; default true. */
  readonly refitAll?: boolean;
  /** Rescale the p10/p90 band on the validation origins; default true. */
  readonly calibrate?: boolean;
  /** Networks (seeds seed, seed + 7919, …) whose outputs are averaged; default 1. */
  readonly ensemble?: number;
}

const DEFAULTS: Required<QuantileMlpOptions> = {
  recent: 24,
  hidden: 32,
  maxRows: 3000,
  epochs: 80,
  patience: 10,
  batchSize: 128,
  learningRate: 0.003,
  l2: 1e-4,
  validationFraction: 0.2,
  levelWeighted: true,
  seed: 1,
  maxFitSec: 30,
  refitAll: true,
  calibrate: true,
  ensemble: 1,
};

/** What a fit reports besides the model (for benches and docs). */
export interface QuantileFitReport {
  readonly rows: number;
  /** Networks averaged (fewer than asked when the time cap cut the fit short). */
  readonly members: number;
  readonly epochs: number;
  readonly bestEpoch: number;
  /** Mean pinball loss on the validation origins at the best epoch (normalised units). */
  readonly validationLoss: number;
  /** Same loss of the untrained model, i.e. seasonal naive ± fixed band. */
  readonly initialValidationLoss: number;
  readonly fitMs: number;
}

/** Plain-JS weights of a fitted network (row-major, `in × out`). */
export interface MlpWeights {
  readonly w1: Float64Array;
  readonly b1: Float64Array;
  readonly w2: Float64Array;
  readonly ws: Float64Array;
  readonly b2: Float64Array;
  /** Hidden units; 0 = linear. */
  readonly hidden: number;
}

/** A fitted `learned-quantile` model: serving is a JS forward pass, no tfjs. */
export class FittedQuantileMlp implements FittedForecaster {
  private readonly hid: Float64Array;
  private readonly row: Float64Array;
  /** Multiplier of the p50 − p10 distance (calibration); 1 = as trained. */
  private lowScale = 1;
  /** Multiplier of the p90 − p50 distance. */
  private highScale = 1;

  constructor(
    readonly layout: DirectLayout,
    /** The networks averaged (read to version the model: `learn/forecast-model-files.ts`). */
    readonly members: readonly MlpWeights[],
    public report: QuantileFitReport,
    /** Band multipliers [below p50, above p50] of a model read back; default as trained (1, 1). */
    bandScales?: readonly [number, number],
  ) {
    this.row = new Float64Array(layout.width);
    this.hid = new Float64Array(Math.max(1, ...members.map((w) => w.hidden)));
    if (bandScales) [this.lowScale, this.highScale] = bandScales;
  }

  /** Band multipliers found by calibration: [below p50, above p50]. */
  get bandScales(): readonly [number, number] {
    return [this.lowScale, this.highScale];
  }

  forecast(values: ArrayLike<number>, origin: number, h: number): Quantiles {
    const { layout } = this;
    if (origin < layout.minOrigin) return fallbackForecast(values, origin, h);
    const level = writeRow(values, origin, layout, this.row);
    const out = average(this.members, this.row, this.hid);
    const H = layout.h;
    const p10 = new Float64Array(h);
    const p50 = new Float64Array(h);
    const p90 = new Float64Array(h);
    for (let k = 0; k < h; k++) {
      // Beyond the fitted horizon repeat the last one (the contract allows any h).
      const j = Math.min(k, H - 1);
      const [lo, mid, hi] = sorted3(out[j] ?? 0, out[H + j] ?? 0, out[2 * H + j] ?? 0);
      p10[k] = (mid - this.lowScale * (mid - lo) + 1) * level;
      p50[k] = (mid + 1) * level;
      p90[k] = (mid + this.highScale * (hi - mid) + 1) * level;
    }
    return { p10, p50, p90 };
  }

  /**
   * Sets the band multipliers so that, on rows [from, data.n) predicted by `heldOut` (weights
   * that never trained on those rows), 10 % of targets fall below p10 and 10 % above p90.
   */
  calibrate(data: DirectDataset, from: number, heldOut: readonly MlpWeights[]): void {
    const { width: d, h } = this.layout;
    const low: number[] = [];
    const high: number[] = [];
    for (let r = from; r < data.n; r++) {
      const out = average(heldOut, data.x.subarray(r * d, (r + 1) * d), this.hid);
      for (let k = 0; k < h; k++) {
        const [lo, mid, hi] = sorted3(out[k] ?? 0, out[h + k] ?? 0, out[2 * h + k] ?? 0);
        const y = data.y[r * h + k] ?? 0;
        low.push((mid - y) / Math.max(1e-6, mid - lo));
        high.push((y - mid) / Math.max(1e-6, hi - mid));
      }
    }
    // Clamped: a short or odd validation tail must not collapse or explode the band.
    this.lowScale = clamp(quantile(low, 0.9), 0.5, 4);
    this.highScale = clamp(quantile(high, 0.9), 0.5, 4);
  }
}

/** Mean of the members' outputs (a seed ensemble; one member is the plain network). */
function average(members: readonly MlpWeights[], x: ArrayLike<number>, hid: Float64Array) {
  const first = members[0];
  if (first === undefined) throw new Error('a fitted model has at least one network');
  if (members.length === 1) return forward(first, x, hid);
  const out = new Float64Array(first.b2.length);
  for (const w of members) {
    const o = forward(w, x, hid);
    for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) + (o[i] ?? 0) / members.length;
  }
  return out;
}

/** Network outputs (3h, normalised units) for one input row. */
function forward(w: MlpWeights, x: ArrayLike<number>, hid: Float64Array): Float64Array {
  const { w1, b1, w2, ws, b2, hidden } = w;
  const d = x.length;
  const m = b2.length;
  const out = Float64Array.from(b2);
  if (hidden > 0) {
    for (let j = 0; j < hidden; j++) hid[j] = b1[j] ?? 0;
    for (let i = 0; i < d; i++) {
      const xi = x[i] ?? 0;
      const base = i * hidden;
      for (let j = 0; j < hidden; j++) hid[j] = (hid[j] ?? 0) + xi * (w1[base + j] ?? 0);
    }
    for (let j = 0; j < hidden; j++) {
      const hj = hid[j] ?? 0;
      if (hj <= 0) continue; // relu
      const base = j * m;
      for (let o = 0; o < m; o++) out[o] = (out[o] ?? 0) + hj * (w2[base + o] ?? 0);
    }
  }
  for (let i = 0; i < d; i++) {
    const xi = x[i] ?? 0;
    const base = i * m;
    for (let o = 0; o < m; o++) out[o] = (out[o] ?? 0) + xi * (ws[base + o] ?? 0);
  }
  return out;
}

/** The three values ascending (quantile rearrangement, Chernozhukov et al. 2010). */
function sorted3(a: number, b: number, c: number): [number, number, number] {
  const lo = Math.min(a, b, c);
  const hi = Math.max(a, b, c);
  return [lo, a + b + c - lo - hi, hi];
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 1;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 1;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** The `learned-quantile` forecaster. */
export class QuantileMlpForecaster implements Forecaster {
  readonly id: string;
  private readonly opts: Required<QuantileMlpOptions>;

  constructor(options: QuantileMlpOptions = {}, id = 'learned-quantile') {
    this.id = id;
    this.opts = { ...DEFAULTS, ...options };
  }

  async fit(
    values: ArrayLike<number>,
    trainEnd: number,
    info: SeriesInfo,
    h: number,
  ): Promise<FittedQuantileMlp> {
    const started = performance.now();
    const o = this.opts;
    const layout = directLayout(values, trainEnd, info, h, o.recent);
    const data = buildDataset(values, trainEnd, layout, o.maxRows);
    const nVal = Math.floor(data.n * o.validationFraction);
    const init0 = initialWeights(layout, o.hidden, mulberry32(o.seed));
    if (data.n === 0) {
      return new FittedQuantileMlp(layout, [toMlp(init0)], {
        rows: 0,
        members: 1,
        epochs: 0,
        bestEpoch: 0,
        validationLoss: Number.NaN,
        initialValidationLoss: Number.NaN,
        fitMs: performance.now() - started,
      });
    }
    const { tf } = await loadTf();
    const deadline = started + o.maxFitSec * 1000;
    const heldOut: MlpWeights[] = [];
    const members: MlpWeights[] = [];
    let first: PhaseResult | undefined;
    for (let e = 0; e < o.ensemble; e++) {
      const seed = o.seed + 7919 * e;
      const init = e === 0 ? init0 : initialWeights(layout, o.hidden, mulberry32(seed));
      // Phase 1: train on the older origins, early-stop on the latest ones.
      const p1 = await trainPhase(
        tf,
        data,
        layout,
        init,
        o,
        seed,
        data.n - nVal,
        nVal,
        o.epochs,
        deadline,
      );
      first ??= p1;
      heldOut.push(p1.weights);
      let weights = p1.weights;
      // Phase 2 (optional): the latest origins are the most like the future; retrain on all rows
      // for the number of epochs phase 1 found best.
      if (o.refitAll && nVal > 0 && p1.bestEpoch > 0 && performance.now() < deadline) {
        const p2 = await trainPhase(
          tf,
          data,
          layout,
          init,
          o,
          seed,
          data.n,
          0,
          p1.bestEpoch,
          deadline,
        );
        weights = p2.weights;
      }
      members.push(weights);
      if (performance.now() > deadline) break;
    }
    const model = new FittedQuantileMlp(layout, members, {
      rows: data.n,
      members: members.length,
      epochs: first?.epochs ?? 0,
      bestEpoch: first?.bestEpoch ?? 0,
      validationLoss: first?.best ?? Number.NaN,
      initialValidationLoss: first?.initial ?? Number.NaN,
      fitMs: 0,
    });
    // The band of a network trained on the older origins is too narrow on new data (it has seen
    // its own training residuals); widen or narrow each side so the held-out origins hit 10 % /
    // 90 % (split-conformal in spirit: Romano et al. 2019, "Conformalized Quantile Regression").
    if (o.calibrate && nVal >= 20) model.calibrate(data, data.n - nVal, heldOut);
    model.report = { ...model.report, fitMs: performance.now() - started };
    return model;
  }
}

interface PhaseResult {
  readonly weights: MlpWeights;
  readonly epochs: number;
  readonly bestEpoch: number;
  readonly best: number;
  readonly initial: number;
}

/**
 * Trains from `init` on rows [0, nTrain) for at most `maxEpochs`, early-stopping on rows
 * [nTrain, nTrain + nVal) when nVal > 0 (else the last epoch's weights are returned). Every
 * tensor it creates is disposed before it returns.
 */
async function trainPhase(
  tf: Tf,
  data: DirectDataset,
  layout: DirectLayout,
  init: InitialWeights,
  o: Required<QuantileMlpOptions>,
  seed: number,
  nTrain: number,
  nVal: number,
  maxEpochs: number,
  deadline: number,
): Promise<PhaseResult> {
  const { width: d, h } = layout;
  const m = 3 * h;
  const hidden = o.hidden;
  const rng = mulberry32(seed ^ 0x9e3779b9);
  const n = nTrain + nVal;
  let meanLevel = 0;
  for (let r = 0; r < n; r++) meanLevel += (data.level[r] ?? 1) / n;
  const rowWeight = new Float32Array(n);
  for (let r = 0; r < n; r++) rowWeight[r] = o.levelWeighted ? (data.level[r] ?? 1) / meanLevel : 1;

  const x = tf.tensor2d(data.x.subarray(0, n * d), [n, d]);
  const y = tf.tensor2d(data.y.subarray(0, n * h), [n, h]);
  const rw = tf.tensor2d(rowWeight, [n, 1]);
  const qs = tf.tensor2d(
    QUANTILE_LEVELS.flatMap((q) => Array.from({ length: h }, () => q)),
    [1, m],
  );
  // In tidy: the initial-value tensors go, the variables (never tracked by tidy) stay.
  const vars = tf.tidy(() => ({
    w1: tf.variable(tf.tensor2d(init.w1, [d, Math.max(1, hidden)])),
    b1: tf.variable(tf.zeros([Math.max(1, hidden)])),
    w2: tf.variable(tf.zeros([Math.max(1, hidden), m])),
    ws: tf.variable(tf.tensor2d(init.ws, [d, m])),
    b2: tf.variable(tf.tensor1d(init.b2)),
  }));
  const trainable = hidden > 0 ? Object.values(vars) : [vars.ws, vars.b2];
  const optimizer = tf.train.adam(o.learningRate);
  const valIdx = tf.range(nTrain, n, 1, 'int32');

  const predict = (xb: tfjs.Tensor2D): tfjs.Tensor2D => {
    const skip = tf.add(tf.matMul(xb, vars.ws), vars.b2);
    if (hidden === 0) return skip as tfjs.Tensor2D;
    const hid = tf.relu(tf.add(tf.matMul(xb, vars.w1), vars.b1));
    return tf.add<tfjs.Tensor2D>(tf.matMul(hid, vars.w2), skip);
  };
  // Pinball loss: mean over rows and outputs of max(q·e, (q − 1)·e), e = y − ŷ.
  const pinball = (idx: tfjs.Tensor1D): tfjs.Scalar => {
    const xb = tf.gather(x, idx);
    const yb = tf.tile(tf.gather(y, idx), [1, 3]);
    const e = tf.sub(yb, predict(xb));
    const loss = tf.maximum(tf.mul(e, qs), tf.mul(e, tf.sub(qs, 1)));
    return tf.mean(tf.mul(loss, tf.gather(rw, idx)));
  };
  const penalty = (): tfjs.Scalar =>
    tf.mul(tf.addN([vars.w1, vars.w2, vars.ws].map((v) => tf.sum(tf.square(v)))), o.l2);
  const validate = (): number =>
    nVal === 0 ? Number.NaN : tf.tidy(() => pinball(valIdx).dataSync()[0] ?? Number.NaN);
  const snapshot = (): MlpWeights => ({
    w1: Float64Array.from(vars.w1.dataSync()),
    b1: Float64Array.from(vars.b1.dataSync()),
    w2: Float64Array.from(vars.w2.dataSync()),
    ws: Float64Array.from(vars.ws.dataSync()),
    b2: Float64Array.from(vars.b2.dataSync()),
    hidden,
  });

  try {
    const initial = validate();
    let best = initial;
    let bestEpoch = 0;
    let bestWeights = snapshot();
    let epoch = 0;
    const order = new Int32Array(nTrain);
    for (let i = 0; i < nTrain; i++) order[i] = i;
    while (epoch < maxEpochs) {
      epoch++;
      shuffle(order, rng);
      for (let s = 0; s < nTrain; s += o.batchSize) {
        const batch = order.slice(s, Math.min(nTrain, s + o.batchSize));
        tf.tidy(() => {
          const idx = tf.tensor1d(batch, 'int32');
          optimizer.minimize(() => tf.add(pinball(idx), penalty()), false, trainable);
        });
      }
      if (nVal === 0) {
        bestEpoch = epoch;
      } else {
        const loss = validate();
        if (loss < best) {
          best = loss;
          bestEpoch = epoch;
          bestWeights = snapshot();
        } else if (epoch - bestEpoch >= o.patience) {
          break;
        }
      }
      if (performance.now() > deadline) break;
      // Let the event loop breathe between epochs (the engine may be serving meanwhile).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (nVal === 0) bestWeights = snapshot();
    return { weights: bestWeights, epochs: epoch, bestEpoch, best, initial };
  } finally {
    optimizer.dispose();
    tf.dispose([x, y, rw, qs, valIdx, ...Object.values(vars)]);
  }
}

interface InitialWeights {
  readonly w1: Float32Array;
  readonly ws: Float32Array;
  readonly b2: Float32Array;
  readonly hidden: number;
}

/**
 * Seeded initial weights: He-uniform first layer, zero second layer, identity skip from the
 * one-day-before inputs (the model starts as seasonal naive), band biases at ±10 % of the level.
 */
function initialWeights(layout: DirectLayout, hidden: number, rng: () => number): InitialWeights {
  const { width: d, h } = layout;
  const m = 3 * h;
  const hid = Math.max(1, hidden);
  const w1 = new Float32Array(d * hid);
  const lim = Math.sqrt(6 / d);
  for (let i = 0; i < w1.length; i++) w1[i] = (rng() * 2 - 1) * lim;
  const ws = new Float32Array(d * m);
  if (layout.dailyCol >= 0) {
    for (let q = 0; q < 3; q++) {
      for (let k = 0; k < h; k++) ws[(layout.dailyCol + k) * m + q * h + k] = 1;
    }
  } else {
    // No season: start from the last value instead.
    for (let o = 0; o < m; o++) ws[(layout.recent - 1) * m + o] = 1;
  }
  const b2 = new Float32Array(m);
  for (let k = 0; k < h; k++) {
    b2[k] = -0.1;
    b2[2 * h + k] = 0.1;
  }
  return { w1, ws, b2, hidden };
}

function toMlp(init: InitialWeights): MlpWeights {
  const hid = Math.max(1, init.hidden);
  return {
    w1: Float64Array.from(init.w1),
    b1: new Float64Array(hid),
    w2: new Float64Array(hid * init.b2.length),
    ws: Float64Array.from(init.ws),
    b2: Float64Array.from(init.b2),
    hidden: init.hidden,
  };
}

/** Fisher–Yates with the given generator. */
function shuffle(a: Int32Array, rng: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = a[i] ?? 0;
    a[i] = a[j] ?? 0;
    a[j] = t;
  }
}

export { mulberry32 };
