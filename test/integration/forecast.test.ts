/**
 * Forecasts from latency telemetry over real NATS: `forecast.pool.<pool>` in the KV bucket, the
 * REST route with history and interval, the Prometheus gauges, and the spike flag when a step
 * leaves its interval. Steps of 1 s and a 10-step "day" keep the history short.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { names } from '../../src/config/settings.js';
import { buildApp } from '../../src/api/app.js';
import { authorize, isolatedSettings, NATS_URL, waitFor } from '../helpers/engine.js';
import { cleanup, natsConnection } from './servers.js';

const settings = isolatedSettings({
  natsUrl: NATS_URL,
  seriesStepSec: 1,
  forecastSeasonSteps: 10,
  forecastMinSeasons: 2,
  forecastHorizonSteps: 5,
  publishIntervalMs: 60_000, // the test drives publication
});
afterAll(() => cleanup(settings));

const BASE = 1_700_000_000_000;
const perStep = (i: number) => [3, 4, 6, 9, 12, 12, 9, 6, 4, 3][i % 10]!;

describe('forecast.<series>', () => {
  it('publishes pool forecasts with intervals, serves them, and flags a spike', async () => {
    const engine = new Engine(settings, createLogger('silent'));
    await engine.start();
    const nc = await natsConnection();
    const js = nc.jetstream();
    const subject = names(settings).latencySubject('edge-1');
    const sendStep = async (i: number, count: number) => {
      const events = Array.from({ length: count }, (_, j) => ({
        ts: BASE + i * 1000 + j,
        pool: 'web',
        backend: 'a',
        latencyMs: 5,
        status: 200,
      }));
      await js.publish(subject, JSON.stringify({ events }));
    };
    let sent = 0;
    for (let i = 0; i < 40; i++) {
      await sendStep(i, perStep(i));
      sent += perStep(i);
    }
    await sendStep(40, 1); // opens step 40, which completes step 39
    sent += 1;
    await waitFor(
      () => engine.stats().telemetry.accepted.latency === sent,
      10_000,
      'latency applied',
    );
    await engine.publishNow();

    const kv = await js.views.kv(settings.kvBucket);
    type Doc = {
      kind: string;
      version: number;
      stepSec: number;
      originMs: number;
      model: { id: string };
      entries: { ts: number; p10: number; p50: number; p90: number; reason: string }[];
      spike: unknown;
    };
    const doc = (await kv.get('forecast.pool.web'))?.json<Doc>();
    expect(doc).toMatchObject({
      kind: 'forecast',
      stepSec: 1,
      originMs: BASE + 39_000,
      model: { id: 'served' },
    });
    expect(doc!.entries.map((e) => e.ts)).toEqual([40, 41, 42, 43, 44].map((i) => BASE + i * 1000));
    for (const e of doc!.entries) {
      expect(e.reason).toBe('MODEL');
      expect(e.p10).toBeLessThanOrEqual(e.p50);
      expect(e.p50).toBeLessThanOrEqual(e.p90);
    }
    // The pattern repeats every 10 steps: the next steps are 3, 4, 6, 9, 12 requests/s.
    expect(doc!.entries.map((e) => Math.round(e.p50))).toEqual([3, 4, 6, 9, 12]);

    const app = authorize(
      await buildApp({ engine, logger: false, telemetryBodyLimitBytes: 1 << 20 }),
    );
    const r = await app.inject('/v1/forecasts/pool.web');
    expect(r.statusCode).toBe(200);
    const body = r.json<{
      history: { ts: number; value: number }[];
      forecast: unknown[];
      unit: string;
    }>();
    expect(body.unit).toBe('requests/s');
    expect(body.forecast).toHaveLength(5);
    expect(body.history.at(-1)).toEqual({ ts: BASE + 39_000, value: 3 });
    expect((await app.inject('/v1/forecasts/pool.nope')).statusCode).toBe(404);

    // Step 40 gets 40 requests where about 3 were forecast; step 41 completes it.
    await sendStep(40, 39);
    await sendStep(41, 1);
    sent += 40;
    await waitFor(
      () => engine.stats().telemetry.accepted.latency === sent,
      10_000,
      'spike applied',
    );
    await engine.publishNow();
    const spiked = (await kv.get('forecast.pool.web'))?.json<Doc>();
    expect(spiked?.version).toBe(doc!.version + 1);
    expect(spiked?.spike).toMatchObject({
      active: true,
      direction: 'up',
      actual: 40,
      ts: BASE + 40_000,
    });
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/^prescient_forecast_spike\{series="pool\.web"\} 1$/m);
    expect(metrics).toMatch(/^prescient_forecast_p90\{series="pool\.web"\} \d/m);
    await app.close();
    await nc.close();
    await engine.stop();
  });
});
