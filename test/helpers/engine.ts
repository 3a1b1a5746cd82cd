/** Builders shared by the tests: settings with isolated names, an engine and its app. */
import { randomBytes } from 'node:crypto';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { buildApp, type App } from '../../src/api/app.js';
import { hashToken, type Role } from '../../src/control/tokens.js';

/** One API token per role, configured (as hashes) in every test's settings. */
export const TEST_TOKENS: Record<Role, string> = {
  admin: 'test-admin-token-0123456789',
  operator: 'test-operator-token-0123456789',
  viewer: 'test-viewer-token-0123456789',
  telemetry: 'test-telemetry-token-0123456789',
};

/** PRESCIENT_API_TOKENS for {@link TEST_TOKENS}: `name:role:sha256`. */
export const TEST_TOKEN_LIST = Object.entries(TEST_TOKENS)
  .map(([role, token]) => `test-${role}:${role}:${hashToken(token)}`)
  .join(',');

export function bearer(role: Role): { authorization: string } {
  return { authorization: `Bearer ${TEST_TOKENS[role]}` };
}

/**
 * Makes every `app.inject` of this test app carry `token` (default: the admin one) unless the
 * request sets its own Authorization header. Auth itself is tested with explicit headers.
 */
export function authorize(app: App, token: string = TEST_TOKENS.admin): App {
  const inject = app.inject.bind(app) as (o: object) => ReturnType<App['inject']>;
  const authorization = `Bearer ${token}`;
  (app as { inject: unknown }).inject = (opts: string | { headers?: Record<string, unknown> }) =>
    typeof opts === 'string'
      ? inject({ url: opts, headers: { authorization } })
      : inject({ ...opts, headers: { authorization, ...opts.headers } });
  return app;
}

export const NATS_URL = process.env['TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';
export const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Settings whose stream, subjects, bucket and Redis keys are unique to this call. */
export function isolatedSettings(overrides: Parameters<typeof loadSettings>[1] = {}): Settings {
  const tag = randomBytes(4).toString('hex');
  return loadSettings(
    {},
    {
      logLevel: 'silent',
      subjectPrefix: `t${tag}`,
      streamName: `T${tag.toUpperCase()}_TELEMETRY`,
      consumerName: `engine-${tag}`,
      kvBucket: `t-${tag}`,
      redisPrefix: `prescient-test:${tag}:`,
      modelsBucket: `t-${tag}-models`,
      modelDir: `test-output/models-${tag}`,
      apiTokens: TEST_TOKEN_LIST,
      ...overrides,
    },
  );
}

/** An engine on `settings`, started, and its app (every request with the admin token). */
export async function startApp(settings: Settings): Promise<{ engine: Engine; app: App }> {
  const engine = new Engine(settings, createLogger('silent'));
  await engine.start();
  const app = authorize(
    await buildApp({
      engine,
      logger: false,
      telemetryBodyLimitBytes: settings.httpBodyLimitBytes,
    }),
  );
  return { engine, app };
}

export async function stopApp(x: { engine: Engine; app: App }): Promise<void> {
  await x.app.close();
  await x.engine.stop();
}

export async function embeddedApp(
  overrides: Parameters<typeof loadSettings>[1] = {},
): Promise<{ engine: Engine; app: App; settings: Settings; adminToken: string }> {
  const settings = isolatedSettings(overrides);
  return { ...(await startApp(settings)), settings, adminToken: TEST_TOKENS.admin };
}

/**
 * `perBackend` latency observations of each backend of `pool`, 1 ms apart from ts 1000; backend
 * i answers in `(i + 1) × stepMs` ms. The usual input of a weights test.
 */
export function latencyEvents(
  pool: string,
  backends: readonly string[],
  perBackend: number,
  stepMs: number,
) {
  return backends.flatMap((backend, i) =>
    Array.from({ length: perBackend }, (_, j) => ({
      ts: 1_000 + j,
      pool,
      backend,
      latencyMs: stepMs * (i + 1),
      status: 200,
    })),
  );
}

/** Polls until `fn` returns a truthy value or the timeout passes. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Sends each `[kind, source, events]` batch with POST /v1/telemetry; returns the status codes
 * (202 each when every batch had a good event). `headers` default to the app's own.
 */
export async function postTelemetry(
  app: App,
  batches: readonly (readonly ['access' | 'latency', string, readonly object[]])[],
  headers: Record<string, string> = {},
): Promise<number[]> {
  const codes: number[] = [];
  for (const [kind, source, events] of batches) {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/telemetry',
      headers,
      payload: { kind, source, events },
    });
    codes.push(r.statusCode);
  }
  return codes;
}

/** The body of GET /v1/models, as the registry tests read it. */
export interface ModelsBody {
  models: {
    kind: string;
    target: string;
    champion: string | null;
    challenger: string | null;
    history: string[];
    serving: string | null;
    versions: {
      version: string;
      createdAt: string | null;
      metrics: Record<string, number> | null;
      evaluation: {
        metric: string;
        candidate: number;
        heuristic: number;
        promote: boolean;
      } | null;
    }[];
  }[];
}
