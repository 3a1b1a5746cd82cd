/**
 * @module publish/policy-publisher
 * Turns features into published policy documents. Every tick (PRESCIENT_PUBLISH_INTERVAL_MS) it
 * publishes a new version for each target whose features changed, and re-publishes unchanged
 * targets at half their TTL so clients never see a live target go stale. Versions continue from
 * the last published document after a restart.
 */
import type { Features } from '../features/types.js';
import type { VictimRanker } from '../policy/victim-ranker.js';
import type { WeighContext, Weigher } from '../balance/weigher.js';
import {
  evictionDocument,
  forecastDocument,
  policyKey,
  weightsDocument,
  type ForecastDocument,
  type WeightsDocument,
  type PolicyDocument,
  type PolicyKind,
} from './document.js';
import type { ForecastView } from '../forecast/service.js';
import type { PolicySink } from './policy-sink.js';
import { overrideEviction, overrideWeights, type Override } from '../control/overrides.js';

export interface PublisherOptions {
  readonly ttlMs: number;
  readonly victimsPerNode: number;
  /**
   * Least recently used resident keys handed to the ranker per node (default `victimsPerNode`):
   * a learned ranker picks its victims among more than the LRU tail.
   */
  readonly candidatesPerNode?: number;
  readonly now?: () => number;
  /** What the weigher may know about a pool besides its features (forecast, affinity). */
  readonly weighContext?: (pool: string) => WeighContext;
  /** Active operator overrides of a target (control/overrides.ts); none when absent. */
  readonly overrides?: (
    kind: 'eviction' | 'weights',
    target: string,
    nowMs: number,
  ) => readonly Override[];
  /**
   * Whether this process publishes a target (scale-out: the targets of the partitions it holds,
   * docs/scaling.md). Others are neither published nor refreshed. Default: every target.
   */
  readonly owns?: (kind: PolicyKind, target: string) => boolean;
  /** What `freeze` and `enforce` overrides fall back to: LRU order, a classic weigher. */
  readonly heuristic?: { readonly ranker: VictimRanker; readonly weigher: Weigher };
}

export interface PublishStats {
  readonly published: Record<PolicyKind, number>;
  readonly failures: number;
  readonly lastError: string | undefined;
  readonly lastTickMs: number;
}

export class PolicyPublisher {
  private readonly latestDocs = new Map<string, PolicyDocument>();
  private readonly dirty = new Set<string>();
  private readonly published: Record<PolicyKind, number> = { eviction: 0, weights: 0, forecast: 0 };
  private failures = 0;
  private lastError: string | undefined;
  private lastTickMs = 0;
  private readonly now: () => number;
  /** Listeners told after each successful publication (metrics, later the SSE/dashboard feed). */
  private readonly listeners: ((doc: PolicyDocument) => void)[] = [];

