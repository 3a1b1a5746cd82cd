/**
 * @module cluster/replica-coordinator
 * One replica's side of scale-out (docs/scaling.md): every third of the lease TTL it
 *
 *   heartbeat (membership) → renew held leases (a failed renewal = partition lost)
 *     → plan (bounded-load rendezvous over the live replicas, cluster/partitions.ts)
 *     → acquire free targets → host.rebalance(next held set) → release handed-over leases
 *
 * The host (the engine) checkpoints a partition it hands over *before* its lease is released, so
 * the next holder restores everything applied here; a partition whose lease was lost is dropped
 * without a checkpoint (its writes would be fenced out anyway). Rounds never overlap.
 */
import { planOwnership } from './partitions.js';
import type { Lease, LeaseOwner } from '../state/leases.js';

/** The lease operations a coordinator needs (src/state/leases.ts). */
export interface LeaseService {
  acquire(name: string, holder: string): Promise<Lease | undefined>;
  renew(lease: Lease): Promise<boolean>;
  release(lease: Lease): Promise<boolean>;
  owners(names: readonly string[]): Promise<Map<string, LeaseOwner | undefined>>;
}

export interface MembershipService {
  heartbeat(replica: string): Promise<void>;
  live(): Promise<string[]>;
  leave(replica: string): Promise<void>;
}

export interface PartitionHost {
  /**
   * Makes the host hold exactly `next` (partition → lease). Partitions held before and absent
   * from `next` are handed over (checkpoint them with `leaseOf`, then drop them) unless they are
   * in `lost` (drop them, nothing may be written); partitions new in `next` are restored.
   */
  rebalance(next: ReadonlyMap<number, Lease>, lost: ReadonlySet<number>): Promise<void>;
}

export interface CoordinatorOptions {
  readonly self: string;
  readonly partitions: number;
  readonly ttlMs: number;
  readonly leases: LeaseService;
  readonly members: MembershipService;
  readonly host: PartitionHost;
  readonly onError: (err: unknown) => void;
}

/** `partition:<p>`: the lease of partition p (partition 0 also makes its holder the leader). */
export const partitionLease = (p: number): string => `partition:${p}`;

export class ReplicaCoordinator {
  private readonly held = new Map<number, Lease>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private hostBehind = false;
  /** Live replicas at the last round (sorted). */
  liveReplicas: string[] = [];
  /** Hand-overs and takeovers so far (for stats and tests). */
  rebalances = 0;

  constructor(private readonly o: CoordinatorOptions) {}

  /** The lease of a held partition (the fenced checkpoint reads it at each write). */
  leaseOf(p: number): Lease | undefined {
    return this.held.get(p);
  }

  heldPartitions(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** One round; serialized with the loop's. */
  round(): Promise<void> {
    const run = this.running.then(() => this.roundInner());
    this.running = run.catch(() => undefined);
    return run;
  }

  private async roundInner(): Promise<void> {
    if (this.stopped) return;
    const { self, partitions, leases, members } = this.o;
    await members.heartbeat(self);
    const lost = new Set<number>();
    for (const [p, lease] of this.held) {
      if (!(await leases.renew(lease))) lost.add(p);
    }
    for (const p of lost) this.held.delete(p);
    this.liveReplicas = await members.live();
    const all = Array.from({ length: partitions }, (_, p) => p);
    const byName = await leases.owners(all.map(partitionLease));
    const owners = new Map(all.map((p) => [p, byName.get(partitionLease(p))?.holder]));
    const plan = planOwnership({
      self,
      partitions,
      live: this.liveReplicas.includes(self) ? this.liveReplicas : [...this.liveReplicas, self],
      held: new Set(this.held.keys()),
      owners,
    });
    let acquired = 0;
    for (const p of plan.acquire) {
      const lease = await leases.acquire(partitionLease(p), self);
      if (lease === undefined) continue;
      this.held.set(p, lease);
      acquired++;
    }
    const unchanged = lost.size === 0 && acquired === 0 && plan.release.length === 0;
    if (unchanged && !this.hostBehind) return;
    const next = new Map(this.held);
    for (const p of plan.release) next.delete(p);
    this.rebalances++;
    // Until a rebalance succeeds the host may hold other partitions than the leases say (a
    // restore failed): the next rounds call it again even when the leases did not change.
    this.hostBehind = true;
    await this.o.host.rebalance(next, lost);
    this.hostBehind = false;
    for (const p of plan.release) {
      const lease = this.held.get(p);
      this.held.delete(p);
      if (lease) await leases.release(lease);
    }
  }

  /** First round now (so the host holds its partitions when this resolves), then the loop. */
  async start(): Promise<void> {
    await this.round();
    const loop = () => {
      this.timer = setTimeout(
        () => {
          this.round()
            .catch(this.o.onError)
            .finally(() => {
              if (!this.stopped) loop();
            });
        },
        Math.max(50, Math.floor(this.o.ttlMs / 3)),
      );
    };
    loop();
  }

  /** Stops the loop (the host checkpoints with the leases still held before {@link leave}). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Releases every lease and leaves the membership: the others take over at their next round. */
  async leave(): Promise<void> {
    for (const lease of this.held.values()) await this.o.leases.release(lease).catch(() => false);
    this.held.clear();
    await this.o.members.leave(this.o.self).catch(() => undefined);
  }
}
