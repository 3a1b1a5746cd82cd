/**
 * @module client/haproxy-agent
 * The HAProxy side of Prescient, run beside HAProxy (`prescient haproxy-agent`):
 *
 *   every `intervalMs`: `show stat` on the runtime API socket → latency telemetry on
 *     `<prefix>.telemetry.latency.<proxy>` (one JetStream message, a `Nats-Msg-Id` each)
 *   KV watch of `weights.<pool>` → `set server <backend>/<server> weight N` per entry
 *     → ack `{pool, version, appliedAt, proxy, servers}` on `<prefix>.policy.ack.weights.<proxy>`
 *
 * HAProxy server names are the document's backend names both ways: telemetry reports each
 * server under its `svname`, and an entry applies to the server of that name. A stale document
 * (generatedAt + ttlMs < now) is not applied: HAProxy keeps the weights it has (last known good).
 * The pure parts (CSV, the rtime inversion, commands) are in publish/haproxy.ts.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { NatsConnection } from 'nats';
import type { WeightsDocument } from '../publish/document.js';
import {
  isStale,
  observations,
  parseShowStat,
  serverStats,
  weightCommands,
  type ServerStat,
} from '../publish/haproxy.js';
import { ackSubject, type WeightsAck } from './ack.js';
import { watchPolicyKey, type PolicyWatch } from './policy-watch.js';

export type { WeightsAck } from './ack.js';

/** Sends one command to HAProxy's runtime API (one connection per command) and returns the answer. */
export function runtimeCommand(
  socketPath: string,
  command: string,
  timeoutMs = 2000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(
        new Error(
          `HAProxy runtime API at ${socketPath} did not answer "${command}" within ${timeoutMs} ms`,
        ),
      );
    });
    socket.once('connect', () => socket.write(`${command}\n`));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', reject);
    socket.once('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export interface HaproxyAgentOptions {
  readonly nc: NatsConnection;
  /** HAProxy runtime API unix socket (`stats socket PATH level admin`). */
  readonly socketPath: string;
  /** HAProxy backend whose servers are weighted. */
  readonly backend: string;
  /** Prescient pool: telemetry `pool` field and KV key `weights.<pool>`. */
  readonly pool: string;
  /** Telemetry source and ack token. Default `haproxy`. */
  readonly proxy?: string;
  /** `show stat` period. Default 1000 ms. */
  readonly intervalMs?: number;
  /** Subject prefix (PRESCIENT_SUBJECT_PREFIX). Default `prescient`. */
  readonly subjectPrefix?: string;
  /** KV bucket (PRESCIENT_KV_BUCKET). Default `prescient-policy`. */
  readonly kvBucket?: string;
  /** At most this many telemetry events per server per interval. Default 10. */
  readonly maxEventsPerServer?: number;
  readonly now?: () => number;
  /** Told of failures that are retried (socket, NATS, bad documents). */
  readonly onError?: (err: Error) => void;
}

export interface HaproxyAgentStatus {
  readonly polls: number;
  readonly pollFailures: number;
  readonly eventsPublished: number;
  /** Version of the document last applied, 0 before the first. */
  readonly appliedVersion: number;
  readonly staleSkipped: number;
  readonly applyFailures: number;
  readonly lastError: string | undefined;
}

export class HaproxyAgent {
  readonly proxy: string;
  private readonly intervalMs: number;
  private readonly prefix: string;
  private readonly now: () => number;
  private prev: { atMs: number; servers: ServerStat[] } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private applying: Promise<void> = Promise.resolve();
  private watch: PolicyWatch | undefined;
  private stopped = false;
  private counters = {
    polls: 0,
    pollFailures: 0,
    eventsPublished: 0,
    appliedVersion: 0,
    staleSkipped: 0,
    applyFailures: 0,
    lastError: undefined as string | undefined,
  };

