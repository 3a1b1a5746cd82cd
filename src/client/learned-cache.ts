/**
 * @module client/learned-cache
 * `LearnedCache`: an in-process cache for Node services with a byte budget that evicts with the
 * engine's published eviction model. It keeps, per key, the statistics the engine's feature store
 * keeps (accesses, hits, misses, first seen, last access, the 4 most recent gaps, size), maps them
 * with `keyStatsFromStore` and scores them with the same `scoreKey` the simulator's
 * `LearnedPolicy` and the engine's ranker use: on eviction it samples `sampleSize` resident keys
 * (LRB / Redis-style sampling) and evicts the one with the highest Q(evict).
 *
 * Without a model (none given yet, or the one given was refused) it evicts its own least recently
 * used key, and `stats().mode` says `lru`. Load a model with {@link LearnedCache.fromModelDir} /
 * {@link LearnedCache.loadModelDir} (a version directory the engine saved, or fetched from the
 * `prescient-models` object store) or pass a decoded model to {@link LearnedCache.setModel}.
 */
import { keyStatsFromStore } from '../learn/eviction/features.js';
import { ScoreScratch, scoreKey } from '../learn/eviction/scorer.js';
import type { LoadedEvictionModel } from '../learn/model-files.js';
import { loadModelDir } from '../state/model-store.js';

export type LearnedCacheMode = 'model' | 'lru';

export interface LearnedCacheOptions<V> {
  /** Budget for the values' sizes, in bytes; never exceeded. */
  readonly maxBytes: number;
  /** Bytes a value takes; default: byteLength of strings / buffers / typed arrays, else JSON length. */
  readonly sizeOf?: (value: V, key: string) => number;
  /** Resident keys sampled per eviction when a model is loaded; default 16. */
  readonly sampleSize?: number;
  /** The model to evict with; default none (LRU). */
  readonly model?: LoadedEvictionModel;
  /** Clock in epoch ms; default Date.now. */
  readonly now?: () => number;
  /** Seed of the candidate sampling; default 1. */
  readonly seed?: number;
}

export interface LearnedCacheStats {
  readonly mode: LearnedCacheMode;
  /** Version of the model evicting (`<node>@<retrains>`), null in `lru` mode. */
  readonly modelVersion: string | null;
  readonly entries: number;
  readonly usedBytes: number;
  readonly maxBytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
  /** Evictions decided by the model / by LRU. */
  readonly modelEvictions: number;
  readonly lruEvictions: number;
  /** `set` calls refused because the value alone exceeds the budget. */
  readonly rejected: number;
}

/** One key's statistics, the shape of the engine's `KeyFeatures` (what `keyStatsFromStore` reads). */
class Entry<V> {
  accesses = 1;
  hits = 0;
  misses = 0;
  readonly gapsMs: number[] = [];
  /** Index in the sampling array. */
  slot = -1;
  constructor(
    readonly key: string,
    public value: V,
    public sizeBytes: number,
    readonly firstSeenMs: number,
    public lastAccessMs: number,
  ) {}

  touch(nowMs: number): void {
    this.gapsMs.unshift(Math.max(0, nowMs - this.lastAccessMs));
    if (this.gapsMs.length > 4) this.gapsMs.pop();
    this.lastAccessMs = nowMs;
    this.accesses++;
  }
}

function defaultSizeOf(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (value instanceof Uint8Array || ArrayBuffer.isView(value)) return value.byteLength;
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}

export class LearnedCache<V = unknown> {
  /** Insertion order = recency order: the first key is the least recently used. */
  private readonly map = new Map<string, Entry<V>>();
  private readonly slots: Entry<V>[] = [];
  private readonly scratch = new ScoreScratch();
  private readonly sizeOf: (value: V, key: string) => number;
  private readonly sampleSize: number;
  private readonly now: () => number;
  private model: LoadedEvictionModel | undefined;
  private rng: number;
  private used = 0;
  private counts = {
    hits: 0,
    misses: 0,
    evictions: 0,
    modelEvictions: 0,
    lruEvictions: 0,
    rejected: 0,
  };

  constructor(private readonly o: LearnedCacheOptions<V>) {
    if (!(o.maxBytes > 0)) throw new RangeError('LearnedCache: maxBytes must be positive');
    this.sizeOf = o.sizeOf ?? defaultSizeOf;
    this.sampleSize = Math.max(1, o.sampleSize ?? 16);
    this.now = o.now ?? Date.now;
    this.model = o.model;
    this.rng = (o.seed ?? 1) >>> 0 || 1;
  }

