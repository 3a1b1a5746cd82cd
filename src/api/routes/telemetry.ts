/**
 * @module api/routes/telemetry
 * `POST /v1/telemetry` for clients without NATS: the same events and the same validation as the
 * NATS subjects. Good events of a batch are accepted (202) while bad ones are rejected with
 * their codes and dead-lettered; a batch with no good event is a 400. Also the recent dead
 * letters, for an operator wondering where their events went.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Engine } from '../../engine.js';
import { ERROR_CODES, PrescientError } from '../../errors.js';
import { ErrorReply, TelemetryBody, TelemetryReply } from '../schemas.js';

const MAX_REPORTED = 100;

export const telemetryRoutes: FastifyPluginAsyncTypebox<{
  engine: Engine;
  bodyLimitBytes: number;
}> = async (app, { engine, bodyLimitBytes }) => {
  app.post(
    '/v1/telemetry',
    {
      bodyLimit: bodyLimitBytes,
      config: { role: 'telemetry' },
      schema: {
        tags: ['telemetry'],
        summary: 'Send access or latency events over HTTP',
        body: TelemetryBody,
        response: { 202: TelemetryReply, 400: ErrorReply, 413: ErrorReply, 503: ErrorReply },
      },
    },
    async (req, reply) => {
      const { kind, source, events } = req.body;
      const result = await engine.ingestHttp(kind, source, events);
      const rejections = result.rejections.slice(0, MAX_REPORTED).map((r) => ({
        index: r.index,
        code: r.code,
        reason: r.reason,
        ...(r.field ? { field: r.field } : {}),
      }));
      if (result.accepted === 0) {
        throw new PrescientError(
          ERROR_CODES.TELEMETRY_REJECTED,
          `all ${result.rejected} events were rejected; see details`,
          { statusCode: 400, details: rejections },
        );
      }
      void reply.status(202);
      return { accepted: result.accepted, rejected: result.rejected, rejections };
    },
  );

  app.get(
    '/v1/telemetry/deadletters',
    {
      schema: {
        tags: ['telemetry'],
        summary: 'Most recent rejected events with their reasons (newest first)',
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
        }),
      },
    },
    (req) => {
      const all = engine.ingestor.recentDeadLetters();
      return { deadLetters: all.slice(-(req.query.limit ?? 20)).reverse() };
    },
  );
  await Promise.resolve();
};
