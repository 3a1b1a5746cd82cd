/**
 * @module clients/nats-client
 * The process's one NATS connection. Connects with retries and capped exponential backoff (an
 * unreachable server is logged and retried, never silently replaced by the embedded bus), keeps
 * reconnecting forever once connected, and reports its state for /readyz. Authenticates with
 * user/password, a token, an NKey seed or a creds file, over TLS when asked
 * ({@link natsConnectOptions}).
 */
import { readFileSync } from 'node:fs';
import {
  connect,
  credsAuthenticator,
  Events,
  nkeyAuthenticator,
  type Authenticator,
  type ConnectionOptions,
  type NatsConnection,
  type TlsOptions,
} from 'nats';
import type { Settings } from '../config/settings.js';
import type { ConnectionState } from '../telemetry/bus.js';
import { redactUrl, type Logger } from '../log.js';

/** The NATS credentials and TLS settings (validated together by loadSettings). */
export type NatsSecurity = Partial<
  Pick<
    Settings,
    | 'natsUser'
    | 'natsPassword'
    | 'natsToken'
    | 'natsNkeySeedFile'
    | 'natsCredsFile'
    | 'natsTlsCaFile'
    | 'natsTlsCertFile'
    | 'natsTlsKeyFile'
  >
>;

/**
 * nats.js connection options for a comma-separated server list and the security settings.
 * nats.js ignores credentials in server URLs (and would read `nats://u:123@h` as port 123), so
 * they are taken out here: `nats://user:password@host` becomes user/pass, `nats://token@host` a
 * token. Seed and creds files are read at every connect, so a rotated file is picked up. TLS is
 * required when a `tls://` URL or any TLS file is given; without, nats.js still upgrades to TLS
 * when the server requires it (checking the certificate against the system CAs).
 */
export function natsConnectOptions(url: string, security: NatsSecurity = {}): ConnectionOptions {
  const parts = url.split(',').map((s) => s.trim());
  const urls = parts.map((p) => new URL(p));
  const opts: {
    servers: string[];
    user?: string;
    pass?: string;
    token?: string;
    authenticator?: Authenticator;
    tls?: TlsOptions;
  } = {
    // `host:port` without a scheme parses as a URL with no host: pass it on as written.
    servers: urls.map((u, i) => (u.host === '' ? parts[i]! : `${u.protocol}//${u.host}`)),
  };
  const withAuth = urls.find((u) => u.username !== '' || u.password !== '');
  if (withAuth?.password) {
    opts.user = decode(withAuth.username);
    opts.pass = decode(withAuth.password);
  } else if (withAuth) {
    opts.token = decode(withAuth.username);
  }
  const s = security;
  if (s.natsUser !== undefined) opts.user = s.natsUser;
  if (s.natsPassword !== undefined) opts.pass = s.natsPassword;
  if (s.natsToken !== undefined) opts.token = s.natsToken;
  const seedFile = s.natsNkeySeedFile;
  if (seedFile !== undefined)
    opts.authenticator = nkeyAuthenticator(() =>
      Buffer.from(readFileSync(seedFile, 'utf8').trim()),
    );
  const credsFile = s.natsCredsFile;
  if (credsFile !== undefined)
    opts.authenticator = credsAuthenticator(() => new Uint8Array(readFileSync(credsFile)));
  const tlsUrl = urls.some((u) => u.protocol === 'tls:');
  if (
    tlsUrl ||
    s.natsTlsCaFile !== undefined ||
    s.natsTlsCertFile !== undefined ||
    s.natsTlsKeyFile !== undefined
  ) {
    opts.tls = {
      ...(s.natsTlsCaFile === undefined ? {} : { caFile: s.natsTlsCaFile }),
      ...(s.natsTlsCertFile === undefined ? {} : { certFile: s.natsTlsCertFile }),
      ...(s.natsTlsKeyFile === undefined ? {} : { keyFile: s.natsTlsKeyFile }),
    };
  }
  return opts;
}

/** Percent-decoded; a stray `%` that is no escape is kept as written. */
function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * A server that demands a client certificate ends the TLS 1.3 handshake after the client thinks
 * it is done; nats.js then only sees its connect timeout. Say what the likely cause is.
 */
function hint(err: unknown, opts: ConnectionOptions): string {
  const timedOut = (err as { code?: string }).code === 'TIMEOUT';
  return timedOut && opts.tls && opts.tls.certFile === undefined
    ? ' (over TLS: if the server verifies clients, set NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE)'
    : '';
}

export interface NatsClientOptions {
  readonly url: string;
  readonly name: string;
  readonly log: Logger;
  /** Credentials and TLS (the settings object will do). */
  readonly security?: NatsSecurity;
  /** First retry delay; doubles up to `maxBackoffMs`. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long one connection attempt may take, TLS handshake and auth included (nats.js: 20 s). */
  readonly connectTimeoutMs?: number;
}

export class NatsClient {
  private conn: NatsConnection | undefined;
  private stateValue: ConnectionState = 'connecting';
  private detailValue = 'not connected yet';
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(private readonly options: NatsClientOptions) {}

  get state(): ConnectionState {
    return this.stateValue;
  }
  get detail(): string {
    return this.detailValue;
  }
  /** The connection, once {@link connect} has resolved. */
  get connection(): NatsConnection {
    if (!this.conn) throw new Error('NATS is not connected yet');
    return this.conn;
  }

  /** Resolves once connected; retries until then (or until {@link close}). */
  async connect(): Promise<NatsConnection> {
    const { url, name, log } = this.options;
    let backoff = this.options.initialBackoffMs ?? 250;
    const maxBackoff = this.options.maxBackoffMs ?? 10_000;
    const shown = url
      .split(',')
      .map((s) => redactUrl(s.trim()))
      .join(',');
    const base = natsConnectOptions(url, this.options.security);
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const opts: ConnectionOptions = {
          ...base,
          name,
          ...(this.options.connectTimeoutMs === undefined
            ? {}
            : { timeout: this.options.connectTimeoutMs }),
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          pingInterval: 10_000,
        };
        this.conn = await connect(opts);
        this.setState('connected', `connected to ${this.conn.getServer()}`);
        log.info({ server: this.conn.getServer(), attempt }, 'NATS connected');
        void this.watch(this.conn);
        return this.conn;
      } catch (err) {
        this.setState(
          'connecting',
          `cannot reach ${shown}: ${(err as Error).message}${hint(err, base)}; retrying in ${backoff} ms`,
        );
        log.warn(
          { err: (err as Error).message, attempt, retryInMs: backoff, servers: shown },
          'NATS unreachable; retrying',
        );
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, backoff);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        backoff = Math.min(maxBackoff, backoff * 2);
      }
    }
    throw new Error('NATS client closed before it connected');
  }

  private async watch(conn: NatsConnection): Promise<void> {
    for await (const s of conn.status()) {
      const server = typeof s.data === 'string' ? s.data : JSON.stringify(s.data);
      if (s.type === Events.Disconnect)
        this.setState('reconnecting', `disconnected from ${server}`);
      else if (s.type === Events.Reconnect) this.setState('connected', `reconnected to ${server}`);
      else continue;
      this.options.log.warn({ event: s.type, server }, 'NATS connection state changed');
    }
  }

  private setState(state: ConnectionState, detail: string): void {
    this.stateValue = state;
    this.detailValue = detail;
  }

  /** Drains (flushes pending publishes and acks) and closes. */
  async close(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const conn = this.conn;
    if (conn && !conn.isClosed()) {
      try {
        await conn.drain();
      } catch {
        await conn.close();
      }
    }
    this.setState('closed', 'closed');
  }
}
