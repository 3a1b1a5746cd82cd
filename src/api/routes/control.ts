/**
 * @module api/routes/control
 * The operators' routes: overrides (`/v1/overrides`), the audit log (`/v1/audit`), client
 * status (`/v1/clients`, `/v1/clients/ack`), API tokens (`/v1/tokens`) and `/v1/whoami`.
 * Roles: reads `viewer`; overrides `operator`; tokens `admin`; acks `telemetry`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Engine } from '../../engine.js';
import { ERROR_CODES, PrescientError } from '../../errors.js';
import { AUDIT_ACTIONS } from '../../control/audit.js';
import { OVERRIDE_ACTIONS } from '../../control/overrides.js';
import { parseAck } from '../../control/clients.js';
import { ROLES, TOKEN_NAME_PATTERN } from '../../control/tokens.js';
import { actorOf } from '../auth.js';
import { ErrorReply, NodeName, PoolName } from '../schemas.js';

const OverrideBody = Type.Object(
  {
    action: Type.Union(
      OVERRIDE_ACTIONS.map((a) => Type.Literal(a)),
      { description: 'What the override does; see docs/operations.md "Overrides".' },
    ),
    node: Type.Optional(
      Type.String({ description: 'Cache node (pin, evict-first, freeze, enforce).' }),
    ),
    key: Type.Optional(Type.String({ description: 'Exact cache key (pin, evict-first).' })),
    prefix: Type.Optional(Type.String({ description: 'Cache key prefix (pin, evict-first).' })),
    pool: Type.Optional(
      Type.String({ description: 'Backend pool (weights actions, freeze, enforce).' }),
    ),
    backend: Type.Optional(
      Type.String({ description: 'Backend of the pool (set-weight, scale-weight, drain).' }),
    ),
    weight: Type.Optional(Type.Number({ description: 'set-weight: the share of the pool, 0..1.' })),
    factor: Type.Optional(Type.Number({ description: 'scale-weight: multiplies the share, ≥ 0.' })),
    percent: Type.Optional(
      Type.Number({ description: 'enforce: % of the model applied; 0 = shadow.' }),
    ),
    reason: Type.String({
      minLength: 1,
      maxLength: 500,
      description: 'Why (audit log, documents).',
    }),
    ttlSec: Type.Integer({ minimum: 1, description: 'Expires after this many seconds.' }),
  },
  { additionalProperties: false },
);

const OverrideReply = Type.Object(
  {
    id: Type.String(),
    action: Type.String(),
    actor: Type.String(),
    reason: Type.String(),
    createdAt: Type.Number(),
    expiresAt: Type.Number(),
  },
  { additionalProperties: true },
);

export const controlRoutes: FastifyPluginAsyncTypebox<{ engine: Engine }> = async (
  app,
  { engine },
) => {
  const { control } = engine;

  app.get(
    '/v1/whoami',
    { schema: { tags: ['control'], summary: "The caller's token name and role" } },
    (req) => actorOf(req),
  );

  app.post(
    '/v1/overrides',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['control'],
        summary: 'Create an override; it applies to published documents within a second',
        body: OverrideBody,
        response: { 201: OverrideReply, 400: ErrorReply, 401: ErrorReply, 403: ErrorReply },
      },
    },
    async (req, reply) => {
      const o = await control.createOverride(req.body, actorOf(req));
      req.log.info({ override: o.id, action: o.action, actor: o.actor }, 'override created');
      return reply.status(201).send(o);
    },
  );

  app.get(
    '/v1/overrides',
    {
      schema: {
        tags: ['control'],
        summary: 'Active overrides, oldest first',
        querystring: Type.Object({ node: Type.Optional(NodeName), pool: Type.Optional(PoolName) }),
      },
    },
    (req) => ({ overrides: control.listOverrides(req.query) }),
  );

  app.delete(
    '/v1/overrides/:id',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['control'],
        summary: 'Delete an override before it expires',
        params: Type.Object({ id: Type.String({ pattern: '^ovr_[0-9a-f]{16}$' }) }),
        querystring: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }),
        response: { 200: OverrideReply, 404: ErrorReply },
      },
    },
    async (req) => {
      const o = await control.deleteOverride(req.params.id, actorOf(req), req.query.reason);
      req.log.info({ override: o.id, actor: req.actor?.name }, 'override deleted');
      return o;
    },
  );

  app.get(
    '/v1/audit',
    {
      schema: {
        tags: ['control'],
        summary: "Audit log, newest first; page with `before` = the previous page's `next`",
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
          before: Type.Optional(Type.String({ pattern: '^\\d+-\\d+$' })),
          actor: Type.Optional(Type.String({ maxLength: 64 })),
          action: Type.Optional(Type.Union(AUDIT_ACTIONS.map((a) => Type.Literal(a)))),
          target: Type.Optional(
            Type.String({
              maxLength: 600,
              description: 'Prefix, e.g. override/ or eviction/cache-1',
            }),
          ),
          since: Type.Optional(Type.Integer({ minimum: 0, description: 'Epoch ms' })),
          until: Type.Optional(Type.Integer({ minimum: 0, description: 'Epoch ms' })),
        }),
      },
    },
    async (req) => {
      const { limit = 50, ...filters } = req.query;
      return engine.audit.list({ limit, ...filters });
    },
  );

  app.get(
    '/v1/clients',
    {
      schema: {
        tags: ['control'],
        summary: 'Caches and proxies, the version each applied, and how far behind it is',
      },
    },
    () => ({
      clients: control.clients(
        (kind, target) => engine.latestPolicy(kind, target),
        engine.settings.policyTtlMs,
      ),
    }),
  );

  app.post(
    '/v1/clients/ack',
    {
      config: { role: 'telemetry' },
      schema: {
        tags: ['control'],
        summary: 'Ack an applied document over HTTP (same body as the NATS ack)',
        body: Type.Object(
          {
            client: Type.String({ pattern: '^[A-Za-z0-9_\\-=/]+$', maxLength: 256 }),
            kind: Type.Union([
              Type.Literal('weights'),
              Type.Literal('eviction'),
              Type.Literal('forecast'),
            ]),
            target: Type.String({ minLength: 1, maxLength: 600 }),
            version: Type.Integer({ minimum: 0 }),
            appliedAt: Type.Optional(Type.Number()),
          },
          { additionalProperties: true },
        ),
        response: { 204: Type.Null(), 400: ErrorReply },
      },
    },
    async (req, reply) => {
      const ack = parseAck(req.body.kind, req.body.client, req.body, Date.now());
      if (typeof ack === 'string')
        throw new PrescientError(ERROR_CODES.BAD_REQUEST, ack, { statusCode: 400 });
      await control.recordAck(ack);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/tokens',
    {
      config: { role: 'admin' },
      schema: { tags: ['control'], summary: 'API tokens (names, roles, origin; never the hashes)' },
    },
    () => ({ tokens: control.listTokens() }),
  );

  app.post(
    '/v1/tokens',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['control'],
        summary: 'Create a token; the reply holds it once, only its hash is stored',
        body: Type.Object(
          {
            name: Type.String({ pattern: TOKEN_NAME_PATTERN }),
            role: Type.Union(ROLES.map((r) => Type.Literal(r))),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ name: Type.String(), role: Type.String(), token: Type.String() }),
          409: ErrorReply,
        },
      },
    },
    async (req, reply) => {
      const { token, record } = await control.createToken(req.body, actorOf(req));
      req.log.info(
        { token: record.name, role: record.role, actor: req.actor?.name },
        'token created',
      );
      return reply.status(201).send({ name: record.name, role: record.role, token });
    },
  );

  app.delete(
    '/v1/tokens/:name',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['control'],
        summary: 'Revoke a token created over the API',
        params: Type.Object({ name: Type.String({ pattern: TOKEN_NAME_PATTERN }) }),
        response: {
          200: Type.Object({ name: Type.String(), role: Type.String(), deleted: Type.Boolean() }),
          404: ErrorReply,
          409: ErrorReply,
        },
      },
    },
    async (req) => {
      const t = await control.deleteToken(req.params.name, actorOf(req));
      return { name: t.name, role: t.role, deleted: true };
    },
  );
  await Promise.resolve();
};
