/**
 * Overrides through real NATS and Redis: the time from POST /v1/overrides to the document in the
 * KV bucket (< 1 s), expiry without anyone acting, a restart that keeps overrides, the audit
 * stream in Redis, and client acks over NATS in GET /v1/clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvWatchInclude, type KV, type NatsConnection } from 'nats';
import type { Engine } from '../../src/engine.js';
import type { App } from '../../src/api/app.js';
import { names } from '../../src/config/settings.js';
import type { WeightsDocument } from '../../src/publish/document.js';
import {
  bearer,
  isolatedSettings,
  latencyEvents,
  NATS_URL,
  REDIS_URL,
  startApp,
  stopApp,
  waitFor,
} from '../helpers/engine.js';
import { cleanup, natsConnection, redisConnection } from './servers.js';

const settings = isolatedSettings({
  natsUrl: NATS_URL,
  redisUrl: REDIS_URL,
  weigher: 'inverse-latency',
  victimRanker: 'lru',
});

let nc: NatsConnection;
let kv: KV;
beforeAll(async () => {
  nc = await natsConnection();
});
afterAll(async () => {
  await nc.close();
  await cleanup(settings);
});

const startEngine = () => startApp(settings);
const stopEngine = stopApp;

const kvWeights = async () => (await kv.get('weights.api'))?.json<WeightsDocument>();

/** Resolves with the first KV revision of weights.api that satisfies `pred`, and when it arrived. */
async function watchFor(pred: (d: WeightsDocument) => boolean, timeoutMs = 5000) {
  const iter = await kv.watch({ key: 'weights.api', include: KvWatchInclude.UpdatesOnly });
  const timer = setTimeout(() => iter.stop(), timeoutMs);
  try {
    for await (const e of iter) {
      if (e.operation !== 'PUT') continue;
      const doc = e.json<WeightsDocument>();
      if (pred(doc)) return { doc, atMs: Date.now() };
    }
  } finally {
    clearTimeout(timer);
    iter.stop();
  }
  throw new Error(`no matching weights.api document within ${timeoutMs} ms`);
}

describe('overrides over NATS and Redis', () => {
  let first: { engine: Engine; app: App };
  let overrideId = '';

  it('a drain reaches the KV document in under a second, with reason OVERRIDE', async () => {
    first = await startEngine();
    const js = nc.jetstream();
    kv = await js.views.kv(settings.kvBucket);
    const events = latencyEvents('api', ['b0', 'b1', 'b2'], 10, 5);
    await js.publish(names(settings).latencySubject('lb-1'), JSON.stringify({ events }));
    await waitFor(
      async () => (await kvWeights())?.entries.length === 3,
      10_000,
      'weights published',
    );

    const watching = watchFor((d) => d.overrides.length > 0);
    const t0 = Date.now();
    const r = await first.app.inject({
      method: 'POST',
      url: '/v1/overrides',
      headers: bearer('operator'),
      payload: {
        action: 'drain',
        pool: 'api',
        backend: 'b0',
        reason: 'disk failing',
        ttlSec: 3600,
      },
    });
    expect(r.statusCode).toBe(201);
    overrideId = r.json<{ id: string }>().id;
    const { doc, atMs } = await watching;
    const elapsed = atMs - t0;
    console.log(`override → KV document: ${elapsed} ms`);
    expect(elapsed).toBeLessThan(1000);
    expect(doc.entries.find((e) => e.backend === 'b0')).toMatchObject({
      weight: 0,
      haproxyWeight: 0,
      reason: 'OVERRIDE',
      override: overrideId,
    });
    expect(doc.reasons.find((x) => x.code === 'OVERRIDE')?.text).toContain('disk failing');

    const redis = redisConnection();
    const stored = await redis.hget(`${settings.redisPrefix}overrides`, overrideId);
    expect(JSON.parse(stored!)).toMatchObject({
      id: overrideId,
      actor: 'test-operator',
      backend: 'b0',
    });
    const audit = await redis.xrange(`${settings.redisPrefix}audit`, '-', '+');
    expect(
      audit.map(([, f]) => JSON.parse(f[1]!) as { action: string }).map((e) => e.action),
    ).toEqual(['override.create']);
    await redis.quit();
  });

  it('records client acks sent over NATS', async () => {
    const version = (await kvWeights())!.version;
    nc.publish(
      `${settings.subjectPrefix}.policy.ack.weights.haproxy-1`,
      JSON.stringify({
        pool: 'api',
        version,
        appliedAt: Date.now(),
        proxy: 'haproxy-1',
        servers: [],
      }),
    );
    nc.publish(`${settings.subjectPrefix}.policy.ack.weights.haproxy-2`, 'not json');
    const clients = await waitFor(
      async () => {
        const c = (await first.app.inject('/v1/clients')).json<{ clients: { client: string }[] }>()
          .clients;
        return c.length > 0 ? c : undefined;
      },
      5000,
      'ack recorded',
    );
    expect(clients).toEqual([
      expect.objectContaining({
        client: 'haproxy-1',
        kind: 'weights',
        target: 'api',
        version,
        versionsBehind: 0,
      }),
    ]);
  });

  it('keeps overrides, acks and the audit log across a restart', async () => {
    await stopEngine(first);
    const second = await startEngine();
    try {
      const listed = (await second.app.inject('/v1/overrides')).json<{
        overrides: { id: string }[];
      }>();
      expect(listed.overrides.map((o) => o.id)).toEqual([overrideId]);
      await second.engine.publishNow();
      const doc = await kvWeights();
      expect(doc?.entries.find((e) => e.backend === 'b0')).toMatchObject({
        weight: 0,
        reason: 'OVERRIDE',
      });
      const audit = (await second.app.inject('/v1/audit')).json<{
        entries: { action: string }[];
      }>();
      expect(audit.entries.map((e) => e.action)).toEqual(['override.create']);
      const clients = (await second.app.inject('/v1/clients')).json<{
        clients: { client: string }[];
      }>();
      expect(clients.clients.map((c) => c.client)).toEqual(['haproxy-1']);

      // Expiry: a 1 s override is gone from KV within the next publish ticks, unasked.
      const r = await second.app.inject({
        method: 'POST',
        url: '/v1/overrides',
        headers: bearer('operator'),
        payload: {
          action: 'set-weight',
          pool: 'api',
          backend: 'b2',
          weight: 0.9,
          reason: 'brief',
          ttlSec: 1,
        },
      });
      const brief = r.json<{ id: string }>().id;
      await waitFor(
        async () => (await kvWeights())?.overrides.some((o) => o.id === brief),
        2000,
        'brief override applied',
      );
      await waitFor(
        async () => !(await kvWeights())?.overrides.some((o) => o.id === brief),
        4000,
        'brief override expired',
      );
      const redis = redisConnection();
      expect(await redis.hexists(`${settings.redisPrefix}overrides`, brief)).toBe(0);
      await redis.quit();
      const expired = (await second.app.inject(`/v1/audit?action=override.expire`)).json<{
        entries: { target: string }[];
      }>();
      expect(expired.entries.map((e) => e.target)).toEqual([`override/${brief}`]);
    } finally {
      await stopEngine(second);
    }
  });
});
