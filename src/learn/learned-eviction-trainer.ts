/**
 * @module learn/learned-eviction-trainer
 * Keeps one learned eviction policy per cache node, trained from the node's access telemetry.
 *
 * Each node gets a *shadow cache*: a {@link LearnedPolicy} of the node's size (its resident key
 * count when the shadow is created, or `PRESCIENT_EVICTION_SHADOW_CAPACITY`) that replays the
 * node's `get`/`set` events in order. The policy labels its own decisions from the replay (ghost
 * hits) and retrains itself every `retrainEvents` requests or more, so the model follows the
 * telemetry; a plain LRU of the same size replays the same requests as the floor the shadow's hit
 * ratio is reported against (in each candidate's metadata).
 *
 * Serving is not decided here: the shadow's own model keeps retraining online (it needs it for its
 * decisions and labels), and the model registry takes candidates from it — {@link latest} (the last
 * online model) and {@link retrainNow} (a retrain on demand or on schedule) — and evaluates them on
 * {@link recentRequests}, a bounded ring of the node's last requests already replayed (never one
 * not yet applied), before any is served.
 *
 * Hot path: {@link enqueue} only appends a reference to the decoded batch (no copy, no per-event
 * work); {@link drain} replays buffered events within a time budget, off the ingest path (the
 * engine calls it once per publish tick). A node whose buffer is full drops whole batches and
 * counts them: the model then learns from a sample of time windows rather than slowing ingest.
 *
 * Large nodes: a shadow holds at most `maxShadowKeys` keys. For a node larger than that it
 * follows a spatial sample of the keys (SHARDS, Waldspurger et al., FAST'15): a key is replayed iff
 * hash(key) < rate·2³², rate = maxShadowKeys / node size, and the shadow's capacity is scaled by
 * the same rate. Every request of a sampled key is kept, so its gaps and counts are exact, and the
 * shadow's hit ratio tracks the full cache's; memory and replay time shrink by the rate.
 *
 * Times: the shadow's clock is the request count (T = capacity requests, as in the simulator); the
 * store's features are in event-time ms, so each model is published with T in ms = capacity ×
 * the node's mean ms between requests.
 */
import type { AccessEvent } from '../telemetry/events.js';
import type { NodeEvictionModel, NodeEvictionModels } from '../policy/victim-ranker.js';
import { LruPolicy } from '../policy/lru.js';
import { fnv1a32 } from '../random.js';
import {
  DEFAULT_LEARNED_SETTINGS,
  LearnedPolicy,
  type LearnedPolicySettings,
} from './eviction/learned-policy.js';
import { BOOST_FEATURE_NAMES } from './eviction/boosted-trees.js';
import { AGENT_FEATURE_NAMES } from './eviction/features.js';
import type { EvictionModel } from './eviction/scorer.js';
import { tableCoordinates } from './eviction/victim-table.js';
import type { TrainedEvictionModel } from './model-files.js';
import type { Tf } from './tf.js';

/** The names of what a model's agent reads, each once. */
function agentInputs(model: EvictionModel): string[] {
  const t = model.victimTable;
  if (t === undefined) return [...AGENT_FEATURE_NAMES];
  return [
    ...new Set([...tableCoordinates(t), ...(t.boost === undefined ? [] : BOOST_FEATURE_NAMES)]),
  ];
}

export interface LearnedEvictionTrainerOptions {
  readonly tf: Tf;
  /** Shadow cache size in keys; 0 = `residentKeys(node)` when the node's shadow is created. */
  readonly shadowCapacity: number;
  /** The node's resident key count (the engine's feature store); needed when shadowCapacity is 0. */
  readonly residentKeys?: (node: string) => number;
  /** Largest shadow in keys; bigger nodes are spatially sampled down to it. Default 65536. */
  readonly maxShadowKeys?: number;
  /** Requests between retrains (LearnedPolicy `retrainMinRequests`). Default 20000. */
  readonly retrainEvents?: number;
  /** Buffered events per node at most; batches beyond are dropped and counted. Default 100000. */
  readonly maxPendingEvents?: number;
  /**
   * Recent replayed requests kept per node for shadow evaluation (a ring of at least this many,
   * and at least 4 × the shadow's capacity, so a window always holds several cache turnovers).
   * Default 50000.
   */
  readonly evalRequests?: number;
  readonly now?: () => number;
  readonly seed?: number;
  /** Overrides of the shadow policy's settings (tests train on small traces). */
  readonly policySettings?: Partial<LearnedPolicySettings>;
}

/** Smallest shadow: below it the time scale T is too short to learn anything. */
const MIN_SHADOW_CAPACITY = 16;

