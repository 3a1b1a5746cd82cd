/**
 * @module telemetry/nats-publisher
 * Publishes telemetry batches to JetStream with a bounded window of unacknowledged publishes and
 * a `Nats-Msg-Id` per message (so a retried publish is dropped by the stream's duplicate window).
 * Used by `prescient replay` and `prescient bench ingest`; caches and proxies do the same.
 */
import type { JetStreamClient } from 'nats';

export class WindowedPublisher {
  private readonly inflight = new Set<Promise<void>>();
  private failure: Error | undefined;
  published = 0;

  constructor(
    private readonly js: JetStreamClient,
    /** Publishes awaiting their PubAck at most. */
    private readonly window = 64,
  ) {}

  /** Resolves when there is room in the window (not when this message is stored). */
  async publish(subject: string, data: Uint8Array, msgId: string): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.inflight.size >= this.window) await Promise.race(this.inflight);
    const p: Promise<void> = this.js
      .publish(subject, data, { msgID: msgId })
      .then(() => {
        this.published++;
      })
      .catch((err: unknown) => {
        this.failure ??= err as Error;
      })
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /** Waits for every publish to be stored; throws the first failure. */
  async flush(): Promise<void> {
    await Promise.all(this.inflight);
    if (this.failure) throw this.failure;
  }
}
