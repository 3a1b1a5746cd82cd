/**
 * The model registry end to end on real NATS and Redis: a node's eviction model trained from a
 * synthetic access stream, challengers evaluated in shadow, promote and rollback over the API
 * with the published `eviction.<node>` following the champion, corrupt and NaN-weight versions
 * refused (422, champion kept), retraining fired by a fast cron schedule, and aliases and
 * champions surviving restarts (from Redis, from the Object Store when the local files are gone,
 * and FALLBACK when the champion on disk is corrupt).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/api/app.js';
import type { Settings } from '../../src/config/settings.js';
import type { Engine } from '../../src/engine.js';
import {
  bearer,
  isolatedSettings,
  NATS_URL,
  REDIS_URL,
  startApp,
  stopApp,
  waitFor,
  type ModelsBody,
} from '../helpers/engine.js';
import { cleanup, redisConnection } from './servers.js';

const NODE = 'cache-1';
const used: Settings[] = [];

afterAll(async () => {
  for (const s of used) {
    await cleanup(s);
    await rm(s.modelDir, { recursive: true, force: true });
  }
});

function settingsFor(overrides: Parameters<typeof isolatedSettings>[0] = {}): Settings {
  const s = isolatedSettings({
    natsUrl: NATS_URL,
    redisUrl: REDIS_URL,
    victimsPerNode: 8,
    evictionShadowCapacity: 40,
    evictionRetrainEvents: 2000,
    evictionTrainBudgetMs: 30_000,
    // The loops would publish on their own; the tests call publishNow() and wait for nothing.
    publishIntervalMs: 3_600_000,
    retrainCronEviction: '',
    ...overrides,
  });
  used.push(s);
  return s;
}

const start = startApp;
const stop = stopApp;

let clock = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * A loop over 100 keys (too many for the 40-key shadow: LRU misses them all) with a key seen
 * once every third request, one request every 10 ms of event time, sent through the bus.
 */
async function sendAccess(engine: Engine, n: number): Promise<void> {
  const before = engine.stats().telemetry.accepted.access ?? 0;
  for (let sent = 0; sent < n; sent += 500) {
    const events = [];
    for (let j = 0; j < Math.min(500, n - sent); j++, clock++) {
      const key = clock % 3 === 2 ? `once-${clock}` : `loop-${clock % 100}`;
      events.push({ ts: 1_000_000 + 10 * clock, key, hit: false, size: 100 });
    }
    await engine.ingestHttp('access', NODE, events);
  }
  await waitFor(
    () => engine.stats().telemetry.accepted.access === before + n,
    15_000,
    `${n} events applied`,
  );
}

async function models(app: App) {
  const r = await app.inject({ url: '/v1/models', headers: bearer('viewer') });
  expect(r.statusCode).toBe(200);
  return r.json<ModelsBody>().models.find((m) => m.kind === 'eviction' && m.target === NODE);
}

const post = (app: App, path: string, payload: object) =>
  app.inject({ method: 'POST', url: `/v1/models/eviction/${path}`, payload });

async function publishedVersion(engine: Engine): Promise<{ version: string; reasons: string[] }> {
  await engine.publishNow();
  const doc = engine.latestPolicy('eviction', NODE)!;
  return { version: doc.model.version, reasons: doc.reasons.map((r) => r.code) };
}

