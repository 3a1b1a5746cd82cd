/**
 * Secrets never reach the logs. Engines log at `trace` into a buffer while they connect to NATS
 * and Redis servers that demand credentials (started here), retry wrong credentials, and serve
 * API requests carrying every kind of token (fastify's request log goes to the same buffer);
 * then the captured text is searched for every secret, as written, percent-encoded and in base64.
 * The in-process logger has no list of secrets to scrub, so this checks the code itself; then
 * `prescient serve` runs as a child process with secrets in its environment, and its stdout and
 * stderr are searched the same way (there the scrubbing guard is on, as in production).
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/api/app.js';
import type { loadSettings } from '../../src/config/settings.js';
import { Engine } from '../../src/engine.js';
import { createLogger, type Logger } from '../../src/log.js';
import { isolatedSettings, TEST_TOKENS, waitFor } from '../helpers/engine.js';
import {
  scratch,
  startAll,
  startNatsServer,
  startRedisServer,
  type RunningServer,
} from './secure-servers.js';

type Overrides = Parameters<typeof loadSettings>[1];

// Recognisable values, each one a secret that must not appear in any log line.
const NATS_URL_PASSWORD = 'url-pw-SECRET-1a2b@c/d';
const NATS_ENV_PASSWORD = 'env-pw-SECRET-3c4d';
const NATS_WRONG_PASSWORD = 'wrong-pw-SECRET-5e6f';
const NATS_TOKEN = 'nats-token-SECRET-7a8b';
const NATS_WRONG_TOKEN = 'nats-wrong-token-SECRET-9c0d';
const REDIS_PASSWORD = 'redis-pw-SECRET-e1f2';
const REDIS_WRONG_PASSWORD = 'redis-wrong-SECRET-a3b4';
const BOGUS_API_TOKEN = 'bogus-api-token-SECRET-c5d6';

const dir = scratch();
let natsUsers: RunningServer & { url: string };
let natsToken: RunningServer & { url: string };
let redis: RunningServer & { url: string };

beforeAll(async () => {
  [natsUsers, natsToken, redis] = await startAll(
    startNatsServer(
      dir,
      'users',
      `authorization { users: [ { user: "from-url", password: "${NATS_URL_PASSWORD}" }, { user: "from-env", password: "${NATS_ENV_PASSWORD}" } ] }`,
    ),
    startNatsServer(dir, 'token', `authorization { token: "${NATS_TOKEN}" }`),
    startRedisServer(['--requirepass', REDIS_PASSWORD]),
  );
}, 60_000);

afterAll(async () => {
  await Promise.all([natsUsers, natsToken, redis].map((s) => s?.stop() ?? undefined));
  dir.remove();
});

/** Every form a secret could take in a log line. */
function forms(secret: string): string[] {
  return [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')];
}

function expectNoSecrets(text: string, secrets: readonly string[], where: string): void {
  for (const secret of secrets) {
    for (const form of forms(secret)) {
      expect(text.includes(form), `${where} holds ${JSON.stringify(form)}`).toBe(false);
    }
  }
}

const withUrlCredentials = (url: string, user: string, password: string) =>
  url.replace('//', `//${user}:${encodeURIComponent(password)}@`);

describe('the in-process engine and API at trace level', () => {
  const lines: string[] = [];
  const log: Logger = createLogger('trace', 'prescient', {
    destination: { write: (line: string) => void lines.push(line) },
  });
  const engines: Engine[] = [];
  const apps: App[] = [];

  function engine(overrides: Overrides, generated?: (token: string) => void): Engine {
    const settings = isolatedSettings({
      victimRanker: 'lru',
      modelDir: dir.path('models'),
      logLevel: 'trace',
      ...overrides,
    });
    const e = new Engine(settings, log, generated ? { onGeneratedToken: generated } : {});
    engines.push(e);
    e.start().catch(() => undefined);
    return e;
  }

  async function app(e: Engine): Promise<App> {
    const a = await buildApp({ engine: e, logger: log, telemetryBodyLimitBytes: 1 << 20 });
    apps.push(a);
    return a;
  }

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await Promise.all(engines.map((e) => e.stop()));
  });

  it('logs connections, refusals and requests, but none of the secrets', async () => {
    // Right credentials: password in the URL and in NATS_PASSWORD, a token, a Redis password.
    const good = [
      engine({
        natsUrl: withUrlCredentials(natsUsers.url, 'from-url', NATS_URL_PASSWORD),
        redisUrl: redis.url,
        redisPassword: REDIS_PASSWORD,
      }),
      engine({ natsUrl: natsUsers.url, natsUser: 'from-env', natsPassword: NATS_ENV_PASSWORD }),
      engine({ natsUrl: natsToken.url, natsToken: NATS_TOKEN }),
    ];
    // Wrong ones: retried with backoff, each attempt logged.
    const refused = [
      engine({ natsUrl: natsUsers.url, natsUser: 'from-env', natsPassword: NATS_WRONG_PASSWORD }),
      engine({ natsUrl: withUrlCredentials(natsUsers.url, 'from-url', NATS_WRONG_PASSWORD) }),
      engine({ natsUrl: natsToken.url, natsToken: NATS_WRONG_TOKEN }),
      engine({ redisUrl: withUrlCredentials(redis.url, '', REDIS_WRONG_PASSWORD) }),
      engine({ redisUrl: redis.url, redisPassword: REDIS_WRONG_PASSWORD }),
    ];
    // No API token configured: the engine generates an admin token.
    let generatedToken = '';
    const embedded = engine({ apiTokens: undefined }, (t) => (generatedToken = t));

    for (const e of [...good, embedded]) {
      await waitFor(() => e.readiness().ready, 20_000, 'an engine to be ready');
    }
    await waitFor(
      () =>
        refused.every(
          (e) =>
            /Authorization Violation|WRONGPASS/.test(
              Object.values(e.readiness().checks)
                .map((c) => c.detail)
                .join(' '),
            ) && lines.filter((l) => l.includes('retrying')).length >= 8,
        ),
      20_000,
      'the refused engines to have retried',
    );
    expect(generatedToken).toMatch(/.{20,}/);

    // Requests with every configured token, a bogus one, the generated one and a created one.
    const configured = await app(good[0]!);
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    for (const token of Object.values(TEST_TOKENS)) {
      await configured.inject({ url: '/v1/whoami', headers: as(token) });
    }
    expect(
      (await configured.inject({ url: '/v1/stats', headers: as(BOGUS_API_TOKEN) })).statusCode,
    ).toBe(401);
    const telemetry = await configured.inject({
      method: 'POST',
      url: '/v1/telemetry',
      headers: as(TEST_TOKENS.telemetry),
      payload: {
        kind: 'latency',
        source: 'edge-1',
        events: [{ ts: Date.now(), pool: 'api', backend: 'b0', latencyMs: 5, status: 200 }],
      },
    });
    expect(telemetry.statusCode).toBe(202);
    const override = await configured.inject({
      method: 'POST',
      url: '/v1/overrides',
      headers: as(TEST_TOKENS.operator),
      payload: { action: 'drain', pool: 'api', backend: 'b0', reason: 'log test', ttlSec: 60 },
    });
    expect(override.statusCode).toBe(201);

    const open = await app(embedded);
    expect(
      (await open.inject({ url: '/v1/whoami', headers: as(generatedToken) })).json(),
    ).toMatchObject({ role: 'admin' });
    const created = await open.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: as(generatedToken),
      payload: { name: 'ops', role: 'operator' },
    });
    expect(created.statusCode).toBe(201);
    const createdToken = created.json<{ token: string }>().token;
    const override2 = await open.inject({
      method: 'POST',
      url: '/v1/overrides',
      headers: as(createdToken),
      payload: { action: 'freeze', pool: 'api', reason: 'log test', ttlSec: 60 },
    });
    expect(override2.statusCode).toBe(201);

    await Promise.all(apps.map((a) => a.close()));
    await Promise.all(engines.map((e) => e.stop()));
    const text = lines.join('');
    // The log is not empty: it tells what happened, just without the secrets.
    for (const expected of [
      'NATS connected',
      'Redis connected',
      'Authorization Violation',
      'WRONGPASS',
      'incoming request',
      'request completed',
      'token created',
      '[redacted]@127.0.0.1',
    ]) {
      expect(text, `the log should mention ${expected}`).toContain(expected);
    }
    expectNoSecrets(
      text,
      [
        NATS_URL_PASSWORD,
        NATS_ENV_PASSWORD,
        NATS_WRONG_PASSWORD,
        NATS_TOKEN,
        NATS_WRONG_TOKEN,
        REDIS_PASSWORD,
        REDIS_WRONG_PASSWORD,
        BOGUS_API_TOKEN,
        ...Object.values(TEST_TOKENS),
        generatedToken,
        createdToken,
      ],
      'the log',
    );
  });
});

