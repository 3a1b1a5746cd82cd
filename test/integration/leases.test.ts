/**
 * Leases with fencing tokens and replica membership against a real Redis: exclusivity, fences
 * that only grow, renew / release / fenced writes refused to a holder whose lease expired or was
 * taken over, and liveness by heartbeat.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisLeases, ReplicaMembership } from '../../src/state/leases.js';
import { isolatedSettings } from '../helpers/engine.js';
import { redisConnection } from './servers.js';

const prefix = isolatedSettings().redisPrefix;
const redis = redisConnection();
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** Long enough never to expire during a test. */
const LONG_MS = 60_000;
/** Short enough to wait out: tests sleep {@link PAST_SHORT_MS} to see a lease expire. */
const SHORT_MS = 200;
const PAST_SHORT_MS = 300;

describe('RedisLeases', () => {
  const leases = new RedisLeases(redis, prefix, LONG_MS);
  const short = new RedisLeases(redis, prefix, SHORT_MS);

  it('gives a lease to one holder at a time', async () => {
    const a = await leases.acquire('exclusive', 'replica-a');
    expect(a).toEqual({ name: 'exclusive', holder: 'replica-a', fence: 1 });
    expect(await leases.acquire('exclusive', 'replica-b')).toBeUndefined();
    expect(await leases.owner('exclusive')).toEqual({ holder: 'replica-a', fence: 1 });
    expect(await redis.pttl(`${prefix}lease:exclusive`)).toBeGreaterThan(LONG_MS - 5_000);
  });

  it('gives the lease back to the same holder with a new fence, fencing out the old one', async () => {
    const first = (await leases.acquire('rejoin', 'replica-a'))!;
    const again = (await leases.acquire('rejoin', 'replica-a'))!;
    expect(again.fence).toBe(first.fence + 1);
    expect(await leases.renew(first)).toBe(false);
    expect(await leases.renew(again)).toBe(true);
    expect(await leases.owner('rejoin')).toEqual({ holder: 'replica-a', fence: again.fence });
  });

  it('tells holders apart exactly, spaces and prefixes included', async () => {
    expect(await leases.acquire('spaces', 'host a')).toMatchObject({ fence: 1 });
    expect(await leases.acquire('spaces', 'host')).toBeUndefined();
    expect(await leases.acquire('spaces', 'host a 1')).toBeUndefined();
    expect(await leases.acquire('spaces', 'host a')).toMatchObject({ fence: 2 });
    expect(await leases.owner('spaces')).toEqual({ holder: 'host a', fence: 2 });
  });

  it('renews while held; after expiry another holder takes over and the old lease is dead', async () => {
    const a = (await short.acquire('expiry', 'replica-a'))!;
    expect(await short.renew(a)).toBe(true);
    await sleep(PAST_SHORT_MS);
    expect(await short.owner('expiry')).toBeUndefined();
    const b = (await short.acquire('expiry', 'replica-b'))!;
    expect(b.fence).toBe(a.fence + 1);
    expect(await short.renew(a)).toBe(false);
    expect(await short.release(a)).toBe(false);
    expect(await short.owner('expiry')).toEqual({ holder: 'replica-b', fence: b.fence });
  });

  it('lets only the holder release, and keeps the fence growing after a release', async () => {
    const a = (await leases.acquire('release', 'replica-a'))!;
    expect(await leases.release({ ...a, holder: 'replica-b' })).toBe(false);
    expect(await leases.release({ ...a, fence: a.fence - 1 })).toBe(false);
    expect(await leases.owner('release')).toEqual({ holder: 'replica-a', fence: a.fence });
    expect(await leases.release(a)).toBe(true);
    expect(await leases.owner('release')).toBeUndefined();
    expect(await leases.renew(a)).toBe(false);
    const b = (await leases.acquire('release', 'replica-b'))!;
    expect(b.fence).toBe(a.fence + 1);
  });

  it('writes a fenced hash only with the current lease', async () => {
    const pointer = `${prefix}partition:3:snapshot`;
    const a = (await short.acquire('fenced', 'replica-a'))!;
    expect(await short.fencedHset(a, pointer, { gen: 1, chunks: 2 })).toBe(true);
    expect(await redis.hgetall(pointer)).toEqual({ gen: '1', chunks: '2' });

    // replica-a pauses past its TTL; replica-b takes the partition and checkpoints it.
    await sleep(PAST_SHORT_MS);
    const b = (await short.acquire('fenced', 'replica-b'))!;
    await redis.set(`${pointer}:old-chunk`, 'x');
    expect(
      await short.fencedHset(b, pointer, { gen: 2, owner: 'replica-b' }, [`${pointer}:old-chunk`]),
    ).toBe(true);
    expect(await redis.exists(`${pointer}:old-chunk`)).toBe(0);

    // replica-a wakes up: its write (and its deletes) are refused; replica-b's checkpoint stays.
    await redis.set(`${pointer}:b-chunk`, 'y');
    expect(await short.fencedHset(a, pointer, { gen: 3 }, [`${pointer}:b-chunk`])).toBe(false);
    expect(await redis.hgetall(pointer)).toEqual({ gen: '2', chunks: '2', owner: 'replica-b' });
    expect(await redis.get(`${pointer}:b-chunk`)).toBe('y');

    // A stale fence of the same holder is refused too; the current one is accepted.
    const b2 = (await short.acquire('fenced', 'replica-b'))!;
    expect(await short.fencedHset(b, pointer, { gen: 4 })).toBe(false);
    expect(await short.fencedHset(b2, pointer, { gen: 5 })).toBe(true);
    expect(await redis.hget(pointer, 'gen')).toBe('5');

    // An expired lease nobody took over is refused as well.
    await sleep(PAST_SHORT_MS);
    expect(await short.fencedHset(b2, pointer, { gen: 6 })).toBe(false);
    expect(await redis.hget(pointer, 'gen')).toBe('5');
  });

  it('reads several owners in one call, free leases as undefined', async () => {
    await leases.acquire('many:0', 'replica-a');
    await leases.acquire('many:2', 'replica-b');
    const owners = await leases.owners(['many:0', 'many:1', 'many:2']);
    expect([...owners]).toEqual([
      ['many:0', { holder: 'replica-a', fence: 1 }],
      ['many:1', undefined],
      ['many:2', { holder: 'replica-b', fence: 1 }],
    ]);
    expect((await leases.owners([])).size).toBe(0);
  });
});