describe('model registry (eviction)', () => {
  // Margin 1: nothing is promoted automatically, so every promotion here is the test's.
  const settings = settingsFor({ modelPromoteMargin: 1 });
  let v1 = '';

  it('promotes and rolls back over the API; eviction.<node> follows the champion', async () => {
    const x = await start(settings);
    const { engine, app } = x;
    await sendAccess(engine, 9000);
    // The node's first online model was evaluated but not promoted: LRU order, FALLBACK.
    expect(await publishedVersion(engine)).toEqual({
      version: `${NODE}@0`,
      reasons: ['FALLBACK'],
    });
    const first = await models(app);
    expect(first).toMatchObject({ champion: null, serving: null, history: [] });
    expect(first!.challenger).toMatch(/^cache-1@\d+$/);
    const challenger = first!.versions.find((v) => v.version === first!.challenger)!;
    expect(challenger.evaluation).toMatchObject({ promote: false });
    expect(challenger.evaluation!.candidate).toBeGreaterThan(challenger.evaluation!.heuristic);
    expect(challenger.metrics?.['capacity']).toBe(40);

    const promoted = await post(app, 'promote', { target: NODE });
    expect(promoted.statusCode).toBe(200);
    v1 = first!.challenger!;
    expect(promoted.json()).toEqual({
      kind: 'eviction',
      target: NODE,
      champion: v1,
      previous: null,
    });
    expect(await publishedVersion(engine)).toEqual({ version: v1, reasons: ['MODEL'] });

    // More telemetry, then an on-demand retrain: a new challenger, kept (margin 1).
    await sendAccess(engine, 3000);
    const retrained = await post(app, 'retrain', { target: NODE });
    expect(retrained.statusCode).toBe(200);
    const [outcome] = retrained.json<{ kind: string; outcomes: Record<string, unknown>[] }>()
      .outcomes;
    expect(outcome).toMatchObject({
      target: NODE,
      status: 'challenger',
      promoted: false,
      champion: v1,
      reason: null,
    });
    const v2 = outcome!['version'] as string;
    expect(Number(v2.split('@')[1])).toBeGreaterThan(Number(v1.split('@')[1]));
    expect(outcome!['evaluation']).toMatchObject({ championVersion: v1, promote: false });
    expect((await models(app))!.challenger).toBe(v2);

    const p2 = await post(app, 'promote', { target: NODE, version: v2 });
    expect(p2.json()).toEqual({ kind: 'eviction', target: NODE, champion: v2, previous: v1 });
    expect((await publishedVersion(engine)).version).toBe(v2);
    expect(await models(app)).toMatchObject({
      champion: v2,
      challenger: null,
      history: [v1],
      serving: v2,
    });

    const back = await post(app, 'rollback', { target: NODE });
    expect(back.statusCode).toBe(200);
    expect(back.json()).toEqual({ kind: 'eviction', target: NODE, champion: v1, previous: v2 });
    expect((await publishedVersion(engine)).version).toBe(v1);
    const again = await post(app, 'rollback', { target: NODE });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('PRESCIENT_E_CONFLICT');

    const audit = await engine.audit.list({ limit: 100, target: `eviction/${NODE}` });
    const mine = audit.entries.filter((e) => e.actor === 'test-admin').map((e) => e.action);
    expect(mine.reverse()).toEqual([
      'model.promote',
      'model.retrain',
      'model.promote',
      'model.rollback',
    ]);
    expect(audit.entries.some((e) => e.actor === 'engine' && e.action === 'model.retrain')).toBe(
      true,
    );
    await stop(x);
  }, 60_000);

  it('checks roles, kinds and bodies', async () => {
    const x = await start(settings);
    const { app } = x;
    const asViewer = await app.inject({
      method: 'POST',
      url: '/v1/models/eviction/retrain',
      headers: bearer('viewer'),
      payload: {},
    });
    expect(asViewer.statusCode).toBe(403);
    const asOperator = await app.inject({
      method: 'POST',
      url: '/v1/models/eviction/promote',
      headers: bearer('operator'),
      payload: { target: NODE },
    });
    expect(asOperator.statusCode).toBe(403);
    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/models/nope/retrain',
      payload: {},
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('PRESCIENT_E_NOT_FOUND');
    const noTarget = await post(app, 'promote', {});
    expect(noTarget.statusCode).toBe(400);
    expect(noTarget.json().error.code).toBe('PRESCIENT_E_BAD_REQUEST');
    expect((await post(app, 'promote', { target: NODE, version: 'x y' })).statusCode).toBe(400);
    expect((await post(app, 'promote', { target: NODE, version: 'other@1' })).statusCode).toBe(404);
    expect(
      (await post(app, 'promote', { target: NODE, version: `${NODE}@99999` })).statusCode,
    ).toBe(404);
    // A node without telemetry in this engine's shadow: nothing to train on.
    const none = await post(app, 'retrain', { target: 'cache-9' });
    expect(none.json().outcomes[0]).toMatchObject({ status: 'not-trained', version: null });
    await stop(x);
  }, 60_000);

  it('refuses a corrupt and a NaN-weight version with 422 and keeps the champion', async () => {
    const x = await start(settings);
    const { engine, app } = x;
    await sendAccess(engine, 600);
    expect((await publishedVersion(engine)).version).toBe(v1);
    const dir = join(settings.modelDir, 'eviction');
    const files = async (v: string) => ({
      model: await readFile(join(dir, v, 'model.json'), 'utf8'),
      weights: await readFile(join(dir, v, 'weights.bin')),
    });
    const good = await files(v1);
    const put = async (v: string, model: string, weights: Uint8Array) => {
      await mkdir(join(dir, v), { recursive: true });
      await writeFile(join(dir, v, 'model.json'), model);
      await writeFile(join(dir, v, 'weights.bin'), weights);
      await writeFile(join(dir, v, 'metadata.json'), '{}');
    };
    // Truncated JSON: a corrupt file.
    await put(`${NODE}@901`, good.model.slice(0, good.model.length / 2), good.weights);
    // One weight NaN in weights.bin (float32 little-endian).
    const nanWeights = Buffer.from(good.weights);
    nanWeights.writeFloatLE(Number.NaN, 8);
    await put(`${NODE}@902`, good.model, nanWeights);
    // One weight 1e999 in model.json: Infinity once parsed.
    const json = JSON.parse(good.model) as {
      networks: { predictor: { w2: number[] } };
      victimTable: { logits: number[] };
    };
    const w2 = json.networks.predictor.w2;
    const text = JSON.stringify(json).replace(
      `"w2":[${w2.join(',')}]`,
      `"w2":[1e999${w2.length > 1 ? ',' : ''}${w2.slice(1).join(',')}]`,
    );
    expect(text).toContain('1e999');
    await put(`${NODE}@903`, text, good.weights);
    // One value of the tabular agent 1e999.
    const logits = json.victimTable.logits;
    const tableText = JSON.stringify(json).replace(
      `"logits":[${logits.join(',')}]`,
      `"logits":[1e999,${logits.slice(1).join(',')}]`,
    );
    expect(tableText).toContain('1e999');
    await put(`${NODE}@904`, tableText, good.weights);

    for (const v of [`${NODE}@901`, `${NODE}@902`, `${NODE}@903`, `${NODE}@904`]) {
      const r = await post(app, 'promote', { target: NODE, version: v });
      expect(r.statusCode, v).toBe(422);
      expect(r.json().error.code).toBe('PRESCIENT_E_MODEL_INVALID');
    }
    expect(await models(app)).toMatchObject({ champion: v1, serving: v1 });
    expect(await publishedVersion(engine)).toEqual({ version: v1, reasons: ['MODEL'] });
    const refused = await engine.audit.list({ limit: 10, action: 'model.refused' });
    expect(refused.entries.map((e) => e.reason?.split(':')[0]).sort()).toEqual([
      `${NODE}@901`,
      `${NODE}@902`,
      `${NODE}@903`,
      `${NODE}@904`,
    ]);
    for (const v of [901, 902, 903, 904]) {
      await rm(join(dir, `${NODE}@${v}`), { recursive: true });
    }
    await stop(x);
  }, 60_000);

  it('keeps aliases across restarts: from Redis, files from the bucket, FALLBACK if corrupt', async () => {
    const redis = redisConnection();
    const stored = await redis.hget(`${settings.redisPrefix}models:eviction`, NODE);
    await redis.quit();
    expect(JSON.parse(stored!)).toMatchObject({ champion: v1 });
    const mirror = JSON.parse(
      await readFile(join(settings.modelDir, 'eviction', 'aliases.json'), 'utf8'),
    ) as Record<string, { champion: string }>;
    expect(mirror[NODE]!.champion).toBe(v1);

    // The champion's files are gone from this disk: fetched from the Object Store.
    const dir = join(settings.modelDir, 'eviction', v1);
    await rm(dir, { recursive: true });
    let x = await start(settings);
    expect(await models(x.app)).toMatchObject({ champion: v1, serving: v1 });
    expect(await publishedVersion(x.engine)).toEqual({ version: v1, reasons: ['MODEL'] });
    await stop(x);

    // Now the champion on disk is corrupt: refused at start, the node serves LRU (FALLBACK).
    await writeFile(join(dir, 'weights.bin'), Buffer.from('not weights'));
    x = await start(settings);
    expect(await models(x.app)).toMatchObject({ champion: v1, serving: null });
    await sendAccess(x.engine, 300);
    expect(await publishedVersion(x.engine)).toEqual({
      version: `${NODE}@0`,
      reasons: ['FALLBACK'],
    });
    const refused = await x.engine.audit.list({
      limit: 10,
      action: 'model.refused',
      actor: 'engine',
    });
    expect(refused.entries[0]?.reason).toContain(v1);
    await stop(x);
  }, 60_000);
});

