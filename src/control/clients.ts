/**
 * @module control/clients
 * Which version of each policy document every cache and proxy has applied. Clients ack on
 * `<prefix>.policy.ack.<kind>.<client>` (NATS; the HAProxy agent and the SDK do it for weights)
 * or POST /v1/clients/ack; GET /v1/clients compares each ack with the latest published version.
 */
import type { PolicyKind } from '../publish/document.js';

export interface ClientAck {
  /** The proxy's or client's id (the last subject token). */
  readonly client: string;
  readonly kind: PolicyKind;
  /** Pool (weights) or node (eviction). */
  readonly target: string;
  /** Version of the document applied. */
  readonly version: number;
  /** Epoch ms the client applied it. */
  readonly appliedAt: number;
  /** Epoch ms the engine received the ack. */
  readonly receivedAt: number;
}

export interface ClientStatus extends ClientAck {
  /** Latest version published for the target (null: none known to this engine). */
  readonly latestVersion: number | null;
  readonly versionsBehind: number;
  /**
   * 0 when the client applied the latest version; else ms since the latest version was
   * published (a lower bound on how long the client has been behind).
   */
  readonly staleMs: number;
  /** `current`, `behind`, or `silent` (no ack for longer than the documents' TTL). */
  readonly status: 'current' | 'behind' | 'silent';
}

export function clientAckKey(a: Pick<ClientAck, 'client' | 'kind' | 'target'>): string {
  return `${a.client}|${a.kind}|${a.target}`;
}

export function clientStatus(
  ack: ClientAck,
  latest: { version: number; generatedAt: number } | undefined,
  nowMs: number,
  ttlMs: number,
): ClientStatus {
  const behind = latest ? Math.max(0, latest.version - ack.version) : 0;
  const staleMs = latest && behind > 0 ? Math.max(0, nowMs - latest.generatedAt) : 0;
  const silent = nowMs - ack.receivedAt > ttlMs;
  return {
    ...ack,
    latestVersion: latest?.version ?? null,
    versionsBehind: behind,
    staleMs,
    status: silent ? 'silent' : behind > 0 ? 'behind' : 'current',
  };
}

/** Reads an ack message (weights acks carry `pool` and `proxy`; others `target` and `client`). */
export function parseAck(
  kind: string,
  client: string,
  body: unknown,
  receivedAt: number,
): ClientAck | string {
  if (kind !== 'weights' && kind !== 'eviction' && kind !== 'forecast') {
    return `unknown policy kind "${kind}"`;
  }
  if (typeof body !== 'object' || body === null) return 'ack is not a JSON object';
  const b = body as Record<string, unknown>;
  const target = b['target'] ?? b['pool'] ?? b['node'];
  if (typeof target !== 'string' || target.length === 0 || target.length > 256) {
    return 'ack needs target (or pool / node): a non-empty string';
  }
  const version = b['version'];
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
    return 'ack needs version: a non-negative integer';
  }
  const appliedAt = typeof b['appliedAt'] === 'number' ? b['appliedAt'] : receivedAt;
  if (!Number.isFinite(appliedAt)) return 'appliedAt must be epoch ms';
  return { client, kind, target, version, appliedAt, receivedAt };
}
