/**
 * @module features/sharded-store
 * Features of the partitions this engine owns, one {@link FeatureStore} per partition, so each
 * partition can be checkpointed (`shard(p).snapshot()`) and handed to another replica on its own.
 *
 * Placement: a cache node's keys and `node.<node>` series live in the shard of
 * `partitionOf(node)`; all latency state (pools, backends, `pool.*` and `backend.*` series)
 * lives in the shard of `poolPartition`. Reads route the same way; a node or pool whose
 * partition is not held reads as unknown (undefined / [] / 0), exactly as an unknown target of
 * one FeatureStore does. Writes to a partition not held throw: the engine filters first.
 *
 * Differences from one FeatureStore fed the same events, by design:
 * - Each shard reads as of its own clock (the latest event it saw), so a node's decayed counts
 *   and `asOfMs`, the pool's rates and percentile window, and how far a series is padded with
 *   empty buckets follow its partition's clock, not the latest event of all partitions. That is
 *   what keeps a shard portable: its snapshot carries the clock its features refer to. When the
 *   shards' clocks coincide the answers are identical.
 * - Limits (`maxTrackedKeys`, `maxSeries`) apply per shard, so holding n partitions tracks up
 *   to n × `maxTrackedKeys` keys, and which keys are forgotten is decided within a partition.
 */
import { FeatureStore } from './feature-store.js';
import type { AccessEvent, LatencyEvent } from '../telemetry/events.js';
import type {
  BackendFeatures,
  ChangedTargets,
  Features,
  FeatureStats,
  FeatureStoreOptions,
  KeyFeatures,
  SeriesView,
} from './types.js';

const NODE_SERIES = 'node.';

/** Every FeatureStats field but clockMs: counts, which add up over shards. */
const SUMMED_STATS = [
  'trackedKeys',
  'maxTrackedKeys',
  'forgottenKeys',
  'nodes',
  'pools',
  'backends',
  'series',
  'droppedSeries',
] as const satisfies readonly Exclude<keyof FeatureStats, 'clockMs'>[];
type Summed = (typeof SUMMED_STATS)[number];

export class ShardedFeatureStore implements Features {
  private readonly shards = new Map<number, FeatureStore>();

  /**
   * @param options Options of the empty shards {@link add} creates.
   * @param partitionOf The partition of a cache node; must be a pure function (it places writes
   *   and routes reads, so it must answer the same for the life of the store).
   * @param poolPartition The partition holding all latency state. Default 0.
   */
  constructor(
    private readonly options: FeatureStoreOptions,
    private readonly partitionOf: (node: string) => number,
    readonly poolPartition = 0,
  ) {}

  /**
   * Holds `partition`, with `store` (e.g. restored from the partition's checkpoint) or a new
   * empty store; returns the shard. Throws if the partition is already held, or if `store` has
   * nodes of another partition, or latency state while not being the pool partition: such
   * state could never be read through this store.
   */
  add(partition: number, store: FeatureStore = new FeatureStore(this.options)): FeatureStore {
    if (this.shards.has(partition)) throw new Error(`Partition ${partition} is already held`);
    const stray = store.nodes().find((node) => this.partitionOf(node) !== partition);
    if (stray !== undefined) {
      throw new Error(
        `Store added as partition ${partition} holds node ${stray} of partition ${this.partitionOf(stray)}`,
      );
    }
    if (partition !== this.poolPartition && store.pools().length > 0) {
      throw new Error(
        `Store added as partition ${partition} holds pools, which belong to partition ${this.poolPartition}`,
      );
    }
    this.shards.set(partition, store);
    return store;
  }

  /** Stops holding `partition`; returns its shard (to checkpoint or hand over), if it was held. */
  remove(partition: number): FeatureStore | undefined {
    const store = this.shards.get(partition);
    this.shards.delete(partition);
    return store;
  }

  shard(partition: number): FeatureStore | undefined {
    return this.shards.get(partition);
  }

  /** Partitions held, ascending. */
  partitions(): number[] {
    return [...this.shards.keys()].sort((a, b) => a - b);
  }

  owns(partition: number): boolean {
    return this.shards.has(partition);
  }

  /** Whether `node`'s partition is held (its access events may be applied here). */
  ownsNode(node: string): boolean {
    return this.shards.has(this.partitionOf(node));
  }

