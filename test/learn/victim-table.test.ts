import { describe, expect, it } from 'vitest';
import { tableShapley } from '../../src/learn/eviction/explain.js';
import {
  BASE_FEATURES,
  extractFeatures,
  newKeyStats,
  recordAccess,
} from '../../src/learn/eviction/features.js';
import {
  backProbability,
  cellCoordinates,
  LabelSlot,
  cellOf,
  coordinatesOf,
  IDLE_BINS,
  idleBinCentre,
  RECENCY_TIE_BREAK,
  stateCoordinates,
  stateScore,
  type TableLogged,
  VICTIM_TABLE_CELLS,
  VictimTableLearner,
  viewBinsOf,
} from '../../src/learn/eviction/victim-table.js';
import { mulberry32 } from '../../src/random.js';

const T = 10;
const MISSING_GAP_T = 16;

/**
 * The cell coordinates of a key first seen at 0, requested at `ticks`, looked at `now`; with
 * `views`, the four views' coordinates after them (stateCoordinates).
 */
function coordsOf(ticks: number[], now: number, views = false): number[] {
  const s = newKeyStats(0, 1);
  for (const t of ticks) recordAccess(s, t, 1, T);
  const x = new Float64Array(BASE_FEATURES);
  extractFeatures(s, { nowTick: now, timeScale: T, missingGapT: MISSING_GAP_T }, x);
  const c = new Int32Array(views ? 7 : 3);
  if (views) stateCoordinates(x, 0, MISSING_GAP_T, c);
  else cellCoordinates(x, 0, MISSING_GAP_T, c);
  return Array.from(c);
}

const candidate = (): TableLogged => ({ tablePending: null });

