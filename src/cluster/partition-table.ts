/**
 * @module cluster/partition-table
 * What one replica knows of the partitions it holds (docs/scaling.md): each partition's features
 * (a shard of {@link ShardedFeatureStore}), the stream sequence applied through and the one
 * checkpointed through.
 *
 * Exactly-once per partition: every replica reads the whole telemetry stream with its own durable
 * consumer, in order, from the lowest sequence any of its partitions still needs. A message of
 * partition p is applied iff p is held and its sequence is above p's watermark; every delivered
 * message moves the watermark of every held partition forward (in stream order the partition has
 * seen everything up to it), so a quiet partition's checkpoint keeps up with the stream. A
 * partition taken over is restored from its own checkpoint and replayed from the sequence after
 * it; the partitions already held skip the replayed messages as duplicates.
 *
 * Partition feeds (PRESCIENT_PARTITION_SUBJECTS, cluster/nats-mappings.ts): the server puts each
 * partition's telemetry on its own subjects and each held partition is read through its own
 * consumer. Then a message moves only its own partition's watermark (the feeds interleave), each
 * feed resumes after its partition's watermark, and each is acked through its own checkpoint.
 *
 * The snapshot stores are passed in (Redis, fenced by the partition's lease): no I/O here.
 */
import { FeatureStore } from '../features/feature-store.js';
import { ShardedFeatureStore } from '../features/sharded-store.js';
import type { FeatureStoreOptions } from '../features/types.js';
import type { SnapshotStore } from '../state/snapshot-store.js';
import { partitionOf } from './partitions.js';
import { unmapSubject } from './nats-mappings.js';

/** Partition 0 holds the pools (latency telemetry, backends, weights) and its holder leads. */
export const POOL_PARTITION = 0;

/**
 * `misrouted`: a partition feed delivered a node whose partition is another (the server's mapping
 * has another partition count than PRESCIENT_PARTITIONS); it is not applied.
 */
export type Admission = 'apply' | 'skip' | 'duplicate' | 'misrouted';

export interface PartitionTableOptions {
  readonly partitions: number;
  readonly features: FeatureStoreOptions;
  /** PRESCIENT_SUBJECT_PREFIX: access subjects `<prefix>.telemetry.access.<node>` name the node. */
  readonly subjectPrefix: string;
  /** `partition`: one feed per held partition on mapped subjects; `stream` (default): one feed. */
  readonly feeds?: 'stream' | 'partition';
  /** The checkpoint store of partition p. */
  readonly snapshots: (partition: number) => SnapshotStore;
  /** Creation time of the telemetry stream (a checkpoint of another stream is not resumed). */
  readonly streamCreated: () => string;
  readonly now?: () => number;
}

export interface AdoptResult {
  readonly partition: number;
  /** Sequence the partition's checkpoint holds (0: none, or of another stream). */
  readonly restoredSeq: number;
  readonly keys: number;
}

export class PartitionTable {
  readonly features: ShardedFeatureStore;
  private readonly applied = new Map<number, number>();
  private readonly saved = new Map<number, number>();
  /** Highest sequence delivered (held partition or not). */
  lastSeenSeq = 0;
  /** Messages of partitions held by other replicas, passed over. */
  skipped = 0;
  /** Partition feeds: messages whose node belongs to another partition than their subject's. */
  misrouted = 0;
  readonly feeds: 'stream' | 'partition';
  private readonly accessPrefix: string;
  private readonly now: () => number;

  constructor(private readonly o: PartitionTableOptions) {
    this.features = new ShardedFeatureStore(
      o.features,
      (node) => partitionOf(node, o.partitions),
      POOL_PARTITION,
    );
    this.now = o.now ?? Date.now;
    this.feeds = o.feeds ?? 'stream';
    this.accessPrefix = `${o.subjectPrefix}.telemetry.access.`;
  }

  /** The partition a telemetry subject's events belong to: its cache node's, else the pools'. */
  partitionOfSubject(subject: string): number {
    // Mapped subjects (PRESCIENT_PARTITION_SUBJECTS) are undone in either mode: a stream feed
    // on a server with the mappings still finds each message's node.
    const s = this.documentedSubject(subject);
    return s.startsWith(this.accessPrefix)
      ? partitionOf(s.slice(this.accessPrefix.length), this.o.partitions)
      : POOL_PARTITION;
  }

  /** The subject as published (partition feeds: the server's mapping undone), for the ingestor. */
  documentedSubject(subject: string): string {
    return unmapSubject(subject, this.o.subjectPrefix)?.subject ?? subject;
  }

