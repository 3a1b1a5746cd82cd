/**
 * @module policy/learned-victims
 * `LearnedVictimRanker` (id `learned`): ranks a node's resident keys by the Q(evict) of the node's
 * learned eviction model — the contextual-bandit agent of `LearnedPolicy` (after LRB, Song et al.
 * NSDI'20, and LeCaR / CACHEUS ghost regret), trained by the engine on a shadow cache that replays
 * the node's access telemetry. Candidates are the feature store's least recently used resident
 * keys, mapped to the model's statistics with `keyStatsFromStore` and scored with the same
 * `scoreKey` the simulator policy and the cache-side adapter use; each decision carries
 * integrated-gradient attributions (`explainKey`) and reason `MODEL`.
 *
 * Before a node's model has trained, the decisions are the LRU order, scored by idle time, with
 * reason `FALLBACK` (the intended decider is not available yet).
 */
import type { EvictionDecision } from '../decisions.js';
import type { KeyFeatures } from '../features/types.js';
import { explainKey } from '../learn/eviction/explain.js';
import { keyStatsFromStore, type FeatureClock, type KeyStats } from '../learn/eviction/features.js';
import { ScoreScratch, scoreKey } from '../learn/eviction/scorer.js';
import {
  victimRankers,
  type NodeEvictionModel,
  type NodeEvictionModels,
  type VictimRanker,
  type VictimRankerOptions,
} from './victim-ranker.js';
import { lruOrder } from './lru-victims.js';

export class LearnedVictimRanker implements VictimRanker {
  readonly id = 'learned';
  readonly model = { id: 'learned', version: 'untrained' };
  private readonly scratch = new ScoreScratch();

  constructor(private readonly models: NodeEvictionModels | undefined) {}

  modelFor(node: string): { id: string; version: string } {
    return { id: 'learned', version: this.models?.current(node)?.version ?? `${node}@0` };
  }

  rank(candidates: readonly KeyFeatures[], limit: number): EvictionDecision[] {
    const first = candidates[0];
    if (first === undefined || limit <= 0) return [];
    const current = this.models?.current(first.node);
    return current === undefined
      ? fallback(candidates, limit)
      : this.byModel(current, candidates, limit);
  }

  private byModel(
    m: NodeEvictionModel,
    candidates: readonly KeyFeatures[],
    limit: number,
  ): EvictionDecision[] {
    const clock: FeatureClock = {
      nowTick: candidates[0]!.asOfMs,
      timeScale: m.timeScaleMs,
      missingGapT: m.missingGapT,
    };
    const scored: { k: KeyFeatures; stats: KeyStats; score: number; lru: number }[] = [];
    candidates.forEach((k, lru) => {
      const stats = keyStatsFromStore(k, m.timeScaleMs);
      const score = scoreKey(m.model, stats, clock, this.scratch);
      // A non-finite score (a model gone bad) ranks last rather than poisoning the order.
      scored.push({ k, stats, score: Number.isFinite(score) ? score : -Infinity, lru });
    });
    // Highest Q(evict) first; ties keep the LRU order.
    scored.sort((a, b) => b.score - a.score || a.lru - b.lru);
    const out: EvictionDecision[] = [];
    for (const s of scored) {
      if (out.length >= limit) break;
      if (s.score === -Infinity) continue;
      const d = explainKey(m.model, s.k.key, s.stats, clock);
      out.push({
        ...d,
        text: `${d.text} (model ${m.version}, LRU position ${s.lru + 1})`,
        inputs: { ...d.inputs, accesses: s.k.accesses, hits: s.k.hits, misses: s.k.misses },
      });
    }
    return out.length > 0 ? out : fallback(candidates, limit);
  }
}

/** LRU order scored by idle seconds, reason `FALLBACK`: no model for this node yet. */
function fallback(candidates: readonly KeyFeatures[], limit: number): EvictionDecision[] {
  return lruOrder(
    candidates,
    limit,
    'FALLBACK',
    (idleSec, position) =>
      `no learned model for this node yet: least recently used resident key #${position}, idle ${idleSec.toFixed(1)} s`,
  );
}

victimRankers.register(
  'learned',
  (o: VictimRankerOptions | undefined) => new LearnedVictimRanker(o?.models),
);
