/**
 * @module learn/eviction/boosted-trees
 * The tabular agent's second learner: gradient-boosted regression trees over a candidate's whole
 * feature vector, fitted by logistic loss to the same full-information labels the victim table
 * counts (was the candidate requested again within B?), refitted on a schedule as labels arrive.
 * The agent's value adds the trees' logit of P(not requested within B) to the tables' logits
 * (./victim-table.ts, `tableValue`).
 *
 * Why: the table's cells are coarse bins of three coordinates each; keys that come back and keys
 * that do not often share a cell or sit in cells valued alike (docs/learning.md, "Perfect labels
 * at 1 T and 4 T"). Trees split on every feature at thresholds learned from the data. Alone they
 * rank worse than the tables; added to them they gained +0.13 to +0.76 points of mean gap closed
 * on seeds 1–5 (docs/learning.md, "Boosted trees beside the tables").
 *
 * The method is Friedman's gradient boosting (_Greedy function approximation_, Ann. Stat. 2001)
 * with second-order leaf values and histogram split finding as in XGBoost (Chen & Guestrin,
 * KDD'16) and LightGBM (Ke et al., NeurIPS'17); LRB (Song et al., NSDI'20) ranks eviction
 * candidates with LightGBM. Trees are complete binary trees of a fixed depth, fitted level by
 * level; features are bucketed at quantiles of a sample of the training rows. Below the root, a
 * node's histograms are summed over its rows only when it is the smaller of two siblings; the
 * larger one's are its parent's minus the smaller's (LightGBM's histogram subtraction). That
 * halves the fit's time; the splits are those of a direct fit up to float rounding (a near-tie
 * between two splits can go the other way). Attributions follow
 * the decision path (Saabas' method): each split is credited with the change of the expected
 * value from the node to the child taken, so a key's attributions add up exactly to its margin
 * minus the trees' expected margin. No code copied.
 *
 * Pure: no tfjs, no I/O.
 */

import { BASE_FEATURE_NAMES, gapKnown } from './features.js';

/** The trees' inputs: the base features, then the last gap minus the idle time and the mean gap. */
export const BOOST_FEATURE_NAMES = [...BASE_FEATURE_NAMES, 'due', 'meanGap'] as const;
export const BOOST_FEATURES = BOOST_FEATURE_NAMES.length;
/** The value given to `due` and `meanGap` when they are unknown (the key's first request). */
export const BOOST_UNKNOWN = -1000;

/** A fitted ensemble: `trees` complete binary trees of depth `depth`, flattened. */
export interface BoostedTrees {
  readonly depth: number;
  /** Number of trees. */
  readonly trees: number;
  /** The initial margin (logit of the labels' share) every tree adds to. */
  readonly base: number;
  /** Per internal node (2^depth − 1 per tree, level order): the feature split on, −1 for none. */
  readonly features: Int32Array;
  /** Per internal node: go left when the feature is ≤ this. */
  readonly thresholds: Float64Array;
  /** Per internal node: the tree's mean output over the training rows that reached it. */
  readonly nodeValues: Float64Array;
  /** Per leaf (2^depth per tree): its output. */
  readonly leaves: Float64Array;
}

export interface BoostOptions {
  readonly trees: number;
  readonly depth: number;
  readonly learningRate: number;
  /** L2 penalty on a leaf's output. */
  readonly lambda: number;
  /** Fewest training rows a split may leave on either side. */
  readonly minLeaf: number;
  /** Quantile buckets per feature (at most 256). */
  readonly buckets: number;
}

export const DEFAULT_BOOST_OPTIONS: BoostOptions = {
  trees: 30,
  depth: 4,
  learningRate: 0.2,
  lambda: 1,
  minLeaf: 50,
  buckets: 32,
};

/**
 * The trees' inputs from base features at `x[offset..]` ({@link extractFeatures}) into `out`
 * ({@link BOOST_FEATURES} values): the base features, then `due` = last gap − idle and `meanGap`
 * = (lifetime − idle) / (accesses − 1), both in T, {@link BOOST_UNKNOWN} when unknown.
 */
export function boostFeatures(
  x: ArrayLike<number>,
  offset: number,
  missingGapT: number,
  out: Float64Array | Float32Array,
): void {
  const n = BASE_FEATURE_NAMES.length;
  for (let j = 0; j < n; j++) out[j] = x[offset + j]!;
  const idleT = Math.expm1(x[offset]!);
  const g = x[offset + 1]!;
  const known = gapKnown(g, missingGapT);
  const a = Math.round(Math.expm1(x[offset + 8]!));
  out[n] = known ? Math.expm1(g) - idleT : BOOST_UNKNOWN;
  out[n + 1] =
    known && a >= 2 ? Math.max(0, Math.expm1(x[offset + 10]!) - idleT) / (a - 1) : BOOST_UNKNOWN;
}

