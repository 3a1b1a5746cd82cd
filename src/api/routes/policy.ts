/**
 * @module api/routes/policy
 * The latest published policies: a pool's weights and a node's eviction candidates, exactly as
 * published to the KV bucket (the eviction list cut to `limit`).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { Engine } from '../../engine.js';
import { NotFoundError } from '../../errors.js';
import type { PolicyDocument } from '../../publish/document.js';
import { ErrorReply, NodeName, PolicyDocumentSchema, PoolName } from '../schemas.js';

/** Documents are immutable values; the reply schema only wants their (mutable) shape. */
function asBody(doc: PolicyDocument): Static<typeof PolicyDocumentSchema> {
  return doc as Static<typeof PolicyDocumentSchema>;
}

export const policyRoutes: FastifyPluginAsyncTypebox<{ engine: Engine }> = async (
  app,
  { engine },
) => {
  app.get(
    '/v1/pools/:pool/weights',
    {
      schema: {
        tags: ['policy'],
        summary: 'Latest weights document of a pool',
        params: Type.Object({ pool: PoolName }),
        response: { 200: PolicyDocumentSchema, 404: ErrorReply },
      },
    },
    (req) => {
      const doc = engine.latestPolicy('weights', req.params.pool);
      if (!doc)
        throw new NotFoundError(
          `no weights published for pool "${req.params.pool}" yet: send latency telemetry for it first`,
        );
      return asBody(doc);
    },
  );

  app.get(
    '/v1/nodes/:node/eviction',
    {
      schema: {
        tags: ['policy'],
        summary: 'Latest eviction candidates of a cache node, evict-first first',
        params: Type.Object({ node: NodeName }),
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 100 })),
        }),
        response: { 200: PolicyDocumentSchema, 404: ErrorReply },
      },
    },
    (req) => {
      const doc = engine.latestPolicy('eviction', req.params.node);
      if (!doc)
        throw new NotFoundError(
          `no eviction policy published for node "${req.params.node}" yet: send access telemetry for it first`,
        );
      return asBody({ ...doc, entries: doc.entries.slice(0, req.query.limit ?? 100) });
    },
  );
  await Promise.resolve();
};
