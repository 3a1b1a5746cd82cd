/**
 * The model routes in embedded mode (no NATS, no Redis): the registry's aliases live in
 * models/eviction/aliases.json, so a restarted engine on the same model directory serves the same
 * champion; with the `lru` ranker there is no eviction kind (only `forecast`). The flow on real servers is in
 * test/integration/models.test.ts.
 */
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddedApp } from '../helpers/engine.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A 100-key loop (the 40-key shadow's LRU misses it all) with a one-shot key every third request. */
function events(from: number, n: number) {
  return Array.from({ length: n }, (_, j) => {
    const i = from + j;
    return {
      ts: 1_000_000 + 10 * i,
      key: i % 3 === 2 ? `once-${i}` : `loop-${i % 100}`,
      hit: false,
    };
  });
}

describe('model routes', () => {
  it('list nothing and know no eviction kind with the lru ranker', async () => {
    const { engine, app, settings } = await embeddedApp({ victimRanker: 'lru' });
    dirs.push(settings.modelDir);
    expect((await app.inject('/v1/models')).json()).toEqual({ models: [] });
    const r = await app.inject({ method: 'POST', url: '/v1/models/eviction/retrain', payload: {} });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('PRESCIENT_E_NOT_FOUND');
    const noBody = await app.inject({ method: 'POST', url: '/v1/models/eviction/retrain' });
    expect(noBody.statusCode).toBe(404);
    await app.close();
    await engine.stop();
  });

  it('keep the champion across a restart without Redis (models/<kind>/aliases.json)', async () => {
    const overrides = {
      evictionShadowCapacity: 40,
      evictionRetrainEvents: 2000,
      evictionTrainBudgetMs: 30_000,
      publishIntervalMs: 3_600_000,
      retrainCronEviction: '',
      modelPromoteMargin: 0,
    };
    const first = await embeddedApp(overrides);
    dirs.push(first.settings.modelDir);
    for (let i = 0; i < 9000; i += 1000) {
      await first.engine.ingestHttp('access', 'c1', events(i, 1000));
    }
    await first.engine.publishNow();
    // No body: every node of the kind.
    const r = await first.app.inject({ method: 'POST', url: '/v1/models/eviction/retrain' });
    expect(r.statusCode).toBe(200);
    expect(r.json<{ outcomes: { target: string }[] }>().outcomes.map((o) => o.target)).toEqual([
      'c1',
    ]);
    const listed = (await first.app.inject('/v1/models')).json<{
      models: { target: string; champion: string | null }[];
    }>().models;
    const champion = listed.find((m) => m.target === 'c1')?.champion;
    expect(champion).toMatch(/^c1@\d+$/);
    await first.app.close();
    await first.engine.stop();

    const second = await embeddedApp({ ...overrides, modelDir: first.settings.modelDir });
    const again = (await second.app.inject('/v1/models')).json<{
      models: { target: string; champion: string | null; serving: string | null }[];
    }>().models;
    expect(again.find((m) => m.target === 'c1')).toMatchObject({ champion, serving: champion });
    await second.app.close();
    await second.engine.stop();
  }, 60_000);
});
