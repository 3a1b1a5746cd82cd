/**
 * @module state/redis-snapshot-store
 * Checkpoints in Redis, written so that a crash mid-write never leaves a torn snapshot: the bytes
 * go to chunk keys of a new generation first (8 MiB each, below Redis' 512 MB string limit),
 * then one MULTI switches the pointer hash `<prefix>features:snapshot` to the new generation
 * and deletes the old one. A reader follows the pointer and checks the total length.
 */
import type { Redis } from 'ioredis';
import { SnapshotFormatError } from '../errors.js';
import type { Checkpoint, SnapshotStore } from './snapshot-store.js';

const CHUNK_BYTES = 8 * 1024 * 1024;

export class RedisSnapshotStore implements SnapshotStore {
  readonly kind = 'redis' as const;

  constructor(
    private readonly redis: Redis,
    /** The pointer key, e.g. `prescient:features:snapshot`. */
    private readonly key: string,
  ) {}

  private chunkKey(gen: number, i: number): string {
    return `${this.key}:${gen}:${i}`;
  }

  async load(): Promise<Checkpoint | undefined> {
    const meta = await this.redis.hgetall(this.key);
    if (meta['gen'] === undefined) return undefined;
    const gen = Number(meta['gen']);
    const chunks = Number(meta['chunks']);
    const bytes = Number(meta['bytes']);
    const parts: Buffer[] = [];
    for (let i = 0; i < chunks; i++) {
      const part = await this.redis.getBuffer(this.chunkKey(gen, i));
      if (part === null)
        throw new SnapshotFormatError(
          `snapshot generation ${gen} misses chunk ${i}; delete ${this.key} to start from empty state`,
        );
      parts.push(part);
    }
    const snapshot = Buffer.concat(parts);
    if (snapshot.byteLength !== bytes) {
      throw new SnapshotFormatError(
        `snapshot generation ${gen} has ${snapshot.byteLength} bytes, expected ${bytes}`,
      );
    }
    return {
      snapshot: new Uint8Array(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength),
      meta: {
        appliedSeq: Number(meta['appliedSeq']),
        streamCreated: meta['streamCreated'] ?? '',
        savedAtMs: Number(meta['savedAtMs']),
        bytes,
      },
    };
  }

  async save({ snapshot, meta }: Checkpoint): Promise<void> {
    const previous = await this.redis.hmget(this.key, 'gen', 'chunks');
    const prevGen =
      previous[0] === null || previous[0] === undefined ? undefined : Number(previous[0]);
    const prevChunks = Number(previous[1] ?? 0);
    const gen = (prevGen ?? 0) + 1;
    const chunks = Math.max(1, Math.ceil(snapshot.byteLength / CHUNK_BYTES));
    const buf = Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    for (let i = 0; i < chunks; i++) {
      await this.redis.set(
        this.chunkKey(gen, i),
        buf.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES),
      );
    }
    const tx = this.redis.multi().hset(this.key, {
      gen,
      chunks,
      bytes: snapshot.byteLength,
      appliedSeq: meta.appliedSeq,
      streamCreated: meta.streamCreated,
      savedAtMs: meta.savedAtMs,
    });
    if (prevGen !== undefined)
      for (let i = 0; i < prevChunks; i++) tx.del(this.chunkKey(prevGen, i));
    await tx.exec();
  }
}
