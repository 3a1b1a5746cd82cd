/**
 * Throwaway NATS and Redis servers that demand credentials or TLS, started by a test on free
 * loopback ports (never the shared 4222/6379) and stopped by it: a certificate authority with
 * server and client certificates made with Debian's openssl, an NKey user from nkeys.js, and
 * `nats-server -c` / `redis-server` child processes. Real servers, never mocks.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from 'nats';

/** A scratch directory removed by {@link Scratch.remove}. */
export interface Scratch {
  readonly dir: string;
  path(name: string): string;
  write(name: string, text: string): string;
  remove(): void;
}

export function scratch(prefix = 'prescient-secure-'): Scratch {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    path: (name) => join(dir, name),
    write: (name, text) => {
      const p = join(dir, name);
      writeFileSync(p, text, { mode: 0o600 });
      return p;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A port nothing listens on right now (the OS picks it; a race is possible but rare). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface Certificates {
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
}

/**
 * A CA and two certificates it signs: a server one for 127.0.0.1 and localhost, and a client
 * one (mutual TLS). P-256 keys, valid one day.
 */
export function makeCertificates(s: Scratch): Certificates {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    s.path('ca.key'),
    '-out',
    s.path('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=prescient-test-ca',
  );
  const sign = (name: string, ext: string) => {
    openssl(
      'req',
      ...ec,
      '-keyout',
      s.path(`${name}.key`),
      '-out',
      s.path(`${name}.csr`),
      '-subj',
      `/CN=${name}`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      s.path(`${name}.csr`),
      '-CA',
      s.path('ca.pem'),
      '-CAkey',
      s.path('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      s.path(`${name}.pem`),
      '-extfile',
      s.write(`${name}.ext`, ext),
    );
  };
  sign('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  sign('client', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: s.path('ca.pem'),
    serverCertFile: s.path('server.pem'),
    serverKeyFile: s.path('server.key'),
    clientCertFile: s.path('client.pem'),
    clientKeyFile: s.path('client.key'),
  };
}

/** The part of nkeys.js used here (nats.js re-exports it untyped). */
export interface KeyPair {
  getPublicKey(): string;
  getSeed(): Uint8Array;
  sign(data: Uint8Array): Uint8Array;
}
export const nk = nkeys as {
  createUser(): KeyPair;
  createAccount(): KeyPair;
  createOperator(): KeyPair;
};

/** A new NKey user: the seed file's text (SU…) and the public key the server config names. */
export function makeNkeyUser(): { seed: string; publicKey: string } {
  const user = nk.createUser();
  return { seed: new TextDecoder().decode(user.getSeed()), publicKey: user.getPublicKey() };
}

/** A NATS JWT (nats-io/jwt v2 layout) for `subject`, signed by `issuer`. */
function natsJwt(issuer: KeyPair, subject: string, name: string, nats: object): string {
  const b64 = (b: string | Uint8Array) => Buffer.from(b).toString('base64url');
  const claims = {
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats,
  };
  const jti = createHash('sha256').update(JSON.stringify(claims)).digest('base64url').toUpperCase();
  const signed = `${b64(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }))}.${b64(JSON.stringify({ jti, ...claims }))}`;
  return `${signed}.${b64(issuer.sign(Buffer.from(signed)))}`;
}

const UNLIMITED = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};

/**
 * Decentralized (operator mode) auth, what `nsc` sets up: an operator, a system account, an
 * account with JetStream, and `creds(account?)` writing a user's credentials file (by default
 * signed by that account; pass another account key to get a user the server does not know).
 * `config` is the server configuration block (memory resolver with both accounts preloaded).
 */
export function makeOperator() {
  const operator = nk.createOperator();
  const account = nk.createAccount();
  const system = nk.createAccount();
  const accountJwt = natsJwt(operator, account.getPublicKey(), 'prescient', {
    type: 'account',
    version: 2,
    limits: { ...UNLIMITED, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
  });
  const systemJwt = natsJwt(operator, system.getPublicKey(), 'SYS', {
    type: 'account',
    version: 2,
    limits: UNLIMITED,
  });
  const config = [
    `operator: ${natsJwt(operator, operator.getPublicKey(), 'test-operator', { type: 'operator', version: 2 })}`,
    `system_account: ${system.getPublicKey()}`,
    'resolver: MEMORY',
    `resolver_preload: { ${account.getPublicKey()}: ${accountJwt}, ${system.getPublicKey()}: ${systemJwt} }`,
  ].join('\n');
  const creds = (signer: KeyPair = account): { text: string; seed: string } => {
    const user = nk.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const jwt = natsJwt(signer, user.getPublicKey(), 'engine', {
      type: 'user',
      version: 2,
      pub: {},
      sub: {},
      subs: -1,
      data: -1,
      payload: -1,
    });
    return {
      seed,
      text: `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
    };
  };
  return { config, creds };
}

export interface RunningServer {
  readonly port: number;
  /** Everything the server wrote, for a failing test's message. */
  output(): string;
  stop(): Promise<void>;
}

async function run(
  command: string,
  args: readonly string[],
  port: number,
  ready: RegExp,
): Promise<RunningServer> {
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let timer: NodeJS.Timeout | undefined;
  const started = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${command} exited (${code}):\n${out}`)));
    timer = setTimeout(() => reject(new Error(`${command} not ready after 10 s:\n${out}`)), 10_000);
  });
  try {
    await started;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
  // A test run that dies without afterAll must not leave servers behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    port,
    output: () => out,
    stop: async () => {
      process.off('exit', killOnExit);
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const NATS_SERVER = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';

/**
 * Starts servers side by side; if one fails, the others are stopped before the error is thrown
 * (a failed beforeAll would otherwise leave them running).
 */
export async function startAll<T extends readonly Promise<RunningServer>[]>(
  ...starting: T
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(starting);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value.stop()] : [])));
    throw failed.reason;
  }
  return settled.map((r) => (r as PromiseFulfilledResult<RunningServer>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}

/**
 * nats-server with JetStream on a free loopback port; `config` is appended to the generated
 * configuration (an `authorization { … }` or `tls { … }` block).
 */
export async function startNatsServer(s: Scratch, name: string, config: string) {
  const port = await freePort();
  const file = s.write(
    `${name}.conf`,
    [
      `listen: "127.0.0.1:${port}"`,
      `server_name: "${name}"`,
      `jetstream { store_dir: "${s.path(`${name}-js`)}" }`,
      config,
    ].join('\n'),
  );
  const server = await run(NATS_SERVER, ['-c', file], port, /Server is ready/);
  return { ...server, url: `nats://127.0.0.1:${port}` };
}

/**
 * redis-server on a free loopback port, no persistence; `args` add e.g. `--requirepass`. With
 * `tls`, the port takes TLS only and clients must present a certificate the CA signed.
 */
export async function startRedisServer(args: readonly string[] = [], tls?: Certificates) {
  const port = await freePort();
  const listen = tls
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        tls.serverCertFile,
        '--tls-key-file',
        tls.serverKeyFile,
        '--tls-ca-cert-file',
        tls.caFile,
        '--tls-auth-clients',
        'yes',
      ]
    : ['--port', String(port)];
  const server = await run(
    'redis-server',
    [
      ...listen,
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
      ...args,
    ],
    port,
    /Ready to accept connections/,
  );
  return { ...server, url: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}` };
}