  /** Latest event time seen by any shard (epoch ms); 0 with no shard or before any event. */
  get clockMs(): number {
    let clock = 0;
    for (const s of this.shards.values()) clock = Math.max(clock, s.clockMs);
    return clock;
  }

  private nodeShard(node: string): FeatureStore | undefined {
    return this.shards.get(this.partitionOf(node));
  }

  private poolShard(): FeatureStore | undefined {
    return this.shards.get(this.poolPartition);
  }

  private heldShard(partition: number, what: string): FeatureStore {
    const store = this.shards.get(partition);
    if (store === undefined)
      throw new Error(`Partition ${partition} (${what}) is not held by this store`);
    return store;
  }

  /** Applies to the shard of `node`'s partition; throws if it is not held. */
  applyAccess(node: string, events: readonly AccessEvent[]): void {
    this.heldShard(this.partitionOf(node), `node ${node}`).applyAccess(node, events);
  }

  /** Applies to the pool partition's shard; throws if it is not held. */
  applyLatency(proxy: string, events: readonly LatencyEvent[]): void {
    this.heldShard(this.poolPartition, 'pools').applyLatency(proxy, events);
  }

  keyFeatures(node: string, key: string): KeyFeatures | undefined {
    return this.nodeShard(node)?.keyFeatures(node, key);
  }

  residentKeys(node: string): number {
    return this.nodeShard(node)?.residentKeys(node) ?? 0;
  }

  lruVictims(node: string, limit: number): KeyFeatures[] {
    return this.nodeShard(node)?.lruVictims(node, limit) ?? [];
  }

  keysWithPrefix(node: string, prefix: string, limit: number): string[] {
    return this.nodeShard(node)?.keysWithPrefix(node, prefix, limit) ?? [];
  }

  hottestKeys(node: string, k: number, halfLifeIndex?: number): KeyFeatures[] {
    return this.nodeShard(node)?.hottestKeys(node, k, halfLifeIndex) ?? [];
  }

  backendFeatures(pool: string, backend: string): BackendFeatures | undefined {
    return this.poolShard()?.backendFeatures(pool, backend);
  }

  poolBackends(pool: string): BackendFeatures[] {
    return this.poolShard()?.poolBackends(pool) ?? [];
  }

  /** Cache nodes of every held partition, sorted. */
  nodes(): string[] {
    return this.union((s) => s.nodes());
  }

  /** Pools of the pool partition (the only shard {@link add} lets hold any), sorted. */
  pools(): string[] {
    return this.union((s) => s.pools());
  }

  /** `node.<node>` from the node's shard, every other series from the pool partition's. */
  series(id: string): SeriesView | undefined {
    const shard = id.startsWith(NODE_SERIES)
      ? this.nodeShard(id.slice(NODE_SERIES.length))
      : this.poolShard();
    return shard?.series(id);
  }

  seriesIds(): string[] {
    return this.union((s) => s.seriesIds());
  }

  /**
   * The shards' stats added up: the totals of the partitions held. Shards hold disjoint nodes,
   * pools and series (add() checks), so counts add up; each shard may track maxTrackedKeys keys,
   * so their sum is the capacity trackedKeys fills. clockMs is a time: the latest, as clockMs.
   */
  stats(): FeatureStats {
    const total = Object.fromEntries(SUMMED_STATS.map((k) => [k, 0])) as Record<Summed, number>;
    for (const s of this.shards.values()) {
      const st = s.stats();
      for (const k of SUMMED_STATS) total[k] += st[k];
    }
    return { ...total, clockMs: this.clockMs };
  }

  /** Changed targets of every held shard, sorted; a removed shard keeps its own until re-added. */
  drainChanged(): ChangedTargets {
    const nodes: string[] = [];
    const pools: string[] = [];
    for (const s of this.shards.values()) {
      const changed = s.drainChanged();
      nodes.push(...changed.nodes);
      pools.push(...changed.pools);
    }
    return { nodes: nodes.sort(), pools: pools.sort() };
  }

  /** Concatenation of a per-shard list (disjoint across shards), sorted as FeatureStore sorts. */
  private union(list: (s: FeatureStore) => string[]): string[] {
    const out: string[] = [];
    for (const s of this.shards.values()) out.push(...list(s));
    return out.sort();
  }
}
