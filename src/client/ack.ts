/**
 * @module client/ack
 * The acknowledgement a proxy or client publishes after applying a weights document, on
 * `<prefix>.policy.ack.weights.<proxy-or-client-id>` (core NATS, JSON). See docs/proxies.md.
 */

export interface WeightsAck {
  readonly pool: string;
  /** Version of the `weights.<pool>` document applied. */
  readonly version: number;
  /** Epoch ms it was applied. */
  readonly appliedAt: number;
  /** The proxy's or client's id (the last subject token). */
  readonly proxy: string;
  /**
   * What was applied, per backend, in the applier's own unit: the HAProxy agent reports the
   * `set server … weight N` value (0..256), the SDK the share it balances by (0..1).
   */
  readonly servers: readonly { readonly server: string; readonly weight: number }[];
}

export function ackSubject(subjectPrefix: string, id: string): string {
  return `${subjectPrefix}.policy.ack.weights.${id}`;
}
