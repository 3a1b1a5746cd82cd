/**
 * @module telemetry/nats-bus
 * JetStream transport. Sets up (or updates) stream `PRESCIENT_TELEMETRY` on
 * `prescient.telemetry.>` with limits retention, max age, max bytes and a duplicate window for
 * `Nats-Msg-Id`, a dead-letter stream on `prescient.deadletter.>`, and reads with the durable
 * pull consumer `prescient-engine` (explicit ack).
 *
 * Position: the engine's checkpoint (the feature snapshot in Redis) is the source of truth for
 * what has been applied. At start the durable consumer is re-created to deliver from the
 * sequence after the checkpoint, so telemetry applied but not checkpointed before a crash is
 * delivered again at once, in order (instead of after the ack wait, behind newer messages), and
 * the engine's sequence watermark makes the replay exactly-once. Messages are acked when the
 * checkpoint that holds them is written.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  nanos,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from 'nats';
import type { Settings, Names } from '../config/settings.js';
import type { Logger } from '../log.js';
import type { NatsClient } from '../clients/nats-client.js';
import type { BusStatus, InboundMessage, TelemetryBus } from './bus.js';

type StreamSettings = Pick<
  Settings,
  | 'streamName'
  | 'streamMaxAgeSec'
  | 'streamMaxBytes'
  | 'streamDuplicateWindowSec'
  | 'streamReplicas'
  | 'deadLetterMaxAgeSec'
  | 'consumerName'
  | 'consumerAckWaitSec'
  | 'consumerMaxAckPending'
  | 'fetchBatch'
>;

/** Creates the telemetry and dead-letter streams, or updates their limits to the settings. */
export async function ensureStreams(
  jsm: JetStreamManager,
  s: StreamSettings,
  n: Names,
): Promise<void> {
  const telemetry: Partial<StreamConfig> & { name: string } = {
    name: s.streamName,
    subjects: [n.telemetryWildcard],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(s.streamMaxAgeSec * 1000),
    max_bytes: s.streamMaxBytes,
    duplicate_window: nanos(s.streamDuplicateWindowSec * 1000),
    num_replicas: s.streamReplicas,
  };
  const deadLetter: Partial<StreamConfig> & { name: string } = {
    name: n.deadLetterStream,
    subjects: [n.deadLetterWildcard],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(s.deadLetterMaxAgeSec * 1000),
    max_bytes: Math.max(64 * 1024 * 1024, Math.floor(s.streamMaxBytes / 8)),
    num_replicas: s.streamReplicas,
  };
  for (const cfg of [telemetry, deadLetter]) {
    try {
      await jsm.streams.info(cfg.name);
      await jsm.streams.update(cfg.name, cfg);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.streams.add(cfg);
    }
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; api_error?: { err_code?: number }; message?: string };
  return (
    e.api_error?.err_code === 10059 ||
    e.api_error?.err_code === 10014 ||
    e.code === '404' ||
    /not found/i.test(e.message ?? '')
  );
}

export class NatsBus implements TelemetryBus {
  readonly kind = 'nats' as const;
  private js: JetStreamClient | undefined;
  private messages: ConsumerMessages | undefined;
  /** Delivered, applied (or skipped as already applied), not yet acked. */
  private unacked: JsMsg[] = [];
  /** Highest sequence acked: a checkpoint holds everything up to it. */
  private ackedSeq = 0;
  private loop: Promise<void> | undefined;
  private closing = false;
  /** Stream creation time, to notice a stream that was deleted and re-created (sequences restart). */
  streamCreated = '';
  firstSeq = 0;
  lastSeq = 0;

  constructor(
    private readonly client: NatsClient,
    private readonly settings: StreamSettings,
    private readonly n: Names,
    private readonly log: Logger,
    /** The consumer's filter: the whole stream, or one partition's mapped subjects. */
    private readonly filter: string = n.telemetryWildcard,
  ) {}

