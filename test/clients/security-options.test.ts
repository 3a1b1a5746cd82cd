import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { natsConnectOptions } from '../../src/clients/nats-client.js';
import { redisSecurityOptions } from '../../src/clients/redis-client.js';

const dir = mkdtempSync(join(tmpdir(), 'prescient-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('natsConnectOptions', () => {
  it('takes credentials out of the server URLs, decoded', () => {
    const o = natsConnectOptions('nats://engine:p%40ss%2F123@a:4222, nats://b:4223');
    expect(o).toMatchObject({
      servers: ['nats://a:4222', 'nats://b:4223'],
      user: 'engine',
      pass: 'p@ss/123',
    });
    expect(o.token).toBeUndefined();
    expect(o.tls).toBeUndefined();
    // nats.js would read "u:123@h" as host u, port 123.
    expect(natsConnectOptions('nats://u:123@h:4222').servers).toEqual(['nats://h:4222']);
  });

  it('reads a user name alone as a token', () => {
    expect(natsConnectOptions('nats://s3cr%3At@h:4222')).toMatchObject({
      servers: ['nats://h:4222'],
      token: 's3cr:t',
    });
  });

  it('passes host:port without a scheme on as written', () => {
    expect(natsConnectOptions('localhost:4222').servers).toEqual(['localhost:4222']);
  });

  it('uses the settings: user and password, token, NKey seed, creds file', () => {
    expect(natsConnectOptions('nats://h', { natsUser: 'u', natsPassword: 'p' })).toMatchObject({
      user: 'u',
      pass: 'p',
    });
    expect(natsConnectOptions('nats://h', { natsToken: 't' }).token).toBe('t');
    const seed = file('u.nk', 'SUAAOLFVFFAI7RPUCHPP6MPLO7CWDXBRIRLEMGMCYIKYU5TXGSRORZGBNQ\n');
    const nkey = natsConnectOptions('nats://h', { natsNkeySeedFile: seed }).authenticator;
    expect(typeof nkey).toBe('function');
    const signed = (nkey as (nonce?: string) => { nkey?: string; sig?: string })('nonce');
    expect(signed.nkey).toMatch(/^U[A-Z2-7]{55}$/);
    expect(signed.sig).toBeTruthy();
    const creds = file('u.creds', '');
    expect(typeof natsConnectOptions('nats://h', { natsCredsFile: creds }).authenticator).toBe(
      'function',
    );
  });

  it('requires TLS for tls:// URLs and for any TLS file', () => {
    expect(natsConnectOptions('tls://h:4443')).toMatchObject({
      servers: ['tls://h:4443'],
      tls: {},
    });
    expect(
      natsConnectOptions('nats://h', {
        natsTlsCaFile: '/ca.pem',
        natsTlsCertFile: '/c.pem',
        natsTlsKeyFile: '/k.pem',
      }).tls,
    ).toEqual({ caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' });
  });
});

describe('redisSecurityOptions', () => {
  it('passes user, password and the TLS files read', () => {
    const ca = file('ca.pem', 'CA');
    const cert = file('c.pem', 'CERT');
    const key = file('k.pem', 'KEY');
    const o = redisSecurityOptions({
      redisUsername: 'ops',
      redisPassword: 'pw',
      redisTlsCaFile: ca,
      redisTlsCertFile: cert,
      redisTlsKeyFile: key,
    });
    expect(o).toMatchObject({ username: 'ops', password: 'pw' });
    expect(o.tls).toEqual({
      ca: Buffer.from('CA'),
      cert: Buffer.from('CERT'),
      key: Buffer.from('KEY'),
    });
    expect(redisSecurityOptions({})).toEqual({});
  });
});
