/**
 * The engine against NATS and Redis servers that demand credentials or TLS (started here on free
 * loopback ports; see secure-servers.ts): with the right settings it gets ready, with wrong ones
 * it is not ready and /readyz says why, without the secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { NatsClient, type NatsSecurity } from '../../src/clients/nats-client.js';
import type { loadSettings } from '../../src/config/settings.js';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { isolatedSettings, waitFor } from '../helpers/engine.js';
import {
  makeCertificates,
  makeNkeyUser,
  makeOperator,
  nk,
  scratch,
  startAll,
  startNatsServer,
  startRedisServer,
  type Certificates,
  type RunningServer,
} from './secure-servers.js';

type Overrides = Parameters<typeof loadSettings>[1];

const USER = 'prescient';
const PASSWORD = 'nats-pw-7f3a@b/c:d';
const TOKEN = 'nats-token-c0ffee-51d2';
const REDIS_PASSWORD = 'redis-pw-9b8e#x';
const REDIS_ACL_PASSWORD = 'redis-acl-pw-4411';

const dir = scratch();
let certs: Certificates;
const nkeyUser = makeNkeyUser();
const otherNkey = makeNkeyUser();
let natsUsers: RunningServer & { url: string };
let natsToken: RunningServer & { url: string };
let natsTls: RunningServer & { url: string };
let natsOperator: RunningServer & { url: string };
const operator = makeOperator();
let redisAuth: RunningServer & { url: string };
let redisTls: RunningServer & { url: string };
const engines: Engine[] = [];

beforeAll(async () => {
  certs = makeCertificates(dir);
  [natsUsers, natsToken, natsTls, natsOperator, redisAuth, redisTls] = await startAll(
    startNatsServer(
      dir,
      'users',
      `authorization { users: [ { user: "${USER}", password: "${PASSWORD}" }, { nkey: "${nkeyUser.publicKey}" } ] }`,
    ),
    startNatsServer(dir, 'token', `authorization { token: "${TOKEN}" }`),
    startNatsServer(
      dir,
      'tls',
      `tls { cert_file: "${certs.serverCertFile}", key_file: "${certs.serverKeyFile}", ca_file: "${certs.caFile}", verify: true, timeout: 2 }`,
    ),
    startNatsServer(dir, 'operator', operator.config),
    startRedisServer([
      '--requirepass',
      REDIS_PASSWORD,
      ...['--user', 'ops', 'on', `>${REDIS_ACL_PASSWORD}`, '~*', '&*', '+@all'],
    ]),
    startRedisServer(['--requirepass', REDIS_PASSWORD], certs),
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(engines.map((e) => e.stop()));
  await Promise.all(
    [natsUsers, natsToken, natsTls, natsOperator, redisAuth, redisTls].map(
      (s) => s?.stop() ?? undefined,
    ),
  );
  dir.remove();
});

/** An engine started in the background (it retries a refused connection until stopped). */
function engineWith(overrides: Overrides): Engine {
  const engine = new Engine(
    isolatedSettings({ victimRanker: 'lru', modelDir: dir.path('models'), ...overrides }),
    createLogger('silent'),
  );
  engines.push(engine);
  engine.start().catch(() => undefined);
  return engine;
}

async function expectReady(engine: Engine): Promise<void> {
  try {
    await waitFor(() => engine.readiness().ready, 20_000, 'the engine to be ready');
  } catch {
    expect.fail(`not ready: ${JSON.stringify(engine.readiness())}`);
  }
  await engine.stop();
}

/** Not ready, and the dependency's detail matches `why`; /readyz answers 503 with it. */
async function expectRefused(
  engine: Engine,
  dependency: 'nats' | 'redis',
  why: RegExp,
  secrets: readonly string[],
): Promise<void> {
  await waitFor(
    () => {
      const d = engine.readiness().checks[dependency]?.detail;
      return d !== undefined && why.test(d) ? d : undefined;
    },
    20_000,
    `${dependency} refusing the connection (${why})`,
  );
  const app = await buildApp({ engine, logger: false, telemetryBodyLimitBytes: 1 << 20 });
  try {
    const r = await app.inject('/readyz');
    expect(r.statusCode).toBe(503);
    // The detail is read again rather than compared with the one waited for: the client keeps
    // retrying, and its backoff (part of the detail) may double between the two reads.
    const body = r.json<{ ready: boolean; checks: Record<string, { detail?: string }> }>();
    expect(body.ready).toBe(false);
    expect(body.checks[dependency]?.detail).toMatch(why);
    for (const secret of secrets) {
      expect(r.body).not.toContain(secret);
      expect(r.body).not.toContain(encodeURIComponent(secret));
    }
  } finally {
    await app.close();
    await engine.stop();
  }
}

