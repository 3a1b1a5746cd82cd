/**
 * @module features/decay
 * Exponentially decayed counters: a count `c` stored with the time `t0` it refers to is worth
 * `c · exp(-λ (t - t0))` at a later time `t`, where `λ = ln 2 / halfLife`. One multiply-add per
 * event keeps a frequency estimate that forgets at a chosen speed, the way the exponentially
 * decaying counters of Cormode et al. ("Forward decay", ICDE 2009) and the decayed LFU of
 * Redis (`LFUDecrAndReturn`) do, without a window of past events.
 *
 * Times are event times in ms. An event older than the stored time (`dt < 0`, out of order) is
 * counted as if it arrived at the stored time (`dt = 0`): the count never grows by decaying
 * backwards.
 */

/** Decay rate λ per ms of a half-life in seconds: `ln 2 / (halfLifeSec · 1000)`. */
export function decayRatePerMs(halfLifeSec: number): number {
  return Math.LN2 / (halfLifeSec * 1000);
}

/** Below this `x`, {@link expNeg} uses a polynomial: its error x⁶/720 is < 1e-13 there. */
const SERIES_LIMIT = 0.02;

/**
 * `exp(-x)` for `x ≥ 0`. Most decays on the hot path are tiny (a hot key seen again after a few
 * ms, against a half-life of minutes), where a degree-5 Taylor polynomial is exact to 1e-13,
 * far below the float32 the counts are stored in, and several times cheaper than `Math.exp`.
 * Pure arithmetic, so replays still give identical bits.
 */
export function expNeg(x: number): number {
  if (x < SERIES_LIMIT) return 1 - x * (1 - x * (0.5 - x * (1 / 6 - x * (1 / 24 - x * (1 / 120)))));
  return Math.exp(-x);
}

/** The factor a value loses over `dtMs`: `exp(-rate · dtMs)`, 1 when `dtMs ≤ 0`. */
export function decayFactor(ratePerMs: number, dtMs: number): number {
  return dtMs > 0 ? expNeg(ratePerMs * dtMs) : 1;
}

/** `value`, stored as of `fromMs`, decayed to `toMs` (no growth when `toMs < fromMs`). */
export function decayedValue(
  value: number,
  ratePerMs: number,
  fromMs: number,
  toMs: number,
): number {
  return value * decayFactor(ratePerMs, toMs - fromMs);
}

/**
 * The count after one more event at `atMs`, given `value` stored as of `fromMs`:
 * `value · exp(-rate · max(0, atMs - fromMs)) + 1`.
 */
export function decayedIncrement(
  value: number,
  ratePerMs: number,
  fromMs: number,
  atMs: number,
): number {
  return value * decayFactor(ratePerMs, atMs - fromMs) + 1;
}

/** Time-based EWMA weight of a new sample `dtMs` after the previous one: `1 - exp(-dtMs / tauMs)`. */
export function ewmaWeight(dtMs: number, tauMs: number): number {
  return dtMs > 0 ? 1 - Math.exp(-dtMs / tauMs) : 0;
}
