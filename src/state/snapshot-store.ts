/**
 * @module state/snapshot-store
 * Where feature-store checkpoints live. A checkpoint is the snapshot bytes plus the stream
 * position it includes; the engine acks telemetry only after the checkpoint holding it is saved.
 */

export interface CheckpointMeta {
  /** Highest stream sequence whose events the snapshot includes. */
  readonly appliedSeq: number;
  /** Creation time of the stream the sequence refers to (sequences restart with a new stream). */
  readonly streamCreated: string;
  readonly savedAtMs: number;
  readonly bytes: number;
}

export interface Checkpoint {
  readonly snapshot: Uint8Array;
  readonly meta: CheckpointMeta;
}

export interface SnapshotStore {
  readonly kind: 'memory' | 'redis';
  load(): Promise<Checkpoint | undefined>;
  save(checkpoint: Checkpoint): Promise<void>;
}

/** Embedded mode: keeps nothing (the state is the process's memory). */
export class NoSnapshotStore implements SnapshotStore {
  readonly kind = 'memory' as const;
  load(): Promise<Checkpoint | undefined> {
    return Promise.resolve(undefined);
  }
  save(): Promise<void> {
    return Promise.resolve();
  }
}