  /** A cache evicting with the model saved in `dir` (throws PRESCIENT_E_MODEL_INVALID if bad). */
  static async fromModelDir<V>(
    dir: string,
    o: Omit<LearnedCacheOptions<V>, 'model'>,
  ): Promise<LearnedCache<V>> {
    return new LearnedCache<V>({ ...o, model: await loadModelDir(dir) });
  }

  /** Switches to the model saved in `dir`; on a refused model keeps the current mode and throws. */
  async loadModelDir(dir: string): Promise<void> {
    this.setModel(await loadModelDir(dir));
  }

  /** Evict with `model` from now on; undefined returns to LRU. */
  setModel(model: LoadedEvictionModel | undefined): void {
    this.model = model;
  }

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) {
      this.counts.misses++;
      return undefined;
    }
    this.counts.hits++;
    e.hits++;
    e.touch(this.now());
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Stores `value`; false (and nothing stored) when it alone exceeds the byte budget. */
  set(key: string, value: V): boolean {
    const size = this.sizeOf(value, key);
    if (!(size >= 0) || size > this.o.maxBytes) {
      this.counts.rejected++;
      this.delete(key);
      return false;
    }
    const nowMs = this.now();
    let e = this.map.get(key);
    if (e !== undefined) {
      this.used += size - e.sizeBytes;
      e.value = value;
      e.sizeBytes = size;
      e.touch(nowMs);
      this.map.delete(key);
      this.map.set(key, e);
    } else {
      e = new Entry(key, value, size, nowMs, nowMs);
      e.misses = 1;
      this.used += size;
      this.map.set(key, e);
      e.slot = this.slots.length;
      this.slots.push(e);
    }
    while (this.used > this.o.maxBytes) {
      this.remove(this.chooseVictim(e));
      this.counts.evictions++;
    }
    return true;
  }

  delete(key: string): boolean {
    const e = this.map.get(key);
    if (e === undefined) return false;
    this.remove(e);
    return true;
  }

  stats(): LearnedCacheStats {
    return {
      mode: this.model ? 'model' : 'lru',
      modelVersion: this.model?.version ?? null,
      entries: this.map.size,
      usedBytes: this.used,
      maxBytes: this.o.maxBytes,
      evictions: this.counts.evictions,
      hits: this.counts.hits,
      misses: this.counts.misses,
      modelEvictions: this.counts.modelEvictions,
      lruEvictions: this.counts.lruEvictions,
      rejected: this.counts.rejected,
    };
  }

  /** The victim: highest Q(evict) among sampled keys, or the LRU key; never `keep` if avoidable. */
  private chooseVictim(keep: Entry<V>): Entry<V> {
    const model = this.model;
    const n = this.slots.length;
    let best: Entry<V> | undefined;
    let bestQ = -Infinity;
    if (model !== undefined && n > 1) {
      const clock = {
        nowTick: this.now(),
        timeScale: model.timeScaleMs,
        missingGapT: model.missingGapT,
      };
      // Few enough keys: score them all; else a uniform sample (with replacement).
      const all = n - 1 <= this.sampleSize;
      const k = all ? n : this.sampleSize;
      for (let i = 0; i < k; i++) {
        const c = all ? this.slots[i]! : this.slots[this.nextInt(n)]!;
        if (c === keep) continue;
        const q = scoreKey(
          model.model,
          keyStatsFromStore(c, model.timeScaleMs),
          clock,
          this.scratch,
        );
        if (best === undefined || q > bestQ) {
          best = c;
          bestQ = q;
        }
      }
    }
    if (best === undefined || !Number.isFinite(bestQ)) {
      // No model, every sample was the new key, or the model scored NaN: the LRU key.
      this.counts.lruEvictions++;
      for (const e of this.map.values()) if (e !== keep) return e;
      return keep;
    }
    this.counts.modelEvictions++;
    return best;
  }

  private remove(e: Entry<V>): void {
    this.map.delete(e.key);
    const last = this.slots.pop()!;
    if (last !== e) {
      this.slots[e.slot] = last;
      last.slot = e.slot;
    }
    e.slot = -1;
    this.used -= e.sizeBytes;
  }

  /** xorshift32: a uniform integer in [0, n). */
  private nextInt(n: number): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng % n;
  }
}
