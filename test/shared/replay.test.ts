/**
 * End to end on a shared trace: `prescient replay` publishes web07 as access telemetry to the
 * real NATS server, an engine consumes it, and the features count every request exactly once.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { isolatedSettings, NATS_URL, waitFor } from '../helpers/engine.js';
import { cleanup } from '../integration/servers.js';

const trace = fileURLToPath(new URL('../../../shared/data/traces/web07.csv.gz', import.meta.url));
const settings = isolatedSettings({ natsUrl: NATS_URL, publishIntervalMs: 100 });
afterAll(() => cleanup(settings));

describe('prescient replay', () => {
  it('publishes web07 (76,118 requests, 20,484 keys) and the engine applies each once', async () => {
    const engine = new Engine(settings, createLogger('silent'));
    await engine.start();
    // The CLI reads its stream names from the environment, like any deployment.
    const env = {
      NATS_URL,
      PRESCIENT_SUBJECT_PREFIX: settings.subjectPrefix,
      PRESCIENT_STREAM: settings.streamName,
      LOG_LEVEL: 'silent',
    };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    let code: number;
    try {
      code = await main([
        'replay',
        '--trace',
        trace,
        '--node',
        'web07',
        '--capacity',
        '204',
        '--quiet',
      ]);
    } finally {
      process.env = saved;
    }
    expect(code).toBe(0);
    await waitFor(
      () => engine.stats().telemetry.accepted.access === 76_118,
      30_000,
      'all requests applied',
    );
    const stats = engine.store.stats();
    expect(stats.trackedKeys).toBe(20_484);
    // With --capacity 204 (1 % of the keys) the replay's LRU decides hits: the reference LRU hit
    // ratio of web07 at 1 % is 0.392 (../shared/data/README.md).
    let hits = 0;
    let misses = 0;
    for (const d of engine.store.lruVictims('web07', 25_000)) {
      hits += d.hits;
      misses += d.misses;
    }
    expect(hits + misses).toBe(76_118);
    expect(hits / (hits + misses)).toBeCloseTo(0.392, 2);
    await engine.publishNow();
    expect(engine.latestPolicy('eviction', 'web07')?.entries.length).toBe(100);
    await engine.stop();
  });
});
