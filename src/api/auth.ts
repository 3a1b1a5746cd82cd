/**
 * @module api/auth
 * Bearer-token authentication, role checks and write rate limiting for every route, in one
 * `onRequest` hook. A route states the role it needs in its options, `config: { role }`;
 * without one, GET/HEAD need `viewer` and anything else `admin` (a route that forgets to say is
 * closed, not open). Public: /healthz, /readyz, /metrics (probes and scrapers), and the static
 * shells /ui, /docs and /openapi.json, which carry no data (the dashboard and the docs page call
 * the API with a token).
 *
 * 401 `PRESCIENT_E_UNAUTHORIZED` without a token or with an unknown one (with
 * `WWW-Authenticate: Bearer`); 403 `PRESCIENT_E_FORBIDDEN` for a role too weak; 429
 * `PRESCIENT_E_RATE_LIMITED` (with `Retry-After`) past PRESCIENT_WRITE_RATE_PER_MIN writes per
 * token. Tokens are compared as SHA-256 hashes in constant time and never logged: fastify's
 * request log has no headers, and the token is not kept on the request.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { AuthError, ERROR_CODES, RateLimitedError } from '../errors.js';
import { allows, type Actor, type Role, type TokenSet } from '../control/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, once its token is verified (undefined on public routes). */
    actor: Actor | undefined;
  }
  interface FastifyContextConfig {
    /** Role a route needs; `public` needs no token. */
    role?: Role | 'public';
  }
}

const PUBLIC_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/openapi.json']);
const PUBLIC_PREFIXES = ['/ui', '/docs'];

export function requiredRole(req: FastifyRequest): Role | 'public' {
  const configured = req.routeOptions.config.role;
  if (configured !== undefined) return configured;
  const url = req.routeOptions.url;
  if (url !== undefined) {
    if (PUBLIC_PATHS.has(url)) return 'public';
    if (PUBLIC_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`))) return 'public';
  }
  return req.method === 'GET' || req.method === 'HEAD' ? 'viewer' : 'admin';
}

/** Per-token token bucket: `perMin` writes a minute, bursts up to `perMin`. */
export class WriteLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(
    private readonly perMin: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one write for `who`; returns 0 when allowed, else seconds until one is. */
  take(who: string): number {
    const now = this.now();
    const ratePerMs = this.perMin / 60_000;
    const b = this.buckets.get(who) ?? { tokens: this.perMin, atMs: now };
    b.tokens = Math.min(this.perMin, b.tokens + (now - b.atMs) * ratePerMs);
    b.atMs = now;
    this.buckets.set(who, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / ratePerMs / 1000);
  }
}

export interface AuthOptions {
  readonly tokens: TokenSet;
  readonly writeRatePerMin: number;
}

/**
 * The hook, as a plugin whose hooks apply to the whole app (fastify's `skip-override`, what
 * fastify-plugin sets): `await app.register(authPlugin, options)` before the routes.
 */
export const authPlugin: FastifyPluginAsync<AuthOptions> = async (app, o) => {
  const limiter = new WriteLimiter(o.writeRatePerMin);
  app.decorateRequest('actor', undefined);
  app.addHook('onRequest', async (req, reply) => {
    const role = requiredRole(req);
    if (role === 'public') return;
    const header = req.headers.authorization;
    const match = header === undefined ? null : /^Bearer +([!-~]{1,512})$/i.exec(header);
    if (match === null) {
      void reply.header('WWW-Authenticate', 'Bearer realm="prescient"');
      throw new AuthError(
        ERROR_CODES.UNAUTHORIZED,
        'this route needs "Authorization: Bearer <token>" (see docs/operations.md: API tokens)',
      );
    }
    const actor = o.tokens.verify(match[1]!);
    if (actor === undefined) {
      void reply.header('WWW-Authenticate', 'Bearer realm="prescient", error="invalid_token"');
      throw new AuthError(ERROR_CODES.UNAUTHORIZED, 'unknown or revoked token');
    }
    if (!allows(actor.role, role)) {
      throw new AuthError(
        ERROR_CODES.FORBIDDEN,
        `token "${actor.name}" has role ${actor.role}; ${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]} needs ${role}`,
      );
    }
    req.actor = actor;
    const write = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS';
    if (write && role !== 'telemetry') {
      const wait = limiter.take(actor.name);
      if (wait > 0) {
        void reply.header('Retry-After', String(wait));
        throw new RateLimitedError(
          `token "${actor.name}" made more than ${o.writeRatePerMin} writes in a minute; retry in ${wait} s`,
          wait,
        );
      }
    }
    await Promise.resolve();
  });
  await Promise.resolve();
};
(authPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

/** The caller of a route that required a role (routes with a role always have one). */
export function actorOf(req: FastifyRequest): Actor {
  if (req.actor === undefined) throw new AuthError(ERROR_CODES.UNAUTHORIZED, 'no caller');
  return req.actor;
}
