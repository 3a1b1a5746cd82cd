/**
 * The `forecast` model kind end to end over real NATS: a pool's series gets history quickly (1 s
 * steps, a 10-step "day"), `POST /v1/models/forecast/retrain` versions the served forecaster as a
 * challenger (margin 0.99: nothing is promoted automatically), promote makes the forecast document
 * follow the champion, rollback brings the earlier one back, and GET /v1/models lists it all.
 */
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine.js';
import { names } from '../../src/config/settings.js';
import {
  isolatedSettings,
  NATS_URL,
  startApp,
  stopApp,
  waitFor,
  type ModelsBody,
} from '../helpers/engine.js';
import { cleanup, natsConnection } from './servers.js';

const settings = isolatedSettings({
  natsUrl: NATS_URL,
  victimRanker: 'lru',
  seriesStepSec: 1,
  forecastSeasonSteps: 10,
  forecastMinSeasons: 2,
  forecastHorizonSteps: 5,
  forecastPromoteMargin: 0.99,
  retrainCronForecast: '',
  publishIntervalMs: 3_600_000, // the test drives publication
});
afterAll(async () => {
  await cleanup(settings);
  await rm(settings.modelDir, { recursive: true, force: true });
});

const BASE = 1_700_000_000_000;
const perStep = (i: number) => [3, 4, 6, 9, 12, 12, 9, 6, 4, 3][i % 10]! + ((i * 7) % 3);

describe('model registry (forecast)', () => {
  it('retrains a series, promotes and rolls back over the API', async () => {
    const { engine, app } = await startApp(settings);
    const nc = await natsConnection();
    const js = nc.jetstream();
    const subject = names(settings).latencySubject('edge-1');
    let sent = 0;
    let step = 0;
    /** Sends steps up to `until` (exclusive) and one event opening the next; waits for them. */
    const sendUntil = async (e: Engine, until: number) => {
      for (; step <= until; step++) {
        const count = step === until ? 1 : perStep(step);
        const events = Array.from({ length: count }, (_, j) => ({
          ts: BASE + step * 1000 + j,
          pool: 'web',
          backend: 'a',
          latencyMs: 5,
          status: 200,
        }));
        await js.publish(subject, JSON.stringify({ events }));
        sent += count;
      }
      step = until; // the opening event's step gets the rest of its requests next time
      await waitFor(() => e.stats().telemetry.accepted.latency === sent, 10_000, 'applied');
    };
    await sendUntil(engine, 70);
    const retrain = async () => {
      const r = await app.inject({
        method: 'POST',
        url: '/v1/models/forecast/retrain',
        payload: { target: 'pool.web' },
      });
      expect(r.statusCode).toBe(200);
      return r.json<{
        outcomes: { status: string; version: string | null; reason: string | null }[];
      }>().outcomes[0]!;
    };
    const first = await retrain();
    expect(first).toMatchObject({ status: 'challenger' });
    const v1 = first.version!;
    expect(v1).toMatch(/^pool\.web@\d+$/);

    const promote = (payload: object) =>
      app.inject({ method: 'POST', url: '/v1/models/forecast/promote', payload });
    const p1 = await promote({ target: 'pool.web' });
    expect(p1.statusCode).toBe(200);
    expect(p1.json()).toEqual({
      kind: 'forecast',
      target: 'pool.web',
      champion: v1,
      previous: null,
    });
    await engine.publishNow();
    expect(engine.forecasts.view('pool.web')).toMatchObject({
      model: { id: 'served', version: v1 },
      reason: 'MODEL',
    });

    // More history, a second version, promoted by name, then rolled back.
    await sendUntil(engine, 85);
    const second = await retrain();
    expect(second.status).toBe('challenger');
    const v2 = second.version!;
    expect(v2).not.toBe(v1);
    expect((await promote({ target: 'pool.web', version: v2 })).statusCode).toBe(200);
    const back = await app.inject({
      method: 'POST',
      url: '/v1/models/forecast/rollback',
      payload: { target: 'pool.web' },
    });
    expect(back.statusCode).toBe(200);
    expect(back.json()).toEqual({
      kind: 'forecast',
      target: 'pool.web',
      champion: v1,
      previous: v2,
    });
    await sendUntil(engine, 86);
    await engine.publishNow();
    expect(engine.forecasts.view('pool.web')?.model.version).toBe(v1);

    const listed = (await app.inject('/v1/models')).json<ModelsBody>().models;
    const entry = listed.find((m) => m.kind === 'forecast' && m.target === 'pool.web');
    expect(entry).toMatchObject({ champion: v1, serving: v1, history: [] });
    expect(entry?.versions.map((v) => v.version)).toEqual([v1, v2]);
    expect(entry?.versions[0]?.evaluation).toMatchObject({ metric: 'negLogMase', promote: false });
    await nc.close();
    await stopApp({ engine, app });
  }, 60_000);
});
