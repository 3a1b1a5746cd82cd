/**
 * @module learn/eviction/victim-table
 * The tabular eviction agent: a value table over a coarse state — how long the key has been
 * idle, how often it was requested, its last inter-arrival gap — holding the logit of
 * P(the key is not requested again within the horizon B), learned online from the outcomes of
 * every sampled candidate. The victim is the candidate with the highest value, read between the
 * centres of neighbouring idle bins ({@link stateScore}).
 *
 * It is the one-step (contextual-bandit) special case of tabular Q-learning (Sutton & Barto,
 * ch. 6) with full-information feedback: at each main-cache eviction all sampled candidates are
 * logged, chosen or not, and the trace reveals for each whether it came back within B — the
 * reward of evicting it — without looking ahead (a label is written when the key returns or once
 * B has passed). The estimate per cell is the decayed share of such candidates not back within
 * B, smoothed by one pseudo-count each way; every `halveEvery` labels all counts are halved, so
 * old traffic fades. The cells follow LHD (Beckmann, Chen & Cidon, NSDI'18), which ranks by hit
 * probability estimated from counts per age and class; here the state adds the access count and
 * the last gap, and the quantity is the bandit's reward, not a hit density.
 *
 * Why a table and not a network: on the open traces this table, fed by all 16 candidates of each
 * eviction, picks better victims than the tfjs network agent fed by 2 per eviction (mean gap
 * closed 26.5 % against 23.9 % over three seeds, docs/learning.md). Networks given the table's
 * value as an extra input, or trained on its residual, did worse than the table alone.
 *
 * The agent can also count four more views of a key ({@link VICTIM_TABLE_VIEWS}), each in a
 * table of its own, fed by the base table's labels ({@link VictimTableLearner} with `views`);
 * its value then adds their logits ({@link stateScore}).
 *
 * The same learner, with the same cells, is the learned policy's admission table (P(a key leaving
 * probation is back within A), ./learned-policy.ts), and with one cell the admission bar (the
 * decayed share of main-cache victims back within A).
 *
 * Pure: no tfjs, no I/O. The cell of a key is a function of its base feature vector
 * ({@link extractFeatures}), so the simulator, the engine and a cache-side adapter agree on it.
 */

import {
  BOOST_FEATURES,
  boostFeatures,
  boostMargin,
  type BoostedTrees,
  type BoostLearner,
} from './boosted-trees.js';

import { gapKnown } from './features.js';

/** Idle time bins: ⌊log2(1 + 4·idle/T)⌋, capped (idle ≥ 511.75 T share the last). */
export const IDLE_BINS = 12;
/** Access count bins: 1, 2, 3–4, 5–8, 9–16, more. */
export const ACCESS_BINS = 6;
/** Last-gap bins: unknown (first request), then ⌊log2(1 + 4·gap/T)⌋ + 1, capped. */
export const GAP_BINS = 9;
export const VICTIM_TABLE_CELLS = IDLE_BINS * ACCESS_BINS * GAP_BINS;
/** The state's three coordinates, in the order of {@link cellCoordinates}. */
export const VICTIM_TABLE_STATE = ['idle', 'accesses', 'gap1'] as const;
/**
 * The agent's extra views of a key (`victimViews`): each is (idle, accesses, one more coordinate),
 * counted in a table of its own (the same cells and learner), and the agent's value adds the
 * views' logits to the base table's. `meanGap`: the key's mean inter-arrival gap over its
 * remembered lifetime, binned as the last gap is; `due`: the last gap minus the idle time, in T
 * (when a key that repeats its last gap is next due), in 8 linear bins from ≤ −4 T to > 4 T;
 * `lifetime`: the time since the key was first seen, ⌊log2(1 + lifetime/T)⌋ capped at 8;
 * `gap2`: the second-last gap, binned as the last gap is.
 * A fourth coordinate in one table splits every cell; separate tables keep each cell's counts
 * (docs/learning.md, "Three views of a key" and "Two more views").
 */
