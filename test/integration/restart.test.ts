/**
 * Crash and restart in the middle of a stream: every event is applied exactly once. Engine A
 * checkpoints, applies more, then dies without a checkpoint (connections dropped, as kill -9
 * would); engine B restores the checkpoint and re-reads the stream from the sequence after it
 * while the publisher keeps going. The feature counts must equal what was published.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { names } from '../../src/config/settings.js';
import { isolatedSettings, NATS_URL, REDIS_URL, waitFor } from '../helpers/engine.js';
import { cleanup, natsConnection } from './servers.js';

const settings = isolatedSettings({
  natsUrl: NATS_URL,
  redisUrl: REDIS_URL,
  // Checkpoints only when the test asks, so the crash certainly loses un-checkpointed work.
  snapshotIntervalMs: 600_000,
  consumerAckWaitSec: 1_300,
  fetchBatch: 5,
  publishIntervalMs: 100,
});
afterAll(() => cleanup(settings));

const MESSAGES = 200;
const PER_MESSAGE = 50;
const KEYS = 250;

describe('restart in the middle of a stream', () => {
  it('applies every event exactly once across a crash', async () => {
    const n = names(settings);
    const nc = await natsConnection();
    const js = nc.jetstream();
    const log = createLogger('silent');
    const a = new Engine(settings, log);
    await a.start();

    const publish = async (from: number, to: number) => {
      for (let m = from; m < to; m++) {
        const events = Array.from({ length: PER_MESSAGE }, (_, j) => {
          const i = m * PER_MESSAGE + j;
          return { ts: 1_000 + i, key: `k${i % KEYS}`, hit: false };
        });
        await js.publish(n.accessSubject('n1'), JSON.stringify({ events }), { msgID: `m${m}` });
      }
    };

    // 40 messages, checkpoint; 30 more applied but never checkpointed; crash. The other 130
    // are published while the next engine starts.
    await publish(0, 40);
    await waitFor(() => a.stats().checkpoint.appliedSeq === 40, 15_000, 'A applied 40 messages');
    await a.checkpoint();
    const checkpointed = a.stats().checkpoint.checkpointedSeq;
    expect(checkpointed).toBe(40);
    await publish(40, 70);
    await waitFor(() => a.stats().checkpoint.appliedSeq === 70, 15_000, 'A applied 30 more');
    await a.publishNow();
    const versionBeforeCrash = a.latestPolicy('eviction', 'n1')?.version ?? 0;
    expect(versionBeforeCrash).toBeGreaterThanOrEqual(1);
    await a.abandon();

    const b = new Engine(settings, log);
    const secondHalf = publish(70, MESSAGES);
    await b.start();
    expect(b.stats().checkpoint.restoredSeq).toBe(checkpointed);
    await secondHalf;
    await waitFor(
      () => b.stats().checkpoint.appliedSeq === MESSAGES,
      20_000,
      'B applied every message',
    );

    let total = 0;
    for (let k = 0; k < KEYS; k++) {
      const f = b.store.keyFeatures('n1', `k${k}`);
      expect(f?.accesses, `k${k}`).toBe((MESSAGES * PER_MESSAGE) / KEYS);
      total += f?.accesses ?? 0;
    }
    expect(total).toBe(MESSAGES * PER_MESSAGE);
    // B applied what A had not checkpointed, and what came after; it skipped nothing it needed.
    expect(b.stats().telemetry.accepted.access).toBe((MESSAGES - checkpointed) * PER_MESSAGE);

    // Published versions continue across the restart.
    const kv = await js.views.kv(settings.kvBucket);
    await b.publishNow();
    const doc = (await kv.get('eviction.n1'))?.json<{ version: number }>();
    expect(doc?.version).toBeGreaterThan(versionBeforeCrash);

    // A graceful stop checkpoints and acks everything: the consumer has nothing pending.
    await b.stop();
    const info = await (
      await nc.jetstreamManager()
    ).consumers.info(settings.streamName, settings.consumerName);
    expect(info.ack_floor.stream_seq).toBe(MESSAGES);
    expect(info.num_ack_pending).toBe(0);
    await nc.close();
  });
});