/** What decided a shadow eviction (see {@link ShadowStats.evictions}). */
export const SHADOW_DECIDERS = ['model', 'guard', 'duel', 'fallback', 'probation'] as const;
export type ShadowDecider = (typeof SHADOW_DECIDERS)[number];

/** Per-node counters, for /v1/stats, /metrics and tests. */
export interface ShadowStats {
  readonly node: string;
  /** Keys of the shadow cache (the node's size × sampleRate). */
  readonly capacity: number;
  /** Share of the node's keys the shadow replays (1 = all). */
  readonly sampleRate: number;
  readonly requests: number;
  /** Hits of the shadow (the learned policy) / of the plain LRU replaying the same requests. */
  readonly hits: number;
  readonly lruHits: number;
  readonly shadowHitRatio: number;
  readonly lruHitRatio: number;
  /**
   * The shadow's structure duel has it running with LRU's structure now (no probation: its LRU
   * miniature is ahead of the learned structure's), and how often that changed; false / 0 before
   * the first request.
   */
  readonly lruStructure: boolean;
  readonly structureSwitches: number;
  /**
   * The shadow's evictions by what decided them: `model` (the agent's victim), `guard` (the regret
   * guard preferred LRU's), `duel` (sampled LRU during an LRU spell of the structure duel, until
   * the agent's table has `duelVictimMinLabels` labels; after that the spells' victims count as
   * `model` or `guard`),
   * `fallback` (sampled LRU before the first model), `probation` (a probationary FIFO exit not
   * admitted to the main cache).
   */
  readonly evictions: Readonly<Record<ShadowDecider, number>>;
  readonly retrains: number;
  readonly pendingEvents: number;
  readonly droppedEvents: number;
  readonly version: string | null;
}

class NodeShadow {
  policy: LearnedPolicy | undefined;
  lru: LruPolicy | undefined;
  capacity = 0;
  sampleRate = 1;
  /** Keys with hash ≥ threshold are not replayed (2³²: every key). */
  threshold = 2 ** 32;
  /** Buffered requests (key, event time, size), replayed from `head`: columns, not the events. */
  keys: string[] = [];
  times: number[] = [];
  sizes: number[] = [];
  head = 0;
  dropped = 0;
  requests = 0;
  hits = 0;
  lruHits = 0;
  firstTs = Number.NaN;
  lastTs = Number.NaN;
  current: NodeEvictionModel | undefined;
  lastModel: EvictionModel | null = null;
  /** `requests` when the current model was trained. */
  modelRequests = 0;
  /** Ring of the last replayed keys: `recent[(recentNext + i) % size]`, oldest first once full. */
  recent: string[] = [];
  recentNext = 0;
  constructor(readonly node: string) {}
}

export class LearnedEvictionTrainer implements NodeEvictionModels {
  private readonly nodes = new Map<string, NodeShadow>();
  private readonly maxPending: number;
  private readonly evalRequests: number;
  private readonly now: () => number;
  private readonly settings: Partial<LearnedPolicySettings>;
  private cursor = 0;

  constructor(private readonly o: LearnedEvictionTrainerOptions) {
    this.maxPending = o.maxPendingEvents ?? 100_000;
    this.evalRequests = Math.max(0, o.evalRequests ?? 50_000);
    this.now = o.now ?? Date.now;
    this.settings = { retrainMinRequests: o.retrainEvents ?? 20_000, ...o.policySettings };
  }

