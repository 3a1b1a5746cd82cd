/**
 * The learned eviction policy end to end on real NATS and Redis: access telemetry with a repeating
 * pattern trains the node's model on its shadow cache; the node has no champion yet, so the
 * shadow's model is evaluated against LRU on the node's recent requests and promoted (it keeps
 * the loop keys LRU cannot); `eviction.<node>` in KV then carries reason MODEL entries with
 * attributions, the Redis sorted set mirrors it, and the champion's three files, evaluation
 * included, are in the NATS Object Store bucket (and the model directory).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { names } from '../../src/config/settings.js';
import { Engine } from '../../src/engine.js';
import { decodeModelFiles } from '../../src/learn/model-files.js';
import { createLogger } from '../../src/log.js';
import { FsModelStore } from '../../src/state/model-store.js';
import { isolatedSettings, NATS_URL, REDIS_URL, waitFor } from '../helpers/engine.js';
import { cleanup, natsConnection, redisConnection } from './servers.js';

const settings = isolatedSettings({
  natsUrl: NATS_URL,
  redisUrl: REDIS_URL,
  victimsPerNode: 8,
  evictionShadowCapacity: 40,
  evictionRetrainEvents: 2000,
  evictionTrainBudgetMs: 30_000,
  retrainCronEviction: '',
});
afterAll(async () => {
  await cleanup(settings);
  await rm(settings.modelDir, { recursive: true, force: true });
});

interface Doc {
  model: { id: string; version: string };
  entries: {
    key: string;
    score: number;
    rank: number;
    reason: string;
    attributions: Record<string, number>;
  }[];
  reasons: { code: string }[];
}

describe('learned eviction in the engine', () => {
  it('trains on access telemetry and publishes MODEL victims to KV, Redis and the model bucket', async () => {
    const engine = new Engine(settings, createLogger('silent'));
    await engine.start();
    const nc = await natsConnection();
    const js = nc.jetstream();
    const subject = names(settings).accessSubject('cache-1');
    // A loop over 100 keys (too many for the 40-key shadow: LRU misses them all), every third
    // request a key seen once.
    const total = 9000;
    let i = 0;
    for (let m = 0; m < total / 500; m++) {
      const events = [];
      for (let j = 0; j < 500; j++, i++) {
        const key = i % 3 === 2 ? `once-${i}` : `loop-${i % 100}`;
        events.push({ ts: 1_000_000 + 10 * i, key, hit: false, size: 100 });
      }
      await js.publish(subject, JSON.stringify({ events }));
    }
    await waitFor(
      () => engine.stats().telemetry.accepted.access === total,
      15_000,
      'events applied',
    );
    await engine.publishNow();
    // The shadow's counters reach /metrics: every applied request replayed, hits by cache.
    const metrics = await engine.metrics.registry.metrics();
    expect(metrics).toMatch(/^prescient_eviction_shadow_requests_total\{node="cache-1"\} 9000$/m);
    const [shadow] = engine.evictionTraining();
    expect(metrics).toContain(
      `prescient_eviction_shadow_hits_total{node="cache-1",cache="learned"} ${shadow!.hits}`,
    );
    expect(shadow!.hits).toBeGreaterThan(shadow!.lruHits);
    const version = engine.latestPolicy('eviction', 'cache-1')?.model.version;
    expect(version).toMatch(/^cache-1@[1-9]\d*$/);
    const [entry] = engine.models!.list();
    expect(entry).toMatchObject({ kind: 'eviction', target: 'cache-1', champion: version });
    expect(entry!.serving).toBe(version);
    const evaluation = entry!.versions.find((v) => v.version === version)?.evaluation;
    expect(evaluation).toMatchObject({ metric: 'hitRatio', promote: true, heuristicId: 'lru' });
    expect(evaluation!.candidate).toBeGreaterThanOrEqual(evaluation!.heuristic + 0.002);

    const kv = await js.views.kv(settings.kvBucket);
    const doc = (await kv.get('eviction.cache-1'))?.json<Doc>();
    expect(doc?.model).toEqual({ id: 'learned', version });
    expect(doc!.entries).toHaveLength(8);
    expect(doc!.reasons.map((r) => r.code)).toEqual(['MODEL']);
    for (const e of doc!.entries) {
      expect(e.reason).toBe('MODEL');
      expect(Object.keys(e.attributions)).toContain('idle');
      for (const a of Object.values(e.attributions)) expect(Number.isFinite(a)).toBe(true);
    }
    for (let r = 1; r < doc!.entries.length; r++) {
      expect(doc!.entries[r - 1]!.score).toBeGreaterThanOrEqual(doc!.entries[r]!.score);
    }

    const redis = redisConnection();
    const zset = await redis.zrange(`${settings.redisPrefix}evict:cache-1`, 0, -1, 'WITHSCORES');
    const mirrored = new Map<string, number>();
    for (let z = 0; z < zset.length; z += 2) mirrored.set(zset[z]!, Number(zset[z + 1]));
    expect([...mirrored.keys()].sort()).toEqual(doc!.entries.map((e) => e.key).sort());
    for (const e of doc!.entries) expect(mirrored.get(e.key)).toBeCloseTo(e.score, 9);
    expect((await redis.zpopmax(`${settings.redisPrefix}evict:cache-1`))[0]).toBe(
      doc!.entries[0]!.key,
    );
    await redis.quit();

    await engine.modelsSaved();
    const os = await js.views.os(settings.modelsBucket);
    const files = {
      'model.json': await os.getBlob(`eviction/${version}/model.json`),
      'weights.bin': await os.getBlob(`eviction/${version}/weights.bin`),
      'metadata.json': await os.getBlob(`eviction/${version}/metadata.json`),
    };
    for (const bytes of Object.values(files)) expect(bytes?.byteLength).toBeGreaterThan(0);
    const fromBucket = decodeModelFiles({
      'model.json': files['model.json']!,
      'weights.bin': files['weights.bin']!,
      'metadata.json': files['metadata.json']!,
    });
    expect(fromBucket.version).toBe(version);
    expect(fromBucket.metadata?.metrics.requests).toBeGreaterThan(0);
    expect(fromBucket.metadata?.trainingWindow.firstRequestMs).toBe(1_000_000);
    expect(fromBucket.metadata?.evaluation).toEqual(evaluation);
    const onDisk = await new FsModelStore(join(settings.modelDir, 'eviction')).load(version!);
    expect(onDisk.version).toBe(version);

    await nc.close();
    await engine.stop();
  }, 60_000);
});
