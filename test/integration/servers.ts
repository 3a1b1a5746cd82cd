/**
 * Real NATS (JetStream) and Redis for integration tests: connections, cleanup of the isolated
 * names a test used, and a subscription that collects dead letters. Never a mock of either.
 */
import { connect, type NatsConnection } from 'nats';
import { Redis } from 'ioredis';
import { names, type Settings } from '../../src/config/settings.js';
import { NATS_URL, REDIS_URL } from '../helpers/engine.js';

export async function natsConnection(): Promise<NatsConnection> {
  return connect({ servers: NATS_URL, name: 'prescient-test' });
}

export function redisConnection(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
}

/** Deletes the streams, KV bucket and Redis keys an isolated test engine created. */
export async function cleanup(settings: Settings): Promise<void> {
  const nc = await natsConnection();
  const jsm = await nc.jetstreamManager();
  const n = names(settings);
  for (const stream of [
    settings.streamName,
    n.deadLetterStream,
    `KV_${settings.kvBucket}`,
    `OBJ_${settings.modelsBucket}`,
  ]) {
    await jsm.streams.delete(stream).catch(() => false);
  }
  await nc.close();
  const redis = redisConnection();
  const keys = await redis.keys(`${settings.redisPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
}