export const VICTIM_TABLE_VIEWS = ['meanGap', 'due', 'lifetime', 'gap2'] as const;
/** Every coordinate: the base state's three, then one per extra view ({@link stateCoordinates}). */
export const VICTIM_STATE_COORDINATES = [...VICTIM_TABLE_STATE, ...VICTIM_TABLE_VIEWS] as const;

/** The coordinates table `t` reads: the base state's three, then one per view it carries. */
export function tableCoordinates(
  t: Pick<VictimTable, 'views'>,
): (typeof VICTIM_STATE_COORDINATES)[number][] {
  return VICTIM_STATE_COORDINATES.slice(0, VICTIM_TABLE_STATE.length + (t.views?.length ?? 0));
}

/**
 * Weight of the recency tie-break in a key's score: keys can share a value (the same cell, or
 * cells whose idle neighbours hold the same values), and among them the least recently used goes
 * first, so the score is the value plus this × log1p(idle / T) (at most about 1e-5: it orders
 * keys of equal value, never keys whose values differ by more). A published score thus ranks
 * victims as the policy does, also where only the score is kept (the Redis sorted set a cache
 * pops with ZPOPMAX).
 */
export const RECENCY_TIE_BREAK = 1e-6;

/**
 * Where idle feature `idleX` = log1p(idle / T) sits in the idle bins' scale, log2(1 + 4·idle/T):
 * bin b spans [b, b + 1) (the last bin is open-ended). The one formula the bins and the reading
 * between them ({@link stateScore}) share.
 */
function idlePosition(idleX: number): number {
  return Math.log2(1 + 4 * Math.expm1(idleX));
}

/**
 * The idle feature log1p(idle / T) at the centre of idle bin `bin` (in the bins' log2 scale):
 * where the score is that bin's value alone ({@link stateScore}), so the typical candidate of an
 * explanation sits there.
 */
export function idleBinCentre(bin: number): number {
  return Math.log1p((2 ** (bin + 0.5) - 1) / 4);
}

/** A snapshot of the table, as a model carries it: what scoring and explaining need. */
export interface VictimTable {
  /** Horizon B, in units of T: a key is a good victim when it is not requested within B. */
  readonly horizonT: number;
  /** Logit of P(not requested within B) per cell ({@link VICTIM_TABLE_CELLS} values). */
  readonly logits: Float64Array;
  /** The most populated cell: the "typical candidate" explanations compare with. */
  readonly baselineCell: number;
  /**
   * The extra views' tables, one per {@link VICTIM_TABLE_VIEWS} entry in order (absent: the base
   * table alone): their logits per cell (cells over idle, accesses and the view's coordinate)
   * and their most populated cells.
   */
  readonly views?: readonly { readonly logits: Float64Array; readonly baselineCell: number }[];
  /**
   * The boosted trees over the key's whole feature vector (./boosted-trees.ts), once fitted: their
   * margin, the logit of P(not requested within B), is added to the tables' ({@link tableValue}).
   */
  readonly boost?: BoostedTrees;
}

/** Coordinates (idle, accesses, gap1 bins) of base features at `x[offset..]`, into `out`. */
export function cellCoordinates(
  x: ArrayLike<number>,
  offset: number,
  missingGapT: number,
  out: Int32Array,
): void {
  out[0] = Math.min(IDLE_BINS - 1, Math.floor(idlePosition(x[offset]!)));
  const a = Math.round(Math.expm1(x[offset + 8]!));
  out[1] = a <= 1 ? 0 : a === 2 ? 1 : a <= 4 ? 2 : a <= 8 ? 3 : a <= 16 ? 4 : 5;
  out[2] = gapBin(x[offset + 1]!, missingGapT);
}

export function cellOf(c: ArrayLike<number>): number {
  return (c[0]! * ACCESS_BINS + c[1]!) * GAP_BINS + c[2]!;
}

/** The coordinates of cell `cell`: the inverse of {@link cellOf}. */
export function coordinatesOf(cell: number): [number, number, number] {
  return [
    Math.floor(cell / (ACCESS_BINS * GAP_BINS)),
    Math.floor(cell / GAP_BINS) % ACCESS_BINS,
    cell % GAP_BINS,
  ];
}

