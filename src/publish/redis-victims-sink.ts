/**
 * @module publish/redis-victims-sink
 * Mirrors each `eviction.<node>` document into the Redis sorted set `prescient:evict:<node>`
 * (score = eviction priority, so `ZPOPMAX` hands a cache its next victim). The set is replaced
 * whole in one MULTI, so a cache never pops from a half-written list, and expires with the
 * document's TTL, so a stale list disappears instead of misleading a cache after the engine
 * stops. Other document kinds are ignored.
 */
import type { RedisConnection } from '../clients/redis-client.js';
import type { EvictionDocument, PolicyDocument } from './document.js';
import type { PolicySink } from './policy-sink.js';

export class RedisVictimsSink implements PolicySink {
  readonly kind = 'redis-zset';

  constructor(
    private readonly redis: RedisConnection,
    /** e.g. `prescient:` → keys `prescient:evict:<node>`. */
    private readonly prefix: string,
  ) {}

  key(node: string): string {
    return `${this.prefix}evict:${node}`;
  }

  async put(_key: string, doc: PolicyDocument): Promise<void> {
    if (doc.kind !== 'eviction') return;
    const { target, entries, ttlMs } = doc as EvictionDocument;
    const key = this.key(target);
    const tx = this.redis.multi().del(key);
    if (entries.length > 0) {
      const args: (string | number)[] = [];
      for (const e of entries) args.push(e.score, e.key);
      tx.zadd(key, ...args).pexpire(key, ttlMs);
    }
    const results = await tx.exec();
    const failed = results?.find(([err]) => err !== null);
    if (failed) throw failed[0] as Error;
  }

  /** The mirror is write-only: versions come from the primary sink. */
  get(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
}

/**
 * Writes to the primary sink (which numbers versions), then to every mirror. A mirror that fails
 * (Redis down) is reported to `onMirrorError` and skipped: the document is published all the
 * same (failing here would leave the target dirty and put the same version into the primary again
 * at every tick), and the mirror catches up with the target's next version.
 */
export class FanoutSink implements PolicySink {
  readonly kind: string;

  constructor(
    private readonly primary: PolicySink,
    private readonly mirrors: readonly PolicySink[],
    private readonly onMirrorError: (err: Error, mirror: string, key: string) => void = () =>
      undefined,
  ) {
    this.kind = [primary.kind, ...mirrors.map((m) => m.kind)].join('+');
  }

  async put(key: string, doc: PolicyDocument): Promise<void> {
    await this.primary.put(key, doc);
    for (const m of this.mirrors) {
      try {
        await m.put(key, doc);
      } catch (err) {
        this.onMirrorError(err as Error, m.kind, key);
      }
    }
  }

  get(key: string): Promise<PolicyDocument | undefined> {
    return this.primary.get(key);
  }
}
