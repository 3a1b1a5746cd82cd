/**
 * @module api/routes/explain
 * Why a key is (or is not) an eviction victim, and why a backend has its weight: the published
 * decision with its attributions and reason code, the model's own decision and version, the
 * active overrides that touch it, and what the heuristic (LRU order, PRESCIENT_HEURISTIC_WEIGHER)
 * would have decided.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Engine } from '../../engine.js';
import { NotFoundError } from '../../errors.js';
import type { EvictionDocument, WeightsDocument } from '../../publish/document.js';
import type { Override } from '../../control/overrides.js';
import { EVENT_LIMITS } from '../../telemetry/events.js';
import { ErrorReply, NodeName, PoolName } from '../schemas.js';

/** Explanations are free-form objects (docs/operations.md "Explain"); every field is returned. */
const Explained = Type.Object({}, { additionalProperties: true });

function published(doc: EvictionDocument | WeightsDocument | undefined) {
  return doc
    ? {
        version: doc.version,
        generatedAt: doc.generatedAt,
        model: doc.model,
        enforcement: doc.enforcement,
      }
    : null;
}

/** Does the override act on this key (pin / evict-first) or on the whole node? */
function touchesKey(o: Override, key: string): boolean {
  if (o.key !== undefined) return o.key === key;
  if (o.prefix !== undefined) return key.startsWith(o.prefix);
  return o.backend === undefined;
}

export const explainRoutes: FastifyPluginAsyncTypebox<{ engine: Engine }> = async (
  app,
  { engine },
) => {
  app.get(
    '/v1/nodes/:node/keys/:key/explain',
    {
      schema: {
        tags: ['policy'],
        summary: "Why a key is where it is in its node's eviction order",
        params: Type.Object({
          node: NodeName,
          key: Type.String({ minLength: 1, maxLength: EVENT_LIMITS.maxKeyBytes }),
        }),
        response: { 200: Explained, 404: ErrorReply },
      },
    },
    (req) => {
      const { node, key } = req.params;
      const doc = engine.latestPolicy('eviction', node) as EvictionDocument | undefined;
      const features = engine.store.keyFeatures(node, key) ?? null;
      const entry = doc?.entries.find((e) => e.key === key);
      if (!entry && !features) {
        throw new NotFoundError(
          `key "${key}" is neither tracked on node "${node}" nor among its published victims`,
        );
      }
      const candidates = engine.store.lruVictims(node, engine.settings.evictionCandidates);
      const lruPosition = candidates.findIndex((k) => k.key === key);
      const modelDecision = features ? (engine.victimRanker.rank([features], 1)[0] ?? null) : null;
      const heuristicDecision = features
        ? (engine.heuristic.ranker.rank([features], 1)[0] ?? null)
        : null;
      return {
        node,
        key,
        published: published(doc),
        decision: entry
          ? { victim: true, ...entry }
          : {
              victim: false,
              text: `not among the ${doc?.entries.length ?? 0} published victims of ${node}`,
            },
        model: {
          ...(doc?.model ?? engine.victimRanker.modelFor?.(node) ?? engine.victimRanker.model),
          decision: modelDecision,
          shadowRank: (doc?.shadow?.entries.findIndex((e) => e.key === key) ?? -1) + 1 || null,
        },
        heuristic: {
          id: engine.heuristic.ranker.id,
          rank: lruPosition >= 0 ? lruPosition + 1 : null,
          decision: heuristicDecision,
        },
        overrides: engine.control.activeFor('eviction', node).filter((o) => touchesKey(o, key)),
        features,
      };
    },
  );

  app.get(
    '/v1/pools/:pool/backends/:backend/explain',
    {
      schema: {
        tags: ['policy'],
        summary: "Why a backend has its share of a pool's traffic",
        params: Type.Object({
          pool: PoolName,
          backend: Type.String({ minLength: 1, maxLength: EVENT_LIMITS.maxNameBytes }),
        }),
        response: { 200: Explained, 404: ErrorReply },
      },
    },
    (req) => {
      const { pool, backend } = req.params;
      const doc = engine.latestPolicy('weights', pool) as WeightsDocument | undefined;
      const features = engine.store.backendFeatures(pool, backend) ?? null;
      const entry = doc?.entries.find((e) => e.backend === backend);
      if (!entry && !features) {
        throw new NotFoundError(`backend "${backend}" is not known in pool "${pool}"`);
      }
      const heuristic = engine.heuristic.weigher
        .weigh(engine.store.poolBackends(pool), { pool })
        .find((d) => d.backend === backend);
      const modelEntry = doc?.shadow?.entries.find((e) => e.backend === backend) ?? entry;
      return {
        pool,
        backend,
        published: published(doc),
        decision: entry ?? null,
        model: { ...(doc?.model ?? engine.weigher.model), decision: modelEntry ?? null },
        heuristic: { id: engine.heuristic.weigher.id, decision: heuristic ?? null },
        overrides: engine.control
          .activeFor('weights', pool)
          .filter((o) => o.backend === undefined || o.backend === backend),
        features,
      };
    },
  );
  await Promise.resolve();
};