describe('prescient serve as a child process', () => {
  it('prints the generated token once, to stderr only, and no other secret anywhere', async () => {
    const env = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'trace',
      NATS_URL: withUrlCredentials(natsUsers.url, 'from-url', NATS_URL_PASSWORD),
      REDIS_URL: redis.url,
      REDIS_PASSWORD,
      PRESCIENT_VICTIM_RANKER: 'lru',
      PRESCIENT_MODEL_DIR: dir.path('serve-models'),
    };
    const child = spawn(process.execPath, ['bin/prescient.js', 'serve'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const url = await waitFor(
        () => /Prescient listening on (http:\/\/\S+)/.exec(stderr)?.[1],
        30_000,
        `the server to listen (stderr so far: ${stderr})`,
      );
      const token = await waitFor(
        () => /generated an admin token[^\n]*\n\n {2}(\S+)\n/.exec(stderr)?.[1],
        20_000,
        `the generated token (stderr so far: ${stderr})`,
      );
      const as = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      await waitFor(
        async () => (await fetch(`${url}/readyz`)).status === 200,
        20_000,
        'the server to be ready',
      );
      expect((await fetch(`${url}/v1/whoami`, { headers: as })).status).toBe(200);
      const override = await fetch(`${url}/v1/overrides`, {
        method: 'POST',
        headers: as,
        body: JSON.stringify({ action: 'freeze', pool: 'api', reason: 'child', ttlSec: 60 }),
      });
      expect(override.status).toBe(201);
      expect(
        (
          await fetch(`${url}/v1/stats`, {
            headers: { authorization: `Bearer ${BOGUS_API_TOKEN}` },
          })
        ).status,
      ).toBe(401);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);

      expect(stdout).toContain('"msg":"request completed"');
      expect(stdout).toContain('"msg":"NATS connected"');
      expect(stderr.split(token).length - 1, 'the generated token is printed once').toBe(1);
      expectNoSecrets(stdout, [token], 'the JSON log (stdout)');
      expectNoSecrets(
        stdout + stderr,
        [NATS_URL_PASSWORD, REDIS_PASSWORD, BOGUS_API_TOKEN],
        'stdout and stderr',
      );
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