  constructor(
    private readonly store: Features,
    private readonly sink: PolicySink,
    private readonly ranker: VictimRanker,
    private readonly weigher: Weigher,
    private readonly options: PublisherOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  onPublish(listener: (doc: PolicyDocument) => void): void {
    this.listeners.push(listener);
  }

  /** The last document published for a target (in this process). */
  latest(kind: PolicyKind, target: string): PolicyDocument | undefined {
    return this.latestDocs.get(policyKey(kind, target));
  }

  /** The last document published for every target of a kind (in this process), by target. */
  latestPolicies(kind: PolicyKind): PolicyDocument[] {
    const docs = [...this.latestDocs.values()].filter((d) => d.kind === kind);
    return docs.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  }

  stats(): PublishStats {
    return {
      published: { ...this.published },
      failures: this.failures,
      lastError: this.lastError,
      lastTickMs: this.lastTickMs,
    };
  }

  /** Republishes a target at the next tick although its features did not change (a new model). */
  markChanged(kind: PolicyKind, target: string): void {
    this.dirty.add(policyKey(kind, target));
  }

  /** Publishes changed and soon-stale targets; returns how many documents were published. */
  async tick(): Promise<number> {
    const now = this.now();
    this.lastTickMs = now;
    const changed = this.store.drainChanged();
    for (const node of changed.nodes) this.dirty.add(policyKey('eviction', node));
    for (const pool of changed.pools) this.dirty.add(policyKey('weights', pool));
    const owns = this.options.owns;
    for (const [key, doc] of this.latestDocs) {
      if (owns && !owns(doc.kind, doc.target)) {
        // Handed over: its new holder publishes it from now on.
        this.latestDocs.delete(key);
        this.dirty.delete(key);
      } else if (doc.kind !== 'forecast' && now - doc.generatedAt >= doc.ttlMs / 2) {
        this.dirty.add(key);
      }
    }
    if (owns) {
      for (const key of this.dirty) {
        const dot = key.indexOf('.');
        if (!owns(key.slice(0, dot) as PolicyKind, key.slice(dot + 1))) this.dirty.delete(key);
      }
    }
    let n = 0;
    // Targets are independent: their writes go out together (one round trip, not one per
    // target), which keeps a tick short when many targets changed.
    await Promise.all(
      [...this.dirty].map(async (key) => {
        const dot = key.indexOf('.');
        const kind = key.slice(0, dot) as PolicyKind;
        const target = key.slice(dot + 1);
        try {
          await this.publishTarget(kind, target, now);
          this.dirty.delete(key);
          n++;
        } catch (err) {
          // Stays dirty: retried next tick. The previous document stays in force until its TTL.
          this.failures++;
          this.lastError = `${key}: ${(err as Error).message}`;
        }
      }),
    );
    return n;
  }

  private async nextVersion(key: string): Promise<number> {
    const known = this.latestDocs.get(key) ?? (await this.sink.get(key));
    return (known?.version ?? 0) + 1;
  }

  private async publishTarget(kind: PolicyKind, target: string, now: number): Promise<void> {
    if (kind === 'forecast') return; // forecasts are published by publishForecast
    if (kind === 'eviction') {
      const model = this.ranker.modelFor?.(target) ?? this.ranker.model;
      const d = this.decideEviction(target, now);
      await this.put(kind, target, now, (header) =>
        evictionDocument({ ...header, model }, d.entries, {
          overrides: d.overrides,
          enforcement: d.enforcement,
          shadow: d.shadow ? { model, entries: d.shadow } : null,
        }),
      );
      return;
    }
    const d = this.decideWeights(target, now);
    await this.put(kind, target, now, (header) =>
      weightsDocument({ ...header, model: this.weigher.model }, d.entries, {
        overrides: d.overrides,
        enforcement: d.enforcement,
        shadow: d.shadow ? { model: this.weigher.model, entries: d.shadow } : null,
      }),
    );
  }

  /** A node's victims: the ranker's, then its active overrides. */
  decideEviction(node: string, now = this.now()) {
    const limit = this.options.victimsPerNode;
    const overrides = this.options.overrides?.('eviction', node, now) ?? [];
    // Pinned keys are withheld, so rank more than `limit` when a pin could empty some places.
    const wanted = overrides.some((o) => o.action === 'pin') ? limit * 2 : limit;
    const candidates = this.store.lruVictims(
      node,
      Math.max(wanted, this.options.candidatesPerNode ?? 0),
    );
    const model = this.ranker.rank(candidates, wanted);
    if (overrides.length === 0) {
      return { entries: model, overrides: [], enforcement: 100, shadow: null };
    }
    const evictFirst = overrides
      .filter((o) => o.action === 'evict-first')
      .flatMap((o) =>
        (o.key !== undefined ? [o.key] : this.store.keysWithPrefix(node, o.prefix!, limit)).map(
          (key) => ({ key, override: o }),
        ),
      );
    const heuristic = this.options.heuristic?.ranker;
    return overrideEviction({
      model,
      heuristic: () => (heuristic ? heuristic.rank(candidates, wanted) : model),
      limit,
      overrides,
      evictFirst,
    });
  }

  /** A pool's shares: the weigher's, then its active overrides. */
  decideWeights(pool: string, now = this.now()) {
    const backends = this.store.poolBackends(pool);
    const model = this.weigher.weigh(backends, this.weighContext(pool));
    const overrides = this.options.overrides?.('weights', pool, now) ?? [];
    if (overrides.length === 0) {
      return { entries: model, overrides: [], enforcement: 100, shadow: null };
    }
    const heuristic = this.options.heuristic?.weigher;
    return overrideWeights({
      model,
      heuristic: () => (heuristic ? heuristic.weigh(backends, { pool }) : model),
      overrides,
    });
  }

  /** Publishes `forecast.<series>` for a new forecast. */
  async publishForecast(view: ForecastView, prewarm: ForecastDocument['prewarm']): Promise<void> {
    await this.put('forecast', view.series, this.now(), (header) =>
      forecastDocument({ ...header, model: view.model }, view, prewarm),
    );
  }

  /** The context of a pool's next weights: the caller's, plus the shares published last. */
  private weighContext(pool: string): WeighContext {
    const base = this.options.weighContext?.(pool) ?? {};
    const last = this.latestDocs.get(policyKey('weights', pool)) as WeightsDocument | undefined;
    const previous = last ? new Map(last.entries.map((e) => [e.backend, e.weight])) : undefined;
    return { pool, nowMs: this.store.clockMs, ...base, ...(previous ? { previous } : {}) };
  }

  /** Builds the next version of a target's document, writes it to the sink and remembers it. */
  private async put(
    kind: PolicyKind,
    target: string,
    now: number,
    build: (header: {
      target: string;
      version: number;
      generatedAt: number;
      ttlMs: number;
    }) => PolicyDocument,
  ): Promise<void> {
    const key = policyKey(kind, target);
    const version = await this.nextVersion(key);
    const doc = build({ target, version, generatedAt: now, ttlMs: this.options.ttlMs });
    await this.sink.put(key, doc);
    this.latestDocs.set(key, doc);
    this.published[kind]++;
    for (const l of this.listeners) l(doc);
  }
}
