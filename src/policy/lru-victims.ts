/**
 * @module policy/lru-victims
 * The heuristic floor: victims in least-recently-used order, scored by idle time. This is what
 * caches have always done (Mattson et al., "Evaluation techniques for storage hierarchies",
 * IBM Systems Journal 1970, for LRU's stack property); Prescient publishes it, with reason code
 * `HEURISTIC`, wherever no learned policy is available yet.
 */
import type { EvictionDecision, ReasonCode } from '../decisions.js';
import type { KeyFeatures } from '../features/types.js';
import { victimRankers, type VictimRanker } from './victim-ranker.js';

/**
 * Candidates (least recently used first) scored by idle seconds, highest first. `describe` writes
 * the sentence; the learned ranker reuses this with reason `FALLBACK` before its model exists.
 */
export function lruOrder(
  candidates: readonly KeyFeatures[],
  limit: number,
  reason: ReasonCode,
  describe: (idleSec: number, position: number) => string,
): EvictionDecision[] {
  const out: EvictionDecision[] = [];
  for (const k of candidates) {
    if (out.length >= limit) break;
    const idleSec = Math.max(0, (k.asOfMs - k.lastAccessMs) / 1000);
    out.push({
      key: k.key,
      score: idleSec,
      reason,
      text: describe(idleSec, out.length + 1),
      // The score is idle time alone, so idle time carries all of it.
      attributions: { idleSec },
      inputs: {
        idleSec,
        accesses: k.accesses,
        hits: k.hits,
        misses: k.misses,
        ...(k.sizeBytes === null ? {} : { sizeBytes: k.sizeBytes }),
      },
    });
  }
  // Candidates arrive least recently used first; equal idle times keep that order (stable sort).
  return out.sort((a, b) => b.score - a.score);
}

export class LruVictimRanker implements VictimRanker {
  readonly id = 'lru';
  readonly model = { id: 'lru', version: 'heuristic' };

  rank(candidates: readonly KeyFeatures[], limit: number): EvictionDecision[] {
    return lruOrder(
      candidates,
      limit,
      'HEURISTIC',
      (idleSec, position) =>
        `idle ${idleSec.toFixed(1)} s: least recently used resident key #${position}`,
    );
  }
}

victimRankers.register('lru', () => new LruVictimRanker());
