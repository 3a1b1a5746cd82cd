import { describe, expect, it } from 'vitest';
import { FeatureStore } from '../../src/features/feature-store.js';
import { ShardedFeatureStore } from '../../src/features/sharded-store.js';
import type { Features, FeatureStoreOptions } from '../../src/features/types.js';
import type { AccessEvent, AccessOp, LatencyEvent } from '../../src/telemetry/events.js';
import { applySteps, BASE_OPTIONS, seeded, type WorkloadStep } from './helpers.js';

// Limits apply per shard, so they are set high enough that neither store forgets keys or refuses
// series: which keys are forgotten is decided per partition and is not expected to match.
const OPTIONS: FeatureStoreOptions = {
  ...BASE_OPTIONS,
  maxTrackedKeys: 10_000,
  decayHalfLivesSec: [60, 600],
  seriesHistorySteps: 50,
  maxSeries: 100,
};
/** Nodes over partitions 0..2; n3 shares the pool partition (2 below). */
const PARTITION: Record<string, number> = { n1: 0, n2: 1, n3: 2, n4: 1 };
const NODES = Object.keys(PARTITION);
const partitionOf = (node: string): number => PARTITION[node] ?? 0;
const POOL_PARTITION = 2;
const KEYS = 200;
const OPS: AccessOp[] = ['get', 'get', 'get', 'set', 'del', 'evict'];

/**
 * A seeded workload over the 4 nodes and 2 pools, with late events. It ends with one event at
 * the same time on every partition, so every shard's clock equals the single store's (each shard
 * reads as of its own clock; the last test shows what happens otherwise).
 */
function workload(seed: number, startMs: number, batches: number): WorkloadStep[] {
  const random = seeded(seed);
  const steps: WorkloadStep[] = [];
  let ts = startMs;
  for (let b = 0; b < batches; b++) {
    const access: AccessEvent[] = [];
    for (let i = 0; i < 40; i++) {
      ts += Math.floor(random() * 3000);
      const key = `k${Math.floor(KEYS * random() ** 2)}`;
      const late = random() < 0.05 ? Math.min(ts, 5000) : 0;
      const op = OPS[Math.floor(random() * OPS.length)]!;
      const size = random() < 0.5 ? { size: Math.floor(random() * 4096) } : {};
      access.push({ ts: ts - late, key, hit: random() < 0.6, op, ...size });
    }
    steps.push({ node: NODES[b % NODES.length]!, access });
    const latency: LatencyEvent[] = [];
    for (let i = 0; i < 10; i++) {
      latency.push({
        ts: ts - Math.floor(random() * 2000),
        pool: random() < 0.5 ? 'web' : 'api',
        backend: `b${Math.floor(random() * 4)}`,
        latencyMs: 1 + random() * 200,
        status: random() < 0.1 ? 503 : 200,
        inflight: Math.floor(random() * 10),
      });
    }
    steps.push({ latency });
  }
  const end = ts + 1000;
  for (const node of NODES) steps.push({ node, access: [{ ts: end, key: 'k0', hit: true }] });
  steps.push({
    latency: [{ ts: end, pool: 'web', backend: 'b0', latencyMs: 5, status: 200 }],
  });
  return steps;
}

/** What a reader of `nodes` and `pools` can observe (stats apart). */
function observe(store: Features, nodes = store.nodes(), pools = store.pools()) {
  return {
    nodes: nodes.map((node) => ({
      node,
      keys: Array.from({ length: KEYS }, (_, k) => store.keyFeatures(node, `k${k}`)),
      resident: store.residentKeys(node),
      lru: store.lruVictims(node, 10_000),
      hottest: [store.hottestKeys(node, 20), store.hottestKeys(node, 20, 1)],
      prefixed: store.keysWithPrefix(node, 'k1', 50),
      series: store.series(`node.${node}`),
    })),
    pools: pools.map((pool) => ({
      pool,
      backends: store.poolBackends(pool),
      b0: store.backendFeatures(pool, 'b0'),
      series: store.series(`pool.${pool}`),
    })),
  };
}

/** A sharded store holding every partition. */
function shardedAll(): ShardedFeatureStore {
  const store = new ShardedFeatureStore(OPTIONS, partitionOf, POOL_PARTITION);
  for (const p of [2, 0, 1]) store.add(p);
  return store;
}

