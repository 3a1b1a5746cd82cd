/**
 * @module api/routes/overview
 * What the dashboard lists: every pool with its current weights and their reasons, a pool's
 * recent shares (one point per published weights document, publish/history.ts), and every cache
 * node with its latest eviction document's header. The full documents stay at
 * `/v1/pools/:pool/weights` and `/v1/nodes/:node/eviction`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Engine } from '../../engine.js';
import { NotFoundError } from '../../errors.js';
import type { WeightsDocument } from '../../publish/document.js';
import { ErrorReply, PoolName } from '../schemas.js';

const Model = Type.Object({ id: Type.String(), version: Type.String() });

const PoolsReply = Type.Object({
  pools: Type.Array(
    Type.Object({
      pool: Type.String(),
      version: Type.Integer(),
      generatedAt: Type.Number({ description: 'Epoch ms.' }),
      model: Model,
      entries: Type.Array(
        Type.Object({
          backend: Type.String(),
          weight: Type.Number({ description: 'Share of traffic in [0, 1].' }),
          reason: Type.String({ description: 'MODEL, HEURISTIC, OVERRIDE or FALLBACK.' }),
          text: Type.String(),
        }),
      ),
    }),
  ),
});

const HistoryReply = Type.Object({
  pool: Type.String(),
  points: Type.Array(
    Type.Object({
      ts: Type.Number({ description: 'generatedAt of the document (epoch ms).' }),
      version: Type.Integer(),
      weights: Type.Record(Type.String(), Type.Number(), { description: 'Backend → share.' }),
    }),
    { description: 'Oldest first.' },
  ),
});

const NodesReply = Type.Object({
  nodes: Type.Array(
    Type.Object({
      node: Type.String(),
      version: Type.Integer(),
      generatedAt: Type.Number({ description: 'Epoch ms.' }),
      model: Model,
      victims: Type.Integer({ description: 'Eviction candidates in the document.' }),
    }),
  ),
});

export const overviewRoutes: FastifyPluginAsyncTypebox<{ engine: Engine }> = async (
  app,
  { engine },
) => {
  app.get(
    '/v1/pools',
    {
      schema: {
        tags: ['policy'],
        summary: 'Every pool with its latest weights and their reasons',
        response: { 200: PoolsReply },
      },
    },
    () => ({
      pools: (engine.latestPolicies('weights') as WeightsDocument[]).map((d) => ({
        pool: d.target,
        version: d.version,
        generatedAt: d.generatedAt,
        model: d.model,
        entries: d.entries.map((e) => ({
          backend: e.backend,
          weight: e.weight,
          reason: e.reason,
          text: e.text,
        })),
      })),
    }),
  );

  app.get(
    '/v1/pools/:pool/history',
    {
      schema: {
        tags: ['policy'],
        summary: "A pool's recent shares per backend, one point per published weights document",
        params: Type.Object({ pool: PoolName }),
        querystring: Type.Object({
          limit: Type.Optional(
            Type.Integer({
              minimum: 1,
              maximum: 10_000,
              description: `Newest points returned (default: all kept, at most ${engine.history.pointsPerPool}).`,
            }),
          ),
        }),
        response: { 200: HistoryReply, 404: ErrorReply },
      },
    },
    (req) => {
      const { pool } = req.params;
      const points = engine.history.points(pool, req.query.limit);
      if (!points)
        throw new NotFoundError(
          `no weights published for pool "${pool}" since the engine started: send latency telemetry for it first`,
        );
      return { pool, points };
    },
  );

  app.get(
    '/v1/nodes',
    {
      schema: {
        tags: ['policy'],
        summary: 'Every cache node with its latest eviction document (header and victim count)',
        response: { 200: NodesReply },
      },
    },
    () => ({
      nodes: engine.latestPolicies('eviction').map((d) => ({
        node: d.target,
        version: d.version,
        generatedAt: d.generatedAt,
        model: d.model,
        victims: d.entries.length,
      })),
    }),
  );
  await Promise.resolve();
};