/** `due` bins: unknown gap, then last gap − idle (in T) ≤ −4, −1, 0, ½, 1, 2, 4, and more. */
const DUE_UPPER = [-4, -1, 0, 0.5, 1, 2, 4];

/** Bin of a known gap of `gapT` T: ⌊log2(1 + 4·gap/T)⌋ + 1, capped (bin 0 is "unknown"). */
function knownGapBin(gapT: number): number {
  return 1 + Math.min(GAP_BINS - 2, Math.floor(Math.log2(1 + 4 * gapT)));
}

/** Bin of a gap feature log1p(gap / T): 0 when unknown, else {@link knownGapBin}. */
function gapBin(g: number, missingGapT: number): number {
  return gapKnown(g, missingGapT) ? knownGapBin(Math.expm1(g)) : 0;
}

/**
 * All coordinates ({@link VICTIM_STATE_COORDINATES}) of base features at `x[offset..]`, into
 * `out` (length 7): the base state's three ({@link cellCoordinates}), then `meanGap`, `due`,
 * `lifetime` and `gap2`.
 */
export function stateCoordinates(
  x: ArrayLike<number>,
  offset: number,
  missingGapT: number,
  out: Int32Array,
): void {
  cellCoordinates(x, offset, missingGapT, out);
  // The last gap's bin is 0 exactly when it is unknown (the key's first request).
  const knownGap = out[2] !== 0;
  const idleT = Math.expm1(x[offset]!);
  const lifeT = Math.expm1(x[offset + 10]!);
  const a = Math.round(Math.expm1(x[offset + 8]!));
  // (lifetime − idle) / (accesses − 1): the mean of every gap since the key was first seen.
  out[3] = !knownGap || a < 2 ? 0 : knownGapBin(Math.max(0, lifeT - idleT) / (a - 1));
  if (!knownGap) {
    out[4] = 0;
  } else {
    const due = Math.expm1(x[offset + 1]!) - idleT;
    let bin = 1;
    while (bin <= DUE_UPPER.length && due > DUE_UPPER[bin - 1]!) bin++;
    out[4] = bin;
  }
  out[5] = Math.min(GAP_BINS - 1, Math.floor(Math.log2(1 + lifeT)));
  out[6] = gapBin(x[offset + 2]!, missingGapT);
}

/** The cell of extra view `k` (0-based in {@link VICTIM_TABLE_VIEWS}) at state coordinates `c`. */
function viewCellOf(c: ArrayLike<number>, k: number): number {
  return (c[0]! * ACCESS_BINS + c[1]!) * GAP_BINS + c[3 + k]!;
}

/** The tables' summed logits at state coordinates `c`, read in idle bin `idleBin` instead of c[0]. */
function binValue(
  t: { readonly logits: Float64Array; readonly views?: VictimTable['views'] },
  c: ArrayLike<number>,
  idleBin: number,
): number {
  // Idle is the outermost coordinate of every table's cells: moving by one bin is one stride.
  const shift = (idleBin - c[0]!) * ACCESS_BINS * GAP_BINS;
  let v = t.logits[cellOf(c) + shift]!;
  const views = t.views;
  if (views !== undefined) {
    for (let k = 0; k < views.length; k++) v += views[k]!.logits[viewCellOf(c, k) + shift]!;
  }
  return v;
}

/**
 * A key's score at state coordinates `c` (length 3 without views, 3 + views with) and idle feature
 * log1p(idle / T) (whose bin is c[0]): the base table's logit plus each view's, read linearly
 * between the centres of neighbouring idle bins, plus the recency tie-break
 * ({@link RECENCY_TIE_BREAK}). The one definition the policy, `scoreKey` and the explanations
 * share.
 *
 * Why interpolate: the idle bins are a factor of 2 wide, so a key just inside a bin is valued as
 * one at its far end, and keys of neighbouring bins jump apart at the edge. Reading the value
 * at the key's position in the log2 scale, between its bin's centre and the nearest neighbour's,
 * makes it continuous in idle time (the value of a bin's centre is unchanged). Measured on the
 * 15 unit cells: +0.15 to +0.38 points of mean gap closed on seeds 1–5 (docs/learning.md,
 * "Reading the table between idle bins").
 */
