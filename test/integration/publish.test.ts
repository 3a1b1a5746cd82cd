/**
 * Eviction documents after access telemetry over real NATS: in the KV bucket and mirrored into
 * the Redis sorted set a cache pops its victims from.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { names } from '../../src/config/settings.js';
import { isolatedSettings, NATS_URL, REDIS_URL, waitFor } from '../helpers/engine.js';
import { cleanup, natsConnection, redisConnection } from './servers.js';

const settings = isolatedSettings({ natsUrl: NATS_URL, redisUrl: REDIS_URL, victimsPerNode: 3 });
afterAll(() => cleanup(settings));

describe('eviction.<node> publication', () => {
  it('publishes victims to KV and to the sorted set prescient:evict:<node>', async () => {
    const engine = new Engine(settings, createLogger('silent'));
    await engine.start();
    const nc = await natsConnection();
    const js = nc.jetstream();
    const events = ['a', 'b', 'c', 'd', 'e'].map((key, i) => ({
      ts: 1_000 * (i + 1),
      key,
      hit: false,
    }));
    events.push({ ts: 6_000, key: 'a', hit: true }); // a is now the most recent
    events.push({ ts: 6_500, key: 'b', hit: false, op: 'evict' } as (typeof events)[number]); // b left the cache
    await js.publish(names(settings).accessSubject('cache-1'), JSON.stringify({ events }));
    await waitFor(() => engine.stats().telemetry.accepted.access === 7, 10_000, 'events applied');
    await engine.publishNow();

    const kv = await js.views.kv(settings.kvBucket);
    const doc = (await kv.get('eviction.cache-1'))?.json<{
      entries: { key: string; score: number; rank: number }[];
    }>();
    // Resident keys in LRU order: c (3 s), d (4 s), e (5 s), a (6 s); the top 3, idle at 6.5 s.
    expect(doc?.entries.map((e) => [e.key, e.score, e.rank])).toEqual([
      ['c', 3.5, 1],
      ['d', 2.5, 2],
      ['e', 1.5, 3],
    ]);

    const redis = redisConnection();
    const key = `${settings.redisPrefix}evict:cache-1`;
    expect(await redis.zrange(key, 0, -1, 'WITHSCORES')).toEqual([
      'e',
      '1.5',
      'd',
      '2.5',
      'c',
      '3.5',
    ]);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(settings.policyTtlMs);
    expect(await redis.zpopmax(key)).toEqual(['c', '3.5']);
    await redis.quit();
    await nc.close();
    await engine.stop();
  });
});
