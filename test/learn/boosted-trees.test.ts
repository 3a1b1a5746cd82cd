import { describe, expect, it } from 'vitest';
import {
  BOOST_FEATURE_NAMES,
  BOOST_FEATURES,
  BOOST_UNKNOWN,
  type BoostOptions,
  boostAttributions,
  boostExpected,
  boostFeatures,
  BoostLearner,
  boostMargin,
  fitBoostedTrees,
} from '../../src/learn/eviction/boosted-trees.js';
import {
  BASE_FEATURES,
  extractFeatures,
  newKeyStats,
  recordAccess,
} from '../../src/learn/eviction/features.js';
import { explainKey } from '../../src/learn/eviction/explain.js';
import { ScoreScratch, scoreKey } from '../../src/learn/eviction/scorer.js';
import {
  type TableLogged,
  VICTIM_TABLE_CELLS,
  VictimTableLearner,
} from '../../src/learn/eviction/victim-table.js';
import { mulberry32 } from '../../src/random.js';
import { tableModel } from '../helpers/eviction-model.js';

const IDLE = 0;
const DUE = BOOST_FEATURE_NAMES.indexOf('due');
const COUNT = BOOST_FEATURE_NAMES.indexOf('decayedCountMid');

/** n rows of uniform noise in [0, 4); label 1 iff idle > 1 and due > 2, flipped with `noise`. */
function rows(n: number, seed: number, noise = 0) {
  const rnd = mulberry32(seed);
  const X = new Float32Array(n * BOOST_FEATURES);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < BOOST_FEATURES; f++) X[i * BOOST_FEATURES + f] = 4 * rnd();
    const rule = X[i * BOOST_FEATURES + IDLE]! > 1 && X[i * BOOST_FEATURES + DUE]! > 2;
    y[i] = rule !== rnd() < noise ? 1 : 0;
  }
  return { X, y };
}

/**
 * A direct fit, for reference: each node's split found by scanning its rows for every feature
 * and threshold, with no histograms. Inputs must take the integer values 0 … 7 only, so that
 * every value is one of the fitted trees' quantile edges and "x ≤ v" is the same split in both.
 */
function directFit(X: Float32Array, y: Uint8Array, n: number, o: BoostOptions) {
  const F = BOOST_FEATURES;
  const internal = (1 << o.depth) - 1;
  const p0 = (y.reduce((a, v) => a + v, 0) + 1) / (n + 2);
  const margin = new Float64Array(n).fill(Math.log(p0 / (1 - p0)));
  const features: number[] = [];
  const thresholds: number[] = [];
  const leaves: number[] = [];
  for (let t = 0; t < o.trees; t++) {
    const g = Array.from(margin, (m, i) => 1 / (1 + Math.exp(-m)) - y[i]!);
    const h = Array.from(margin, (m) => Math.max(1 / (1 + Math.exp(-m)) / (1 + Math.exp(m)), 1e-6));
    const node = new Int32Array(n);
    const sums = (rows: number[]) => [
      rows.reduce((a, i) => a + g[i]!, 0),
      rows.reduce((a, i) => a + h[i]!, 0),
    ];
    for (let nd = 0; nd < internal; nd++) {
      const rows = [...node.keys()].filter((i) => node[i] === nd);
      const [G, H] = sums(rows);
      let best = 1e-9;
      let split: [number, number] = [-1, 0];
      if (rows.length >= 2 * o.minLeaf) {
        for (let f = 0; f < F; f++) {
          for (let v = 0; v < 7; v++) {
            const left = rows.filter((i) => X[i * F + f]! <= v);
            if (left.length < o.minLeaf || rows.length - left.length < o.minLeaf) continue;
            const [gl, hl] = sums(left);
            const gain =
              (gl! * gl!) / (hl! + o.lambda) +
              ((G! - gl!) * (G! - gl!)) / (H! - hl! + o.lambda) -
              (G! * G!) / (H! + o.lambda);
            if (gain > best) [best, split] = [gain, [f, v]];
          }
        }
      }
      features.push(split[0]);
      thresholds.push(split[0] < 0 ? 0 : split[1]);
      for (const i of rows) {
        node[i] = split[0] < 0 || X[i * F + split[0]]! <= split[1] ? 2 * nd + 1 : 2 * nd + 2;
      }
    }
    for (let l = 0; l <= internal; l++) {
      const rows = [...node.keys()].filter((i) => node[i] === internal + l);
      const [G, H] = sums(rows);
      const leaf = (-G! / (H! + o.lambda)) * o.learningRate;
      leaves.push(leaf);
      for (const i of rows) margin[i]! += leaf;
    }
  }
  return { features, thresholds, leaves };
}

const candidate = (): TableLogged => ({ tablePending: null });

