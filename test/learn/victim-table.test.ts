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
  idleBinStart,
  RECENCY_TIE_BREAK,
  type TableLogged,
  VICTIM_TABLE_CELLS,
  VictimTableLearner,
} from '../../src/learn/eviction/victim-table.js';
import { mulberry32 } from '../../src/random.js';

const T = 10;
const MISSING_GAP_T = 16;

/** The cell coordinates of a key first seen at 0, requested at `ticks`, looked at `now`. */
function coordsOf(ticks: number[], now: number): number[] {
  const s = newKeyStats(0, 1);
  for (const t of ticks) recordAccess(s, t, 1, T);
  const x = new Float64Array(BASE_FEATURES);
  extractFeatures(s, { nowTick: now, timeScale: T, missingGapT: MISSING_GAP_T }, x);
  const c = new Int32Array(3);
  cellCoordinates(x, 0, MISSING_GAP_T, c);
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
      const idleX = idleBinStart(coords[0]!) + 0.1 * rnd();
      const sh = tableShapley(table, coords, idleX);
      expect(sh.fx).toBe(logits[cellOf(coords)]! + RECENCY_TIE_BREAK * idleX);
      expect(sh.fBaseline).toBe(logits[cellOf([1, 1, 1])]! + RECENCY_TIE_BREAK * idleBinStart(1));
      expect(sh.completenessError).toBeLessThan(1e-12);
      expect(sh.attributions[2]).toBeCloseTo(0, 12);
      // Idle alone, with accesses at the baseline: 0.4·Δi + 0.05·Δi·1 plus half the interaction.
      const di = coords[0]! - 1;
      const da = coords[1]! - 1;
      // ... and the recency tie-break's difference from the baseline bin's start.
      const tieBreak = RECENCY_TIE_BREAK * (idleX - idleBinStart(1));
      expect(sh.attributions[0]).toBeCloseTo(0.4 * di + 0.05 * di + 0.025 * di * da + tieBreak, 10);
    }
  });
});
