import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { FeatureStore } from '../../src/features/feature-store.js';
import type { FeatureStoreOptions } from '../../src/features/types.js';
import type { AccessEvent, AccessOp, LatencyEvent } from '../../src/telemetry/events.js';
import { applySteps, BASE_OPTIONS, seeded, type WorkloadStep } from './helpers.js';

const OPTIONS: FeatureStoreOptions = {
  ...BASE_OPTIONS,
  maxTrackedKeys: 300,
  decayHalfLivesSec: [60, 600, 3600],
  seriesHistorySteps: 50,
  maxSeries: 8,
};
const NODES = ['n1', 'n2', 'n3'];
const OPS: AccessOp[] = ['get', 'get', 'get', 'get', 'set', 'del', 'evict'];

/** A seeded mixed workload: skewed keys over 3 nodes (forcing forgets), 2 pools, out-of-order ts. */
function workload(seed: number, startMs: number, batches: number) {
  const random = seeded(seed);
  const steps: WorkloadStep[] = [];
  let ts = startMs;
  for (let b = 0; b < batches; b++) {
    const access: AccessEvent[] = [];
    for (let i = 0; i < 50; i++) {
      ts += Math.floor(random() * 2000);
      const op = OPS[Math.floor(random() * OPS.length)]!;
      const key = `k${Math.floor(1000 * random() ** 2)}`;
      const late = random() < 0.05 ? Math.min(ts, 5000) : 0;
      const e: AccessEvent =
        random() < 0.5
          ? { ts: ts - late, key, hit: random() < 0.6, op }
          : { ts: ts - late, key, hit: random() < 0.6, op, size: Math.floor(random() * 4096) };
      access.push(e);
    }
    steps.push({ node: NODES[b % 3]!, access });
    const latency: LatencyEvent[] = [];
    for (let i = 0; i < 20; i++) {
      latency.push({
        ts: ts + i,
        pool: random() < 0.5 ? 'web' : 'api',
        backend: `b${Math.floor(random() * 4)}`,
        latencyMs: 1 + random() * 200,
        status: random() < 0.1 ? 503 : 200,
        inflight: Math.floor(random() * 10),
      });
    }
    steps.push({ latency });
  }
  return steps;
}

/** Everything a reader can observe. */
function observe(store: FeatureStore) {
  const keys: Record<string, unknown> = {};
  for (const node of store.nodes())
    for (let k = 0; k < 1000; k++) keys[`${node}/${k}`] = store.keyFeatures(node, `k${k}`);
  return {
    stats: store.stats(),
    nodes: store.nodes(),
    pools: store.pools(),
    keys,
    lru: store.nodes().map((n) => store.lruVictims(n, 10_000)),
    backends: store.pools().map((p) => store.poolBackends(p)),
    series: store.seriesIds().map((id) => store.series(id)),
  };
}

