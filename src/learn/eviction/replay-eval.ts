/**
 * @module learn/eviction/replay-eval
 * Shadow evaluation of eviction models on recent requests, for the model registry's
 * champion / challenger decision. Pure: no tfjs, no I/O, no clock.
 *
 * The node's recent requests (the trainer's ring of requests already applied, oldest first) are
 * replayed into caches of the shadow's capacity, all starting empty: one evicting with the
 * challenger, one with the champion (when there is one) and plain LRU (the heuristic floor).
 * A model-driven cache evicts, on each miss in a full cache, the candidate with the highest
 * Q(evict) among `sampleSize` residents sampled uniformly (the candidate sampling of LRB, Song et
 * al. NSDI'20, which the shadow's main cache and the SDK's `LearnedCache` use too), with the same
 * seed for both models so they see the same samples. Hit ratios count the requests after a
 * warm-up of max(capacity, `warmupFraction` of the window), the same for all three. Per key, the statistics the models read (gaps, decayed counts, accesses) are kept for
 * every key seen in the window, resident or not, as the feature store keeps them in serving.
 *
 * Time is the request count, T = capacity (the shadow's clock), so a model means here what it
 * meant while it was trained. Nothing after the window's last request is read.
 */
import { LruPolicy } from '../../policy/lru.js';
import { newKeyStats, recordAccess, type KeyStats } from './features.js';
import { Rng } from './rng.js';
import { ScoreScratch, scoreKey, type EvictionModel } from './scorer.js';

export interface ReplayEvalOptions {
  /** Cache size in keys (the node's shadow capacity). */
  readonly capacity: number;
  readonly candidate: EvictionModel;
  readonly champion?: EvictionModel | undefined;
  /** Unknown gaps count as this many T (the candidate's memory window). */
  readonly missingGapT: number;
  /** The champion's, when it differs. Default `missingGapT`. */
  readonly championMissingGapT?: number;
  /** Residents sampled per eviction. Default 16. */
  readonly sampleSize?: number;
  /** Share of the window replayed before hits are counted (at least `capacity` requests). Default 0.2. */
  readonly warmupFraction?: number;
  readonly seed?: number;
}

export interface ReplayEvaluation {
  /** Requests replayed / of which counted (after the warm-up). */
  readonly requests: number;
  readonly countedRequests: number;
  readonly capacity: number;
  /** Hit ratios over the counted requests. */
  readonly candidate: number;
  readonly champion: number | null;
  readonly heuristic: number;
  /** Scores that were NaN or ±∞ (a model that produces any is refused). */
  readonly nonFiniteScores: { readonly candidate: number; readonly champion: number };
}

class Slot {
  slot = -1;
  constructor(readonly stats: KeyStats) {}
}

/** A cache of `capacity` keys evicting the sampled resident a fixed model scores highest. */
export class ModelDrivenCache {
  private readonly keys = new Map<string, Slot>();
  private readonly resident: Slot[] = [];
  private readonly scratch = new ScoreScratch();
  private readonly rng: Rng;
  private readonly clock: { nowTick: number; timeScale: number; missingGapT: number };
  /** Scores that were not finite (ranked as "evict last"). */
  nonFinite = 0;

  constructor(
    private readonly model: EvictionModel,
    private readonly capacity: number,
    missingGapT: number,
    private readonly sampleSize = 16,
    seed = 1,
  ) {
    this.rng = new Rng(seed);
    this.clock = { nowTick: 0, timeScale: Math.max(1, capacity), missingGapT };
  }

  /** One request at `tick` (non-decreasing); true on a hit. */
  access(key: string, tick: number): boolean {
    this.clock.nowTick = tick;
    let e = this.keys.get(key);
    if (e !== undefined) {
      recordAccess(e.stats, tick, 1, this.clock.timeScale);
      if (e.slot >= 0) return true;
    } else {
      e = new Slot(newKeyStats(tick, 1));
      this.keys.set(key, e);
    }
    if (this.resident.length >= this.capacity) this.evict();
    e.slot = this.resident.length;
    this.resident.push(e);
    return false;
  }

