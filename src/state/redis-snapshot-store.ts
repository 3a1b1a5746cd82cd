/**
 * @module state/redis-snapshot-store
 * Checkpoints in Redis, written so that a crash mid-write never leaves a torn snapshot: the bytes
 * go to chunk keys of a new generation first (8 MiB each, below Redis' 512 MB string limit),
 * then one MULTI switches the pointer hash `<prefix>features:snapshot` to the new generation
 * and deletes the old one. A reader follows the pointer and checks the total length.
 *
 * Fenced (scale-out, one store per partition): the pointer switch is written only while the
 * writer still holds the partition's lease ({@link RedisLeases.fencedHset}), and chunk keys carry
 * the lease's fence, so a replica that lost its lease (paused past the TTL, cut off) can neither
 * switch the pointer nor overwrite the chunks of the new holder's generation.
 */
import type { RedisConnection } from '../clients/redis-client.js';
import { ERROR_CODES, PrescientError, SnapshotFormatError } from '../errors.js';
import type { Checkpoint, SnapshotStore } from './snapshot-store.js';
import type { Lease, RedisLeases } from './leases.js';

const CHUNK_BYTES = 8 * 1024 * 1024;

export class RedisSnapshotStore implements SnapshotStore {
  readonly kind = 'redis' as const;

  constructor(
    private readonly redis: RedisConnection,
    /** The pointer key, e.g. `prescient:features:snapshot`. */
    private readonly key: string,
    /** Scale-out: the lease a write must still hold (read at each save; undefined: refused). */
    private readonly fence?: {
      readonly leases: RedisLeases;
      readonly lease: () => Lease | undefined;
    },
  ) {}

  /** Chunk keys of generation `gen` written under `fence` (0: unfenced). */
  private chunkKey(gen: number, i: number, fence = 0): string {
    return fence === 0 ? `${this.key}:${gen}:${i}` : `${this.key}:f${fence}:${gen}:${i}`;
  }

  async load(): Promise<Checkpoint | undefined> {
    const meta = await this.redis.hgetall(this.key);
    if (meta['gen'] === undefined) return undefined;
    const gen = Number(meta['gen']);
    const fence = Number(meta['fence'] ?? 0);
    const chunks = Number(meta['chunks']);
    const bytes = Number(meta['bytes']);
    const parts: Buffer[] = [];
    for (let i = 0; i < chunks; i++) {
      const part = await this.redis.getBuffer(this.chunkKey(gen, i, fence));
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

  /** @throws PrescientError `PRESCIENT_E_FENCED` when the lease of a fenced store is lost. */
  async save({ snapshot, meta }: Checkpoint): Promise<void> {
    const lease = this.fence?.lease();
    if (this.fence && lease === undefined) throw fencedOut(this.key);
    const fence = lease?.fence ?? 0;
    const previous = await this.redis.hmget(this.key, 'gen', 'chunks', 'fence');
    const prevGen =
      previous[0] === null || previous[0] === undefined ? undefined : Number(previous[0]);
    const prevChunks = Number(previous[1] ?? 0);
    const prevFence = Number(previous[2] ?? 0);
    const gen = (prevGen ?? 0) + 1;
    const chunks = Math.max(1, Math.ceil(snapshot.byteLength / CHUNK_BYTES));
    const buf = Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
    for (let i = 0; i < chunks; i++) {
      await this.redis.set(
        this.chunkKey(gen, i, fence),
        buf.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES),
      );
    }
    const fields = {
      gen,
      chunks,
      bytes: snapshot.byteLength,
      appliedSeq: meta.appliedSeq,
      streamCreated: meta.streamCreated,
      savedAtMs: meta.savedAtMs,
      fence,
    };
    const old: string[] = [];
    if (prevGen !== undefined)
      for (let i = 0; i < prevChunks; i++) old.push(this.chunkKey(prevGen, i, prevFence));
    if (this.fence && lease) {
      if (!(await this.fence.leases.fencedHset(lease, this.key, fields, old))) {
        // The new holder owns the pointer: drop what was written here.
        for (let i = 0; i < chunks; i++) await this.redis.del(this.chunkKey(gen, i, fence));
        throw fencedOut(this.key);
      }
      return;
    }
    const tx = this.redis.multi().hset(this.key, fields);
    for (const k of old) tx.del(k);
    await tx.exec();
  }
}

function fencedOut(key: string): PrescientError {
  return new PrescientError(
    ERROR_CODES.FENCED,
    `checkpoint ${key} not written: this replica no longer holds the partition's lease`,
  );
}
