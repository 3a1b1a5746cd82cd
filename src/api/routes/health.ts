/**
 * @module api/routes/health
 * Probes and metrics: `/healthz` (the process answers), `/readyz` (503 until NATS and Redis,
 * when configured, are connected and the engine runs), `/metrics` (Prometheus text format).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Engine } from '../../engine.js';

const Check = Type.Object({ state: Type.String(), detail: Type.String() });

export const healthRoutes: FastifyPluginAsyncTypebox<{ engine: Engine }> = async (
  app,
  { engine },
) => {
  app.get(
    '/healthz',
    {
      schema: { tags: ['health'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
    },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        response: {
          200: Type.Object({
            ready: Type.Boolean(),
            state: Type.String(),
            checks: Type.Record(Type.String(), Check),
          }),
          503: Type.Object({
            ready: Type.Boolean(),
            state: Type.String(),
            checks: Type.Record(Type.String(), Check),
          }),
        },
      },
    },
    (_req, reply) => {
      const r = engine.readiness();
      void reply.status(r.ready ? 200 : 503);
      return r;
    },
  );

  app.get(
    '/metrics',
    { schema: { tags: ['health'], produces: ['text/plain'] } },
    async (_req, reply) => {
      const text = await engine.metrics.registry.metrics();
      return reply.type(engine.metrics.registry.contentType).send(text);
    },
  );
  await Promise.resolve();
};
