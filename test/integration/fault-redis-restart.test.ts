/**
 * `redis-server` restarts under a running engine: overrides and checkpoints survive (the test's
 * own redis-server runs with `appendonly yes`, `appendfsync always`, and is restarted on the same
 * directory), the engine reports Redis down in /readyz, keeps applying telemetry and publishing
 * documents to NATS KV during the outage (with the override still in force), reconnects and
 * checkpoints again, and a fresh engine started afterwards restores the features and the override.
 * NATS is the shared server (isolated names); only the test's own Redis is stopped.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { KV, NatsConnection } from 'nats';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { buildApp, type App } from '../../src/api/app.js';
import { names, type Settings } from '../../src/config/settings.js';
import type { EvictionDocument, WeightsDocument } from '../../src/publish/document.js';
import { authorize, bearer, isolatedSettings, NATS_URL, waitFor } from '../helpers/engine.js';
import { cleanup, natsConnection } from './servers.js';
import { startRedisServer, stopAll } from './fault-servers.js';

let settings: Settings | undefined;
const engines: Engine[] = [];
const apps: App[] = [];
let nc: NatsConnection | undefined;
afterAll(async () => {
  for (const a of apps) await a.close();
  for (const e of engines) await e.stop();
  await nc?.close();
  await stopAll();
  if (settings) await cleanup(settings);
});

async function startEngine(s: Settings): Promise<{ engine: Engine; app: App }> {
  const engine = new Engine(s, createLogger('silent'));
  engines.push(engine);
  await engine.start();
  const app = authorize(
    await buildApp({ engine, logger: false, telemetryBodyLimitBytes: 1 << 20 }),
  );
  apps.push(app);
  return { engine, app };
}

describe('redis-server restart', () => {
  it('keeps overrides and checkpoints, keeps publishing, and a fresh engine restores both', async () => {
    const redis = await startRedisServer();
    settings = isolatedSettings({
      natsUrl: NATS_URL,
      redisUrl: redis.url,
      weigher: 'inverse-latency',
      victimRanker: 'lru',
      retrainCronEviction: 'off',
      snapshotIntervalMs: 300,
      consumerAckWaitSec: 5,
      publishIntervalMs: 100,
      // Unchanged targets are re-published at half the TTL: versions keep coming every second.
      policyTtlMs: 2_000,
    });
    const s = settings;
    const n = names(s);
    const a = await startEngine(s);
    nc = await natsConnection();
    const js = nc.jetstream();
    const kv: KV = await js.views.kv(s.kvBucket);

    let batch = 0;
    /** One latency message for pool api (b0 fastest) and one access message for node n1. */
    const sendTelemetry = async () => {
      const ts = 1_000_000 + batch * 1_000;
      const latency = ['b0', 'b1', 'b2'].map((backend, i) => ({
        ts,
        pool: 'api',
        backend,
        latencyMs: 5 * (i + 1),
        status: 200,
      }));
      const access = Array.from({ length: 10 }, (_, k) => ({ ts, key: `k${k}`, hit: k % 2 === 0 }));
      await js.publish(n.latencySubject('lb-1'), JSON.stringify({ events: latency }), {
        msgID: `l${batch}`,
      });
      await js.publish(n.accessSubject('n1'), JSON.stringify({ events: access }), {
        msgID: `a${batch}`,
      });
      batch++;
      const applied = batch * 2;
      await waitFor(() => a.engine.stats().checkpoint.appliedSeq === applied, 10_000, 'applied');
    };
    const checkpointed = () =>
      waitFor(
        () => {
          const c = a.engine.stats().checkpoint;
          return c.checkpointedSeq === c.appliedSeq;
        },
        10_000,
        'a checkpoint of everything applied',
      );
    const weights = async () => (await kv.get('weights.api'))?.json<WeightsDocument>();
    const drained = (d: WeightsDocument | undefined) =>
      d?.entries.find((e) => e.backend === 'b0')?.weight === 0 &&
      d.entries.find((e) => e.backend === 'b0')?.reason === 'OVERRIDE';

    // Telemetry, two checkpoints (so the snapshot generation is past 1), and an override.
    await sendTelemetry();
    await checkpointed();
    await sendTelemetry();
    await checkpointed();
    const created = await a.app.inject({
      method: 'POST',
      url: '/v1/overrides',
      headers: bearer('operator'),
      payload: { action: 'drain', pool: 'api', backend: 'b0', reason: 'fault test', ttlSec: 3600 },
    });
    expect(created.statusCode).toBe(201);
    const overrideId = created.json<{ id: string }>().id;
    await waitFor(async () => drained(await weights()), 5_000, 'the override in weights.api');
    const probe = redis.connect();
    await probe.connect();
    const genBefore = Number(await probe.hget(n.redisSnapshotKey, 'gen'));
    expect(genBefore).toBeGreaterThanOrEqual(2);
    probe.disconnect();

    // Redis goes away.
    await redis.stop('SIGTERM');
    await waitFor(() => !a.engine.readiness().ready, 10_000, 'not ready');
    const readyz = await a.app.inject('/readyz');
    expect(readyz.statusCode).toBe(503);
    expect(readyz.json()).toMatchObject({
      ready: false,
      state: 'running',
      checks: { redis: { state: expect.stringMatching(/^(reconnecting|connecting)$/) } },
    });

    // During the outage: telemetry is applied, documents keep being published to NATS KV with
    // the override in force; checkpoints fail (counted) and are retried.
    const failuresBefore = a.engine.stats().checkpoint.failures;
    const vWeights = (await weights())!.version;
    const vEviction = (await kv.get('eviction.n1'))!.json<EvictionDocument>().version;
    await sendTelemetry();
    const during = await waitFor(
      async () => {
        const d = await weights();
        return d && d.version >= vWeights + 3 ? d : undefined;
      },
      10_000,
      'new weights.api versions while Redis is down',
    );
    expect(drained(during)).toBe(true);
    // eviction.n1 is mirrored to a Redis sorted set too: that write fails, the document does not.
    await waitFor(
      async () => (await kv.get('eviction.n1'))!.json<EvictionDocument>().version >= vEviction + 2,
      10_000,
      'new eviction.n1 versions while Redis is down',
    );
    await waitFor(
      () => a.engine.stats().checkpoint.failures > failuresBefore,
      10_000,
      'a failed checkpoint',
    );
    expect(a.engine.stats().checkpoint.checkpointedSeq).toBeLessThan(
      a.engine.stats().checkpoint.appliedSeq,
    );

    // Redis comes back on the same directory: what was written before the outage is there.
    await redis.start();
    const after = redis.connect();
    await after.connect();
    expect(JSON.parse((await after.hget(`${s.redisPrefix}overrides`, overrideId))!)).toMatchObject({
      id: overrideId,
      action: 'drain',
      backend: 'b0',
    });
    // Generations continue from the surviving pointer (an empty Redis would start again at 1).
    expect(Number(await after.hget(n.redisSnapshotKey, 'gen'))).toBeGreaterThanOrEqual(genBefore);
    after.disconnect();

    // The engine reconnects, checkpoints what it applied during the outage, keeps the override,
    // and writes the victims mirror again.
    await waitFor(() => a.engine.readiness().ready, 30_000, 'ready again');
    expect((await a.app.inject('/readyz')).statusCode).toBe(200);
    await checkpointed();
    const mirror = redis.connect();
    await mirror.connect();
    await waitFor(
      async () => (await mirror.zcard(`${s.redisPrefix}evict:n1`)) === 10,
      10_000,
      'the victims sorted set written again',
    );
    mirror.disconnect();
    await sendTelemetry();
    await checkpointed();
    const listed = await a.app.inject({ url: '/v1/overrides', headers: bearer('viewer') });
    expect(listed.json<{ overrides: { id: string }[] }>().overrides.map((o) => o.id)).toEqual([
      overrideId,
    ]);
    const vAfter = (await weights())!.version;
    const next = await waitFor(
      async () => {
        const d = await weights();
        return d && d.version > vAfter ? d : undefined;
      },
      10_000,
      'weights.api versions after the restart',
    );
    expect(drained(next)).toBe(true);

    // A fresh engine restores the checkpoint (features) and the override.
    const finalSeq = a.engine.stats().checkpoint.appliedSeq;
    const featuresOfA = Array.from({ length: 10 }, (_, k) =>
      a.engine.store.keyFeatures('n1', `k${k}`),
    );
    const lastVersion = (await weights())!.version;
    await a.app.close();
    await a.engine.stop();
    apps.splice(apps.indexOf(a.app), 1);
    engines.splice(engines.indexOf(a.engine), 1);
    const b = await startEngine(s);
    expect(b.engine.stats().checkpoint.restoredSeq).toBe(finalSeq);
    for (let k = 0; k < 10; k++) {
      expect(b.engine.store.keyFeatures('n1', `k${k}`)).toEqual(featuresOfA[k]);
      expect(b.engine.store.keyFeatures('n1', `k${k}`)?.accesses).toBe(batch);
    }
    expect(b.engine.control.listOverrides({}).map((o) => o.id)).toEqual([overrideId]);
    const fromB = await waitFor(
      async () => {
        const d = await weights();
        return d && d.version > lastVersion ? d : undefined;
      },
      10_000,
      "B's first weights.api",
    );
    expect(drained(fromB)).toBe(true);
  }, 120_000);
});
