/**
 * Telemetry over real NATS JetStream into the engine: exact accepted/rejected counts in
 * /metrics, dead letters with their reasons, hand-computed features, publisher-side dedup by
 * Nats-Msg-Id, HTTP telemetry routed through JetStream, and readiness while NATS is unreachable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NatsConnection, Subscription } from 'nats';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { buildApp } from '../../src/api/app.js';
import { names, type Settings } from '../../src/config/settings.js';
import { authorize, isolatedSettings, NATS_URL, REDIS_URL, waitFor } from '../helpers/engine.js';
import { cleanup, natsConnection } from './servers.js';

const log = createLogger('silent');
const used: Settings[] = [];
const engines: Engine[] = [];
const conns: NatsConnection[] = [];

afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop();
  for (const c of conns.splice(0)) await c.close();
  for (const s of used.splice(0)) await cleanup(s);
});

async function startEngine(
  overrides: Parameters<typeof isolatedSettings>[0] = {},
): Promise<{ engine: Engine; settings: Settings }> {
  const settings = isolatedSettings({ natsUrl: NATS_URL, redisUrl: REDIS_URL, ...overrides });
  used.push(settings);
  const engine = new Engine(settings, log);
  engines.push(engine);
  await engine.start();
  return { engine, settings };
}

function collect(sub: Subscription, into: unknown[]): void {
  void (async () => {
    for await (const m of sub) into.push(m.json());
  })();
}

const metric = (body: string, name: string, labels: string) =>
  Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(body)?.[1]);

describe('telemetry over JetStream', () => {
  it('applies 10,000 valid events in batches, dead-letters the malformed ones, counts both exactly', async () => {
    const { engine, settings } = await startEngine();
    const n = names(settings);
    const nc = await natsConnection();
    conns.push(nc);
    const deadLetters: unknown[] = [];
    collect(nc.subscribe(n.deadLetterSubject), deadLetters);
    await nc.flush();
    const js = nc.jetstream();

    // 10,000 valid access events on node-1 in 20 batches of 500: key k<i % 100>, ts = i seconds.
    for (let b = 0; b < 20; b++) {
      const events = Array.from({ length: 500 }, (_, j) => {
        const i = b * 500 + j;
        return { ts: i * 1000, key: `k${i % 100}`, hit: i % 4 !== 0, size: 100 };
      });
      await js.publish(n.accessSubject('node-1'), JSON.stringify({ events }), {
        msgID: `batch-${b}`,
      });
    }
    // Malformed: not JSON; a batch with 2 bad events among 3; a latency event with a bad status;
    // a subject whose kind is unknown (still inside the stream's wildcard).
    await js.publish(n.accessSubject('node-1'), '{"events": [', { msgID: 'bad-json' });
    await js.publish(
      n.accessSubject('node-2'),
      JSON.stringify({
        events: [
          { ts: 1, key: 'x', hit: true },
          { ts: -1, key: 'y', hit: true },
          { key: 'z', hit: true },
        ],
      }),
      { msgID: 'mixed' },
    );
    await js.publish(
      n.latencySubject('edge'),
      JSON.stringify({ ts: 1, pool: 'web', backend: 'b1', latencyMs: 5, status: 700 }),
      { msgID: 'bad-status' },
    );
    await js.publish(`${settings.subjectPrefix}.telemetry.bogus.x`, JSON.stringify({ ts: 1 }), {
      msgID: 'bogus',
    });
    // A repeated Nats-Msg-Id inside the duplicate window is dropped by the stream itself.
    const dup = await js.publish(
      n.accessSubject('node-1'),
      JSON.stringify({ ts: 1, key: 'dup', hit: true }),
      { msgID: 'batch-0' },
    );
    expect(dup.duplicate).toBe(true);

    await waitFor(
      () => engine.stats().telemetry.messages === 24,
      15_000,
      'all 24 messages applied',
    );
    const app = authorize(
      await buildApp({ engine, logger: false, telemetryBodyLimitBytes: 1 << 20 }),
    );
    const body = (await app.inject('/metrics')).body;
    await app.close();
    expect(
      metric(body, 'prescient_telemetry_events_total', 'kind="access",outcome="accepted"'),
    ).toBe(10_001);
    expect(
      metric(body, 'prescient_telemetry_events_total', 'kind="access",outcome="rejected"'),
    ).toBe(2);
    expect(
      metric(body, 'prescient_telemetry_events_total', 'kind="latency",outcome="rejected"'),
    ).toBe(1);
    expect(
      metric(body, 'prescient_telemetry_events_total', 'kind="unknown",outcome="rejected"'),
    ).toBe(2);
    expect(
      metric(
        body,
        'prescient_telemetry_rejected_total',
        'kind="access",code="PRESCIENT_E_TELEMETRY_OUT_OF_RANGE"',
      ),
    ).toBe(1);
    expect(
      metric(
        body,
        'prescient_telemetry_rejected_total',
        'kind="access",code="PRESCIENT_E_TELEMETRY_MISSING_FIELD"',
      ),
    ).toBe(1);
    expect(
      metric(
        body,
        'prescient_telemetry_rejected_total',
        'kind="unknown",code="PRESCIENT_E_TELEMETRY_BAD_JSON"',
      ),
    ).toBe(1);
    expect(
      metric(
        body,
        'prescient_telemetry_rejected_total',
        'kind="unknown",code="PRESCIENT_E_TELEMETRY_UNKNOWN_SUBJECT"',
      ),
    ).toBe(1);

    // Dead letters carry their reason, position and origin.
    await waitFor(() => deadLetters.length === 5, 5_000, 'five dead letters');
    const byCode = (code: string, kind?: string) =>
      deadLetters.filter((d) => {
        const l = d as { code: string; kind: string };
        return l.code === code && (kind === undefined || l.kind === kind);
      });
    expect(byCode('PRESCIENT_E_TELEMETRY_BAD_JSON')).toEqual([
      expect.objectContaining({
        index: -1,
        source: 'node-1',
        msgId: 'bad-json',
        reason: expect.stringContaining('not JSON'),
      }),
    ]);
    expect(byCode('PRESCIENT_E_TELEMETRY_OUT_OF_RANGE', 'access')).toEqual([
      expect.objectContaining({
        index: 1,
        field: 'ts',
        source: 'node-2',
        event: { ts: -1, key: 'y', hit: true },
      }),
    ]);
    expect(byCode('PRESCIENT_E_TELEMETRY_MISSING_FIELD')).toEqual([
      expect.objectContaining({ index: 2, field: 'ts' }),
    ]);
    expect(byCode('PRESCIENT_E_TELEMETRY_UNKNOWN_SUBJECT')).toEqual([
      expect.objectContaining({ kind: 'unknown', msgId: 'bogus' }),
    ]);
    expect(deadLetters.filter((d) => (d as { kind: string }).kind === 'latency')).toEqual([
      expect.objectContaining({ field: 'status', code: 'PRESCIENT_E_TELEMETRY_OUT_OF_RANGE' }),
    ]);

    // Hand-computed features: k7 is seen at i = 7, 107, …, 9907 (100 times, every 100 s);
    // i % 4 === 0 misses: i = 7 + 100m is never divisible by 4 (100m ≡ 0, 7 ≡ 3 mod 4) → all hits.
    const k7 = engine.store.keyFeatures('node-1', 'k7')!;
    expect(k7).toMatchObject({
      accesses: 100,
      hits: 100,
      misses: 0,
      lastAccessMs: 9_907_000,
      firstSeenMs: 7_000,
      sizeBytes: 100,
      resident: true,
    });
    expect(k7.gapsMs).toEqual([100_000, 100_000, 100_000, 100_000]);
    // k8: i = 8 + 100m are all ≡ 0 mod 4 → all misses.
    expect(engine.store.keyFeatures('node-1', 'k8')).toMatchObject({
      accesses: 100,
      hits: 0,
      misses: 100,
    });
    // Decayed count at the store clock (9,999 s) over the 60 s half-life: Σ 2^-(9999-(7+100m))/60.
    const expected = Array.from(
      { length: 100 },
      (_, m) => 2 ** (-(9_999 - (7 + 100 * m)) / 60),
    ).reduce((a, b) => a + b, 0);
    expect(k7.decayedCounts[0]).toBeCloseTo(expected, 4);
    expect(engine.store.keyFeatures('node-2', 'x')).toMatchObject({ accesses: 1 });
    expect(engine.store.keyFeatures('node-1', 'dup')).toBeUndefined();
  });

  it('publishes weights.<pool> to the KV bucket after latency telemetry, with increasing versions', async () => {
    const { engine, settings } = await startEngine({
      publishIntervalMs: 100,
      weigher: 'inverse-latency',
    });
    const n = names(settings);
    const nc = await natsConnection();
    conns.push(nc);
    const js = nc.jetstream();
    const kv = await js.views.kv(settings.kvBucket);
    const send = (ts: number, slowMs: number) =>
      js.publish(
        n.latencySubject('edge-1'),
        JSON.stringify({
          events: [
            { ts, pool: 'checkout', backend: 'a', latencyMs: 10, status: 200 },
            { ts, pool: 'checkout', backend: 'b', latencyMs: slowMs, status: 200 },
          ],
        }),
      );
    await send(1_000, 30);
    const first = await waitFor(
      async () =>
        (await kv.get('weights.checkout'))?.json<{
          version: number;
          entries: { backend: string; weight: number; haproxyWeight: number; reason: string }[];
        }>(),
      10_000,
      'weights.checkout in KV',
    );
    expect(first.version).toBe(1);
    expect(first.entries.map((e) => [e.backend, e.reason])).toEqual([
      ['a', 'HEURISTIC'],
      ['b', 'HEURISTIC'],
    ]);
    expect(first.entries[0]!.weight).toBeCloseTo(0.75, 6);
    expect(first.entries.map((e) => e.haproxyWeight)).toEqual([256, 85]);

    await send(2_000, 30);
    const second = await waitFor(
      async () => {
        const doc = (await kv.get('weights.checkout'))?.json<{ version: number }>();
        return doc && doc.version > first.version ? doc : undefined;
      },
      10_000,
      'a newer weights document',
    );
    expect(second.version).toBe(2);
    expect(engine.latestPolicy('weights', 'checkout')?.version).toBe(2);
  });

  it('routes POST /v1/telemetry through JetStream in NATS mode', async () => {
    const { engine, settings } = await startEngine();
    const app = authorize(
      await buildApp({ engine, logger: false, telemetryBodyLimitBytes: 1 << 20 }),
    );
    const r = await app.inject({
      method: 'POST',
      url: '/v1/telemetry',
      payload: {
        kind: 'access',
        source: 'web-1',
        events: [
          { ts: 5, key: 'a', hit: true },
          { ts: 6, key: 'a', hit: false },
        ],
      },
    });
    await app.close();
    expect(r.statusCode).toBe(202);
    const nc = await natsConnection();
    conns.push(nc);
    const info = await (await nc.jetstreamManager()).streams.info(settings.streamName);
    expect(info.state.messages).toBe(1);
    await waitFor(
      () => engine.store.keyFeatures('web-1', 'a')?.accesses === 2,
      5_000,
      'events applied from the stream',
    );

    // A body larger than the server's max_payload (1 MiB) is split into several messages.
    const events = Array.from({ length: 10_000 }, (_, i) => ({
      ts: 10 + i,
      key: `big-${i % 10}-${'x'.repeat(200)}`,
      hit: false,
    }));
    const app2 = authorize(
      await buildApp({ engine, logger: false, telemetryBodyLimitBytes: 16 << 20 }),
    );
    const big = await app2.inject({
      method: 'POST',
      url: '/v1/telemetry',
      payload: { kind: 'access', source: 'web-2', events },
    });
    await app2.close();
    expect(big.statusCode).toBe(202);
    expect(big.json()).toMatchObject({ accepted: 10_000, rejected: 0 });
    const after = await (await nc.jetstreamManager()).streams.info(settings.streamName);
    expect(after.state.messages).toBeGreaterThan(3);
    // 202 means stored in the stream; the engine applies the parts right after.
    await waitFor(
      () => engine.stats().telemetry.accepted.access === 10_002,
      10_000,
      'every part applied',
    );
    expect(engine.store.stats().trackedKeys).toBe(11);
    for (let k = 0; k < 10; k++)
      expect(engine.store.keyFeatures('web-2', `big-${k}-${'x'.repeat(200)}`)?.accesses).toBe(
        1_000,
      );
  });

  it('reports not ready, and never falls back, while NATS is unreachable', async () => {
    const settings = isolatedSettings({ natsUrl: 'nats://127.0.0.1:1' });
    const engine = new Engine(settings, log);
    void engine.start().catch(() => undefined);
    const app = authorize(
      await buildApp({ engine, logger: false, telemetryBodyLimitBytes: 1 << 20 }),
    );
    await new Promise((r) => setTimeout(r, 300));
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({
      ready: false,
      checks: { nats: { state: 'connecting', detail: expect.stringContaining('127.0.0.1:1') } },
    });
    expect(engine.mode.bus).toBe('nats');
    const post = await app.inject({
      method: 'POST',
      url: '/v1/telemetry',
      payload: { kind: 'access', source: 'n', events: [{ ts: 1, key: 'k', hit: true }] },
    });
    expect(post.statusCode).toBe(503);
    expect(post.json()).toMatchObject({ error: { code: 'PRESCIENT_E_UNAVAILABLE' } });
    await app.close();
    await engine.stop();
  });
});