  /** Connects, sets up streams; call before {@link start}. */
  async setup(): Promise<void> {
    const nc = await this.client.connect();
    const jsm = await nc.jetstreamManager();
    await ensureStreams(jsm, this.settings, this.n);
    const info = await jsm.streams.info(this.settings.streamName);
    this.streamCreated = info.created;
    this.firstSeq = info.state.first_seq;
    this.lastSeq = info.state.last_seq;
    this.js = nc.jetstream();
  }

  /**
   * Re-creates the durable consumer to deliver from `afterSeq + 1`. Scale-out calls it again after
   * {@link stopDelivery} when the replica's partitions change; what was delivered and not acked
   * before comes again from the new position.
   */
  async start(afterSeq: number, handler: (msg: InboundMessage) => void): Promise<void> {
    this.closing = false;
    this.unacked = [];
    const nc = this.client.connection;
    const jsm = await nc.jetstreamManager();
    const { streamName, consumerName } = this.settings;
    try {
      await jsm.consumers.delete(streamName, consumerName);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await jsm.consumers.add(streamName, {
      durable_name: consumerName,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(this.settings.consumerAckWaitSec * 1000),
      max_ack_pending: this.settings.consumerMaxAckPending,
      ...(afterSeq > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }
        : { deliver_policy: DeliverPolicy.All }),
      filter_subject: this.filter,
    });
    const consumer = await nc.jetstream().consumers.get(streamName, consumerName);
    this.messages = await consumer.consume({ max_messages: this.settings.fetchBatch });
    this.log.info(
      { stream: streamName, consumer: consumerName, fromSeq: afterSeq + 1 },
      'consuming telemetry',
    );
    const messages = this.messages;
    this.ackedSeq = afterSeq;
    this.loop = (async () => {
      for await (const m of messages) {
        const msgId = m.headers?.get('Nats-Msg-Id');
        handler({
          subject: m.subject,
          data: m.data,
          seq: m.seq,
          storedAtMs: Math.floor(m.info.timestampNanos / 1e6),
          ...(msgId ? { msgId } : {}),
        });
        // A redelivery of a message a checkpoint already holds (its ack was lost, e.g. when the
        // server restarted) is acked now: no later checkpoint may come to ack it, and unacked it
        // would come back every ack wait and hold the consumer's ack floor.
        if (m.seq <= this.ackedSeq) m.ack();
        else this.unacked.push(m);
      }
    })().catch((err: unknown) => {
      if (!this.closing)
        this.log.error({ err: (err as Error).message }, 'telemetry consumer stopped');
    });
  }

  ackThrough(throughSeq: number): void {
    this.ackedSeq = Math.max(this.ackedSeq, throughSeq);
    // Not in sequence order after a reconnect: redeliveries come behind newer messages.
    const keep: JsMsg[] = [];
    for (const m of this.unacked) {
      if (m.seq <= throughSeq) m.ack();
      else keep.push(m);
    }
    this.unacked = keep;
  }

  async publish(subject: string, data: Uint8Array, msgId?: string): Promise<void> {
    if (!this.js) throw new Error('NATS is not set up yet');
    if (msgId === undefined) {
      await this.js.publish(subject, data);
      return;
    }
    // The client sends msgID as the Nats-Msg-Id header; the stream drops repeats in its window.
    await this.js.publish(subject, data, { msgID: msgId });
  }

  maxPayloadBytes(): number {
    return this.client.connection.info?.max_payload ?? 1024 * 1024;
  }

  publishDeadLetter(data: Uint8Array): void {
    try {
      this.client.connection.publish(this.n.deadLetterSubject, data);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'dead letter not published');
    }
  }

  status(): BusStatus {
    return { state: this.client.state, detail: this.client.detail };
  }

  async stopDelivery(): Promise<void> {
    this.closing = true;
    this.messages?.stop();
    await this.loop;
  }

  /** Stops delivery and drains the connection (pending acks are flushed). */
  async close(): Promise<void> {
    await this.stopDelivery();
    await this.client.close();
  }
}
