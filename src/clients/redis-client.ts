/**
 * @module clients/redis-client
 * The process's one Redis connection (ioredis). Retries with capped backoff forever; commands
 * issued while disconnected fail at once rather than queueing, and the
 * state is reported for /readyz. Authenticates and uses TLS per {@link redisSecurityOptions}.
 */
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
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

export class RedisClient {
  readonly redis: Redis;
  private stateValue: ConnectionState = 'connecting';
  private detailValue = 'not connected yet';

  constructor(url: string, log: Logger, security: RedisSecurity = {}) {
    const shown = redactUrl(url);
    this.redis = new Redis(url, {
      ...redisSecurityOptions(security),
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      // Fail commands at once while disconnected: queued, they would wait for the second failed
      // reconnect (up to 20 s at this backoff) and stall the publish tick and the checkpoint.
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      retryStrategy: (times) => Math.min(10_000, 250 * 2 ** Math.min(times, 6)),
      connectionName: 'prescient-engine',
    });
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
