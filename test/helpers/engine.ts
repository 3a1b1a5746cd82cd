/** Builders shared by the tests: settings with isolated names, an engine and its app. */
import { randomBytes } from 'node:crypto';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { buildApp, type App } from '../../src/api/app.js';

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
      ...overrides,
    },
  );
}

export async function embeddedApp(
  overrides: Parameters<typeof loadSettings>[1] = {},
): Promise<{ engine: Engine; app: App; settings: Settings }> {
  const settings = isolatedSettings(overrides);
  const engine = new Engine(settings, createLogger('silent'));
  await engine.start();
  const app = await buildApp({
    engine,
    logger: false,
    telemetryBodyLimitBytes: settings.httpBodyLimitBytes,
  });
  return { engine, app, settings };
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
