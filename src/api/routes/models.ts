/**
 * @module api/routes/models
 * The model registry over HTTP: `GET /v1/models` (viewer) lists every (kind, target) with its
 * aliases `champion` and `challenger`, the champion history and the saved versions (created at,
 * metrics, shadow evaluation); `POST /v1/models/:kind/retrain` (operator) trains, evaluates and
 * promotes or keeps candidates now; `POST /v1/models/:kind/promote` and `…/rollback` (admin) move
 * the champion. Every change is in the audit log with the caller's token name.
 *
 * Errors: unknown kind or version 404 `PRESCIENT_E_NOT_FOUND`; nothing to promote or roll back
 * to 409 `PRESCIENT_E_CONFLICT`; a corrupt or NaN-producing version 422
 * `PRESCIENT_E_MODEL_INVALID` (the champion stays); a bad body 400 `PRESCIENT_E_BAD_REQUEST`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from '@sinclair/typebox';
import type { Engine } from '../../engine.js';
import { NotFoundError } from '../../errors.js';
import type { ModelRegistry } from '../../learn/model-registry.js';
import { actorOf } from '../auth.js';
import { ErrorReply, NodeName } from '../schemas.js';

const KindParams = Type.Object({
  kind: Type.String({
    pattern: '^[a-z][a-z0-9-]{0,31}$',
    description: 'Model kind: eviction or forecast.',
  }),
});
/** The model target (eviction: the cache node; forecast: the series, `pool.<pool>`, `node.<node>`). */
const Target = Type.String({
  // A node name, or a series id: a dot-separated prefix and name.
  pattern: '^[A-Za-z0-9_\\-=/.]+$',
  minLength: 1,
  maxLength: NodeName.maxLength ?? 256,
});
const Version = Type.String({
  pattern: '^[A-Za-z0-9_.:-]+@[0-9]{1,12}$',
  maxLength: 300,
  description: 'A version name, `<target>@<n>`.',
});
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const EvaluationSchema = Type.Object(
  {
    metric: Type.String({ description: 'What the scores measure (eviction: hitRatio).' }),
    requests: Type.Integer({ description: 'Requests the scores were counted on.' }),
    candidate: Type.Number(),
    champion: Nullable(Type.Number()),
    championVersion: Nullable(Type.String()),
    heuristic: Type.Number(),
    heuristicId: Type.String(),
    baseline: Type.Number({ description: 'max(champion, heuristic).' }),
    margin: Type.Number(),
    promote: Type.Boolean(),
    reason: Type.String(),
    evaluatedAtMs: Type.Number(),
  },
  { additionalProperties: true },
);

const VersionSchema = Type.Object({
  version: Type.String(),
  createdAt: Nullable(Type.String({ description: 'ISO 8601.' })),
  metrics: Nullable(Type.Object({}, { additionalProperties: true })),
  evaluation: Nullable(EvaluationSchema),
});

const ModelsReply = Type.Object({
  models: Type.Array(
    Type.Object({
      kind: Type.String(),
      target: Type.String(),
      champion: Nullable(Type.String()),
      challenger: Nullable(Type.String()),
      history: Type.Array(Type.String(), { description: 'Earlier champions, oldest first.' }),
      serving: Nullable(
        Type.String({
          description: 'The version served; null when the champion could not be loaded (FALLBACK).',
        }),
      ),
      versions: Type.Array(VersionSchema),
    }),
  ),
});

const RetrainReply = Type.Object({
  kind: Type.String(),
  outcomes: Type.Array(
    Type.Object({
      target: Type.String(),
      status: Type.Union(
        ['promoted', 'challenger', 'refused', 'not-trained'].map((s) => Type.Literal(s)),
      ),
      promoted: Type.Boolean(),
      version: Nullable(Type.String()),
      evaluation: Nullable(EvaluationSchema),
      reason: Nullable(Type.String({ description: 'Why not trained, or why refused.' })),
      champion: Nullable(Type.String()),
      challenger: Nullable(Type.String()),
    }),
  ),
});

const AliasChangeReply = Type.Object({
  kind: Type.String(),
  target: Type.String(),
  champion: Nullable(Type.String()),
  previous: Nullable(Type.String()),
});

const errors = { 400: ErrorReply, 401: ErrorReply, 403: ErrorReply, 404: ErrorReply };

export const modelRoutes: FastifyPluginAsyncTypebox<{ engine: Engine }> = async (
  app,
  { engine },
) => {
  const registry = (kind: string): ModelRegistry => {
    const r = engine.models;
    if (r === undefined) {
      throw new NotFoundError(
        `unknown model kind "${kind}": no learned model kind is enabled (PRESCIENT_VICTIM_RANKER=${engine.settings.victimRanker})`,
      );
    }
    return r;
  };

  app.get(
    '/v1/models',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['models'],
        summary: 'Every model target with its champion, challenger, history and versions',
        response: { 200: ModelsReply, 401: ErrorReply },
      },
    },
    () => ({ models: engine.models?.list() ?? [] }),
  );

  app.post(
    '/v1/models/:kind/retrain',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['models'],
        summary:
          'Train a candidate now (one target, or every target of the kind), evaluate it in shadow and promote it if it beats the champion and the heuristic by the margin',
        params: KindParams,
        body: Type.Object({ target: Type.Optional(Target) }, { additionalProperties: false }),
        response: { 200: RetrainReply, ...errors },
      },
      // No body at all means every target, as `{}` does.
      preValidation: (req, _reply, done) => {
        req.body ??= {};
        done();
      },
    },
    async (req) => {
      const { kind } = req.params;
      const outcomes = await registry(kind).retrain(kind, req.body.target, actorOf(req).name);
      return { kind, outcomes };
    },
  );

  app.post(
    '/v1/models/:kind/promote',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['models'],
        summary: "Make a version (default: the challenger) the target's champion",
        params: KindParams,
        body: Type.Object(
          { target: Target, version: Type.Optional(Version) },
          { additionalProperties: false },
        ),
        response: { 200: AliasChangeReply, ...errors, 409: ErrorReply, 422: ErrorReply },
      },
    },
    async (req) => {
      const { kind } = req.params;
      return registry(kind).promote(kind, req.body.target, req.body.version, actorOf(req).name);
    },
  );

  app.post(
    '/v1/models/:kind/rollback',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['models'],
        summary: 'Bring back the previous champion of a target',
        params: KindParams,
        body: Type.Object({ target: Target }, { additionalProperties: false }),
        response: { 200: AliasChangeReply, ...errors, 409: ErrorReply, 422: ErrorReply },
      },
    },
    async (req) => {
      const { kind } = req.params;
      return registry(kind).rollback(kind, req.body.target, actorOf(req).name);
    },
  );
  await Promise.resolve();
};
