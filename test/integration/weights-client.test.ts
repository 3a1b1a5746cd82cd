/**
 * The WeightsClient SDK against a real engine on real NATS: it follows `weights.<pool>` in the KV
 * bucket, balances by it, and acks each version it applies.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { names } from '../../src/config/settings.js';
import { WeightsClient } from '../../src/client/weights-client.js';
import type { WeightsAck } from '../../src/client/ack.js';
import { isolatedSettings, NATS_URL, waitFor } from '../helpers/engine.js';
import { cleanup, natsConnection } from './servers.js';

const settings = isolatedSettings({
  natsUrl: NATS_URL,
  publishIntervalMs: 100,
  weigher: 'inverse-latency',
});
afterAll(() => cleanup(settings));

describe('WeightsClient on NATS KV', () => {
  it('applies new versions of weights.<pool> and acks them', async () => {
    const engine = new Engine(settings, createLogger('silent'));
    await engine.start();
    const nc = await natsConnection();
    const acks: WeightsAck[] = [];
    const sub = nc.subscribe(`${settings.subjectPrefix}.policy.ack.weights.svc-1`, {
      callback: (_e, m) => acks.push(m.json<WeightsAck>()),
    });
    const client = new WeightsClient({
      nc,
      pool: 'web',
      clientId: 'svc-1',
      subjectPrefix: settings.subjectPrefix,
      kvBucket: settings.kvBucket,
    });
    await client.start();
    expect(client.status().state).toBe('waiting');

    const js = nc.jetstream();
    const latency = (ts: number, l: Record<string, number>) =>
      js.publish(
        names(settings).latencySubject('lb-1'),
        JSON.stringify({
          events: Object.entries(l).map(([backend, latencyMs]) => ({
            ts,
            pool: 'web',
            backend,
            latencyMs,
            status: 200,
          })),
        }),
      );
    await latency(Date.now(), { a: 10, b: 40 });
    await waitFor(() => client.status().state === 'live', 10_000, 'first document applied');
    const v1 = client.status().version;
    const picks = Array.from({ length: 5 }, () => client.pick());
    expect(picks).toEqual(['a', 'a', 'b', 'a', 'a']); // 0.8 / 0.2 by SWRR
    await waitFor(() => acks.some((a) => a.version === v1), 5_000, 'ack of v1');
    expect(acks.find((a) => a.version === v1)).toMatchObject({ pool: 'web', proxy: 'svc-1' });

    await latency(Date.now(), { a: 400, b: 40 });
    await waitFor(() => client.status().version > v1, 10_000, 'a newer version');
    await waitFor(
      () => acks.some((a) => a.version === client.status().version),
      5_000,
      'ack of v2',
    );

    await client.stop();
    sub.unsubscribe();
    await nc.close();
    await engine.stop();
  });
});
