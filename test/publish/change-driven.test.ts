/**
 * Change-driven publication (PRESCIENT_PUBLISH_MIN_INTERVAL_MS): telemetry that changes a target
 * gets it a new document without waiting for the publish tick, and a burst of messages makes few
 * publications (coalesced), not one per message. With the minimum interval 0, the tick alone
 * publishes. The tick here is one minute, so it never runs during the test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { embeddedApp, postTelemetry, stopApp, waitFor } from '../helpers/engine.js';
import type { Engine } from '../../src/engine.js';
import type { App } from '../../src/api/app.js';

let running: { engine: Engine; app: App } | undefined;
afterEach(async () => {
  if (running) await stopApp(running);
  running = undefined;
});

const access = (from: number) =>
  Array.from({ length: 50 }, (_, i) => ({ ts: from + i, key: `k${i % 10}`, hit: false }));

describe('change-driven publication', () => {
  it('publishes changed targets soon after the telemetry, coalescing a burst', async () => {
    running = await embeddedApp({
      victimRanker: 'lru',
      publishIntervalMs: 60_000,
      publishMinIntervalMs: 200,
    });
    const { engine, app } = running;
    const published: number[] = [];
    engine.onPublished = (doc) => {
      if (doc.kind === 'eviction') published.push(doc.version);
    };
    await postTelemetry(app, [['access', 'node-a', access(1_000)]]);
    await waitFor(() => engine.latestPolicy('eviction', 'node-a'), 5_000, 'a first document');
    expect(published).toEqual([1]);

    // Twenty messages in a burst: at most one publication per 200 ms, the last one holding all.
    for (let m = 1; m <= 20; m++)
      await postTelemetry(app, [['access', 'node-a', access(1_000 + m * 100)]]);
    await waitFor(
      () =>
        engine.store.keyFeatures('node-a', 'k0')?.accesses === 5 * 21 &&
        engine.latestPolicy('eviction', 'node-a')!.generatedAt >= Date.now() - 1_000,
      5_000,
      'the burst applied and published',
    );
    await new Promise((r) => setTimeout(r, 400));
    const afterBurst = published.length - 1;
    expect(afterBurst).toBeGreaterThanOrEqual(1);
    expect(afterBurst).toBeLessThan(20);
  });

  it('with a minimum interval of 0, waits for the tick', async () => {
    running = await embeddedApp({
      victimRanker: 'lru',
      publishIntervalMs: 60_000,
      publishMinIntervalMs: 0,
    });
    const { engine, app } = running;
    await postTelemetry(app, [['access', 'node-a', access(1_000)]]);
    await waitFor(() => engine.store.keyFeatures('node-a', 'k0'), 5_000, 'telemetry applied');
    await new Promise((r) => setTimeout(r, 500));
    expect(engine.latestPolicy('eviction', 'node-a')).toBeUndefined();
    await engine.publishNow();
    expect(engine.latestPolicy('eviction', 'node-a')?.version).toBe(1);
  });
});
