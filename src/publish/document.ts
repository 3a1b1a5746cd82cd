/**
 * @module publish/document
 * The versioned policy documents published per target (KV bucket `prescient-policy`, keys
 * `eviction.<node>` and `weights.<pool>`), and the pure functions that build them from
 * decisions. Shapes are documented in docs/protocol.md; caches and proxies rely on them.
 */
import type { EvictionDecision, ReasonCode, WeightDecision } from '../decisions.js';
import type { ForecastPoint, ForecastView, SpikeFlag } from '../forecast/service.js';
import type { HotKeysRecord } from '../features/hot-key-history.js';
import type { OverrideRef } from '../control/overrides.js';

export type PolicyKind = 'eviction' | 'weights' | 'forecast';

export interface ReasonSummary {
  readonly code: ReasonCode;
  /** Entries carrying this reason code. */
  readonly entries: number;
  readonly text: string;
}

export interface PolicyDocument<E = unknown> {
  readonly kind: PolicyKind;
  /** Node (eviction) or pool (weights). */
  readonly target: string;
  /** Increases by one with every document published for this target, across restarts. */
  readonly version: number;
  /** Epoch ms the engine produced the document. */
  readonly generatedAt: number;
  /** After generatedAt + ttlMs a client treats the document as stale and falls back. */
  readonly ttlMs: number;
  readonly model: { readonly id: string; readonly version: string };
  readonly entries: readonly E[];
  readonly reasons: readonly ReasonSummary[];
}

export interface EvictionEntry extends EvictionDecision {
  /** 1 = evict first. */
  readonly rank: number;
  /** Id of the override that decided this entry (reason `OVERRIDE`). */
  readonly override?: string;
}

export interface WeightEntry extends WeightDecision {
  /** HAProxy `set server … weight N` value, 0..256, proportional to `weight` (the largest gets 256). */
  readonly haproxyWeight: number;
  readonly override?: string;
}

/** What operators changed in an eviction or weights document (control/overrides.ts). */
export interface OverrideFields<D> {
  /** Active overrides of this target (empty when none). */
  readonly overrides: readonly OverrideRef[];
  /** Share (0..100) of the model's decisions applied: 100 unless a freeze / enforce override. */
  readonly enforcement: number;
  /** The model's would-be decisions when something else was published (shadow mode), else null. */
  readonly shadow: {
    readonly model: { id: string; version: string };
    readonly entries: readonly D[];
  } | null;
}

/** No override: what every document without one carries. */
export const NO_OVERRIDES: OverrideFields<never> = {
  overrides: [],
  enforcement: 100,
  shadow: null,
};

export interface ForecastEntry extends ForecastPoint {
  readonly reason: ReasonCode;
}

/** `forecast.<series>`: requests per second for the next steps, with the 80 % interval. */
export interface ForecastDocument extends PolicyDocument<ForecastEntry> {
  readonly stepSec: number;
  readonly unit: 'requests/s';
  /** Start (epoch ms) of the last complete step the forecast starts from. */
  readonly originMs: number;
  /** Set when the last complete step fell outside the interval forecast for it. */
  readonly spike: SpikeFlag | null;
  /**
   * Cache nodes only: the keys that were hot the last time the time of day of the forecast peak
   * came around, to load before the peak. Null when no such record exists yet.
   */
  readonly prewarm: {
    readonly peakTs: number;
    readonly recordedAtMs: number;
    readonly keys: HotKeysRecord['keys'];
  } | null;
}

export type EvictionDocument = PolicyDocument<EvictionEntry> & OverrideFields<EvictionDecision>;
export type WeightsDocument = PolicyDocument<WeightEntry> & OverrideFields<WeightDecision>;

/** KV key of a target's document. */
export function policyKey(kind: PolicyKind, target: string): string {
  return `${kind}.${target}`;
}

const REASON_TEXT: Record<ReasonCode, string> = {
  MODEL: 'decided by the learned model',
  HEURISTIC: 'decided by the heuristic policy (no learned model serves this target yet)',
  OVERRIDE: 'decided by an operator override',
  FALLBACK: 'safe default: the intended decider was unavailable',
};

function summarise(
  entries: readonly { reason: ReasonCode }[],
  overrides: readonly OverrideRef[] = [],
): ReasonSummary[] {
  const counts = new Map<ReasonCode, number>();
  for (const e of entries) counts.set(e.reason, (counts.get(e.reason) ?? 0) + 1);
  // An active override shows even when it changed no entry (a pin withholding keys).
  if (overrides.length > 0 && !counts.has('OVERRIDE')) counts.set('OVERRIDE', 0);
  return [...counts].map(([code, n]) => ({
    code,
    entries: n,
    text:
      code === 'OVERRIDE' && overrides.length > 0
        ? `${REASON_TEXT.OVERRIDE}: ${overrides.map((o) => `${o.action} ${o.id} by ${o.actor} (${o.reason})`).join('; ')}`
        : REASON_TEXT[code],
  }));
}

interface Header {
  readonly target: string;
  readonly version: number;
  readonly generatedAt: number;
  readonly ttlMs: number;
  readonly model: { readonly id: string; readonly version: string };
}

export function evictionDocument(
  h: Header,
  decisions: readonly (EvictionDecision & { override?: string })[],
  o: OverrideFields<EvictionDecision> = NO_OVERRIDES,
): EvictionDocument {
  const entries = decisions.map((d, i) => ({ ...d, rank: i + 1 }));
  return { kind: 'eviction', ...h, entries, reasons: summarise(entries, o.overrides), ...o };
}

/** HAProxy weights are integers 0..256; the largest share maps to 256, any non-zero share to ≥ 1. */
export function haproxyWeights(shares: readonly number[]): number[] {
  const max = Math.max(0, ...shares);
  return shares.map((w) => (w <= 0 || max <= 0 ? 0 : Math.max(1, Math.round((256 * w) / max))));
}

export function forecastDocument(
  h: Header,
  view: ForecastView,
  prewarm: ForecastDocument['prewarm'],
): ForecastDocument {
  const entries = view.points.map((p) => ({ ...p, reason: view.reason }));
  const reasons: ReasonSummary[] = [
    { code: view.reason, entries: entries.length, text: view.text },
  ];
  return {
    kind: 'forecast',
    ...h,
    entries,
    reasons,
    stepSec: view.stepSec,
    unit: view.unit,
    originMs: view.originMs,
    spike: view.spike,
    prewarm,
  };
}

export function weightsDocument(
  h: Header,
  decisions: readonly (WeightDecision & { override?: string })[],
  o: OverrideFields<WeightDecision> = NO_OVERRIDES,
): WeightsDocument {
  const hw = haproxyWeights(decisions.map((d) => d.weight));
  const entries = decisions.map((d, i) => ({ ...d, haproxyWeight: hw[i]! }));
  return { kind: 'weights', ...h, entries, reasons: summarise(entries, o.overrides), ...o };
}
