/**
 * @module telemetry/bus
 * The transport contract between telemetry producers and the engine. Two implementations:
 * {@link ./memory-bus.ts} (embedded mode, one process) and {@link ./nats-bus.ts} (JetStream).
 *
 * Delivery is in stream order. Each message has a sequence number; the engine applies a message
 * only if its sequence is above the last one it applied (exactly-once with the checkpoint), and
 * calls {@link TelemetryBus.ackThrough} once the state holding it is checkpointed.
 */

export interface InboundMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Stream sequence (JetStream) or a local counter (embedded). */
  readonly seq: number;
  readonly msgId?: string;
  /** Time the server stored the message (epoch ms), for apply-latency measurement. */
  readonly storedAtMs: number;
}

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface BusStatus {
  readonly state: ConnectionState;
  readonly detail: string;
}

export interface TelemetryBus {
  readonly kind: 'embedded' | 'nats';
  /**
   * Starts delivery of every message after `afterSeq` to `handler`, in order. The handler applies
   * synchronously; messages are acked only through {@link ackThrough}. Resolves once delivery
   * is set up; delivery goes on until {@link close}.
   */
  start(afterSeq: number, handler: (msg: InboundMessage) => void): Promise<void>;
  /** Acknowledges every delivered message with `seq ≤ throughSeq`. */
  ackThrough(throughSeq: number): void;
  /** Publishes telemetry (used by POST /v1/telemetry); resolves when stored. */
  publish(subject: string, data: Uint8Array, msgId?: string): Promise<void>;
  /** Largest message the transport takes (NATS: the server's max_payload, 1 MiB by default). */
  maxPayloadBytes(): number;
  /** Publishes a dead letter; never throws. */
  publishDeadLetter(data: Uint8Array): void;
  status(): BusStatus;
  /** Stops delivery; delivered messages stay unacked until {@link ackThrough}. */
  stopDelivery(): Promise<void>;
  close(): Promise<void>;
}
