/**
 * @module telemetry/memory-bus
 * Embedded mode: an in-process bus. `publish` hands the message to the engine's handler at once,
 * so POST /v1/telemetry has applied its events by the time it answers. Nothing is durable.
 */
import type { BusStatus, InboundMessage, TelemetryBus } from './bus.js';

export class MemoryBus implements TelemetryBus {
  readonly kind = 'embedded' as const;
  private handler: ((msg: InboundMessage) => void) | undefined;
  private seq = 0;
  private closed = false;
  /** Dead letters published, newest last (bounded). */
  readonly deadLetters: Uint8Array[] = [];

  start(afterSeq: number, handler: (msg: InboundMessage) => void): Promise<void> {
    this.seq = Math.max(this.seq, afterSeq);
    this.handler = handler;
    return Promise.resolve();
  }

  ackThrough(): void {
    // Nothing to acknowledge: delivery is a function call.
  }

  publish(subject: string, data: Uint8Array, msgId?: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('bus is closed'));
    const msg: InboundMessage = {
      subject,
      data,
      seq: ++this.seq,
      storedAtMs: Date.now(),
      ...(msgId === undefined ? {} : { msgId }),
    };
    this.handler?.(msg);
    return Promise.resolve();
  }

  maxPayloadBytes(): number {
    return Number.MAX_SAFE_INTEGER;
  }

  publishDeadLetter(data: Uint8Array): void {
    this.deadLetters.push(data);
    if (this.deadLetters.length > 1000) this.deadLetters.shift();
  }

  status(): BusStatus {
    return this.closed
      ? { state: 'closed', detail: 'embedded bus closed' }
      : { state: 'connected', detail: 'embedded in-process bus' };
  }

  stopDelivery(): Promise<void> {
    this.handler = undefined;
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    this.handler = undefined;
    return Promise.resolve();
  }
}
