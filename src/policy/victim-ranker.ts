/**
 * @module policy/victim-ranker
 * The contract of engine-side eviction policies: given a node's resident keys (least recently
 * used first, with their online features), rank the ones to evict first. Each implementation
 * is one file; the registry names them; `test/policy/victim-ranker.contract.test.ts` is the
 * shared contract every one passes.
 */
import type { EvictionDecision } from '../decisions.js';
import type { KeyFeatures } from '../features/types.js';
import type { EvictionModel } from '../learn/eviction/scorer.js';
import { Registry } from '../registry.js';

export interface VictimRanker {
  readonly id: string;
  /** Model identity published with the decisions. */
  readonly model: { readonly id: string; readonly version: string };
  /**
   * Ranks candidates (resident keys, least recently used first) and returns at most `limit`
   * decisions, highest score (evict first) first. Never mutates the candidates.
   */
  rank(candidates: readonly KeyFeatures[], limit: number): EvictionDecision[];
  /**
   * Model identity of one node's decisions, for rankers keeping one model per node (the
   * publisher prefers it to {@link model}).
   */
  modelFor?(node: string): { readonly id: string; readonly version: string };
}

/** A node's current learned eviction model, as a ranker scores the feature store's keys with it. */
export interface NodeEvictionModel {
  readonly model: EvictionModel;
  /** The model's time scale T in event-time milliseconds (feature times are divided by it). */
  readonly timeScaleMs: number;
  /** Value of a gap not known yet, in units of T (the shadow policy's memory window). */
  readonly missingGapT: number;
  /** `<node>@<retrains>`. */
  readonly version: string;
}

/** Where a ranker finds each node's current model (the engine's trainer); undefined = none yet. */
export interface NodeEvictionModels {
  current(node: string): NodeEvictionModel | undefined;
}

export interface VictimRankerOptions {
  readonly models?: NodeEvictionModels;
}

export const victimRankers = new Registry<VictimRanker, VictimRankerOptions | undefined>(
  'victim ranker',
);