describe('scheduled retraining', () => {
  it('fires on a fast cron schedule and registers a new champion or challenger', async () => {
    const settings = settingsFor({
      retrainCronEviction: '* * * * * *',
      retrainJitterSec: 0,
      modelPromoteMargin: 0,
    });
    const x = await start(settings);
    await sendAccess(x.engine, 6000);
    const sentAt = Date.now();
    const retrains = async () =>
      (await x.engine.audit.list({ limit: 50, actor: 'scheduler', action: 'model.retrain' }))
        .entries;
    await waitFor(
      async () => (await retrains()).some((e) => e.at > sentAt),
      10_000,
      'a scheduled retrain after the telemetry',
    );
    await sleep(2200);
    const [entry] = await retrains();
    expect(entry!.target).toBe(`eviction/${NODE}`);
    const version = /^(cache-1@\d+) trained/.exec(entry!.reason ?? '')?.[1];
    expect(version).toBeDefined();
    const m = await models(x.app);
    expect([m!.champion, m!.challenger]).toContain(version);
    expect(m!.versions.find((v) => v.version === version)?.evaluation).toBeTruthy();
    // Once a run has seen all the telemetry, the next runs train nothing (no new version, no
    // audit entry), though they fire every second.
    await sleep(2200);
    expect((await retrains())[0]!.id).toBe(entry!.id);
    const t0 = Date.now();
    await stop(x);
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 60_000);
});