describe('FeatureStore', () => {
  it('reports changed nodes and pools once', () => {
    const store = new FeatureStore(BASE_OPTIONS);
    store.applyAccess('n2', [{ ts: 5, key: 'a', hit: true }]);
    store.applyAccess('n1', [{ ts: 6, key: 'a', hit: true }]);
    store.applyLatency('proxy', [{ ts: 7, pool: 'p', backend: 'b', latencyMs: 1, status: 200 }]);
    expect(store.drainChanged()).toEqual({ nodes: ['n1', 'n2'], pools: ['p'] });
    expect(store.drainChanged()).toEqual({ nodes: [], pools: [] });
    expect(store.clockMs).toBe(7);
    expect(store.stats()).toMatchObject({ nodes: 2, pools: 1, clockMs: 7 });
  });

  it('round-trips a snapshot of a seeded workload exactly, forgets included, and evolves identically after', () => {
    const store = new FeatureStore(OPTIONS);
    applySteps(store, workload(1, 1_700_000_000_000, 120));
    expect(store.stats().forgottenKeys).toBeGreaterThan(0);
    expect(store.stats().droppedSeries).toBeGreaterThan(0);
    const restored = FeatureStore.restore(store.snapshot(), OPTIONS);
    expect(observe(restored)).toEqual(observe(store));
    expect(restored.snapshot()).toEqual(store.snapshot());

    // Same slots, links, PRNG state: the same later events forget the same keys.
    const more = workload(2, store.clockMs, 60);
    applySteps(store, more);
    applySteps(restored, more);
    expect(observe(restored)).toEqual(observe(store));
  });

  it('reports every restored target as changed', () => {
    const store = new FeatureStore(OPTIONS);
    applySteps(store, workload(3, 0, 6));
    store.drainChanged();
    const restored = FeatureStore.restore(store.snapshot(), OPTIONS);
    expect(restored.drainChanged()).toEqual({ nodes: ['n1', 'n2', 'n3'], pools: ['api', 'web'] });
  });

  it('round-trips an empty store and non-ASCII keys', () => {
    const empty = new FeatureStore(OPTIONS);
    expect(observe(FeatureStore.restore(empty.snapshot(), OPTIONS))).toEqual(observe(empty));
    const store = new FeatureStore(OPTIONS);
    store.applyAccess('nœud', [
      { ts: 1, key: 'clé:ü', hit: true },
      { ts: 2, key: '键🔑', hit: false, size: 3 },
      { ts: 3, key: 'ascii', hit: true },
    ]);
    const restored = FeatureStore.restore(store.snapshot(), OPTIONS);
    expect(restored.lruVictims('nœud', 10)).toEqual(store.lruVictims('nœud', 10));
    expect(restored.keyFeatures('nœud', '键🔑')?.sizeBytes).toBe(3);
  });

  it('rejects truncated, corrupted and foreign bytes with PRESCIENT_E_SNAPSHOT_FORMAT', () => {
    const store = new FeatureStore(OPTIONS);
    applySteps(store, workload(4, 0, 10));
    const bytes = store.snapshot();
    const code = (input: Uint8Array, options = OPTIONS): unknown => {
      try {
        FeatureStore.restore(input, options);
        return 'restored';
      } catch (err) {
        return (err as { code?: unknown }).code;
      }
    };
    for (const cut of [0, 3, 15, 16, 100, bytes.length - 1])
      expect(code(bytes.subarray(0, cut))).toBe(ERROR_CODES.SNAPSHOT_FORMAT);
    const flipped = bytes.slice();
    flipped[bytes.length >> 1]! ^= 0x40;
    expect(code(flipped)).toBe(ERROR_CODES.SNAPSHOT_FORMAT);
    const random = seeded(9);
    expect(code(Uint8Array.from({ length: 4096 }, () => Math.floor(random() * 256)))).toBe(
      ERROR_CODES.SNAPSHOT_FORMAT,
    );
    expect(code(new TextEncoder().encode('{"not":"a snapshot"}'))).toBe(
      ERROR_CODES.SNAPSHOT_FORMAT,
    );
    // Options that give stored values their meaning must match; limits too small are refused.
    expect(code(bytes, { ...OPTIONS, decayHalfLivesSec: [60] })).toBe(ERROR_CODES.SNAPSHOT_FORMAT);
    expect(code(bytes, { ...OPTIONS, maxTrackedKeys: 10 })).toBe(ERROR_CODES.SNAPSHOT_FORMAT);
    expect(code(bytes, { ...OPTIONS, maxTrackedKeys: 100_000 })).toBe('restored');
  });
});

describe('hottestKeys', () => {
  it('returns the k resident keys with the highest decayed count, hottest first', () => {
    const store = new FeatureStore(BASE_OPTIONS);
    const events: AccessEvent[] = [];
    // key i is accessed i times at t = 1000 (so counts are exact: no decay at the clock).
    for (let i = 1; i <= 20; i++)
      for (let j = 0; j < i; j++) events.push({ ts: 1000, key: `k${i}`, hit: true });
    events.push({ ts: 1000, key: 'k20', hit: false, op: 'evict' });
    store.applyAccess('n', events);
    expect(store.hottestKeys('n', 3).map((k) => [k.key, k.decayedCounts[0]])).toEqual([
      ['k19', 19],
      ['k18', 18],
      ['k17', 17],
    ]);
    expect(store.hottestKeys('n', 0)).toEqual([]);
    expect(store.hottestKeys('other', 3)).toEqual([]);
    expect(store.hottestKeys('n', 100)).toHaveLength(19);
  });
});
