/**
 * @module telemetry/events
 * The telemetry contract: the typed events caches and proxies send, and their JSON Schemas
 * (TypeBox), which docs/protocol.md reproduces and the HTTP route publishes in OpenAPI.
 * The hot path does not run these schemas: {@link ./decode.ts} checks the same rules by hand,
 * and a test keeps the two in agreement.
 */
import { Type, type Static } from '@sinclair/typebox';

export const ACCESS_OPS = ['get', 'set', 'del', 'evict'] as const;
export type AccessOp = (typeof ACCESS_OPS)[number];

/** Limits every event must respect; the decoder enforces exactly these. */
export const EVENT_LIMITS = {
  /** `key` in UTF-8 bytes. */
  maxKeyBytes: 1024,
  /** `pool`, `backend`, node and proxy names in UTF-8 bytes. */
  maxNameBytes: 256,
  /** Events per `{"events":[...]}` batch. */
  maxBatch: 10_000,
  /** Latest accepted timestamp: year 2286 in epoch ms (catches seconds-vs-µs mistakes). */
  maxTsMs: 9_999_999_999_999,
} as const;

/** Pool names end up in KV keys (`weights.<pool>`), so they use the KV key alphabet. */
export const POOL_PATTERN = '^[A-Za-z0-9_\\-=/]+(\\.[A-Za-z0-9_\\-=/]+)*$';
/** Node and proxy names are one NATS subject token. */
export const SOURCE_PATTERN = '^[A-Za-z0-9_\\-=/]+$';

export const AccessEventSchema = Type.Object(
  {
    ts: Type.Number({
      minimum: 0,
      maximum: EVENT_LIMITS.maxTsMs,
      description: 'Epoch milliseconds.',
    }),
    key: Type.String({
      minLength: 1,
      description: `Cache key, at most ${EVENT_LIMITS.maxKeyBytes} UTF-8 bytes.`,
    }),
    size: Type.Optional(Type.Integer({ minimum: 0, description: 'Object size in bytes.' })),
    hit: Type.Boolean({ description: 'Whether the cache served the request from memory.' }),
    op: Type.Optional(
      Type.Union(
        ACCESS_OPS.map((op) => Type.Literal(op)),
        { description: 'Default "get".' },
      ),
    ),
    latencyMs: Type.Optional(
      Type.Number({ minimum: 0, description: 'Time the cache took to answer.' }),
    ),
  },
  {
    $id: 'AccessEvent',
    additionalProperties: true,
    description: 'One cache access, on prescient.telemetry.access.<node>.',
  },
);

export const LatencyEventSchema = Type.Object(
  {
    ts: Type.Number({
      minimum: 0,
      maximum: EVENT_LIMITS.maxTsMs,
      description: 'Epoch milliseconds.',
    }),
    pool: Type.String({
      minLength: 1,
      pattern: POOL_PATTERN,
      description: `Backend pool: dot-separated words of A-Z a-z 0-9 _ - = / (it is part of the KV key weights.<pool>), at most ${EVENT_LIMITS.maxNameBytes} UTF-8 bytes.`,
    }),
    backend: Type.String({
      minLength: 1,
      description: `Backend within the pool, at most ${EVENT_LIMITS.maxNameBytes} UTF-8 bytes.`,
    }),
    latencyMs: Type.Number({ minimum: 0, description: 'Time to the full response.' }),
    status: Type.Integer({
      minimum: 100,
      maximum: 599,
      description: 'HTTP status code (≥ 500 counts as an error).',
    }),
    inflight: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Requests in flight to this backend when it answered.',
      }),
    ),
    bytes: Type.Optional(Type.Integer({ minimum: 0, description: 'Response size in bytes.' })),
  },
  {
    $id: 'LatencyEvent',
    additionalProperties: true,
    description: 'One proxied request, on prescient.telemetry.latency.<proxy>.',
  },
);

/** A message is one event or a batch. */
export const BatchSchema = <T extends typeof AccessEventSchema | typeof LatencyEventSchema>(
  item: T,
) =>
  Type.Object(
    { events: Type.Array(item, { maxItems: EVENT_LIMITS.maxBatch }) },
    { additionalProperties: false },
  );

/** The decoded types. `exactOptionalPropertyTypes`: an absent field is absent, never `undefined`. */
export interface AccessEvent {
  readonly ts: number;
  readonly key: string;
  readonly size?: number;
  readonly hit: boolean;
  readonly op?: AccessOp;
  readonly latencyMs?: number;
}

export interface LatencyEvent {
  readonly ts: number;
  readonly pool: string;
  readonly backend: string;
  readonly latencyMs: number;
  readonly status: number;
  readonly inflight?: number;
  readonly bytes?: number;
}

/** Compile-time check that the hand-written types and the schemas describe the same fields. */
type _SameAccess = [Static<typeof AccessEventSchema>] extends [AccessEvent] ? true : never;
type _SameLatency = [Static<typeof LatencyEventSchema>] extends [LatencyEvent] ? true : never;
export const _schemasMatchTypes: [_SameAccess, _SameLatency] = [true, true];

export type TelemetryKind = 'access' | 'latency';