/** The leaf index (0 … 2^depth − 1) input `f` reaches in tree `t`. */
function leafOf(m: BoostedTrees, t: number, f: ArrayLike<number>): number {
  const internal = (1 << m.depth) - 1;
  const first = t * internal;
  let node = 0;
  for (let l = 0; l < m.depth; l++) {
    const feat = m.features[first + node]!;
    node = feat < 0 || f[feat]! <= m.thresholds[first + node]! ? 2 * node + 1 : 2 * node + 2;
  }
  return node - internal;
}

/** The ensemble's margin (its logit) at input `f`. */
export function boostMargin(m: BoostedTrees, f: ArrayLike<number>): number {
  const leaves = 1 << m.depth;
  let s = m.base;
  for (let t = 0; t < m.trees; t++) s += m.leaves[t * leaves + leafOf(m, t, f)]!;
  return s;
}

/** The margin averaged over the training rows: the base plus each tree's root value. */
export function boostExpected(m: BoostedTrees): number {
  const internal = (1 << m.depth) - 1;
  let s = m.base;
  for (let t = 0; t < m.trees; t++) s += m.nodeValues[t * internal]!;
  return s;
}

/**
 * Decision-path attributions at input `f`, added into `out` (one per feature): along each tree's
 * path, the split's feature is credited with the child's expected value minus the node's. They
 * sum to {@link boostMargin} − {@link boostExpected} exactly; returns the margin.
 */
export function boostAttributions(
  m: BoostedTrees,
  f: ArrayLike<number>,
  out: Float64Array,
): number {
  const internal = (1 << m.depth) - 1;
  const leaves = 1 << m.depth;
  let s = m.base;
  for (let t = 0; t < m.trees; t++) {
    const first = t * internal;
    let node = 0;
    for (let l = 0; l < m.depth; l++) {
      const feat = m.features[first + node]!;
      const child =
        feat < 0 || f[feat]! <= m.thresholds[first + node]! ? 2 * node + 1 : 2 * node + 2;
      const childValue =
        child >= internal ? m.leaves[t * leaves + child - internal]! : m.nodeValues[first + child]!;
      if (feat >= 0) out[feat] = out[feat]! + childValue - m.nodeValues[first + node]!;
      node = child;
    }
    s += m.leaves[t * leaves + node - internal]!;
  }
  return s;
}

/** Bytes of a fitted ensemble's arrays. */
export function boostBytes(m: BoostedTrees): number {
  return 4 * m.features.length + 8 * (m.thresholds.length + m.nodeValues.length + m.leaves.length);
}

/**
 * Fits trees to rows `X` (n × {@link BOOST_FEATURES}, row-major) with labels `y` ∈ {0, 1}, by
 * logistic loss: the margin is the logit of P(y = 1).
 */
