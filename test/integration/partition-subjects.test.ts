/**
 * PRESCIENT_PARTITION_SUBJECTS=1 on a nats-server without the mappings (the shared one): the
 * telemetry is stored under its documented subject, which no partition's consumer reads. The
 * leader notices at its next checkpoint, says so in the log and fails readiness, naming the fix.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  isolatedSettings,
  NATS_URL,
  postTelemetry,
  REDIS_URL,
  startApp,
  stopApp,
  waitFor,
} from '../helpers/engine.js';
import { cleanup } from './servers.js';

const settings = isolatedSettings({
  natsUrl: NATS_URL,
  redisUrl: REDIS_URL,
  partitions: 2,
  partitionSubjects: 1,
  victimRanker: 'lru',
  retrainCronEviction: 'off',
  retrainCronForecast: 'off',
});
afterAll(() => cleanup(settings));

describe('partition feeds without the NATS mappings', () => {
  it('applies nothing and fails readiness, naming the mappings', async () => {
    const running = await startApp(settings);
    try {
      const { engine, app } = running;
      expect(engine.clusterStats()).toMatchObject({ held: [0, 1], feeds: 'partition' });
      expect(engine.readiness().ready).toBe(true);
      const events = [{ ts: 1_000, key: 'k1', hit: false }];
      expect(await postTelemetry(app, [['access', 'node-a', events]])).toEqual([202]);
      await waitFor(
        async () => {
          await engine.checkpoint();
          return !engine.readiness().ready;
        },
        10_000,
        'readiness to fail',
      );
      expect(engine.readiness().checks['nats-mappings']?.detail).toMatch(
        /1 telemetry messages on unmapped subjects.*prescient cluster nats-mappings/,
      );
      expect(engine.store.keyFeatures('node-a', 'k1')).toBeUndefined();
    } finally {
      await stopApp(running);
    }
  });
});
