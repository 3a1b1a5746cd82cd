/**
 * @module learn/eviction/features
 * Per-key online statistics and the feature vector the learned eviction models read. Pure: no
 * tfjs, no I/O, so the simulator policy, the engine and a cache-side adapter compute the same
 * vector from the same kinds of statistics the feature store keeps (last access, up to 4 recent
 * inter-arrival gaps, decayed counts at three half-lives, access count, first seen, size).
 *
 * Every time is expressed in a *time scale* `T` (ticks): the simulator uses request counts and
 * `T` = the cache capacity in objects, so a feature like "idle for 3 T" means the same thing at a
 * 1 % and a 10 % cache; the engine passes event times in ms and its own `T`. Times and counts
 * are log-scaled (`log1p`), as in LRB (Song et al., NSDI'20), so one small network covers
 * traces whose gaps differ by orders of magnitude.
 */

/** Half-lives of the decayed counts, in units of the time scale `T` (feature store: 60/600/3600 s). */
export const DECAY_HALF_LIVES_T: readonly [number, number, number] = [1, 10, 60];

/** Names of the base features, in vector order (the popularity predictor's input). */
export const BASE_FEATURE_NAMES = [
  'idle',
  'gap1',
  'gap2',
  'gap3',
  'gap4',
  'decayedCountShort',
  'decayedCountMid',
  'decayedCountLong',
  'accesses',
  'sizeLog',
  'lifetime',
] as const;

/** Names of the agent's features: the base features plus the predictor's output. */
export const AGENT_FEATURE_NAMES = [...BASE_FEATURE_NAMES, 'popularityLogit'] as const;

export const BASE_FEATURES = BASE_FEATURE_NAMES.length;
export const AGENT_FEATURES = AGENT_FEATURE_NAMES.length;

/**
 * What is remembered of one key. Mutable on purpose: the hot path updates it in place.
 * Decayed counts are stored as of `lastTick` and decayed on read.
 */
export interface KeyStats {
  lastTick: number;
  firstTick: number;
  accesses: number;
  /** Recent inter-arrival gaps in ticks, newest first; NaN when fewer than 4 are known. */
  gap1: number;
  gap2: number;
  gap3: number;
  gap4: number;
  count1: number;
  count2: number;
  count3: number;
  sizeBytes: number;
  /** Cached log1p(gap / T) of gap1..gap4 (NaN when unknown): gaps change only on access. */
  logGap1: number;
  logGap2: number;
  logGap3: number;
  logGap4: number;
}

/** Stats of a key seen for the first time at `tick`. */
export function newKeyStats(tick: number, sizeBytes: number): KeyStats {
  return {
    lastTick: tick,
    firstTick: tick,
    accesses: 1,
    gap1: Number.NaN,
    gap2: Number.NaN,
    gap3: Number.NaN,
    gap4: Number.NaN,
    count1: 1,
    count2: 1,
    count3: 1,
    sizeBytes,
    logGap1: Number.NaN,
    logGap2: Number.NaN,
    logGap3: Number.NaN,
    logGap4: Number.NaN,
  };
}

const K1 = -Math.LN2 / DECAY_HALF_LIVES_T[0];
const K2 = -Math.LN2 / DECAY_HALF_LIVES_T[1];
const K3 = -Math.LN2 / DECAY_HALF_LIVES_T[2];
/** log1p(n) for small access counts (the common case), computed once. */
const LOG_COUNT = Float64Array.from({ length: 1024 }, (_, i) => Math.log1p(i));

/** Records one more access of a known key at `tick` (≥ its last one). */
export function recordAccess(
  s: KeyStats,
  tick: number,
  sizeBytes: number,
  timeScale: number,
): void {
  const dt = tick - s.lastTick;
  s.gap4 = s.gap3;
  s.gap3 = s.gap2;
  s.gap2 = s.gap1;
  s.gap1 = dt;
  s.logGap4 = s.logGap3;
  s.logGap3 = s.logGap2;
  s.logGap2 = s.logGap1;
  const x = dt / timeScale;
  s.logGap1 = Math.log1p(x);
  s.count1 = s.count1 * Math.exp(K1 * x) + 1;
  s.count2 = s.count2 * Math.exp(K2 * x) + 1;
  s.count3 = s.count3 * Math.exp(K3 * x) + 1;
  s.accesses += 1;
  s.lastTick = tick;
  s.sizeBytes = sizeBytes;
}