export function stateScore(
  t: { readonly logits: Float64Array; readonly views?: VictimTable['views'] },
  c: ArrayLike<number>,
  idleX: number,
  /** false: the cell's own value (the admission table decides by its cell, not between bins). */
  betweenBins = true,
): number {
  const bin = c[0]!;
  let v = binValue(t, c, bin);
  if (!betweenBins) return v + RECENCY_TIE_BREAK * idleX;
  // Position relative to the bin's centre, in bins: within ±½ except in the open-ended last bin.
  const d = idlePosition(idleX) - (bin + 0.5);
  const next = d >= 0 ? bin + 1 : bin - 1;
  // |d| below 1e-9 is a bin's centre up to rounding: its own value, exactly.
  if (next >= 0 && next < IDLE_BINS && Math.abs(d) > 1e-9) {
    const w = Math.min(1, Math.abs(d));
    v = (1 - w) * v + w * binValue(t, c, next);
  }
  return v + RECENCY_TIE_BREAK * idleX;
}

const coords = new Int32Array(3);
const stateScratch = new Int32Array(VICTIM_STATE_COORDINATES.length);
const boostScratch = new Float64Array(BOOST_FEATURES);

/** The cell of base features at `x[offset..]`. */
export function victimCell(x: ArrayLike<number>, offset: number, missingGapT: number): number {
  cellCoordinates(x, offset, missingGapT, coords);
  return cellOf(coords);
}

/**
 * The agent's value of base features at `x[offset..]`: the tables' score ({@link stateScore}) plus,
 * when the table carries fitted trees, their margin at the key's tree inputs
 * ({@link boostFeatures}). The one definition `scoreKey` and the explanations share; the policy
 * adds the same two terms from its live tables and trees.
 */
export function tableValue(
  t: VictimTable,
  x: ArrayLike<number>,
  offset: number,
  missingGapT: number,
): number {
  stateCoordinates(x, offset, missingGapT, stateScratch);
  const score = stateScore(t, stateScratch, x[offset]!);
  if (t.boost === undefined) return score;
  boostFeatures(x, offset, missingGapT, boostScratch);
  return score + boostMargin(t.boost, boostScratch);
}

/** One logged candidate waiting for its label. */
export interface PendingLabel {
  readonly owner: TableLogged;
  readonly cell: number;
  /** A learner with views: each view's own coordinate, 4 bits per view ({@link viewBinsOf}). */
  readonly viewBins: number;
  readonly tick: number;
  done: boolean;
  /**
   * Its serial among the learner's logged candidates: where a learner that fits trees keeps the
   * candidate's tree inputs until the label is known ({@link VictimTableLearner.log}).
   */
  readonly seq: number;
}

/** What a logged candidate carries: its pending label, if any (the caller's per-key object). */
export interface TableLogged {
  tablePending: PendingLabel | null;
}

/** A second (third, …) pending-label slot for a key that more than one learner logs. */
export class LabelSlot implements TableLogged {
  tablePending: PendingLabel | null = null;
}

/** P(back within the horizon) of a learner's cell: the complement of its logit's probability. */
export function backProbability(logits: Float64Array, cell: number): number {
  return 1 / (1 + Math.exp(logits[cell]!));
}

/**
 * The views' own coordinates of state coordinates `c` (c[3], c[4], …), packed 4 bits each for a
 * pending label: every view's coordinate has at most {@link GAP_BINS} (< 16) values.
 */
export function viewBinsOf(c: ArrayLike<number>, views: number): number {
  let bins = 0;
  for (let k = 0; k < views; k++) bins |= c[VICTIM_TABLE_STATE.length + k]! << (4 * k);
  return bins;
}

