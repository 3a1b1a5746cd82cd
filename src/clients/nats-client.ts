/**
 * @module clients/nats-client
 * The process's one NATS connection. Connects with retries and capped exponential backoff (an
 * unreachable server is logged and retried, never silently replaced by the embedded bus), keeps
 * reconnecting forever once connected, and reports its state for /readyz.
 */
import { connect, Events, type ConnectionOptions, type NatsConnection } from 'nats';
import type { ConnectionState } from '../telemetry/bus.js';
import { redactUrl, type Logger } from '../log.js';

export interface NatsClientOptions {
  readonly url: string;
  readonly name: string;
  readonly log: Logger;
  /** First retry delay; doubles up to `maxBackoffMs`. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
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
    const servers = url.split(',').map((s) => s.trim());
    const shown = servers.map(redactUrl).join(',');
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const opts: ConnectionOptions = {
          servers,
          name,
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
          `cannot reach ${shown}: ${(err as Error).message}; retrying in ${backoff} ms`,
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
