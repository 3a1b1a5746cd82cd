/**
 * The client SDK when the engine stops: a WeightsClient and a VictimsClient follow an engine's
 * `weights.<pool>` and `eviction.<node>` documents in NATS KV; the engine stops; both keep the
 * last known good weights and victims until `generatedAt + ttlMs` (PRESCIENT_POLICY_TTL_MS), then
 * fall back (equal weights, the cache's own LRU order) and say so in `status()`; a new engine
 * brings them back to live documents. Shared NATS, isolated names.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { names } from '../../src/config/settings.js';
import { WeightsClient } from '../../src/client/weights-client.js';
import { VictimsClient, type EvictionAck } from '../../src/client/victims-client.js';
import { isolatedSettings, NATS_URL, waitFor } from '../helpers/engine.js';
import { cleanup, natsConnection } from './servers.js';

const TTL_MS = 3_000;
const settings = isolatedSettings({
  natsUrl: NATS_URL,
  weigher: 'inverse-latency',
  victimRanker: 'lru',
  retrainCronEviction: 'off',
  publishIntervalMs: 100,
  policyTtlMs: TTL_MS,
});

const engines: Engine[] = [];
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const s of stops) await s();
  for (const e of engines) await e.stop();
  await cleanup(settings);
});

async function startEngine(): Promise<Engine> {
  const engine = new Engine(settings, createLogger('silent'));
  engines.push(engine);
  await engine.start();
  return engine;
}

/** The cache's own recency order: `local-0` is its least recently used key, unlike the engine's. */
const resident = new Set(['local-0', ...Array.from({ length: 10 }, (_, k) => `k${9 - k}`)]);
const isResident = (key: string) => resident.has(key);
const lruKey = () => resident.values().next().value;

describe('client SDK with the engine stopped', () => {
  it('keeps last-known-good weights and victims until their TTL, then falls back and says so', async () => {
    const engine = await startEngine();
    const nc: NatsConnection = await natsConnection();
    stops.push(() => nc.close());
    const ackSubject = `${settings.subjectPrefix}.policy.ack.eviction.cache-1`;
    const acks: EvictionAck[] = [];
    nc.subscribe(ackSubject, { callback: (_e, m) => acks.push(m.json<EvictionAck>()) });
    const common = { nc, subjectPrefix: settings.subjectPrefix, kvBucket: settings.kvBucket };
    const weights = new WeightsClient({ ...common, pool: 'web', clientId: 'svc-1' });
    const victims = new VictimsClient({ ...common, node: 'n1', clientId: 'cache-1' });
    await weights.start();
    await victims.start();
    stops.push(
      () => weights.stop(),
      () => victims.stop(),
    );
    expect(victims.pickVictim(isResident, lruKey)).toEqual({ key: 'local-0', source: 'lru' });

    // Pool web: a 10 ms, b 40 ms → 0.8 / 0.2. Node n1: k0 … k9 accessed in that order.
    const js = nc.jetstream();
    const n = names(settings);
    await js.publish(
      n.latencySubject('lb-1'),
      JSON.stringify({
        events: [
          { ts: 1_000, pool: 'web', backend: 'a', latencyMs: 10, status: 200 },
          { ts: 1_000, pool: 'web', backend: 'b', latencyMs: 40, status: 200 },
        ],
      }),
    );
    await js.publish(
      n.accessSubject('n1'),
      JSON.stringify({
        events: Array.from({ length: 10 }, (_, k) => ({ ts: 1_000 + k, key: `k${k}`, hit: true })),
      }),
    );
    await waitFor(
      () => weights.status().state === 'live' && victims.status().state === 'live',
      10_000,
      'both clients live',
    );
    const liveWeights = weights.status().backends;
    expect(liveWeights.map((b) => [b.backend, Number(b.weight.toFixed(3))])).toEqual([
      ['a', 0.8],
      ['b', 0.2],
    ]);
    const liveVictims = victims.status().victims;
    expect(liveVictims).toEqual(Array.from({ length: 10 }, (_, k) => `k${k}`));
    await waitFor(
      () => acks.some((a) => a.target === 'n1' && a.version === victims.status().version),
      5_000,
      'the victims client acked its version',
    );

    // The engine stops: nothing is published any more.
    await engine.stop();
    const stoppedAt = Date.now();
    const wExpires = weights.status().expiresAt;
    const vExpires = victims.status().expiresAt;
    expect(Math.min(wExpires, vExpires)).toBeGreaterThan(stoppedAt);

    // Until each document's TTL: the last known good; after it: the fallback, said in status().
    let firstVictim: string | undefined;
    let liveSamples = 0;
    await waitFor(
      () => {
        // Sampled before the clock is read: if `now` is before a TTL, so were the samples.
        const picked =
          firstVictim === undefined ? victims.pickVictim(isResident, lruKey) : undefined;
        const w = weights.status();
        const v = victims.status();
        const now = Date.now();
        if (now < wExpires) {
          expect(w).toMatchObject({ state: 'live', backends: liveWeights });
        }
        if (now < vExpires) {
          expect(v).toMatchObject({ state: 'live', source: 'document', victims: liveVictims });
          firstVictim ??= picked?.key;
          liveSamples++;
        }
        return w.state === 'stale' && v.state === 'stale';
      },
      TTL_MS + 10_000,
      'both clients past their TTL',
    );
    expect(Date.now()).toBeGreaterThan(Math.max(wExpires, vExpires));
    expect(liveSamples).toBeGreaterThan(0);
    expect(firstVictim).toBe('k0');

    const w = weights.status();
    expect(w.backends).toEqual([
      { backend: 'a', weight: 1 },
      { backend: 'b', weight: 1 },
    ]);
    expect(w.detail).toMatch(/is stale since \d+ s: equal weights until a fresh one arrives$/);
    expect(new Set(Array.from({ length: 4 }, () => weights.pick()))).toEqual(new Set(['a', 'b']));
    const v = victims.status();
    expect(v).toMatchObject({ state: 'stale', source: 'lru', victims: [] });
    expect(v.detail).toMatch(
      /is stale since \d+ s: evicting by local LRU until a fresh one arrives$/,
    );
    expect(victims.pickVictim(isResident, lruKey)).toEqual({ key: 'local-0', source: 'lru' });

    // A new engine publishes again (versions continue): both clients are live again.
    const before = { w: w.version, v: v.version };
    await startEngine();
    await waitFor(
      () =>
        weights.status().state === 'live' &&
        victims.status().state === 'live' &&
        weights.status().version > before.w &&
        victims.status().version > before.v,
      10_000,
      'both clients live on the new engine',
    );
    expect(victims.pickVictim(isResident, lruKey)).toEqual({ key: 'k0', source: 'document' });
  }, 60_000);
});