const row = (X: Float32Array, i: number) =>
  X.subarray(i * BOOST_FEATURES, (i + 1) * BOOST_FEATURES);

describe('boosted trees', () => {
  it('learn an interaction of two inputs from noisy labels, splitting on them first', () => {
    const { X, y } = rows(20_000, 1, 0.1);
    const m = fitBoostedTrees(X, y, 20_000);
    const test = rows(2_000, 2);
    let right = 0;
    for (let i = 0; i < 2_000; i++) {
      const p = 1 / (1 + Math.exp(-boostMargin(m, row(test.X, i))));
      if (p > 0.5 === (test.y[i] === 1)) right++;
    }
    // The rule is exact on clean test rows, up to the quantile buckets' edges.
    expect(right / 2_000).toBeGreaterThan(0.97);
    // The first tree splits on the rule's two inputs at its top two levels; the other 11 are noise.
    expect([IDLE, DUE]).toContain(m.features[0]);
    expect([IDLE, DUE]).toContain(m.features[1]);
    expect([IDLE, DUE]).toContain(m.features[2]);
  });

  it('choose the same splits and leaf values as a direct fit that scans every row of every node', () => {
    const n = 3_000;
    const rnd = mulberry32(21);
    const X = new Float32Array(n * BOOST_FEATURES);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < BOOST_FEATURES; f++) X[i * BOOST_FEATURES + f] = Math.floor(8 * rnd());
      // Not back when idle, due and the 10 T count are high, with noise; lopsided, so that each
      // level has a smaller and a larger child (the fit sums the smaller, subtracts for the larger).
      const x = (f: number) => X[i * BOOST_FEATURES + f]!;
      y[i] = x(IDLE) + x(DUE) + (x(COUNT) > 5 ? 2 : 0) + 3 * rnd() > 10 ? 1 : 0;
    }
    const o = { trees: 6, depth: 3, learningRate: 0.3, lambda: 1, minLeaf: 150, buckets: 32 };
    const m = fitBoostedTrees(X, y, n, o);
    const ref = directFit(X, y, n, o);
    expect(Array.from(m.features)).toEqual(ref.features);
    expect(Array.from(m.thresholds)).toEqual(ref.thresholds);
    // Splits on the label's three inputs, and nodes left unsplit (too few rows) as well.
    expect(new Set(ref.features)).toEqual(new Set([IDLE, DUE, COUNT, -1]));
    ref.leaves.forEach((v, i) => expect(m.leaves[i]).toBeCloseTo(v, 12));
  });

  it('decision-path attributions add up exactly to the margin minus the expected margin', () => {
    const { X, y } = rows(5_000, 3, 0.2);
    const m = fitBoostedTrees(X, y, 5_000);
    const test = rows(200, 4);
    for (let i = 0; i < 200; i++) {
      const a = new Float64Array(BOOST_FEATURES);
      const margin = boostAttributions(m, row(test.X, i), a);
      expect(margin).toBeCloseTo(boostMargin(m, row(test.X, i)), 12);
      const sum = a.reduce((s, v) => s + v, 0);
      expect(sum).toBeCloseTo(margin - boostExpected(m), 10);
      // Inputs the trees never split on get nothing.
      const used = new Set(m.features);
      for (let f = 0; f < BOOST_FEATURES; f++) if (!used.has(f)) expect(a[f]).toBe(0);
    }
    // The expected margin is the mean margin over the training rows.
    let mean = 0;
    for (let i = 0; i < 5_000; i++) mean += boostMargin(m, row(X, i));
    expect(mean / 5_000).toBeCloseTo(boostExpected(m), 6);
  });

  it('the learner refits after `first` labels, then as the labels double, at most `every` apart, on the latest rows', () => {
    const learner = new BoostLearner(1_000, 500, 1_500, {
      trees: 2,
      depth: 2,
      learningRate: 0.5,
      lambda: 1,
      minLeaf: 5,
      buckets: 8,
    });
    const fitsAt: number[] = [];
    const rnd = mulberry32(9);
    const f = new Float32Array(BOOST_FEATURES);
    for (let n = 1; n <= 6_000; n++) {
      f[IDLE] = rnd();
      // Not back (label 1) exactly when idle > 0.5.
      learner.add(f, 0, f[IDLE] <= 0.5);
      if (learner.fits > fitsAt.length) fitsAt.push(n);
    }
    expect(fitsAt).toEqual([500, 1_000, 2_000, 3_500, 5_000]);
    const m = learner.trees!;
    f[IDLE] = 0.9;
    expect(boostMargin(m, f)).toBeGreaterThan(1);
    f[IDLE] = 0.1;
    expect(boostMargin(m, f)).toBeLessThan(-1);
    expect(learner.bytes).toBeGreaterThan(1_000 * BOOST_FEATURES * 4);
  });

  it('inputs: the base features, the last gap minus idle and the mean gap, in T; unknown on a first request', () => {
    const T = 10;
    const clock = { nowTick: 100, timeScale: T, missingGapT: 16 };
    const x = new Float64Array(BASE_FEATURES);
    const f = new Float64Array(BOOST_FEATURES);
    const s = newKeyStats(0, 1);
    extractFeatures(s, clock, x);
    boostFeatures(x, 0, 16, f);
    expect(Array.from(f.subarray(0, BASE_FEATURES))).toEqual(Array.from(x));
    expect([f[BASE_FEATURES], f[BASE_FEATURES + 1]]).toEqual([BOOST_UNKNOWN, BOOST_UNKNOWN]);
    // Requests at 0, 20, 60; now 100: idle 4 T, last gap 4 T, mean gap (6 T) / 2 = 3 T.
    recordAccess(s, 20, 1, T);
    recordAccess(s, 60, 1, T);
    extractFeatures(s, clock, x);
    boostFeatures(x, 0, 16, f);
    expect(f[BASE_FEATURES]).toBeCloseTo(0, 9);
    expect(f[BASE_FEATURES + 1]).toBeCloseTo(3, 9);
  });

  it("explain a table's value with its trees: the attributions add up to the score minus the baseline's", () => {
    const { X, y } = rows(5_000, 5, 0.1);
    const boost = fitBoostedTrees(X, y, 5_000);
    const base = tableModel(2);
    const model = { ...base, victimTable: { ...base.victimTable!, boost } };
    const clock = { nowTick: 9_000, timeScale: 100, missingGapT: 16 };
    for (const ticks of [[0], [0, 8_000], [0, 3_000, 6_000, 8_990]]) {
      const s = newKeyStats(ticks[0]!, 1);
      for (const t of ticks.slice(1)) recordAccess(s, t, 1, 100);
      const d = explainKey(model, 'k', s, clock);
      expect(d.score).toBe(scoreKey(model, s, clock, new ScoreScratch()));
      expect(d.score).not.toBe(scoreKey(base, s, clock, new ScoreScratch()));
      const sum = Object.values(d.attributions).reduce((a, v) => a + v, 0);
      expect(sum).toBeCloseTo(d.score - d.inputs['baselineScore']!, 9);
      // The table's coordinates and the trees' inputs, merged by name.
      expect(Object.keys(d.attributions)).toEqual(
        expect.arrayContaining(['idle', 'accesses', 'gap1', 'due', 'decayedCountLong']),
      );
      expect(d.text).toContain('boosted trees');
      // Every attributed feature has its input value.
      for (const name of Object.keys(d.attributions)) expect(d.inputs[name]).toBeTypeOf('number');
    }
  });

  it("the victim table's learner hands each label to the trees with its own candidate's inputs, also after its queue is compacted", () => {
    const boost = new BoostLearner(4_096, 4_096, 4_096, {
      trees: 5,
      depth: 2,
      learningRate: 0.5,
      lambda: 1,
      minLeaf: 20,
      buckets: 16,
    });
    const learner = new VictimTableLearner(1, 1 << 20, VICTIM_TABLE_CELLS, 0, boost);
    const rnd = mulberry32(11);
    const f = new Float64Array(BOOST_FEATURES);
    const T = 3_000;
    // One candidate logged per tick; those with idle < 0.5 come back 2,900 ticks later (within
    // B = 1 T = 3,000 ticks), the others never: the trees can only learn that from aligned rows.
    // Most labels are still pending when the queue is compacted (every ~4,100 ticks).
    const due: { c: TableLogged; at: number }[] = [];
    for (let tick = 0; tick < 40_000; tick++) {
      f[IDLE] = rnd();
      const c = candidate();
      learner.log(c, 0, tick, 0, f);
      if (f[IDLE] < 0.5) due.push({ c, at: tick + 2_900 });
      while (due.length > 0 && due[0]!.at <= tick) learner.returned(due.shift()!.c, tick, T);
      learner.expire(tick, T);
    }
    // Fits at 4,096 labels and every 4,096 after: several since the queue was first compacted.
    expect(boost.fits).toBeGreaterThan(5);
    f[IDLE] = 0.9;
    expect(boostMargin(boost.trees!, f)).toBeGreaterThan(2);
    f[IDLE] = 0.1;
    expect(boostMargin(boost.trees!, f)).toBeLessThan(-2);
    // Inputs of labelled candidates are dropped as the queue is compacted (after 4,096 labelled):
    // the staged inputs stay within 16,384 rows, not the 40,000 logged (2.08 MB).
    expect(learner.bytes - boost.bytes).toBeLessThan(16_384 * BOOST_FEATURES * 4 + 20_000);
  });
});