describe('ReplicaMembership', () => {
  it('lists heartbeating replicas sorted, and forgets one that leaves', async () => {
    const members = new ReplicaMembership(redis, `${prefix}m1:`, LONG_MS);
    expect(await members.live()).toEqual([]);
    await members.heartbeat('replica-b');
    await members.heartbeat('replica-a');
    await members.heartbeat('replica-b');
    expect(await members.live()).toEqual(['replica-a', 'replica-b']);
    await members.leave('replica-a');
    expect(await members.live()).toEqual(['replica-b']);
  });

  it('drops a replica whose heartbeat is older than the TTL', async () => {
    // 600 ms: wide margins (≥ 200 ms) on both sides of every cut-off, for slow machines.
    const members = new ReplicaMembership(redis, `${prefix}m2:`, 600);
    await members.heartbeat('replica-a');
    await members.heartbeat('replica-b');
    await sleep(300);
    await members.heartbeat('replica-b');
    expect(await members.live()).toEqual(['replica-a', 'replica-b']);
    await sleep(400); // replica-a silent for 700 ms, replica-b for 400 ms
    expect(await members.live()).toEqual(['replica-b']);
    // Still in the set (a heartbeat would bring it back), removed after 10 TTLs of silence.
    expect(await redis.zscore(`${prefix}m2:replicas`, 'replica-a')).not.toBeNull();
  });

  it('removes replicas silent for 10 TTLs on the next heartbeat', async () => {
    const members = new ReplicaMembership(redis, `${prefix}m3:`, 20);
    await members.heartbeat('replica-a');
    await sleep(250);
    await members.heartbeat('replica-b');
    expect(await redis.zrange(`${prefix}m3:replicas`, 0, -1)).toEqual(['replica-b']);
  });
});