/**
 * Bytes per pending label: the label object and its slot in the queue (measured on Node 20 with
 * `--expose-gc`, 200,000 labels: 74 B each, with its `seq` field as without). A learner that
 * fits trees also holds their inputs in one Float32Array ({@link VictimTableLearner.bytes} counts
 * it at its allocated length).
 */
const PENDING_LABEL_BYTES = 74;

/**
 * Learns the table, and its views when it has any. The caller logs candidates ({@link log}),
 * reports their next request ({@link returned}) and moves the clock ({@link expire}); the live
 * value arrays are updated as labels arrive and {@link snapshot} copies them for a model.
 *
 * The views share the base table's labels: a candidate is logged in all tables at once and
 * comes back (or not) for all of them, so one pending label carries the cell of each (the base
 * cell, and each view's coordinate in {@link PendingLabel.viewBins}) and one queue serves them.
 */
export class VictimTableLearner {
  /** Labels written so far (not decayed). */
  labels = 0;
  /** Counts of the base table, then of each view, {@link cells} per table. */
  private readonly back: Float64Array;
  private readonly total: Float64Array;
  /** Live logits of every table (0, P = ½, before any label), updated per label. */
  private readonly allLogits: Float64Array;
  /** Live logits of the base table. */
  readonly logits: Float64Array;
  /** Live logits of each view, in {@link VICTIM_TABLE_VIEWS} order. */
  readonly viewLogits: readonly Float64Array[];
  private sinceHalving = 0;
  private queue: PendingLabel[] = [];
  private head = 0;
  /**
   * With trees: the tree inputs of logged candidates, {@link BOOST_FEATURES} floats each, from
   * serial `stagedFrom` on (older ones are labelled and dropped as the queue is), grown by
   * doubling. One array rather than one per label: a small Float32Array costs 267 B on Node 20.
   */
  private staged = new Float32Array(0);
  private stagedFrom = 0;
  private nextSeq = 0;

  constructor(
    /** Horizon B in ticks is horizonT × the caller's T. */
    readonly horizonT: number,
    private readonly halveEvery: number,
    /** Cells counted: the state's {@link VICTIM_TABLE_CELLS}, or 1 for a plain decayed rate. */
    readonly cells: number = VICTIM_TABLE_CELLS,
    /** The first this many of {@link VICTIM_TABLE_VIEWS} are counted too (the state's cells only). */
    readonly views = 0,
    /** Trees fitted to the same labels from the candidates' whole features (./boosted-trees.ts). */
    readonly boost: BoostLearner | null = null,
  ) {
    if (views > 0 && (cells !== VICTIM_TABLE_CELLS || views > VICTIM_TABLE_VIEWS.length)) {
      throw new RangeError(`views need the state's cells and at most ${VICTIM_TABLE_VIEWS.length}`);
    }
    const n = cells * (1 + views);
    this.back = new Float64Array(n);
    this.total = new Float64Array(n);
    this.allLogits = new Float64Array(n);
    this.logits = this.allLogits.subarray(0, cells);
    this.viewLogits = Array.from({ length: views }, (_, k) =>
      this.allLogits.subarray((k + 1) * cells, (k + 2) * cells),
    );
  }