export function fitBoostedTrees(
  X: Float32Array,
  y: Uint8Array,
  n: number,
  o: BoostOptions = DEFAULT_BOOST_OPTIONS,
): BoostedTrees {
  const F = BOOST_FEATURES;
  const { trees, depth, learningRate, lambda, minLeaf } = o;
  const B = Math.min(256, o.buckets);
  // Bucket edges at quantiles of up to 8,192 evenly spaced rows.
  const edges: Float64Array[] = [];
  const sampleN = Math.min(n, 8192);
  const sample = new Float64Array(sampleN);
  for (let f = 0; f < F; f++) {
    for (let i = 0; i < sampleN; i++) sample[i] = X[Math.floor((i * n) / sampleN) * F + f]!;
    sample.sort();
    const e: number[] = [];
    for (let b = 1; b < B; b++) {
      const v = sample[Math.floor((b * sampleN) / B)]!;
      if (e.length === 0 || v > e[e.length - 1]!) e.push(v);
    }
    edges.push(Float64Array.from(e));
  }
  // Each row's bucket per feature: the first edge it is ≤ to (edges.length when above all).
  const bucket = new Uint8Array(n * F);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < F; f++) {
      const e = edges[f]!;
      const v = X[i * F + f]!;
      let lo = 0;
      let hi = e.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (v <= e[mid]!) hi = mid;
        else lo = mid + 1;
      }
      bucket[i * F + f] = lo;
    }
  }
  let positives = 0;
  for (let i = 0; i < n; i++) positives += y[i]!;
  const p0 = (positives + 1) / (n + 2);
  const base = Math.log(p0 / (1 - p0));
  const internal = (1 << depth) - 1;
  const leafCount = 1 << depth;
  const features = new Int32Array(trees * internal).fill(-1);
  const thresholds = new Float64Array(trees * internal);
  const nodeValues = new Float64Array(trees * internal);
  const leaves = new Float64Array(trees * leafCount);
  const margin = new Float64Array(n).fill(base);
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  // Rows grouped by node: the rows of node k of the current level are order[lo[k] .. lo[k + 1]).
  let order = new Int32Array(n);
  let spare = new Int32Array(n);
  const lo = new Int32Array(leafCount + 1);
  const nextLo = new Int32Array(leafCount + 1);
  // Per node of a level, per feature and bucket: sums of g and h and the row count. A level's
  // histograms come from its parents': the smaller child's is summed over its rows, its
  // sibling's is the parent's minus it (LightGBM's histogram subtraction), so each level reads
  // at most half the rows after the first.
  const width = leafCount / 2;
  const size = F * B;
  // Interleaved: [g, h, count] per bucket, so a row's update touches one place per feature.
  let hist = new Float64Array(3 * width * size);
  let next = new Float64Array(3 * width * size);
  const splitBucket = new Int32Array(width);
  for (let t = 0; t < trees; t++) {
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-margin[i]!));
      g[i] = p - y[i]!;
      h[i] = Math.max(p * (1 - p), 1e-6);
      order[i] = i;
    }
    lo[0] = 0;
    lo[1] = n;
    accumulate(hist, 0, order, 0, n, g, h, bucket, F, B);
    const first = t * internal;
    for (let level = 0; level < depth; level++) {
      const nodes = 1 << level;
      const levelStart = nodes - 1;
      for (let k = 0; k < nodes; k++) {
        const at = first + levelStart + k;
        const N = lo[k + 1]! - lo[k]!;
        splitBucket[k] = -1;
        if (N < 2 * minLeaf) continue;
        // The node's sums, from its histogram of feature 0 (every row is in one of its buckets).
        let G = 0;
        let H = 0;
        const at3 = 3 * k * size;
        for (let b = 0; b < B; b++) {
          G += hist[at3 + 3 * b]!;
          H += hist[at3 + 3 * b + 1]!;
        }
        const parent = (G * G) / (H + lambda);
        let best = 1e-9;
        for (let f = 0; f < F; f++) {
          let gl = 0;
          let hl = 0;
          let nl = 0;
          const fh = at3 + 3 * f * B;
          const splits = edges[f]!.length;
          for (let b = 0; b < splits; b++) {
            gl += hist[fh + 3 * b]!;
            hl += hist[fh + 3 * b + 1]!;
            nl += hist[fh + 3 * b + 2]!;
            if (nl < minLeaf) continue;
            if (N - nl < minLeaf) break;
            const gr = G - gl;
            const hr = H - hl;
            const gain = (gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda) - parent;
            if (gain > best) {
              best = gain;
              features[at] = f;
              splitBucket[k] = b;
            }
          }
        }
        if (features[at]! >= 0) thresholds[at] = edges[features[at]!]![splitBucket[k]!]!;
      }
      // Rows move to the child their bucket picks (kept in order within each child); a node
      // that did not split sends all left.
      for (let k = 0; k < nodes; k++) {
        const f = features[first + levelStart + k]!;
        const split = splitBucket[k]!;
        let left = lo[k]!;
        for (let r = lo[k]!; r < lo[k + 1]!; r++) {
          const i = order[r]!;
          if (f < 0 || bucket[i * F + f]! <= split) spare[left++] = i;
        }
        nextLo[2 * k] = lo[k]!;
        nextLo[2 * k + 1] = left;
        for (let r = lo[k]!; r < lo[k + 1]!; r++) {
          const i = order[r]!;
          if (!(f < 0 || bucket[i * F + f]! <= split)) spare[left++] = i;
        }
      }
      nextLo[2 * nodes] = n;
      [order, spare] = [spare, order];
      lo.set(nextLo.subarray(0, 2 * nodes + 1));
      if (level + 1 === depth) break;
      for (let k = 0; k < nodes; k++) {
        const l = 2 * k * size;
        const r = l + size;
        const p = k * size;
        const nl = lo[2 * k + 1]! - lo[2 * k]!;
        const nr = lo[2 * k + 2]! - lo[2 * k + 1]!;
        const leftSmaller = nl <= nr;
        const [small, large] = leftSmaller ? [l, r] : [r, l];
        const from = lo[leftSmaller ? 2 * k : 2 * k + 1]!;
        accumulate(next, small, order, from, from + Math.min(nl, nr), g, h, bucket, F, B);
        for (let j = 0; j < 3 * size; j++)
          next[3 * large + j] = hist[3 * p + j]! - next[3 * small + j]!;
      }
      [hist, next] = [next, hist];
    }
    const out = t * leafCount;
    for (let l = 0; l < leafCount; l++) {
      let sg = 0;
      let sh = 0;
      for (let r = lo[l]!; r < lo[l + 1]!; r++) {
        sg += g[order[r]!]!;
        sh += h[order[r]!]!;
      }
      // + 0 turns −0 (a leaf with no gradient) into 0, so the model reads back from JSON as it was.
      leaves[out + l] = (-sg / (sh + lambda)) * learningRate + 0;
      for (let r = lo[l]!; r < lo[l + 1]!; r++) margin[order[r]!]! += leaves[out + l]!;
    }
    // Each internal node's mean output over its rows, from the leaves up (for attributions).
    const sum = new Float64Array(internal + leafCount);
    const count = new Float64Array(internal + leafCount);
    for (let l = 0; l < leafCount; l++) {
      // After the last level, leaf l's rows are order[lo[l] .. lo[l + 1]).
      count[internal + l] = lo[l + 1]! - lo[l]!;
      sum[internal + l] = leaves[out + l]! * count[internal + l]!;
    }
    for (let nd = internal - 1; nd >= 0; nd--) {
      sum[nd] = sum[2 * nd + 1]! + sum[2 * nd + 2]!;
      count[nd] = count[2 * nd + 1]! + count[2 * nd + 2]!;
      nodeValues[first + nd] = count[nd]! > 0 ? sum[nd]! / count[nd]! + 0 : 0;
    }
  }
  return { depth, trees, base, features, thresholds, nodeValues, leaves };
}

