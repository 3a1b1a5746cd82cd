/**
 * @module api/schemas
 * TypeBox schemas of the REST API: validated by fastify at the edge, published in /openapi.json.
 */
import { Type } from '@sinclair/typebox';
import { EVENT_LIMITS, POOL_PATTERN, SOURCE_PATTERN } from '../telemetry/events.js';

export const ErrorReply = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable code, e.g. PRESCIENT_E_BAD_REQUEST.' }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'ErrorReply' },
);

export const NodeName = Type.String({
  pattern: SOURCE_PATTERN,
  minLength: 1,
  maxLength: EVENT_LIMITS.maxNameBytes,
});
export const PoolName = Type.String({
  pattern: POOL_PATTERN,
  minLength: 1,
  maxLength: EVENT_LIMITS.maxNameBytes,
});

export const TelemetryBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('access'), Type.Literal('latency')], {
      description: 'access (cache events) or latency (proxy observations).',
    }),
    source: Type.String({
      pattern: SOURCE_PATTERN,
      minLength: 1,
      maxLength: EVENT_LIMITS.maxNameBytes,
      description:
        'The cache node (kind access) or proxy (kind latency): the last token of the NATS subject.',
    }),
    events: Type.Array(Type.Unknown(), {
      minItems: 1,
      maxItems: EVENT_LIMITS.maxBatch,
      description:
        'AccessEvent or LatencyEvent objects (docs/protocol.md); each is validated on its own.',
    }),
  },
  { additionalProperties: false },
);

export const TelemetryReply = Type.Object({
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  rejections: Type.Array(
    Type.Object({
      index: Type.Integer(),
      code: Type.String(),
      field: Type.Optional(Type.String()),
      reason: Type.String(),
    }),
    { description: 'At most the first 100 rejections.' },
  ),
});

/** Policy documents are described in docs/protocol.md; the API returns them as published. */
export const PolicyDocumentSchema = Type.Object(
  {
    kind: Type.String(),
    target: Type.String(),
    version: Type.Integer(),
    generatedAt: Type.Number(),
    ttlMs: Type.Integer(),
    model: Type.Object({ id: Type.String(), version: Type.String() }),
    entries: Type.Array(Type.Unknown()),
    reasons: Type.Array(
      Type.Object({ code: Type.String(), entries: Type.Integer(), text: Type.String() }),
    ),
  },
  { additionalProperties: true },
);
