/**
 * @module policy/victim-ranker
 * The contract of engine-side eviction policies: given a node's resident keys (least recently
 * used first, with their online features), rank the ones to evict first. Each implementation
 * is one file; the registry names them; `test/policy/victim-ranker.contract.test.ts` is the
 * shared contract every one passes.
 */
import type { EvictionDecision } from '../decisions.js';
import type { KeyFeatures } from '../features/types.js';
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
}

export const victimRankers = new Registry<VictimRanker>('victim ranker');
