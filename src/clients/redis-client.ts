/**
 * @module clients/redis-client
 * The process's one Redis connection (ioredis). Retries with capped backoff forever; commands
 * issued while disconnected fail after one retry rather than queueing without bound, and the
 * state is reported for /readyz.
 */
import { Redis } from 'ioredis';
import type { ConnectionState } from '../telemetry/bus.js';
import { redactUrl, type Logger } from '../log.js';

export class RedisClient {
  readonly redis: Redis;
  private stateValue: ConnectionState = 'connecting';
  private detailValue = 'not connected yet';

  constructor(url: string, log: Logger) {
    const shown = redactUrl(url);
    this.redis = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
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
