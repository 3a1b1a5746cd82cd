/**
 * @module clients/redis-client
 * The process's one Redis connection (ioredis): one server, or a Redis Cluster with
 * REDIS_CLUSTER=1 (REDIS_URL lists seed nodes; every key carries the prefix's hash tag, so the
 * engine's scripts and transactions stay in one slot). Retries with capped backoff forever;
 * commands issued while disconnected fail at once rather than queueing, and the state is
 * reported for /readyz. Authenticates and uses TLS per {@link redisSecurityOptions}.
 */
import { readFileSync } from 'node:fs';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Settings } from '../config/settings.js';
import type { ConnectionState } from '../telemetry/bus.js';
import { redactUrl, type Logger } from '../log.js';

/** The Redis credentials and TLS settings (validated together by loadSettings). */
export type RedisSecurity = Partial<
  Pick<
    Settings,
    'redisUsername' | 'redisPassword' | 'redisTlsCaFile' | 'redisTlsCertFile' | 'redisTlsKeyFile'
  >
>;

/**
 * ioredis options for the security settings, passed beside the URL (ioredis reads credentials
 * in the URL itself, and turns TLS on for `rediss://`; loadSettings refuses a password in both
 * places). Any TLS file turns TLS on for a `redis://` URL too. Files are read here, once.
 */
export function redisSecurityOptions(security: RedisSecurity = {}): RedisOptions {
  const s = security;
  const file = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
  const ca = file(s.redisTlsCaFile);
  const cert = file(s.redisTlsCertFile);
  const key = file(s.redisTlsKeyFile);
  return {
    ...(s.redisUsername === undefined ? {} : { username: s.redisUsername }),
    ...(s.redisPassword === undefined ? {} : { password: s.redisPassword }),
    ...(ca || cert || key
      ? { tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } }
      : {}),
  };
}

/**
 * What the engine's Redis stores talk to: a single-server client or a cluster client (the same
 * commands; in a cluster every key the engine writes maps to the prefix's hash-tag slot).
 */
export type RedisConnection = Redis | Cluster;

/** Seed nodes of REDIS_URL (comma-separated `redis://` or `rediss://` URLs) for the cluster client. */
export function clusterSeeds(urls: string): { host: string; port: number }[] {
  return urls.split(',').map((part) => {
    const u = new URL(part.trim());
    return { host: u.hostname, port: Number(u.port || 6379) };
  });
}

/** Credentials and TLS of the first REDIS_URL (every node of a cluster shares them). */
function urlOptions(urls: string): RedisOptions {
  const u = new URL(urls.split(',')[0]!.trim());
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

export class RedisClient {
  readonly redis: RedisConnection;
  private stateValue: ConnectionState = 'connecting';
  private detailValue = 'not connected yet';

  constructor(url: string, log: Logger, security: RedisSecurity = {}, cluster = false) {
    const shown = redactUrl(url);
    const backoff = (times: number) => Math.min(10_000, 250 * 2 ** Math.min(times, 6));
    const options: RedisOptions = {
      ...redisSecurityOptions(security),
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      // Fail commands at once while disconnected: queued, they would wait for the second failed
      // reconnect (up to 20 s at this backoff) and stall the publish tick and the checkpoint.
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      retryStrategy: backoff,
      connectionName: 'prescient-engine',
    };
    this.redis = cluster
      ? new Cluster(clusterSeeds(url), {
          lazyConnect: true,
          enableOfflineQueue: false,
          enableAutoPipelining: true,
          clusterRetryStrategy: backoff,
          redisOptions: { ...urlOptions(url), ...options },
        })
      : new Redis(url, options);
    this.redis.on('ready', () => {
      this.stateValue = 'connected';
      this.detailValue = `connected to ${shown}`;
      log.info({ redis: shown }, 'Redis connected');
    });
    this.redis.on('error', (err: Error) => {
      if (this.stateValue === 'connected') log.warn({ err: err.message }, 'Redis error');
      // Each failed attempt (refused, WRONGPASS, TLS), at the backoff's pace, as for NATS.
      else log.warn({ err: err.message, redis: shown }, 'Redis unreachable; retrying');
      this.detailValue = `cannot reach ${shown}: ${err.message}`;
    });
    this.redis.on('reconnecting', () => {
      if (this.stateValue !== 'closed')
        this.stateValue = this.stateValue === 'connecting' ? 'connecting' : 'reconnecting';
    });
    this.redis.on('end', () => {
      this.stateValue = 'closed';
    });
  }

  get state(): ConnectionState {
    return this.stateValue;
  }
  get detail(): string {
    return this.detailValue;
  }

  /** Resolves once connected (ioredis keeps retrying until then). */
  async connect(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve) => {
      this.redis.once('ready', () => resolve());
      this.redis.connect().catch(() => {
        // ioredis retries by itself; 'ready' resolves us.
      });
    });
  }

  async close(): Promise<void> {
    this.stateValue = 'closed';
    this.detailValue = 'closed';
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }
}