/**
 * Adds rows `order[from .. to)` into the interleaved histograms ([g, h, count] per feature and
 * bucket) of one node, at `into[3 · at ..]`, zeroed first.
 */
function accumulate(
  into: Float64Array,
  at: number,
  order: Int32Array,
  from: number,
  to: number,
  g: Float64Array,
  h: Float64Array,
  bucket: Uint8Array,
  F: number,
  B: number,
): void {
  into.fill(0, 3 * at, 3 * (at + F * B));
  const base = 3 * at;
  for (let r = from; r < to; r++) {
    const i = order[r]!;
    const gi = g[i]!;
    const hi = h[i]!;
    const row = i * F;
    for (let f = 0; f < F; f++) {
      const j = base + 3 * (f * B + bucket[row + f]!);
      into[j]! += gi;
      into[j + 1]! += hi;
      into[j + 2]! += 1;
    }
  }
}

/**
 * Keeps the most recent labelled candidates (a ring of `rows` rows) and refits the trees on them
 * on a schedule: after `first` labels, then each time the labels double, at most `every` apart.
 * Labels are "not back": the trees' margin is the logit of P(not requested within B), as the
 * table's logits are.
 */
export class BoostLearner {
  /** The latest fit, null before `first` labels. */
  trees: BoostedTrees | null = null;
  fits = 0;
  labels = 0;
  private readonly x: Float32Array;
  private readonly y: Uint8Array;
  private held = 0;
  private nextFit: number;

  constructor(
    private readonly rows: number,
    private readonly first: number,
    private readonly every: number,
    private readonly options: BoostOptions = DEFAULT_BOOST_OPTIONS,
  ) {
    this.x = new Float32Array(rows * BOOST_FEATURES);
    this.y = new Uint8Array(rows);
    this.nextFit = first;
  }

  /**
   * A candidate whose inputs ({@link boostFeatures}) are `src[offset..]` was (`back`) or was not
   * back within B.
   */
  add(src: Float32Array, offset: number, back: boolean): void {
    const r = this.labels % this.rows;
    this.x.set(src.subarray(offset, offset + BOOST_FEATURES), r * BOOST_FEATURES);
    this.y[r] = back ? 0 : 1;
    this.labels++;
    if (this.held < this.rows) this.held++;
    if (this.labels >= this.nextFit) {
      this.nextFit = Math.min(2 * this.nextFit, this.nextFit + this.every);
      this.trees = fitBoostedTrees(this.x, this.y, this.held, this.options);
      this.fits++;
    }
  }

  /** Bytes of the training rows and the fitted trees. */
  get bytes(): number {
    return (
      this.x.byteLength + this.y.byteLength + (this.trees === null ? 0 : boostBytes(this.trees))
    );
  }
}
