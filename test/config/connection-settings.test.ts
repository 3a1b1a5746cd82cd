import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings, secretValues } from '../../src/config/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'prescient-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const SEED = 'SUAAOLFVFFAI7RPUCHPP6MPLO7CWDXBRIRLEMGMCYIKYU5TXGSRORZGBNQ';
const seedFile = file('user.nk', `${SEED}\n`);
const credsFile = file(
  'user.creds',
  `-----BEGIN NATS USER JWT-----\neyJ0.eyJ1.c2ln\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${SEED}\n------END USER NKEY SEED------\n`,
);
const pem = file('x.pem', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
const NATS = 'nats://127.0.0.1:4222';
const REDIS = 'redis://127.0.0.1:6379';
const PASSWORD = 'pw-SECRET-5a5a';

function configError(env: Record<string, string>): Error & { details: { env: string } } {
  try {
    loadSettings(env);
  } catch (err) {
    expect(err).toMatchObject({ code: 'PRESCIENT_E_CONFIG' });
    return err as Error & { details: { env: string } };
  }
  throw new Error(`loadSettings accepted ${JSON.stringify(env)}`);
}

describe('NATS and Redis credentials and TLS', () => {
  it('reads them', () => {
    expect(
      loadSettings({
        NATS_URL: 'tls://127.0.0.1:4222',
        NATS_USER: 'engine',
        NATS_PASSWORD: PASSWORD,
        NATS_TLS_CA_FILE: pem,
        NATS_TLS_CERT_FILE: pem,
        NATS_TLS_KEY_FILE: pem,
        REDIS_URL: 'rediss://127.0.0.1:6380',
        REDIS_USERNAME: 'ops',
        REDIS_PASSWORD: PASSWORD,
        REDIS_TLS_CA_FILE: pem,
      }),
    ).toMatchObject({
      natsUser: 'engine',
      natsPassword: PASSWORD,
      natsTlsCaFile: pem,
      redisUsername: 'ops',
      redisPassword: PASSWORD,
      redisTlsCaFile: pem,
    });
    expect(loadSettings({ NATS_URL: NATS, NATS_NKEY_SEED_FILE: seedFile }).natsNkeySeedFile).toBe(
      seedFile,
    );
    expect(loadSettings({ NATS_URL: NATS, NATS_CREDS_FILE: credsFile }).natsCredsFile).toBe(
      credsFile,
    );
    expect(loadSettings({ NATS_URL: NATS, NATS_TOKEN: PASSWORD }).natsToken).toBe(PASSWORD);
  });

  it('keeps credentials in the URLs', () => {
    const s = loadSettings({
      NATS_URL: `nats://engine:${PASSWORD}@a:4222,nats://engine:${PASSWORD}@b:4222`,
      REDIS_URL: `redis://:${PASSWORD}@r:6379`,
    });
    expect(s.natsUrl).toContain(PASSWORD);
    expect(s.redisUrl).toContain(PASSWORD);
  });

  it.each([
    [{ NATS_URL: NATS, NATS_USER: 'engine' }, 'NATS_PASSWORD'],
    [{ NATS_URL: NATS, NATS_PASSWORD: PASSWORD }, 'NATS_USER'],
    [
      { NATS_URL: NATS, NATS_USER: 'engine', NATS_PASSWORD: PASSWORD, NATS_TOKEN: PASSWORD },
      'NATS_TOKEN',
    ],
    [{ NATS_URL: `nats://engine:${PASSWORD}@h:4222`, NATS_TOKEN: PASSWORD }, 'NATS_URL'],
    [{ NATS_URL: NATS, NATS_TOKEN: PASSWORD, NATS_CREDS_FILE: credsFile }, 'NATS_CREDS_FILE'],
    [
      { NATS_URL: NATS, NATS_NKEY_SEED_FILE: seedFile, NATS_CREDS_FILE: credsFile },
      'NATS_CREDS_FILE',
    ],
    [{ NATS_URL: `nats://a:${PASSWORD}@h1:4222,nats://b:${PASSWORD}@h2:4222` }, 'NATS_URL'],
    [{ NATS_URL: NATS, NATS_TLS_CERT_FILE: pem }, 'NATS_TLS_KEY_FILE'],
    [{ NATS_URL: NATS, NATS_TLS_KEY_FILE: pem }, 'NATS_TLS_CERT_FILE'],
    [{ NATS_URL: NATS, NATS_TLS_CA_FILE: join(dir, 'missing.pem') }, 'NATS_TLS_CA_FILE'],
    [{ NATS_URL: NATS, NATS_TLS_CA_FILE: dir }, 'NATS_TLS_CA_FILE'],
    [{ NATS_URL: NATS, NATS_NKEY_SEED_FILE: pem }, 'NATS_NKEY_SEED_FILE'],
    [{ NATS_URL: NATS, NATS_CREDS_FILE: seedFile }, 'NATS_CREDS_FILE'],
    [{ NATS_PASSWORD: PASSWORD, NATS_USER: 'engine' }, 'NATS_USER'],
    [{ NATS_TLS_CA_FILE: pem }, 'NATS_TLS_CA_FILE'],
    [{ REDIS_URL: REDIS, REDIS_USERNAME: 'ops' }, 'REDIS_PASSWORD'],
    [{ REDIS_URL: `redis://:${PASSWORD}@r:6379`, REDIS_PASSWORD: PASSWORD }, 'REDIS_PASSWORD'],
    [{ REDIS_URL: REDIS, REDIS_TLS_KEY_FILE: pem }, 'REDIS_TLS_CERT_FILE'],
    [{ REDIS_URL: REDIS, REDIS_TLS_CERT_FILE: join(dir, 'nope.pem') }, 'REDIS_TLS_CERT_FILE'],
    [{ REDIS_PASSWORD: PASSWORD }, 'REDIS_PASSWORD'],
  ])('refuses %o naming %s, without the secret in the message', (env, named) => {
    const err = configError(env);
    expect(err.details.env).toBe(named);
    expect(err.message).toContain(named);
    expect(err.message).not.toContain(PASSWORD);
    expect(err.message).not.toContain(SEED);
  });

  it('never echoes credentials of an invalid URL', () => {
    for (const env of ['NATS_URL', 'REDIS_URL']) {
      const err = configError({ [env]: `x://user:${PASSWORD}@host:port` });
      expect(err.details.env).toBe(env);
      expect(err.message).not.toContain(PASSWORD);
    }
  });
});

describe('secretValues', () => {
  it('lists passwords and tokens from the settings and the URLs, as written and decoded', () => {
    const s = loadSettings({
      NATS_URL: 'nats://tok-SECRET-1@h:4222',
      REDIS_URL: 'redis://ops:p%40ss-SECRET-2@r:6379',
    });
    expect(secretValues(s).sort()).toEqual(['p%40ss-SECRET-2', 'p@ss-SECRET-2', 'tok-SECRET-1']);
    expect(
      secretValues(
        loadSettings({
          NATS_URL: NATS,
          NATS_USER: 'engine',
          NATS_PASSWORD: PASSWORD,
          REDIS_URL: REDIS,
          REDIS_PASSWORD: 'abc',
        }),
      ),
    ).toEqual([PASSWORD]);
  });
});
