/**
 * @module api/routes/eds
 * `GET /v1/pools/:pool/eds`: the pool's latest weights as an Envoy v3 `ClusterLoadAssignment`
 * (publish/eds.ts), for Envoy's REST EDS or a control plane to relay. Backends are named
 * `host:port`; for names without a port, `?port=` supplies one, otherwise the answer is
 * 400 `PRESCIENT_E_BAD_REQUEST` listing them. The document version is in `x-prescient-version`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Engine } from '../../engine.js';
import { ERROR_CODES, NotFoundError, PrescientError } from '../../errors.js';
import { clusterLoadAssignment } from '../../publish/eds.js';
import { ErrorReply, PoolName } from '../schemas.js';

const ClusterLoadAssignmentSchema = Type.Object(
  {
    cluster_name: Type.String(),
    endpoints: Type.Array(
      Type.Object({
        lb_endpoints: Type.Array(
          Type.Object({
            endpoint: Type.Object({
              address: Type.Object({
                socket_address: Type.Object({
                  address: Type.String(),
                  port_value: Type.Integer({ minimum: 1, maximum: 65535 }),
                }),
              }),
            }),
            health_status: Type.Union([Type.Literal('HEALTHY'), Type.Literal('UNHEALTHY')]),
            load_balancing_weight: Type.Integer({ minimum: 1 }),
          }),
        ),
      }),
    ),
  },
  { $id: 'ClusterLoadAssignment', description: 'envoy.config.endpoint.v3.ClusterLoadAssignment' },
);

export const edsRoutes: FastifyPluginAsyncTypebox<{ engine: Engine }> = async (app, { engine }) => {
  app.get(
    '/v1/pools/:pool/eds',
    {
      schema: {
        tags: ['policy'],
        summary: "A pool's weights as an Envoy v3 ClusterLoadAssignment",
        params: Type.Object({ pool: PoolName }),
        querystring: Type.Object({
          port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
          cluster: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
        }),
        response: { 200: ClusterLoadAssignmentSchema, 400: ErrorReply, 404: ErrorReply },
      },
    },
    (req, reply) => {
      const { pool } = req.params;
      const doc = engine.latestPolicy('weights', pool);
      if (!doc || doc.kind !== 'weights')
        throw new NotFoundError(
          `no weights published for pool "${pool}" yet: send latency telemetry for it first`,
        );
      const result = clusterLoadAssignment(
        doc as Parameters<typeof clusterLoadAssignment>[0],
        req.query.cluster ?? pool,
        req.query.port,
      );
      if (!result.ok)
        throw new PrescientError(
          ERROR_CODES.BAD_REQUEST,
          `backends of pool "${pool}" have no port (name them host:port, or pass ?port=N): ${result.unaddressable.join(', ')}`,
          { statusCode: 400, details: { backends: result.unaddressable } },
        );
      void reply.header('x-prescient-version', String(doc.version));
      return result.cla;
    },
  );
  await Promise.resolve();
};