  /** Bytes of the counts and logits, and of the labels pending. */
  get bytes(): number {
    return (
      3 * 8 * this.allLogits.length +
      PENDING_LABEL_BYTES * this.pending +
      this.staged.byteLength +
      (this.boost?.bytes ?? 0)
    );
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  /**
   * Logs candidate `c` in `cell` (and, with views, each view's coordinate packed in `viewBins`,
   * {@link viewBinsOf}) at `tick`, unless it is already waiting for a label. A learner that fits
   * trees also keeps the candidate's tree inputs, read from `boostInputs` ({@link boostFeatures}).
   */
  log(
    c: TableLogged,
    cell: number,
    tick: number,
    viewBins = 0,
    boostInputs?: ArrayLike<number>,
  ): void {
    if (c.tablePending !== null) return;
    const seq = this.nextSeq++;
    if (this.boost !== null) {
      if (boostInputs === undefined) throw new RangeError('a learner with trees needs tree inputs');
      const at = (seq - this.stagedFrom) * BOOST_FEATURES;
      if (at + BOOST_FEATURES > this.staged.length) {
        const grown = new Float32Array(Math.max(1024 * BOOST_FEATURES, 2 * this.staged.length));
        grown.set(this.staged);
        this.staged = grown;
      }
      for (let f = 0; f < BOOST_FEATURES; f++) this.staged[at + f] = boostInputs[f]!;
    }
    const p: PendingLabel = { owner: c, cell, viewBins, tick, done: false, seq };
    c.tablePending = p;
    this.queue.push(p);
  }

  /** `c` was requested again at `tick`: labels it, "back" when within the horizon. */
  returned(c: TableLogged, tick: number, timeScale: number): void {
    const p = c.tablePending;
    if (p === null) return;
    c.tablePending = null;
    p.done = true;
    this.add(p, tick - p.tick <= this.horizonT * timeScale);
  }

  /** Labels "not back" every candidate logged more than the horizon before `now`. */
  expire(now: number, timeScale: number): void {
    const B = this.horizonT * timeScale;
    while (this.head < this.queue.length && now - this.queue[this.head]!.tick > B) {
      const p = this.queue[this.head]!;
      this.head++;
      if (!p.done) {
        p.done = true;
        p.owner.tablePending = null;
        this.add(p, false);
      }
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
      // Every label logged before the queue's new first is labelled: drop their tree inputs.
      const first = this.queue.length > 0 ? this.queue[0]!.seq : this.nextSeq;
      const drop = (first - this.stagedFrom) * BOOST_FEATURES;
      const end = (this.nextSeq - this.stagedFrom) * BOOST_FEATURES;
      if (drop > 0 && this.boost !== null) this.staged.copyWithin(0, drop, end);
      this.stagedFrom = first;
    }
  }

  /** A copy of the current table, for a model; with `withViews`, its views' too. */
  snapshot(withViews = this.views > 0): VictimTable {
    const table = (k: number) => {
      const from = k * this.cells;
      let baselineCell = 0;
      for (let c = 1; c < this.cells; c++) {
        if (this.total[from + c]! > this.total[from + baselineCell]!) baselineCell = c;
      }
      return {
        logits: Float64Array.from(this.allLogits.subarray(from, from + this.cells)),
        baselineCell,
      };
    };
    const trees = this.boost?.trees ?? null;
    const base = {
      horizonT: this.horizonT,
      ...table(0),
      ...(trees === null ? {} : { boost: trees }),
    };
    if (!withViews || this.views === 0) return base;
    return { ...base, views: Array.from({ length: this.views }, (_, k) => table(k + 1)) };
  }

  private add(p: PendingLabel, back: boolean): void {
    if (this.boost !== null) {
      this.boost.add(this.staged, (p.seq - this.stagedFrom) * BOOST_FEATURES, back);
    }
    this.count(p.cell, back);
    if (this.views > 0) {
      // A view's cell keeps the base cell's idle and access bins, with its own coordinate last.
      const row = p.cell - (p.cell % GAP_BINS);
      for (let k = 0; k < this.views; k++) {
        this.count((k + 1) * this.cells + row + ((p.viewBins >> (4 * k)) & 15), back);
      }
    }
    this.labels++;
    if (++this.sinceHalving >= this.halveEvery) {
      this.sinceHalving = 0;
      for (let c = 0; c < this.allLogits.length; c++) {
        this.total[c]! *= 0.5;
        this.back[c]! *= 0.5;
        this.setLogit(c);
      }
    }
  }

  private count(i: number, back: boolean): void {
    this.total[i]! += 1;
    if (back) this.back[i]! += 1;
    this.setLogit(i);
  }

  private setLogit(c: number): void {
    // Smoothed share not back: (notBack + 1) / (total + 2).
    const notBack = this.total[c]! - this.back[c]! + 1;
    const back = this.back[c]! + 1;
    this.allLogits[c] = Math.log(notBack / back);
  }
}