  held(): number[] {
    return this.features.partitions();
  }

  isLeader(): boolean {
    return this.features.owns(POOL_PARTITION);
  }

  /** Whether to apply a delivered message; moves the held partitions' watermarks past it. */
  admit(seq: number, subject: string): Admission {
    if (this.feeds === 'partition') return this.admitFromFeed(seq, subject);
    const p = this.partitionOfSubject(subject);
    const mark = this.applied.get(p);
    const verdict: Admission = mark === undefined ? 'skip' : seq <= mark ? 'duplicate' : 'apply';
    if (verdict === 'skip') this.skipped++;
    for (const [q, m] of this.applied) if (seq > m) this.applied.set(q, seq);
    if (seq > this.lastSeenSeq) this.lastSeenSeq = seq;
    return verdict;
  }

  /** Partition feeds: only the message's own partition moves (feeds interleave). */
  private admitFromFeed(seq: number, subject: string): Admission {
    const p = this.partitionOfSubject(subject);
    const fed = unmapSubject(subject, this.o.subjectPrefix)?.partition;
    if (fed !== undefined && fed !== p) {
      this.misrouted++;
      return 'misrouted';
    }
    if (seq > this.lastSeenSeq) this.lastSeenSeq = seq;
    const mark = this.applied.get(p);
    if (mark === undefined) {
      this.skipped++;
      return 'skip';
    }
    if (seq <= mark) return 'duplicate';
    this.applied.set(p, seq);
    return 'apply';
  }

  /** Partition feeds: the sequence partition p's feed resumes after. */
  appliedThrough(p: number): number {
    return this.applied.get(p) ?? 0;
  }

  /** Partition feeds: the sequence partition p's feed may be acked through. */
  savedThrough(p: number): number {
    return this.saved.get(p) ?? 0;
  }

  /** The sequence delivery resumes after: the lowest any held partition needs. */
  resumeAfter(): number {
    return this.applied.size === 0 ? this.lastSeenSeq : Math.min(...this.applied.values());
  }

  /** Restores partition p from its checkpoint (or empty) and starts applying its messages. */
  async adopt(p: number): Promise<AdoptResult> {
    const cp = await this.o.snapshots(p).load();
    const resumable = cp !== undefined && cp.meta.streamCreated === this.o.streamCreated();
    const store = resumable ? FeatureStore.restore(cp.snapshot, this.o.features) : undefined;
    this.features.add(p, store);
    const seq = resumable ? cp.meta.appliedSeq : 0;
    this.applied.set(p, seq);
    this.saved.set(p, seq);
    return { partition: p, restoredSeq: seq, keys: store?.stats().trackedKeys ?? 0 };
  }

  /** Stops holding p (after its checkpoint, or without one when its lease was lost); its nodes. */
  drop(p: number): string[] {
    const store = this.features.remove(p);
    this.applied.delete(p);
    this.saved.delete(p);
    return store?.nodes() ?? [];
  }

  /**
   * Saves every held partition with telemetry applied since its last checkpoint; returns the
   * sequence telemetry may be acked through (every held partition's checkpoint holds it).
   * A partition whose write fails (lease lost: fenced) is reported, the others are saved.
   */
  async checkpoint(): Promise<{
    ackThrough: number;
    failures: { partition: number; err: unknown }[];
  }> {
    const failures: { partition: number; err: unknown }[] = [];
    for (const p of this.held()) {
      const seq = this.applied.get(p)!;
      if (seq === this.saved.get(p)) continue;
      const snapshot = this.features.shard(p)!.snapshot();
      try {
        await this.o.snapshots(p).save({
          snapshot,
          meta: {
            appliedSeq: seq,
            streamCreated: this.o.streamCreated(),
            savedAtMs: this.now(),
            bytes: snapshot.byteLength,
          },
        });
        // Dropped while its write was pending (lease lost): not held, not counted.
        if (this.applied.has(p)) this.saved.set(p, seq);
      } catch (err) {
        failures.push({ partition: p, err });
      }
    }
    const ackThrough = this.saved.size === 0 ? this.lastSeenSeq : Math.min(...this.saved.values());
    return { ackThrough, failures };
  }

  /** Per held partition: applied and checkpointed sequences (stats). */
  positions(): { partition: number; appliedSeq: number; checkpointedSeq: number }[] {
    return this.held().map((p) => ({
      partition: p,
      appliedSeq: this.applied.get(p) ?? 0,
      checkpointedSeq: this.saved.get(p) ?? 0,
    }));
  }
}
