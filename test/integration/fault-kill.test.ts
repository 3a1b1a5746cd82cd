/**
 * `kill -9` of the engine process during a sustained stream of access telemetry, then a new
 * engine process: every published event is applied exactly once. Engine A (`prescient serve`, a
 * child process on the shared NATS and Redis with isolated names) is frozen with SIGSTOP at a
 * moment it has applied telemetry its last checkpoint does not hold, then SIGKILLed; the
 * publisher keeps going; engine B restores A's checkpoint, re-reads the stream from the sequence
 * after it and catches up. Counts come from B's API: GET /v1/stats and every key's features.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import type { Redis } from 'ioredis';
import { names } from '../../src/config/settings.js';
import { bearer, isolatedSettings, NATS_URL, REDIS_URL, waitFor } from '../helpers/engine.js';
import { cleanup, natsConnection, redisConnection } from './servers.js';
import { EngineProcess, publishSustained, stopAll } from './fault-servers.js';

const settings = isolatedSettings({
  natsUrl: NATS_URL,
  redisUrl: REDIS_URL,
  logLevel: 'warn',
  victimRanker: 'lru',
  retrainCronEviction: 'off',
  snapshotIntervalMs: 2_000,
  consumerAckWaitSec: 30,
  publishIntervalMs: 500,
});

/** 200,000 events: 1,000 messages of 200, over 100 keys (2,000 accesses each). */
const MESSAGES = 1_000;
const PER_MESSAGE = 200;
const KEYS = 100;
/** A is killed once it has applied at least this many messages past its last checkpoint. */
const PAST_CHECKPOINT = 50;

let nc: NatsConnection | undefined;
let redis: Redis | undefined;
afterAll(async () => {
  await stopAll();
  await nc?.close();
  redis?.disconnect();
  await cleanup(settings);
});

interface Stats {
  telemetry: {
    messages: number;
    accepted: Record<string, number>;
    rejected: Record<string, number>;
    duplicates: number;
  };
  checkpoint: { appliedSeq: number; checkpointedSeq: number; restoredSeq: number };
}
const stats = (e: EngineProcess) => e.get<Stats>('/v1/stats', bearer('viewer'));

describe('kill -9 of the engine process', () => {
  it('applies every published event exactly once across the kill', async () => {
    const n = names(settings);
    nc = await natsConnection();
    redis = redisConnection();
    const a = await EngineProcess.start(settings, 'engine A');

    let markKilled: () => void = () => undefined;
    const killed = new Promise<void>((resolve) => (markKilled = resolve));
    const publisher = publishSustained({
      js: nc.jetstream(),
      subject: n.accessSubject('n1'),
      messages: MESSAGES,
      eventsPerMessage: PER_MESSAGE,
      keys: KEYS,
      paceMs: 4,
      // The last tenth is published only after the kill, whatever the machine's speed: the
      // stream goes on while B starts.
      before: (m) => (m === (MESSAGES * 9) / 10 ? killed : undefined),
    });

    // Freeze A when it has applied well past its last checkpoint; read that checkpoint while A
    // cannot write another; kill it. (If a checkpoint slipped in between, thaw A and try again.)
    let appliedByA = 0;
    let checkpointOfA = 0;
    await waitFor(
      async () => {
        const s = (await stats(a)).checkpoint;
        if (s.checkpointedSeq === 0 || s.appliedSeq < s.checkpointedSeq + PAST_CHECKPOINT)
          return false;
        process.kill(a.pid, 'SIGSTOP');
        const saved = Number(await redis!.hget(n.redisSnapshotKey, 'appliedSeq'));
        if (saved >= s.appliedSeq) {
          process.kill(a.pid, 'SIGCONT');
          return false;
        }
        appliedByA = s.appliedSeq;
        checkpointOfA = saved;
        return true;
      },
      30_000,
      'A applied telemetry past a checkpoint',
    );
    await a.proc.stop('SIGKILL');
    expect(a.proc.child.signalCode).toBe('SIGKILL');
    const publishedAtKill = publisher.acked();
    expect(publishedAtKill).toBeLessThan(MESSAGES);
    markKilled();

    const b = await EngineProcess.start(settings, 'engine B');
    await publisher.done;
    const published = publisher.acked();
    expect(published).toBe(MESSAGES);
    await waitFor(
      async () => (await stats(b)).checkpoint.appliedSeq === MESSAGES,
      60_000,
      'B applied every message',
    );
    console.log(
      `kill -9: A applied ${appliedByA} messages, checkpointed ${checkpointOfA}; ` +
        `${publishedAtKill} of ${MESSAGES} published at the kill; publisher retries ${publisher.retries()}`,
    );

    // B resumed from A's checkpoint, so it re-applied what A had applied after it.
    const s = await stats(b);
    expect(s.checkpoint.restoredSeq).toBe(checkpointOfA);
    expect(checkpointOfA).toBeLessThan(appliedByA);
    expect(s.telemetry.accepted['access']).toBe((MESSAGES - checkpointOfA) * PER_MESSAGE);
    expect(Object.values(s.telemetry.rejected).every((v) => v === 0)).toBe(true);

    // The stream holds each message once (retried publishes were deduplicated by Nats-Msg-Id).
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(settings.streamName);
    expect(info.state.messages).toBe(MESSAGES);
    expect(info.state.last_seq).toBe(MESSAGES);

    // Every key's access count, checkpoint plus what B applied, is exactly what was published.
    let total = 0;
    for (let k = 0; k < KEYS; k++) {
      const e = await b.get<{ features: { accesses: number } | null }>(
        `/v1/nodes/n1/keys/k${k}/explain`,
        bearer('viewer'),
      );
      expect(e.features?.accesses, `k${k}`).toBe((MESSAGES * PER_MESSAGE) / KEYS);
      total += e.features?.accesses ?? 0;
    }
    expect(total).toBe(MESSAGES * PER_MESSAGE);

    // A graceful stop (SIGTERM) checkpoints and acks everything.
    await b.proc.stop('SIGTERM');
    expect(b.proc.child.exitCode).toBe(0);
    const consumer = await jsm.consumers.info(settings.streamName, settings.consumerName);
    expect(consumer.ack_floor.stream_seq).toBe(MESSAGES);
    expect(consumer.num_ack_pending).toBe(0);
    expect(Number(await redis.hget(n.redisSnapshotKey, 'appliedSeq'))).toBe(MESSAGES);
  }, 120_000);
});
