/**
 * REDIS_CLUSTER=1: the engine on a three-node Redis Cluster started by the test (plus the shared
 * NATS), in scale-out mode with two partitions. Leases, fenced partition checkpoints, overrides with
 * their audit entries and model aliases all live in the prefix's hash-tag slot; a second engine
 * started after a graceful stop restores the partitions' features and the override.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { randomBytes } from 'node:crypto';
import {
  bearer,
  isolatedSettings,
  latencyEvents,
  NATS_URL,
  postTelemetry,
  startApp,
  stopApp,
  waitFor,
} from '../helpers/engine.js';
import { clusterSeeds } from '../../src/clients/redis-client.js';
import { ConfigError } from '../../src/errors.js';
import { loadSettings } from '../../src/config/settings.js';
import { cleanup } from './servers.js';
import { startRedisCluster, stopAll } from './fault-servers.js';

let cluster: Awaited<ReturnType<typeof startRedisCluster>> | undefined;
let settings: ReturnType<typeof isolatedSettings> | undefined;
afterAll(async () => {
  if (settings) await cleanup({ ...settings, redisUrl: undefined }).catch(() => undefined);
  await stopAll();
});

const access = Array.from({ length: 60 }, (_, i) => ({
  ts: 1_000 + i,
  key: `k${i % 6}`,
  hit: false,
}));

describe('Redis Cluster', () => {
  it('refuses REDIS_CLUSTER=1 without a hash tag in the prefix', () => {
    expect(() => loadSettings({}, { redisUrl: 'redis://127.0.0.1:7000', redisCluster: 1 })).toThrow(
      ConfigError,
    );
  });

  it('runs the engine on a three-node cluster and restores from it', async () => {
    cluster = await startRedisCluster(3);
    const tag = randomBytes(4).toString('hex');
    settings = isolatedSettings({
      natsUrl: NATS_URL,
      redisUrl: cluster.url,
      redisCluster: 1,
      redisPrefix: `{prescient-${tag}}:`,
      partitions: 2,
      leaseTtlMs: 2_000,
      victimRanker: 'lru',
      retrainCronEviction: 'off',
      retrainCronForecast: 'off',
    });
    const first = await startApp(settings);
    expect(first.engine.clusterStats()?.held).toEqual([0, 1]);
    expect(first.engine.readiness().ready).toBe(true);

    const codes = await postTelemetry(first.app, [
      ['access', 'node-a', access],
      ['access', 'node-b', access],
      ['latency', 'proxy-1', latencyEvents('api', ['b0', 'b1'], 20, 10)],
    ]);
    expect(codes).toEqual([202, 202, 202]);
    await waitFor(
      () => first.engine.store.keyFeatures('node-b', 'k0')?.accesses === 10,
      10_000,
      'telemetry applied',
    );
    const created = await first.app.inject({
      method: 'POST',
      url: '/v1/overrides',
      headers: bearer('operator'),
      payload: { action: 'drain', pool: 'api', backend: 'b0', reason: 'cluster test', ttlSec: 600 },
    });
    expect(created.statusCode).toBe(201);
    await first.engine.publishNow();
    await stopApp(first); // checkpoints both partitions, releases the leases

    // Everything is in the hash tag's slot, spread over no other node.
    const redis = new Cluster(clusterSeeds(cluster.url), { lazyConnect: true });
    await redis.connect();
    const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', settings.redisPrefix));
    const pointer = `${settings.redisPrefix}features:snapshot:p0`;
    expect(Number(await redis.call('CLUSTER', 'KEYSLOT', pointer))).toBe(slot);
    expect(Number(await redis.hget(pointer, 'appliedSeq'))).toBeGreaterThan(0);
    expect(await redis.xlen(`${settings.redisPrefix}audit`)).toBeGreaterThan(0);
    redis.disconnect();

    const second = await startApp(settings);
    try {
      expect(second.engine.clusterStats()?.held).toEqual([0, 1]);
      expect(second.engine.store.keyFeatures('node-a', 'k0')?.accesses).toBe(10);
      expect(second.engine.store.keyFeatures('node-b', 'k5')?.accesses).toBe(10);
      expect(second.engine.store.poolBackends('api').map((b) => b.backend)).toEqual(['b0', 'b1']);
      const overrides = await second.app.inject({
        url: '/v1/overrides',
        headers: bearer('viewer'),
      });
      expect(overrides.json()).toMatchObject({
        overrides: [{ action: 'drain', pool: 'api', backend: 'b0' }],
      });
      const audit = await second.app.inject({ url: '/v1/audit', headers: bearer('viewer') });
      expect(JSON.stringify(audit.json())).toContain('override.create');
    } finally {
      await stopApp(second);
    }
  }, 120_000);
});