describe('ShardedFeatureStore', () => {
  it('answers as one FeatureStore fed the same events when it holds every partition', () => {
    const single = new FeatureStore(OPTIONS);
    const sharded = shardedAll();
    const steps = workload(1, 1_700_000_000_000, 80);
    applySteps(single, steps);
    applySteps(sharded, steps);

    expect(sharded.partitions()).toEqual([0, 1, 2]);
    expect(sharded.nodes()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(sharded.pools()).toEqual(['api', 'web']);
    expect(sharded.seriesIds()).toEqual(single.seriesIds());
    expect(sharded.seriesIds()).toContain('backend.web.b0');
    for (const id of single.seriesIds()) expect(sharded.series(id), id).toEqual(single.series(id));
    expect(sharded.clockMs).toBe(single.clockMs);
    expect(single.lruVictims('n2', 10_000).length).toBeGreaterThan(10);
    expect(observe(sharded)).toEqual(observe(single));
    const { maxTrackedKeys, ...stats } = single.stats();
    expect(sharded.stats()).toEqual({ ...stats, maxTrackedKeys: 3 * maxTrackedKeys });
    expect(sharded.drainChanged()).toEqual(single.drainChanged());
    expect(sharded.drainChanged()).toEqual({ nodes: [], pools: [] });

    const more = workload(2, single.clockMs, 10).filter((s) => !('node' in s) || s.node !== 'n1');
    applySteps(single, more);
    applySteps(sharded, more);
    expect(sharded.drainChanged()).toEqual({ nodes: ['n2', 'n3', 'n4'], pools: ['api', 'web'] });
    expect(single.drainChanged()).toEqual({ nodes: ['n2', 'n3', 'n4'], pools: ['api', 'web'] });
    expect(observe(sharded, ['n2', 'n3', 'n4'])).toEqual(observe(single, ['n2', 'n3', 'n4']));
  });

  it('routes each node to its partition and latency state to the pool partition', () => {
    const sharded = shardedAll();
    applySteps(sharded, workload(3, 0, 8));
    expect(sharded.shard(0)!.nodes()).toEqual(['n1']);
    expect(sharded.shard(1)!.nodes()).toEqual(['n2', 'n4']);
    expect(sharded.shard(2)!.nodes()).toEqual(['n3']);
    expect(sharded.shard(0)!.pools()).toEqual([]);
    expect(sharded.shard(2)!.pools()).toEqual(['api', 'web']);
    expect(sharded.shard(1)!.seriesIds()).toEqual(['node.n2', 'node.n4']);
  });

  it('hides the nodes of a removed partition and keeps its state in the removed shard', () => {
    const sharded = shardedAll();
    applySteps(sharded, workload(4, 0, 40));
    const before = sharded.stats();
    const removed = sharded.remove(1)!;

    expect(sharded.partitions()).toEqual([0, 2]);
    expect(sharded.owns(1)).toBe(false);
    expect(sharded.ownsNode('n2')).toBe(false);
    expect(sharded.ownsNode('n1')).toBe(true);
    expect(sharded.remove(1)).toBeUndefined();
    expect(sharded.nodes()).toEqual(['n1', 'n3']);
    expect(sharded.seriesIds().filter((id) => id.startsWith('node.'))).toEqual([
      'node.n1',
      'node.n3',
    ]);
    for (const node of ['n2', 'n4']) {
      expect(sharded.keyFeatures(node, 'k0')).toBeUndefined();
      expect(sharded.lruVictims(node, 10)).toEqual([]);
      expect(sharded.hottestKeys(node, 10)).toEqual([]);
      expect(sharded.keysWithPrefix(node, 'k', 10)).toEqual([]);
      expect(sharded.residentKeys(node)).toBe(0);
      expect(sharded.series(`node.${node}`)).toBeUndefined();
    }
    expect(removed.nodes()).toEqual(['n2', 'n4']);
    expect(removed.keyFeatures('n2', 'k0')).toBeDefined();
    expect(sharded.stats().trackedKeys).toBe(before.trackedKeys - removed.stats().trackedKeys);
    expect(sharded.stats().nodes).toBe(2);
    expect(sharded.poolBackends('web')).toHaveLength(4);
    expect(sharded.drainChanged()).toEqual({ nodes: ['n1', 'n3'], pools: ['api', 'web'] });
  });

  it('hands a partition to another replica through a snapshot with the same answers', () => {
    const a = shardedAll();
    applySteps(a, workload(5, 1_700_000_000_000, 40));
    a.drainChanged();
    const seen = observe(a, ['n2', 'n4'], []);
    const removed = a.remove(1)!;

    const b = new ShardedFeatureStore(OPTIONS, partitionOf, POOL_PARTITION);
    b.add(1, FeatureStore.restore(removed.snapshot(), OPTIONS));
    expect(b.partitions()).toEqual([1]);
    expect(b.nodes()).toEqual(['n2', 'n4']);
    expect(b.pools()).toEqual([]);
    expect(observe(b)).toEqual(seen);
    expect(b.stats()).toEqual(removed.stats());
    // The new owner has published nothing for them yet.
    expect(b.drainChanged()).toEqual({ nodes: ['n2', 'n4'], pools: [] });

    // Both evolve identically: the restored shard is the same state, not an approximation.
    const more = workload(6, removed.clockMs, 12).filter(
      (s) => 'node' in s && partitionOf(s.node) === 1,
    );
    applySteps(removed, more);
    applySteps(b, more);
    expect(observe(b)).toEqual(observe(removed));
    expect(b.clockMs).toBe(removed.clockMs);
  });

  it('throws on writes to a partition it does not hold, naming the partition', () => {
    const sharded = new ShardedFeatureStore(OPTIONS, partitionOf, POOL_PARTITION);
    sharded.add(0);
    const access: AccessEvent[] = [{ ts: 1, key: 'a', hit: true }];
    expect(() => sharded.applyAccess('n2', access)).toThrow(/Partition 1 \(node n2\)/);
    expect(() => sharded.applyAccess('n2', [])).toThrow(/Partition 1/);
    expect(() =>
      sharded.applyLatency('proxy', [
        { ts: 1, pool: 'web', backend: 'b', latencyMs: 1, status: 200 },
      ]),
    ).toThrow(/Partition 2 \(pools\)/);
    expect(sharded.nodes()).toEqual([]);
    sharded.applyAccess('n1', access);
    expect(sharded.nodes()).toEqual(['n1']);
  });

  it('refuses a partition twice and a store holding state of other partitions', () => {
    const sharded = new ShardedFeatureStore(OPTIONS, partitionOf);
    expect(sharded.poolPartition).toBe(0);
    const first = sharded.add(0);
    expect(sharded.shard(0)).toBe(first);
    expect(() => sharded.add(0)).toThrow(/Partition 0 is already held/);

    const foreign = new FeatureStore(OPTIONS);
    foreign.applyAccess('n1', [{ ts: 1, key: 'a', hit: true }]);
    expect(() => sharded.add(1, foreign)).toThrow(/holds node n1 of partition 0/);
    const pools = new FeatureStore(OPTIONS);
    pools.applyLatency('proxy', [{ ts: 1, pool: 'web', backend: 'b', latencyMs: 1, status: 200 }]);
    expect(() => sharded.add(1, pools)).toThrow(/holds pools/);
    expect(sharded.partitions()).toEqual([0]);
  });

  it('reads as empty with no partition held', () => {
    const sharded = new ShardedFeatureStore(OPTIONS, partitionOf);
    expect(sharded.clockMs).toBe(0);
    expect(sharded.partitions()).toEqual([]);
    expect(sharded.stats()).toEqual({
      trackedKeys: 0,
      maxTrackedKeys: 0,
      forgottenKeys: 0,
      nodes: 0,
      pools: 0,
      backends: 0,
      series: 0,
      droppedSeries: 0,
      clockMs: 0,
    });
    expect(observe(sharded, ['n1'], ['web'])).toEqual(
      observe(new FeatureStore(OPTIONS), ['n1'], ['web']),
    );
    expect(sharded.seriesIds()).toEqual([]);
    expect(sharded.drainChanged()).toEqual({ nodes: [], pools: [] });
  });

  it("reads a node's features as of its own partition's clock, not the latest of all", () => {
    const single = new FeatureStore(OPTIONS);
    const sharded = shardedAll();
    const steps: WorkloadStep[] = [
      { node: 'n1', access: [{ ts: 60_000, key: 'a', hit: true }] },
      { node: 'n2', access: [{ ts: 120_000, key: 'b', hit: true }] },
    ];
    applySteps(single, steps);
    applySteps(sharded, steps);
    expect(sharded.clockMs).toBe(120_000);
    // One half-life (60 s) later in the single store: half the count.
    expect(single.keyFeatures('n1', 'a')).toMatchObject({ asOfMs: 120_000 });
    expect(single.keyFeatures('n1', 'a')?.decayedCounts[0]).toBeCloseTo(0.5, 12);
    expect(sharded.keyFeatures('n1', 'a')).toMatchObject({ asOfMs: 60_000, decayedCounts: [1, 1] });
    expect(sharded.keyFeatures('n2', 'b')).toEqual(single.keyFeatures('n2', 'b'));
    expect(sharded.series('node.n1')?.counts).toEqual([1]);
    expect(single.series('node.n1')?.counts).toEqual([1, 0]);
  });
});
