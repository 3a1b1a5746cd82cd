/**
 * `nats-server` restarts during a sustained stream of access telemetry: the engine reports NATS
 * down (/readyz 503, check `nats` reconnecting), reconnects by itself when the server is back,
 * and every event the publisher got an ack for is applied exactly once. The test runs its own
 * nats-server (JetStream store under test-output/, so streams, consumer and KV survive) and
 * restarts it twice: once stopped gracefully (SIGTERM), once killed (SIGKILL). The publisher
 * retries each message with the same Nats-Msg-Id until acked, as an exactly-once producer must
 * (an attempt can be stored while its ack is lost in the restart).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from 'nats';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { buildApp, type App } from '../../src/api/app.js';
import { names, type Settings } from '../../src/config/settings.js';
import { authorize, isolatedSettings, REDIS_URL, waitFor } from '../helpers/engine.js';
import { cleanup } from './servers.js';
import { publishSustained, startNatsServer, stopAll } from './fault-servers.js';

/** 90,000 events: 900 messages of 100, over 50 keys (1,800 accesses each). */
const MESSAGES = 900;
const PER_MESSAGE = 100;
const KEYS = 50;

let settings: Settings | undefined;
let engine: Engine | undefined;
let app: App | undefined;
let nc: NatsConnection | undefined;
afterAll(async () => {
  await app?.close();
  await engine?.stop();
  await nc?.close();
  await stopAll();
  if (settings) await cleanup(settings);
});

describe('nats-server restart during ingest', () => {
  it('reconnects, reports it in /readyz, and applies every acked event exactly once', async () => {
    const nats = await startNatsServer();
    settings = isolatedSettings({
      natsUrl: nats.url,
      redisUrl: REDIS_URL,
      victimRanker: 'lru',
      retrainCronEviction: 'off',
      snapshotIntervalMs: 500,
      consumerAckWaitSec: 5,
      publishIntervalMs: 200,
    });
    engine = new Engine(settings, createLogger('silent'));
    await engine.start();
    const e = engine;
    app = authorize(await buildApp({ engine: e, logger: false, telemetryBodyLimitBytes: 1 << 20 }));
    const api = app;
    const readyz = async () => {
      const r = await api.inject('/readyz');
      return { status: r.statusCode, body: r.json<{ checks: { nats: { state: string } } }>() };
    };
    expect((await readyz()).status).toBe(200);

    nc = await nats.connect();
    const publisher = publishSustained({
      js: nc.jetstream(),
      subject: names(settings).accessSubject('n1'),
      messages: MESSAGES,
      eventsPerMessage: PER_MESSAGE,
      keys: KEYS,
      paceMs: 3,
    });

    // Two restarts while the stream flows (timed by the publisher, which never waits for the
    // engine, so it is still publishing): graceful, then kill -9 of the server.
    let appliedBefore = 0;
    for (const [signal, published] of [
      ['SIGTERM', MESSAGES / 4],
      ['SIGKILL', MESSAGES / 2],
    ] as const) {
      await waitFor(
        () => publisher.acked() >= published && e.stats().checkpoint.appliedSeq > appliedBefore,
        30_000,
        `${published} messages published, the engine applying them`,
      );
      appliedBefore = e.stats().checkpoint.appliedSeq;
      const retriesBefore = publisher.retries();
      await nats.stop(signal);
      const down = await waitFor(
        async () => {
          const r = await readyz();
          return r.status === 503 ? r : undefined;
        },
        10_000,
        '/readyz 503',
      );
      expect(down.body.checks.nats.state).toBe('reconnecting');
      expect(e.readiness()).toMatchObject({ ready: false, state: 'running' });
      // The outage is real for producers too: their publishes fail until the server is back.
      await waitFor(() => publisher.retries() > retriesBefore, 10_000, 'a publish to fail');
      await nats.start();
      await waitFor(async () => (await readyz()).status === 200, 30_000, '/readyz 200 again');
      expect(e.readiness().checks['nats']?.state).toBe('connected');
    }

    await publisher.done;
    expect(publisher.acked()).toBe(MESSAGES);
    await waitFor(
      () => e.stats().checkpoint.appliedSeq === MESSAGES,
      30_000,
      'every message applied',
    );
    console.log(
      `nats restarts: publisher retries ${publisher.retries()}, ` +
        `stored-but-unacked attempts deduplicated ${publisher.duplicates()}, ` +
        `engine skipped ${e.stats().telemetry.duplicates} redeliveries`,
    );

    // Each message is in the stream once, and each event was applied once.
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(settings.streamName);
    expect(info.state.messages).toBe(MESSAGES);
    expect(info.state.last_seq).toBe(MESSAGES);
    const s = e.stats();
    expect(s.telemetry.accepted['access']).toBe(MESSAGES * PER_MESSAGE);
    expect(Object.values(s.telemetry.rejected).every((v) => v === 0)).toBe(true);
    for (let k = 0; k < KEYS; k++) {
      expect(e.store.keyFeatures('n1', `k${k}`)?.accesses, `k${k}`).toBe(
        (MESSAGES * PER_MESSAGE) / KEYS,
      );
    }

    // Checkpoints and acks work on the new connection, and the consumer converges: every
    // message acked, none pending.
    await waitFor(
      () => e.stats().checkpoint.checkpointedSeq === MESSAGES,
      10_000,
      'a checkpoint of everything',
    );
    const acked = async (through: number) => {
      const c = await jsm.consumers.info(settings!.streamName, settings!.consumerName);
      return c.ack_floor.stream_seq === through && c.num_ack_pending === 0;
    };
    await waitFor(() => acked(MESSAGES), 20_000, 'every message acked');

    // Acks lost in a restart: the server is frozen (SIGSTOP) while the engine checkpoints, so the
    // acks wait unread in its socket, then killed. The restarted server delivers those messages
    // again; the engine holds them in a checkpoint already, so it must skip and ack them at once:
    // no later checkpoint would come to ack them, and they would stay pending for ever.
    const js = nc.jetstream();
    const n = names(settings);
    let extra = 0;
    await waitFor(
      async () => {
        for (let i = 0; i < 10; i++, extra++) {
          const events = [{ ts: 2_000_000 + extra, key: `x${extra % 5}`, hit: false }];
          await js.publish(n.accessSubject('n2'), JSON.stringify({ events }), {
            msgID: `x${extra}`,
          });
        }
        const through = MESSAGES + extra;
        await waitFor(() => e.stats().checkpoint.appliedSeq === through, 10_000, 'extra applied');
        nats.process!.child.kill('SIGSTOP');
        if (e.stats().checkpoint.checkpointedSeq < through) return true;
        // A checkpoint came first and its acks may have been read: thaw and try again.
        nats.process!.child.kill('SIGCONT');
        return false;
      },
      30_000,
      'the server frozen before a checkpoint',
    );
    const total = MESSAGES + extra;
    await waitFor(
      () => e.stats().checkpoint.checkpointedSeq === total,
      10_000,
      'the checkpoint whose acks the server never reads',
    );
    await nats.stop('SIGKILL');
    await nats.start();
    await waitFor(
      async () => (await readyz()).status === 200,
      30_000,
      '/readyz 200 after the kill',
    );
    await waitFor(() => acked(total), 30_000, 'the messages delivered again acked');
    expect(e.stats().telemetry.accepted['access']).toBe(MESSAGES * PER_MESSAGE + extra);

    await e.stop();
    expect(await acked(total)).toBe(true);
  }, 120_000);
});
