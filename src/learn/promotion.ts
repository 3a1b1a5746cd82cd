/**
 * @module learn/promotion
 * The pure core of the model registry: a target's aliases (`champion`, `challenger` and the
 * champions before, for rollback), how promotion and rollback change them, and the promotion
 * decision on a shadow evaluation. No I/O and no clock: the registry
 * (`learn/model-registry.ts`) stores the results and the tests check every rule here.
 *
 * Decision: a challenger is promoted automatically only when its score on the evaluation window
 * beats the better of the champion (if any) and the heuristic by at least `margin` (absolute,
 * same unit as the score; higher is better). Beating a champion that is itself worse than the
 * heuristic is not enough: the floor is always the heuristic.
 */

/** The aliases of one (kind, target). */
export interface Aliases {
  /** The version served; null = none (the heuristic serves, reason `FALLBACK`). */
  readonly champion: string | null;
  /** The latest candidate that was not promoted, kept for inspection; null = none. */
  readonly challenger: string | null;
  /** Earlier champions, oldest first; rollback returns to the last one. */
  readonly history: readonly string[];
}

export const NO_ALIASES: Aliases = { champion: null, challenger: null, history: [] };

/** Earlier champions remembered per target. */
export const HISTORY_LIMIT = 20;

/** Scores of one shadow evaluation: higher is better (eviction: hit ratio). */
export interface EvaluationScores {
  /** What the scores measure, e.g. `hitRatio`. */
  readonly metric: string;
  /** Requests (or points) the scores were measured on. */
  readonly requests: number;
  readonly candidate: number;
  /** The champion's score on the same window; null without a servable champion. */
  readonly champion: number | null;
  /** The heuristic's score on the same window (eviction: LRU). */
  readonly heuristic: number;
}

/** A shadow evaluation as stored in a version's metadata.json and shown by GET /v1/models. */
export interface Evaluation extends EvaluationScores {
  /** The champion evaluated against (null: none). */
  readonly championVersion: string | null;
  /** The heuristic's id (eviction: `lru`). */
  readonly heuristicId: string;
  /** max(champion, heuristic). */
  readonly baseline: number;
  readonly margin: number;
  readonly promote: boolean;
  /** One sentence: why it was or was not promoted. */
  readonly reason: string;
  /** Epoch ms. */
  readonly evaluatedAtMs: number;
}

export interface PromotionDecision {
  readonly promote: boolean;
  readonly baseline: number;
  /** candidate − baseline. */
  readonly gain: number;
  readonly reason: string;
}

/**
 * Promote iff candidate − max(champion, heuristic) ≥ margin and > 0 (so margin 0 still needs a
 * strict improvement). Non-finite scores are never promoted.
 */
export function decidePromotion(s: EvaluationScores, margin: number): PromotionDecision {
  const baseline = Math.max(s.heuristic, s.champion ?? -Infinity);
  const gain = s.candidate - baseline;
  const against = s.champion !== null && s.champion >= s.heuristic ? 'champion' : 'heuristic';
  const fmt = (v: number) => v.toFixed(4);
  if (!Number.isFinite(s.candidate) || !Number.isFinite(baseline)) {
    return { promote: false, baseline, gain, reason: 'a score is not finite' };
  }
  const promote = gain >= margin && gain > 0;
  const reason = promote
    ? `${s.metric} ${fmt(s.candidate)} beats the ${against} (${fmt(baseline)}) by ${fmt(gain)} ≥ margin ${margin}`
    : `${s.metric} ${fmt(s.candidate)} does not beat the ${against} (${fmt(baseline)}) by the margin ${margin} (gain ${fmt(gain)})`;
  return { promote, baseline, gain, reason };
}

/** The evaluation record of a decision. */
export function evaluationOf(
  scores: EvaluationScores,
  margin: number,
  context: { championVersion: string | null; heuristicId: string; evaluatedAtMs: number },
): Evaluation {
  const d = decidePromotion(scores, margin);
  return {
    ...scores,
    ...context,
    baseline: d.baseline,
    margin,
    promote: d.promote,
    reason: d.reason,
  };
}

/** `version` becomes the challenger (the previous challenger is only forgotten as an alias). */
export function withChallenger(a: Aliases, version: string): Aliases {
  return { ...a, challenger: version };
}

/**
 * `version` becomes the champion; the previous champion goes on the history (bounded), and
 * `version` stops being the challenger. Promoting the champion changes nothing.
 */
export function promoted(a: Aliases, version: string): Aliases {
  if (a.champion === version) return a;
  const history = a.champion === null ? [...a.history] : [...a.history, a.champion];
  return {
    champion: version,
    challenger: a.challenger === version ? null : a.challenger,
    history: history.slice(-HISTORY_LIMIT),
  };
}

/** The previous champion comes back; undefined when there is none. */
export function rolledBack(a: Aliases): Aliases | undefined {
  const previous = a.history[a.history.length - 1];
  if (previous === undefined) return undefined;
  return { ...a, champion: previous, history: a.history.slice(0, -1) };
}

/** Reads stored aliases leniently (a hand-edited or older record loses only what is malformed). */
export function parseAliases(v: unknown): Aliases {
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const str = (x: unknown) => (typeof x === 'string' && x !== '' ? x : null);
  const history = Array.isArray(o['history'])
    ? o['history'].filter((x): x is string => typeof x === 'string' && x !== '')
    : [];
  return {
    champion: str(o['champion']),
    challenger: str(o['challenger']),
    history: history.slice(-HISTORY_LIMIT),
  };
}

/** `<target>@<n>`: the target and the sequence number of a version name (undefined if not so). */
export function parseVersion(version: string): { target: string; seq: number } | undefined {
  const at = version.lastIndexOf('@');
  if (at <= 0) return undefined;
  const seq = Number(version.slice(at + 1));
  if (!Number.isInteger(seq) || seq < 0) return undefined;
  return { target: version.slice(0, at), seq };
}
