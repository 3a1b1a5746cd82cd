/**
 * @module publish/nats-kv-sink
 * Documents as JSON in the NATS KV bucket `prescient-policy` (created on first use, a few
 * revisions of history kept so a client can see what changed). Clients watch `eviction.<node>`
 * or `weights.<pool>`.
 */
import type { KV, NatsConnection } from 'nats';
import type { PolicyDocument } from './document.js';
import type { PolicySink } from './policy-sink.js';

export class NatsKvSink implements PolicySink {
  readonly kind = 'nats-kv';

  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, bucket: string, replicas = 1): Promise<NatsKvSink> {
    const kv = await nc.jetstream().views.kv(bucket, { history: 5, replicas });
    return new NatsKvSink(kv);
  }

  async put(key: string, doc: PolicyDocument): Promise<void> {
    await this.kv.put(key, JSON.stringify(doc));
  }

  async get(key: string): Promise<PolicyDocument | undefined> {
    const entry = await this.kv.get(key);
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return undefined;
    return entry.json<PolicyDocument>();
  }
}