  constructor(private readonly o: HaproxyAgentOptions) {
    this.proxy = o.proxy ?? 'haproxy';
    this.intervalMs = o.intervalMs ?? 1000;
    this.prefix = o.subjectPrefix ?? 'prescient';
    this.now = o.now ?? Date.now;
  }

  get ackSubject(): string {
    return ackSubject(this.prefix, this.proxy);
  }

  status(): HaproxyAgentStatus {
    return { ...this.counters };
  }

  /** Starts polling and watching; resolves once the KV watch is established. */
  async start(): Promise<void> {
    const loop = () => {
      this.timer = setTimeout(() => {
        this.polling = this.poll().finally(() => {
          if (!this.stopped) loop();
        });
      }, this.intervalMs);
    };
    this.polling = this.poll();
    loop();
    this.watch = watchPolicyKey(this.o.nc, {
      bucket: this.o.kvBucket ?? 'prescient-policy',
      key: `weights.${this.o.pool}`,
      onDocument: (doc) => {
        this.applying = this.applying.then(() => this.apply(doc as WeightsDocument));
      },
      onError: (err) => this.fail(err),
    });
    await this.watch.ready;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.watch?.stop();
    await this.polling;
    await this.applying;
  }

  private fail(err: Error): void {
    this.counters.lastError = err.message;
    this.o.onError?.(err);
  }

  /** One `show stat`: publishes the interval's telemetry. Failures are counted, never thrown. */
  async poll(): Promise<void> {
    try {
      const atMs = this.now();
      const servers = serverStats(
        parseShowStat(await runtimeCommand(this.o.socketPath, 'show stat')),
        this.o.backend,
      );
      this.counters.polls++;
      const prev = this.prev;
      this.prev = { atMs, servers };
      if (!prev) return;
      const events = observations(prev.servers, servers, {
        pool: this.o.pool,
        nowMs: atMs,
        prevMs: prev.atMs,
        maxEventsPerServer: this.o.maxEventsPerServer ?? 10,
      });
      if (events.length === 0) return;
      await this.o.nc
        .jetstream()
        .publish(
          `${this.prefix}.telemetry.latency.${this.proxy}`,
          new TextEncoder().encode(JSON.stringify({ events })),
          { msgID: randomUUID() },
        );
      this.counters.eventsPublished += events.length;
    } catch (err) {
      this.counters.pollFailures++;
      this.fail(err as Error);
    }
  }

  /** Applies a weights document unless stale or already applied; acks what was set. */
  async apply(doc: WeightsDocument): Promise<void> {
    try {
      if (doc.kind !== 'weights' || !Array.isArray(doc.entries)) return;
      if (doc.version <= this.counters.appliedVersion) return;
      if (isStale(doc, this.now())) {
        this.counters.staleSkipped++;
        return;
      }
      const servers = serverStats(
        parseShowStat(await runtimeCommand(this.o.socketPath, 'show stat')),
        this.o.backend,
      ).map((s) => s.server);
      const plan = weightCommands(doc, this.o.backend, servers);
      for (const c of plan.commands) {
        const answer = (await runtimeCommand(this.o.socketPath, c.command)).trim();
        // HAProxy answers an accepted `set server` with an empty line.
        if (answer !== '') throw new Error(`HAProxy refused "${c.command}": ${answer}`);
      }
      if (plan.unknown.length > 0) {
        this.fail(
          new Error(
            `weights.${this.o.pool} v${doc.version} names backends that are not servers of HAProxy backend "${this.o.backend}": ${plan.unknown.join(', ')}`,
          ),
        );
      }
      this.counters.appliedVersion = doc.version;
      const ack: WeightsAck = {
        pool: this.o.pool,
        version: doc.version,
        appliedAt: this.now(),
        proxy: this.proxy,
        servers: plan.commands.map((c) => ({ server: c.server, weight: c.weight })),
      };
      this.o.nc.publish(this.ackSubject, JSON.stringify(ack));
    } catch (err) {
      this.counters.applyFailures++;
      this.fail(err as Error);
    }
  }
}