describe('NATS user and password', () => {
  it('connects with NATS_USER and NATS_PASSWORD', async () => {
    await expectReady(
      engineWith({ natsUrl: natsUsers.url, natsUser: USER, natsPassword: PASSWORD }),
    );
  });

  it('connects with them in the URL (percent-encoded)', async () => {
    const url = natsUsers.url.replace('//', `//${USER}:${encodeURIComponent(PASSWORD)}@`);
    await expectReady(engineWith({ natsUrl: url }));
  });

  it('a wrong password: not ready, /readyz says authorization failed', async () => {
    const wrong = `${PASSWORD}-wrong`;
    await expectRefused(
      engineWith({ natsUrl: natsUsers.url, natsUser: USER, natsPassword: wrong }),
      'nats',
      /Authorization Violation/i,
      [wrong],
    );
    const url = natsUsers.url.replace('//', `//${USER}:${encodeURIComponent(wrong)}@`);
    await expectRefused(engineWith({ natsUrl: url }), 'nats', /Authorization Violation/i, [wrong]);
  });

  it('no credentials at all: refused', async () => {
    await expectRefused(engineWith({ natsUrl: natsUsers.url }), 'nats', /Authorization/i, []);
  });
});

describe('NATS token', () => {
  it('connects with NATS_TOKEN and with nats://token@host', async () => {
    await expectReady(engineWith({ natsUrl: natsToken.url, natsToken: TOKEN }));
    await expectReady(engineWith({ natsUrl: natsToken.url.replace('//', `//${TOKEN}@`) }));
  });

  it('a wrong token: refused, without the token in /readyz', async () => {
    const wrong = `${TOKEN}-wrong`;
    await expectRefused(
      engineWith({ natsUrl: natsToken.url, natsToken: wrong }),
      'nats',
      /Authorization Violation/i,
      [wrong],
    );
  });
});

describe('NATS NKey', () => {
  it('connects with the user seed in NATS_NKEY_SEED_FILE', async () => {
    const seedFile = dir.write('user.nk', `${nkeyUser.seed}\n`);
    await expectReady(engineWith({ natsUrl: natsUsers.url, natsNkeySeedFile: seedFile }));
  });

  it('a seed the server does not know: refused, without the seed in /readyz', async () => {
    const seedFile = dir.write('other.nk', otherNkey.seed);
    await expectRefused(
      engineWith({ natsUrl: natsUsers.url, natsNkeySeedFile: seedFile }),
      'nats',
      /Authorization Violation/i,
      [otherNkey.seed],
    );
  });
});

describe('NATS creds file (operator mode)', () => {
  it('connects with a user JWT and seed in NATS_CREDS_FILE', async () => {
    const credsFile = dir.write('engine.creds', operator.creds().text);
    await expectReady(engineWith({ natsUrl: natsOperator.url, natsCredsFile: credsFile }));
  });

  it('a user of an account the server does not know: refused, without the seed in /readyz', async () => {
    const creds = operator.creds(nk.createAccount());
    const credsFile = dir.write('stranger.creds', creds.text);
    await expectRefused(
      engineWith({ natsUrl: natsOperator.url, natsCredsFile: credsFile }),
      'nats',
      /Authorization Violation/i,
      [creds.seed],
    );
  });
});