describe('tabular eviction agent', () => {
  it('bins idle time, access count and last gap as documented', () => {
    // Seen once, just now: idle 0, 1 request, no gap yet.
    expect(coordsOf([], 0)).toEqual([0, 0, 0]);
    // Idle 2.5 T: ⌊log2(1 + 10)⌋ = 3; 3 requests → bin 2; last gap 0.5 T: ⌊log2(3)⌋ + 1 = 2.
    expect(coordsOf([10, 15], 40)).toEqual([3, 2, 2]);
    // Idle 1000 T caps at the last idle bin; 17 requests → the last count bin.
    const many = Array.from({ length: 16 }, (_, i) => i + 1);
    expect(coordsOf(many, 16 + 1000 * T)).toEqual([11, 5, 1]);
  });

  it('labels a logged candidate back when it returns within B, not back once B passed', () => {
    const t = new VictimTableLearner(1, 1000);
    const a = candidate();
    const b = candidate();
    t.log(a, 7, 0);
    t.log(b, 9, 0);
    t.log(a, 7, 3); // already waiting for its label: not logged twice
    expect(t.pending).toBe(2);
    t.returned(a, 5, T); // back after 5 ticks ≤ B = 10
    t.expire(10, T); // b not yet past B
    expect(t.labels).toBe(1);
    t.expire(11, T);
    expect(t.labels).toBe(2);
    expect(b.tablePending).toBeNull();
    // (not back + 1) / (back + 1)
    expect(t.logits[7]).toBeCloseTo(Math.log(1 / 2), 12);
    expect(t.logits[9]).toBeCloseTo(Math.log(2 / 1), 12);
    expect(t.logits[0]).toBe(0);
    // A return after the horizon labels nothing more.
    t.returned(b, 30, T);
    expect(t.labels).toBe(2);
    const snap = t.snapshot();
    expect(snap.logits).toEqual(t.logits);
    expect(snap.logits).not.toBe(t.logits);
    expect([7, 9]).toContain(snap.baselineCell);
  });

  it('halves its counts every halveEvery labels, so old traffic fades', () => {
    const t = new VictimTableLearner(1, 4);
    for (let i = 0; i < 3; i++) {
      const c = candidate();
      t.log(c, 1, i);
      t.returned(c, i + 1, T); // 3 × back
    }
    expect(t.logits[1]).toBeCloseTo(Math.log(1 / 4), 12);
    const c = candidate();
    t.log(c, 1, 5);
    t.expire(100, T); // 1 × not back: the 4th label halves everything to 1.5 back, 0.5 not
    expect(t.logits[1]).toBeCloseTo(Math.log(1.5 / 2.5), 12);
  });

  it("counts its views from the base table's labels: each view's cell is its own coordinate in the base cell's row", () => {
    // Four views, halved every 5 labels: the same labels as five separate learners would count.
    const t = new VictimTableLearner(1, 5, VICTIM_TABLE_CELLS, 4);
    const separate = Array.from({ length: 5 }, () => new VictimTableLearner(1, 5));
    const rnd = mulberry32(11);
    for (let i = 0; i < 40; i++) {
      const coords = [12, 6, 9, 9, 9, 9, 9].map((bins) => Math.floor(rnd() * bins));
      const key = candidate();
      const keys = separate.map(() => candidate());
      const cell = cellOf(coords);
      t.log(key, cell, i, viewBinsOf(coords, 4));
      separate.forEach((s, k) =>
        s.log(keys[k]!, k === 0 ? cell : cell - coords[2]! + coords[3 + k - 1]!, i),
      );
      if (rnd() < 0.4) {
        t.returned(key, i + 5, T);
        separate.forEach((s, k) => s.returned(keys[k]!, i + 5, T));
      }
    }
    t.expire(1000, T);
    separate.forEach((s) => s.expire(1000, T));
    expect(t.labels).toBe(40);
    expect(t.pending).toBe(0);
    expect(Array.from(t.logits)).toEqual(Array.from(separate[0]!.logits));
    t.viewLogits.forEach((l, k) =>
      expect(Array.from(l)).toEqual(Array.from(separate[k + 1]!.logits)),
    );
    const snap = t.snapshot();
    expect(snap.views?.map((v) => v.baselineCell)).toEqual(
      separate.slice(1).map((s) => s.snapshot().baselineCell),
    );
    expect(t.snapshot(false).views).toBeUndefined();
    expect(t.bytes).toBe(3 * 8 * 5 * VICTIM_TABLE_CELLS);
    // Views need the state's cells; a plain rate cannot carry them.
    expect(() => new VictimTableLearner(1, 5, 1, 2)).toThrow(RangeError);
  });

  it('with one cell it is a decayed return rate: backProbability is the smoothed share back', () => {
    // The admission bar: the share of the main cache's victims back within the horizon.
    const rate = new VictimTableLearner(2, 1000, 1);
    expect(rate.logits.length).toBe(1);
    expect(backProbability(rate.logits, 0)).toBe(0.5); // no label yet: ½
    const keys = Array.from({ length: 10 }, () => new LabelSlot());
    keys.forEach((k, i) => rate.log(k, 0, i));
    // 3 of 10 come back within 2 T = 20 ticks, one comes back too late.
    for (const i of [0, 4, 8]) rate.returned(keys[i]!, 15 + i, T);
    rate.returned(keys[9]!, 40, T);
    rate.expire(100, T);
    expect(rate.labels).toBe(10);
    expect(backProbability(rate.logits, 0)).toBeCloseTo((3 + 1) / (10 + 2), 12);
    expect(rate.bytes).toBe(3 * 8);
  });

  it("the views' coordinates: mean gap, last gap minus idle, lifetime and second-last gap", () => {
    const at = (ticks: number[], now: number) => coordsOf(ticks, now, true);
    // Seen once (at 0, as newKeyStats counts it): neither a mean gap nor a due time nor a
    // second-last gap (bin 0 each); lifetime 0.5 T → ⌊log2 1.5⌋ = 0.
    expect(at([], 5).slice(3)).toEqual([0, 0, 0, 0]);
    // Requests at 0, 2, 4, 40 (T = 10), looked at 50: gaps 0.2, 0.2, 3.6 T; idle 1 T. Mean gap
    // (5 − 1) / 3 = 1.33 T → ⌊log2(1 + 5.33)⌋ + 1 = 3; due 3.6 − 1 = 2.6 T, in (2, 4] → bin 7;
    // lifetime 5 T → ⌊log2 6⌋ = 2; second-last gap 0.2 T → ⌊log2 1.8⌋ + 1 = 1.
    expect(at([2, 4, 40], 50)).toEqual([2, 2, 4, 3, 7, 2, 1]);
    // Idle 6 T past a last gap of 0.2 T: due −5.8 T → bin 1; mean gap 0.2 T → ⌊log2 1.8⌋ + 1 = 1;
    // lifetime 6.2 T → ⌊log2 7.2⌋ = 2; no second-last gap yet.
    expect(at([2], 62).slice(3)).toEqual([1, 1, 2, 0]);
    // Lifetime 255 T → ⌊log2 256⌋ = 8, the last bin; 1000 T shares it.
    expect(at([], 2550)[5]).toBe(8);
    expect(at([], 10_000)[5]).toBe(8);
  });

  it('reads the value linearly in idle time between the centres of neighbouring idle bins', () => {
    // Base logits 1.5 · idle bin; each view's logits 0.5 · idle bin, so the sum is 2.5 · bin.
    const byIdle = (k: number) =>
      new Float64Array(VICTIM_TABLE_CELLS).map((_, c) => k * coordinatesOf(c)[0]);
    const t = {
      logits: byIdle(1.5),
      views: [
        { logits: byIdle(0.5), baselineCell: 0 },
        { logits: byIdle(0.5), baselineCell: 0 },
      ],
    };
    const score = (bin: number, idleX: number) =>
      stateScore(t, [bin, 2, 3, 4, 5], idleX) - RECENCY_TIE_BREAK * idleX;
    // log1p(idle / T) where the bins' log2 scale reads `pos` (bin b spans [b, b + 1)).
    const at = (pos: number) => Math.log1p((2 ** pos - 1) / 4);
    for (let b = 0; b < IDLE_BINS; b++) {
      expect(at(b + 0.5)).toBeCloseTo(idleBinCentre(b), 12);
      expect(score(b, idleBinCentre(b))).toBeCloseTo(2.5 * b, 12);
    }
    // A quarter of a bin past the centre of bin 3: a quarter of the way to bin 4's value.
    expect(score(3, at(3.75))).toBeCloseTo(2.5 * 3.25, 12);
    expect(score(3, at(3.25))).toBeCloseTo(2.5 * 2.75, 12);
    // Continuous at a bin edge, read from either side.
    expect(score(4, at(4))).toBeCloseTo(2.5 * 3.5, 12);
    expect(score(3, at(4 - 1e-9))).toBeCloseTo(2.5 * 3.5, 6);
    // Nothing to read beyond the first bin's centre nor the last's.
    expect(score(0, at(0.1))).toBeCloseTo(0, 12);
    expect(score(IDLE_BINS - 1, at(IDLE_BINS + 3))).toBeCloseTo(2.5 * (IDLE_BINS - 1), 12);
  });

  it("Shapley attributions over seven coordinates with the four views: complete, and a view's own coordinate gets its part", () => {
    const rnd = mulberry32(5);
    const zero = new Float64Array(VICTIM_TABLE_CELLS);
    // The base table ignores everything; views 1 (due) and 3 (gap2) depend on their coordinate only.
    const due = new Float64Array(VICTIM_TABLE_CELLS).map((_, c) => 0.3 * (c % 9));
    const gap2 = new Float64Array(VICTIM_TABLE_CELLS).map((_, c) => -0.2 * (c % 9));
    const table = {
      horizonT: 1,
      logits: zero,
      baselineCell: cellOf([1, 1, 1]),
      views: [
        { logits: zero, baselineCell: 0 },
        { logits: due, baselineCell: cellOf([0, 0, 2]) },
        { logits: zero, baselineCell: 0 },
        { logits: gap2, baselineCell: cellOf([0, 0, 5]) },
      ],
    };
    for (let n = 0; n < 20; n++) {
      const coords = [12, 6, 9, 9, 9, 9, 9].map((bins) => Math.floor(rnd() * bins));
      const sh = tableShapley(table, coords, idleBinCentre(coords[0]!));
      expect(sh.attributions).toHaveLength(7);
      expect(sh.completenessError).toBeLessThan(1e-12);
      expect(sh.attributions[4]).toBeCloseTo(0.3 * (coords[4]! - 2), 12);
      expect(sh.attributions[6]).toBeCloseTo(-0.2 * (coords[6]! - 5), 12);
      for (const j of [1, 2, 3, 5]) expect(sh.attributions[j]).toBeCloseTo(0, 12);
    }
  });

  it('Shapley attributions are complete and give nothing to a coordinate the table ignores', () => {
    const rnd = mulberry32(3);
    const logits = new Float64Array(VICTIM_TABLE_CELLS);
    // Depends on idle and accesses (with an interaction), not on gap1.
    for (let c = 0; c < VICTIM_TABLE_CELLS; c++) {
      const i = Math.floor(c / 54);
      const a = Math.floor(c / 9) % 6;
      logits[c] = 0.4 * i - 0.2 * a + 0.05 * i * a;
    }
    const table = { horizonT: 1, logits, baselineCell: cellOf([1, 1, 1]) };
    for (let n = 0; n < 50; n++) {
      const coords = [Math.floor(rnd() * 12), Math.floor(rnd() * 6), Math.floor(rnd() * 9)];
      // At its bin's centre the score is the cell's value (no interpolation: a test below).
      const idleX = idleBinCentre(coords[0]!);
      const sh = tableShapley(table, coords, idleX);
      expect(sh.fx).toBe(logits[cellOf(coords)]! + RECENCY_TIE_BREAK * idleX);
      expect(sh.fBaseline).toBe(logits[cellOf([1, 1, 1])]! + RECENCY_TIE_BREAK * idleBinCentre(1));
      expect(sh.completenessError).toBeLessThan(1e-12);
      expect(sh.attributions[2]).toBeCloseTo(0, 12);
      // Idle alone, with accesses at the baseline: 0.4·Δi + 0.05·Δi·1 plus half the interaction.
      const di = coords[0]! - 1;
      const da = coords[1]! - 1;
      // ... and the recency tie-break's difference from the baseline bin's centre.
      const tieBreak = RECENCY_TIE_BREAK * (idleX - idleBinCentre(1));
      expect(sh.attributions[0]).toBeCloseTo(0.4 * di + 0.05 * di + 0.025 * di * da + tieBreak, 10);
    }
  });
});