  private evict(): void {
    const n = this.resident.length;
    const k = Math.min(this.sampleSize, n);
    let best: Slot | undefined;
    let bestQ = -Infinity;
    let oldest: Slot | undefined;
    for (let i = 0; i < k; i++) {
      const c = this.resident[k === n ? i : this.rng.int(n)]!;
      const q = scoreKey(this.model, c.stats, this.clock, this.scratch);
      if (!Number.isFinite(q)) this.nonFinite++;
      else if (q > bestQ) {
        bestQ = q;
        best = c;
      }
      if (oldest === undefined || c.stats.lastTick < oldest.stats.lastTick) oldest = c;
    }
    // Every sampled score non-finite: the least recently used of the sample goes.
    const victim = best ?? oldest!;
    const last = this.resident.pop()!;
    if (last !== victim) {
      this.resident[victim.slot] = last;
      last.slot = victim.slot;
    }
    victim.slot = -1;
  }
}

/**
 * Replays a window of requests into the challenger's, the champion's and an LRU cache of the same
 * capacity, in as many {@link feed} calls as the caller likes (the engine yields to the event
 * loop between chunks), and reports their hit ratios after the warm-up.
 */
export class ReplayEvaluator {
  private readonly capacity: number;
  private readonly cand: ModelDrivenCache;
  private readonly champ: ModelDrivenCache | undefined;
  private readonly lru: LruPolicy;
  /** Requests replayed before hits count: max(capacity, warmupFraction × window). */
  readonly warmup: number;
  private t = 0;
  private hitsCand = 0;
  private hitsChamp = 0;
  private hitsLru = 0;

  /** `requests`: the window's length (the warm-up is a share of it). */
  constructor(
    readonly requests: number,
    o: ReplayEvalOptions,
  ) {
    const capacity = Math.max(1, Math.floor(o.capacity));
    const sampleSize = o.sampleSize ?? 16;
    const seed = o.seed ?? 1;
    this.capacity = capacity;
    this.cand = new ModelDrivenCache(o.candidate, capacity, o.missingGapT, sampleSize, seed);
    this.champ =
      o.champion === undefined
        ? undefined
        : new ModelDrivenCache(
            o.champion,
            capacity,
            o.championMissingGapT ?? o.missingGapT,
            sampleSize,
            seed,
          );
    this.lru = new LruPolicy({ capacity, unit: 'objects' });
    const fraction = Math.min(0.9, Math.max(0, o.warmupFraction ?? 0.2));
    this.warmup = Math.min(requests, Math.max(capacity, Math.floor(requests * fraction)));
  }

  /** Replays `keys[from..to)`, the next requests of the window. */
  feed(keys: readonly string[], from = 0, to = keys.length): void {
    for (let i = from; i < to; i++) {
      const key = keys[i]!;
      const t = this.t++;
      const counted = t >= this.warmup;
      if (this.cand.access(key, t) && counted) this.hitsCand++;
      if (this.champ !== undefined && this.champ.access(key, t) && counted) this.hitsChamp++;
      if (this.lru.access({ key, sizeBytes: 1, vtime: t }) && counted) this.hitsLru++;
    }
  }

  result(): ReplayEvaluation {
    const counted = Math.max(0, this.t - this.warmup);
    const ratio = (h: number) => (counted > 0 ? h / counted : 0);
    return {
      requests: this.t,
      countedRequests: counted,
      capacity: this.capacity,
      candidate: ratio(this.hitsCand),
      champion: this.champ === undefined ? null : ratio(this.hitsChamp),
      heuristic: ratio(this.hitsLru),
      nonFiniteScores: { candidate: this.cand.nonFinite, champion: this.champ?.nonFinite ?? 0 },
    };
  }
}

/** {@link ReplayEvaluator} over a whole window in one call. */
export function replayEvaluate(keys: readonly string[], o: ReplayEvalOptions): ReplayEvaluation {
  const e = new ReplayEvaluator(keys.length, o);
  e.feed(keys);
  return e.result();
}