/** Context of a feature extraction: the clock and the time scale, both in ticks. */
export interface FeatureClock {
  readonly nowTick: number;
  /** The time scale `T` in ticks (simulator: capacity in objects). */
  readonly timeScale: number;
  /** Value used for a gap that is not known yet, before log scaling, in units of T. */
  readonly missingGapT: number;
}

/**
 * Writes the {@link BASE_FEATURES} base features of `s` at `clock.nowTick` into `out` from
 * `offset` (no allocation on the hot path).
 */
export function extractFeatures(
  s: KeyStats,
  clock: FeatureClock,
  out: Float64Array,
  offset = 0,
): void {
  const T = clock.timeScale;
  const idleT = (clock.nowTick - s.lastTick) / T;
  const miss = Math.log1p(clock.missingGapT);
  out[offset] = Math.log1p(idleT);
  // `v === v` is false only for NaN (unknown gap); cheaper than Number.isNaN on the hot path.
  out[offset + 1] = s.logGap1 === s.logGap1 ? s.logGap1 : miss;
  out[offset + 2] = s.logGap2 === s.logGap2 ? s.logGap2 : miss;
  out[offset + 3] = s.logGap3 === s.logGap3 ? s.logGap3 : miss;
  out[offset + 4] = s.logGap4 === s.logGap4 ? s.logGap4 : miss;
  out[offset + 5] = Math.log1p(s.count1 * Math.exp(K1 * idleT));
  out[offset + 6] = Math.log1p(s.count2 * Math.exp(K2 * idleT));
  out[offset + 7] = Math.log1p(s.count3 * Math.exp(K3 * idleT));
  out[offset + 8] = s.accesses < 1024 ? LOG_COUNT[s.accesses]! : Math.log1p(s.accesses);
  out[offset + 9] = s.sizeBytes === 1 ? Math.LN2 : Math.log1p(s.sizeBytes);
  out[offset + 10] = Math.log1p((clock.nowTick - s.firstTick) / T);
}

/**
 * Whether gap feature `g` (one of {@link extractFeatures}' gaps) holds a known gap: an unknown one
 * is written as log1p(missingGapT).
 */
export function gapKnown(g: number, missingGapT: number): boolean {
  return g !== Math.log1p(missingGapT);
}

/**
 * Stats of a key from the feature store's view (`KeyFeatures`: times in ms, gaps newest first,
 * decayed counts as of `asOfMs`). The store's half-lives are not the model's, so its decayed
 * counts are re-derived from the gaps here; an adapter with the model's half-lives can fill
 * `count1..3` directly instead.
 */
export function keyStatsFromStore(
  view: {
    readonly accesses: number;
    readonly lastAccessMs: number;
    readonly firstSeenMs: number;
    readonly gapsMs: readonly number[];
    readonly sizeBytes: number | null;
  },
  timeScaleMs: number,
): KeyStats {
  const s = newKeyStats(view.firstSeenMs, view.sizeBytes ?? 1);
  // Replay the known gaps oldest first: exact for the last 4 accesses, older ones are lost.
  const gaps = view.gapsMs.slice(0, 4).reverse();
  let tick = view.lastAccessMs - gaps.reduce((a, b) => a + b, 0);
  s.lastTick = tick;
  for (const g of gaps) {
    tick += g;
    recordAccess(s, tick, s.sizeBytes, timeScaleMs);
  }
  s.accesses = Math.max(view.accesses, s.accesses);
  s.firstTick = view.firstSeenMs;
  return s;
}
