/**
 * @module decisions
 * What every decision carries, whichever algorithm made it: a reason code, a short text, and
 * per-feature attributions. Shared by policy/ (eviction), balance/ (weights) and publish/.
 */

/**
 * Why a decision is what it is:
 * - `MODEL`: a learned model decided;
 * - `HEURISTIC`: a classic rule decided (LRU order, inverse latency);
 * - `OVERRIDE`: an operator's override decided;
 * - `FALLBACK`: the intended decider was unavailable (no data, refused model) and a safe default applies.
 */
export type ReasonCode = 'MODEL' | 'HEURISTIC' | 'OVERRIDE' | 'FALLBACK';
export const REASON_CODES: readonly ReasonCode[] = ['MODEL', 'HEURISTIC', 'OVERRIDE', 'FALLBACK'];

export interface Explanation {
  readonly reason: ReasonCode;
  /** One sentence an operator can read, e.g. "idle 42.0 s: least recently used resident key". */
  readonly text: string;
  /** Contribution of each feature to the score (for a linear rule, the terms of the sum). */
  readonly attributions: Readonly<Record<string, number>>;
  /** The feature values the decision used. */
  readonly inputs: Readonly<Record<string, number>>;
}

/** One eviction candidate: a higher score means evict sooner. */
export interface EvictionDecision extends Explanation {
  readonly key: string;
  readonly score: number;
}

/** One backend's share of a pool's traffic. */
export interface WeightDecision extends Explanation {
  readonly backend: string;
  /** Share of traffic in [0, 1]; the shares of a pool sum to 1 (unless every backend is drained). */
  readonly weight: number;
}