describe('NATS TLS (mutual)', () => {
  it('connects with the CA, a client certificate and its key, on nats:// and tls:// URLs', async () => {
    const tlsFiles = {
      natsTlsCaFile: certs.caFile,
      natsTlsCertFile: certs.clientCertFile,
      natsTlsKeyFile: certs.clientKeyFile,
    };
    await expectReady(engineWith({ natsUrl: natsTls.url, ...tlsFiles }));
    await expectReady(
      engineWith({ natsUrl: natsTls.url.replace('nats://', 'tls://'), ...tlsFiles }),
    );
  });

  it('without the CA the server certificate is not trusted', async () => {
    await expectRefused(
      engineWith({
        natsUrl: natsTls.url,
        natsTlsCertFile: certs.clientCertFile,
        natsTlsKeyFile: certs.clientKeyFile,
      }),
      'nats',
      /certificate/i,
      [],
    );
  });

  /** The first failure of a NatsClient (the engine's would wait out nats.js' 20 s timeout). */
  async function firstFailure(url: string, security: NatsSecurity): Promise<string> {
    const client = new NatsClient({
      url,
      name: 'secure-test',
      log: createLogger('silent'),
      security,
      initialBackoffMs: 50,
      connectTimeoutMs: 1500,
    });
    const connecting = client.connect().catch(() => undefined);
    try {
      return await waitFor(
        () => (client.detail.startsWith('cannot reach') ? client.detail : undefined),
        10_000,
        'the client to fail',
      );
    } finally {
      expect(client.state).toBe('connecting');
      await client.close();
      await connecting;
    }
  }

  it('without a client certificate the server refuses the connection, and the detail says so', async () => {
    const detail = await firstFailure(natsTls.url, { natsTlsCaFile: certs.caFile });
    expect(detail).toMatch(/TIMEOUT.*NATS_TLS_CERT_FILE/);
  });

  it('tls:// against a server without TLS is refused, not downgraded', async () => {
    const url = natsToken.url.replace('nats://', 'tls://');
    const detail = await firstFailure(url, { natsToken: TOKEN });
    expect(detail).toMatch(/tls|SERVER_OPTION_NA/i);
    expect(detail).not.toContain(TOKEN);
  });
});

describe('Redis password', () => {
  it('connects with REDIS_PASSWORD, in the URL, and as an ACL user', async () => {
    await expectReady(engineWith({ redisUrl: redisAuth.url, redisPassword: REDIS_PASSWORD }));
    await expectReady(
      engineWith({
        redisUrl: redisAuth.url.replace('//', `//:${encodeURIComponent(REDIS_PASSWORD)}@`),
      }),
    );
    await expectReady(
      engineWith({
        redisUrl: redisAuth.url,
        redisUsername: 'ops',
        redisPassword: REDIS_ACL_PASSWORD,
      }),
    );
  });

  it('a wrong password: not ready, /readyz says WRONGPASS without the password', async () => {
    const wrong = `${REDIS_PASSWORD}-wrong`;
    await expectRefused(
      engineWith({ redisUrl: redisAuth.url, redisPassword: wrong }),
      'redis',
      /WRONGPASS/,
      [wrong],
    );
    await expectRefused(
      engineWith({ redisUrl: redisAuth.url.replace('//', `//:${encodeURIComponent(wrong)}@`) }),
      'redis',
      /WRONGPASS/,
      [wrong],
    );
  });

  it('no password: not ready (NOAUTH)', async () => {
    await expectRefused(engineWith({ redisUrl: redisAuth.url }), 'redis', /NOAUTH/, []);
  });
});

describe('Redis TLS (mutual)', () => {
  it('connects over rediss:// with the CA, a client certificate and the password', async () => {
    await expectReady(
      engineWith({
        redisUrl: redisTls.url,
        redisPassword: REDIS_PASSWORD,
        redisTlsCaFile: certs.caFile,
        redisTlsCertFile: certs.clientCertFile,
        redisTlsKeyFile: certs.clientKeyFile,
      }),
    );
  });

  it('without the CA the server certificate is not trusted', async () => {
    await expectRefused(
      engineWith({
        redisUrl: redisTls.url,
        redisPassword: REDIS_PASSWORD,
        redisTlsCertFile: certs.clientCertFile,
        redisTlsKeyFile: certs.clientKeyFile,
      }),
      'redis',
      /certificate/i,
      [REDIS_PASSWORD],
    );
  });
});
