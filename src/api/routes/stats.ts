/**
 * @module api/routes/stats
 * `GET /v1/stats`: what the engine is doing, in one JSON document (mode, telemetry counts,
 * checkpoint position, feature-store size, publication counts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Engine } from '../../engine.js';

export const statsRoutes: FastifyPluginAsyncTypebox<{ engine: Engine }> = async (
  app,
  { engine },
) => {
  app.get('/v1/stats', { schema: { tags: ['stats'], summary: 'Engine statistics' } }, () =>
    engine.stats(),
  );
  await Promise.resolve();
};
