/** Feature-store checkpoints round-trip through a real Redis, including multi-chunk snapshots. */
import { afterAll, describe, expect, it } from 'vitest';
import { FeatureStore } from '../../src/features/feature-store.js';
import { RedisSnapshotStore } from '../../src/state/redis-snapshot-store.js';
import { featureOptions } from '../../src/engine.js';
import { isolatedSettings } from '../helpers/engine.js';
import { redisConnection } from './servers.js';

const settings = isolatedSettings({ maxTrackedKeys: 300_000 });
const redis = redisConnection();
afterAll(async () => {
  const keys = await redis.keys(`${settings.redisPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

function workload(store: FeatureStore, keys: number): void {
  for (let b = 0; b < keys / 1000; b++) {
    store.applyAccess(
      b % 2 ? 'n1' : 'n2',
      Array.from({ length: 1000 }, (_, j) => ({
        ts: 1_000 * b + j,
        key: `key-${(b * 1000 + j) % keys}`,
        hit: j % 3 === 0,
        size: j,
      })),
    );
    store.applyLatency('edge', [
      {
        ts: 1_000 * b,
        pool: 'web',
        backend: `b${b % 3}`,
        latencyMs: 5 + (b % 7),
        status: b % 11 ? 200 : 503,
        inflight: b % 5,
      },
    ]);
  }
}

describe('RedisSnapshotStore', () => {
  it('returns nothing before the first save', async () => {
    const store = new RedisSnapshotStore(redis, `${settings.redisPrefix}empty`);
    expect(await store.load()).toBeUndefined();
  });

  it('round-trips a multi-chunk snapshot and keeps only the latest generation', async () => {
    const key = `${settings.redisPrefix}features:snapshot`;
    const snapshots = new RedisSnapshotStore(redis, key);
    const original = new FeatureStore(featureOptions(settings));
    workload(original, 250_000);
    const bytes = original.snapshot();
    expect(bytes.byteLength).toBeGreaterThan(8 * 1024 * 1024); // more than one chunk

    await snapshots.save({
      snapshot: bytes,
      meta: { appliedSeq: 41, streamCreated: 'c1', savedAtMs: 1, bytes: bytes.byteLength },
    });
    await snapshots.save({
      snapshot: bytes,
      meta: { appliedSeq: 42, streamCreated: 'c1', savedAtMs: 2, bytes: bytes.byteLength },
    });
    const loaded = await snapshots.load();
    expect(loaded?.meta).toEqual({
      appliedSeq: 42,
      streamCreated: 'c1',
      savedAtMs: 2,
      bytes: bytes.byteLength,
    });
    expect(Buffer.from(loaded!.snapshot).equals(Buffer.from(bytes))).toBe(true);
    // Generation 1's chunks were deleted when generation 2 was switched in.
    expect(await redis.keys(`${key}:1:*`)).toEqual([]);
    expect((await redis.keys(`${key}:2:*`)).length).toBe(
      Math.ceil(bytes.byteLength / (8 * 1024 * 1024)),
    );

    const restored = FeatureStore.restore(loaded!.snapshot, featureOptions(settings));
    expect(restored.stats()).toEqual(original.stats());
    for (const k of ['key-0', 'key-1', 'key-777', 'key-249999']) {
      for (const node of ['n1', 'n2'])
        expect(restored.keyFeatures(node, k)).toEqual(original.keyFeatures(node, k));
    }
    expect(restored.poolBackends('web')).toEqual(original.poolBackends('web'));
    expect(restored.lruVictims('n1', 50)).toEqual(original.lruVictims('n1', 50));
    expect(restored.series('pool.web')).toEqual(original.series('pool.web'));
  });

  it('refuses a checkpoint with a missing chunk with PRESCIENT_E_SNAPSHOT_FORMAT', async () => {
    const key = `${settings.redisPrefix}broken`;
    const snapshots = new RedisSnapshotStore(redis, key);
    const bytes = new Uint8Array(10).fill(7);
    await snapshots.save({
      snapshot: bytes,
      meta: { appliedSeq: 1, streamCreated: '', savedAtMs: 1, bytes: 10 },
    });
    await redis.del(`${key}:1:0`);
    await expect(snapshots.load()).rejects.toMatchObject({ code: 'PRESCIENT_E_SNAPSHOT_FORMAT' });
  });
});