  /**
   * Buffers an applied access batch of `node`: three array pushes per event. The columns keep
   * the key strings (which the feature store holds anyway) but not the decoded event objects, so
   * those still die young (holding whole batches promoted them to the old generation and made
   * the ingest bench's GC pauses longer).
   */
  enqueue(node: string, events: readonly AccessEvent[]): void {
    let n = this.nodes.get(node);
    if (n === undefined) {
      n = new NodeShadow(node);
      this.nodes.set(node, n);
    }
    if (n.keys.length - n.head + events.length > this.maxPending) {
      n.dropped += events.length;
      return;
    }
    const sampled = n.sampleRate < 1;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      // The shadow decides its own evictions: the node's del / evict reports are not requests.
      if (e.op === 'del' || e.op === 'evict') continue;
      if (sampled && fnv1a32(e.key) >= n.threshold) continue;
      n.keys.push(e.key);
      n.times.push(e.ts);
      n.sizes.push(e.size ?? 1);
    }
  }

  /** Events buffered over all nodes. */
  get pendingEvents(): number {
    let p = 0;
    for (const n of this.nodes.values()) p += n.keys.length - n.head;
    return p;
  }

  /**
   * Replays buffered events into the shadow caches for at most `budgetMs` (a retrain in progress
   * finishes first), nodes in turn; returns the events replayed and the nodes whose model changed.
   */
  drain(budgetMs: number): { replayed: number; retrained: string[] } {
    const end = performance.now() + budgetMs;
    const nodes = [...this.nodes.values()];
    let replayed = 0;
    const retrained: string[] = [];
    for (let i = 0; i < nodes.length && performance.now() < end; i++) {
      const n = nodes[(this.cursor + i) % nodes.length]!;
      while (n.head < n.keys.length && performance.now() < end) replayed += this.replay(n, 1024);
      if (this.publish(n)) retrained.push(n.node);
    }
    this.cursor = nodes.length === 0 ? 0 : (this.cursor + 1) % nodes.length;
    return { replayed, retrained };
  }

  /** Replays up to `max` events of `n`; returns how many. */
  private replay(n: NodeShadow, max: number): number {
    if (n.policy === undefined) this.open(n);
    const policy = n.policy!;
    const lru = n.lru!;
    const start = n.head;
    const stop = Math.min(n.keys.length, start + max);
    const ring = Math.max(this.evalRequests, 4 * n.capacity);
    for (let i = start; i < stop; i++) {
      const ts = n.times[i]!;
      const key = n.keys[i]!;
      const req = { key, sizeBytes: n.sizes[i]!, vtime: n.requests };
      if (policy.access(req)) n.hits++;
      if (lru.access(req)) n.lruHits++;
      if (n.requests === 0) n.firstTs = ts;
      if (!(ts < n.lastTs)) n.lastTs = ts;
      n.requests++;
      if (n.recent.length < ring) n.recent.push(key);
      else {
        n.recent[n.recentNext] = key;
        n.recentNext = (n.recentNext + 1) % ring;
      }
    }
    n.head = stop;
    if (n.head === n.keys.length) {
      n.keys = [];
      n.times = [];
      n.sizes = [];
      n.head = 0;
    } else if (n.head > 65_536 && n.head * 2 > n.keys.length) {
      n.keys = n.keys.slice(n.head);
      n.times = n.times.slice(n.head);
      n.sizes = n.sizes.slice(n.head);
      n.head = 0;
    }
    return stop - start;
  }

  private open(n: NodeShadow): void {
    const wanted =
      this.o.shadowCapacity > 0 ? this.o.shadowCapacity : (this.o.residentKeys?.(n.node) ?? 0);
    const full = Math.max(MIN_SHADOW_CAPACITY, wanted);
    const maxKeys = Math.max(MIN_SHADOW_CAPACITY, this.o.maxShadowKeys ?? 65_536);
    n.capacity = Math.min(full, maxKeys);
    if (full > maxKeys) {
      n.sampleRate = maxKeys / full;
      n.threshold = Math.floor(n.sampleRate * 2 ** 32);
      // Events buffered before the rate was known: keep the sampled keys only.
      let w = 0;
      for (let r = n.head; r < n.keys.length; r++) {
        if (fnv1a32(n.keys[r]!) >= n.threshold) continue;
        n.keys[w] = n.keys[r]!;
        n.times[w] = n.times[r]!;
        n.sizes[w] = n.sizes[r]!;
        w++;
      }
      n.keys.length = n.times.length = n.sizes.length = w;
      n.head = 0;
    }
    const opts = { capacity: n.capacity, unit: 'objects' as const, seed: this.o.seed ?? 1 };
    n.policy = new LearnedPolicy({ ...opts, tf: this.o.tf, settings: this.settings });
    n.lru = new LruPolicy(opts);
  }

  /** Takes the node's model after a retrain as its current one; true when it changed. */
  private publish(n: NodeShadow): boolean {
    const model = n.policy?.currentModel ?? null;
    if (model === null || model === n.lastModel) return false;
    n.lastModel = model;
    n.modelRequests = n.requests;
    n.current = {
      model,
      timeScaleMs: this.timeScaleMs(n),
      missingGapT: this.missingGapT(),
      version: `${n.node}@${model.version}`,
    };
    return true;
  }

  /** Mean event-time ms between requests × capacity: the shadow's T (capacity requests) in ms. */
  private timeScaleMs(n: NodeShadow): number {
    const msPerRequest = n.requests > 1 ? (n.lastTs - n.firstTs) / (n.requests - 1) : 1;
    return Math.max(1, n.capacity * msPerRequest);
  }

  private missingGapT(): number {
    return this.settings.windowT ?? DEFAULT_LEARNED_SETTINGS.windowT;
  }

  /**
   * The node's current model as a registry candidate, named `version(retrains)` (default
   * `<node>@<retrains>`), with its metadata (training window, features, shadow metrics);
   * undefined before the node's first retrain.
   */
  latest(node: string, version?: (retrains: number) => string): TrainedEvictionModel | undefined {
    const n = this.nodes.get(node);
    const current = n?.current;
    if (n === undefined || current === undefined) return undefined;
    const name = version?.(current.model.version) ?? current.version;
    const s = this.statsOf(n);
    return {
      node,
      version: name,
      model: current.model,
      timeScaleMs: current.timeScaleMs,
      missingGapT: current.missingGapT,
      metadata: {
        node,
        version: name,
        retrains: current.model.version,
        trainingWindow: { firstRequestMs: n.firstTs, lastRequestMs: n.lastTs },
        // What the agent reads: the tabular agent's state (and its trees' inputs once fitted),
        // or the network agent's inputs.
        features: agentInputs(current.model),
        metrics: {
          requests: n.modelRequests,
          shadowHitRatio: s.shadowHitRatio,
          lruHitRatio: s.lruHitRatio,
          capacity: n.capacity,
          sampleRate: n.sampleRate,
          droppedEvents: n.dropped,
        },
        savedAtMs: this.now(),
      },
    };
  }

  /**
   * Retrains the node's model now (scheduled or on-demand retraining): first replays the node's
   * buffered events, so every applied request counts, then retrains both networks unless no
   * request was replayed since the current model (then the current model is the answer).
   * @returns the new current model, or why there is none (no telemetry, too few labels).
   */
  retrainNow(
    node: string,
    version?: (retrains: number) => string,
  ): { ok: true; model: TrainedEvictionModel } | { ok: false; reason: string } {
    const n = this.nodes.get(node);
    if (n === undefined) return { ok: false, reason: `no access telemetry from node "${node}"` };
    while (n.head < n.keys.length) this.replay(n, 65_536);
    const policy = n.policy;
    if (policy === undefined) return { ok: false, reason: 'no request replayed yet' };
    if (n.current === undefined || n.requests > n.modelRequests) {
      if (!policy.retrainNow()) {
        const rows = policy.labelledRows;
        return {
          ok: false,
          reason:
            `too little data: ${rows.predictor} labelled samples of the ${rows.min} the predictor ` +
            `needs, ${rows.agent} of the ${rows.agentMin} the agent needs (${n.requests} requests replayed)`,
        };
      }
      this.publish(n);
    }
    return { ok: true, model: this.latest(node, version)! };
  }

  /** The node's last replayed requests (keys), oldest first: at most the ring's size. */
  recentRequests(node: string): string[] {
    const n = this.nodes.get(node);
    if (n === undefined) return [];
    return n.recentNext === 0
      ? [...n.recent]
      : [...n.recent.slice(n.recentNext), ...n.recent.slice(0, n.recentNext)];
  }

  /** Keys of the node's shadow cache (0 before its first replayed request). */
  capacity(node: string): number {
    return this.nodes.get(node)?.capacity ?? 0;
  }

  /** Nodes with a shadow (every node that sent access telemetry). */
  nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  current(node: string): NodeEvictionModel | undefined {
    return this.nodes.get(node)?.current;
  }

  /** The shadow policy of a node (tests and `explain`); undefined before its first event. */
  policy(node: string): LearnedPolicy | undefined {
    return this.nodes.get(node)?.policy;
  }

  stats(): ShadowStats[] {
    return [...this.nodes.values()].map((n) => this.statsOf(n));
  }

  private statsOf(n: NodeShadow): ShadowStats {
    const ratio = (h: number) => (n.requests === 0 ? 0 : h / n.requests);
    const p = n.policy;
    const duel = p?.extraStats();
    return {
      node: n.node,
      capacity: n.capacity,
      sampleRate: n.sampleRate,
      requests: n.requests,
      hits: n.hits,
      lruHits: n.lruHits,
      shadowHitRatio: ratio(n.hits),
      lruHitRatio: ratio(n.lruHits),
      lruStructure: duel?.lruStructure ?? false,
      structureSwitches: duel?.structureSwitches ?? 0,
      evictions: {
        model: p?.modelEvictions ?? 0,
        guard: p?.guardEvictions ?? 0,
        duel: p?.duelEvictions ?? 0,
        fallback: p?.fallbackEvictions ?? 0,
        probation: p?.probationEvictions ?? 0,
      },
      retrains: n.policy?.retrains ?? 0,
      pendingEvents: n.keys.length - n.head,
      droppedEvents: n.dropped,
      version: n.current?.version ?? null,
    };
  }

  /**
   * Drops a node's shadow (its partition moved to another replica, docs/scaling.md): its buffered
   * events, counters and tfjs variables. Its served champion lives in the model registry.
   */
  forget(node: string): void {
    this.nodes.get(node)?.policy?.dispose();
    this.nodes.delete(node);
  }

  /** Frees every shadow's tfjs variables; the published models keep scoring. */
  dispose(): void {
    for (const n of this.nodes.values()) n.policy?.dispose();
  }
}
