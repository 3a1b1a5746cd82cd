/**
 * Lease rounds of several replica coordinators over one simulated lease table and membership
 * (what Redis holds), with a clock the test moves: even convergence, takeover after a replica
 * dies, checkpoint-before-release on hand-over, lost renewals, leaving.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { assignPartitions } from '../../src/cluster/partitions.js';
import {
  partitionLease,
  ReplicaCoordinator,
  type LeaseService,
  type MembershipService,
  type PartitionHost,
} from '../../src/cluster/replica-coordinator.js';
import type { Lease, LeaseOwner } from '../../src/state/leases.js';

const TTL = 3_000;
const PARTITIONS = 16;

/** The shared state: leases with expiry, heartbeats, a clock and a log of the calls made. */
class World {
  now = 0;
  private fences = 0;
  readonly leases = new Map<string, { holder: string; fence: number; expiresAt: number }>();
  readonly heartbeats = new Map<string, number>();
  /** `<replica> <call> [<partition>]`, in call order. */
  readonly log: string[] = [];
  /** Renewals of these lease names answer false (the lease itself is left as it is). */
  readonly failRenew = new Set<string>();

  private current(name: string) {
    const l = this.leases.get(name);
    if (l !== undefined && l.expiresAt <= this.now) {
      this.leases.delete(name);
      return undefined;
    }
    return l;
  }

  private same(lease: Lease): boolean {
    const l = this.current(lease.name);
    return l !== undefined && l.holder === lease.holder && l.fence === lease.fence;
  }

  /** Holder of partition p's lease now, if any. */
  ownerOf(p: number): string | undefined {
    return this.current(partitionLease(p))?.holder;
  }

  /** Partitions leased to `replica` now. */
  leasedTo(replica: string): number[] {
    return Array.from({ length: PARTITIONS }, (_, p) => p).filter(
      (p) => this.ownerOf(p) === replica,
    );
  }

  /** Someone else (not a coordinator) takes partition p's lease, e.g. after it expired. */
  steal(p: number, holder: string): void {
    this.leases.set(partitionLease(p), {
      holder,
      fence: ++this.fences,
      expiresAt: this.now + TTL,
    });
  }

  leaseService(replica: string): LeaseService {
    return {
      acquire: (name, holder) => {
        const l = this.current(name);
        if (l !== undefined && l.holder !== holder) return Promise.resolve(undefined);
        const fence = ++this.fences;
        this.leases.set(name, { holder, fence, expiresAt: this.now + TTL });
        this.log.push(`${replica} acquire ${name}`);
        return Promise.resolve({ name, holder, fence });
      },
      renew: (lease) => {
        if (this.failRenew.has(lease.name) || !this.same(lease)) return Promise.resolve(false);
        this.leases.get(lease.name)!.expiresAt = this.now + TTL;
        return Promise.resolve(true);
      },
      release: (lease) => {
        this.log.push(`${replica} release ${lease.name}`);
        if (!this.same(lease)) return Promise.resolve(false);
        this.leases.delete(lease.name);
        return Promise.resolve(true);
      },
      owners: (names) => {
        const out = new Map<string, LeaseOwner | undefined>();
        for (const name of names) {
          const l = this.current(name);
          out.set(name, l && { holder: l.holder, fence: l.fence });
        }
        return Promise.resolve(out);
      },
    };
  }

  membership(): MembershipService {
    return {
      heartbeat: (replica) => {
        this.heartbeats.set(replica, this.now);
        return Promise.resolve();
      },
      live: () =>
        Promise.resolve(
          [...this.heartbeats]
            .filter(([, at]) => this.now - at < TTL)
            .map(([r]) => r)
            .sort(),
        ),
      leave: (replica) => {
        this.heartbeats.delete(replica);
        return Promise.resolve();
      },
    };
  }
}

interface RebalanceCall {
  readonly next: ReadonlyMap<number, Lease>;
  readonly lost: ReadonlySet<number>;
  /** Partitions in `next` the host did not hold before (restored from checkpoints). */
  readonly adopted: number[];
  /** Partitions held before, not in `next`, not lost (checkpointed, then dropped). */
  readonly handedOver: number[];
}

/**
 * The engine's side: holds exactly `next` after each rebalance. A hand-over checkpoint is only
 * valid under the partition's lease, so it checks that the lease is still held in the world.
 */
class FakeHost implements PartitionHost {
  held = new Set<number>();
  readonly calls: RebalanceCall[] = [];
  /** Hand-overs whose lease was already gone when the host had to checkpoint them. */
  readonly unfencedCheckpoints: number[] = [];
  /** Makes the next rebalances reject (after recording the call), as a failed restore would. */
  failNext = 0;

  constructor(
    private readonly world: World,
    private readonly self: string,
  ) {}

  rebalance(next: ReadonlyMap<number, Lease>, lost: ReadonlySet<number>): Promise<void> {
    this.world.log.push(`${this.self} rebalance`);
    const handedOver = [...this.held].filter((p) => !next.has(p) && !lost.has(p)).sort(byNumber);
    for (const p of handedOver) {
      if (this.world.ownerOf(p) !== this.self) this.unfencedCheckpoints.push(p);
    }
    for (const [p, lease] of next) {
      expect(lease.name).toBe(partitionLease(p));
      expect(lease.holder).toBe(this.self);
    }
    const adopted = [...next.keys()].filter((p) => !this.held.has(p)).sort(byNumber);
    this.calls.push({ next, lost, adopted, handedOver });
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error('restore failed'));
    }
    this.held = new Set(next.keys());
    return Promise.resolve();
  }

  lastCall(): RebalanceCall {
    return this.calls.at(-1)!;
  }
}

const byNumber = (a: number, b: number): number => a - b;

interface Replica {
  readonly id: string;
  readonly coordinator: ReplicaCoordinator;
  readonly host: FakeHost;
  readonly errors: unknown[];
}

function replica(world: World, id: string, leases = world.leaseService(id)): Replica {
  const host = new FakeHost(world, id);
  const errors: unknown[] = [];
  const coordinator = new ReplicaCoordinator({
    self: id,
    partitions: PARTITIONS,
    ttlMs: TTL,
    leases,
    members: world.membership(),
    host,
    onError: (err) => errors.push(err),
  });
  return { id, coordinator, host, errors };
}

/** One round of each replica in turn, then the clock moves a third of the TTL (the loop's period). */
async function tick(world: World, replicas: readonly Replica[]): Promise<void> {
  for (const r of replicas) await r.coordinator.round();
  world.now += TTL / 3;
}

async function ticks(world: World, replicas: readonly Replica[], n: number): Promise<void> {
  for (let i = 0; i < n; i++) await tick(world, replicas);
}

/** Every partition leased to exactly one replica, which is the one holding it, as its host does. */
function expectConsistent(world: World, replicas: readonly Replica[]): void {
  const all = Array.from({ length: PARTITIONS }, (_, p) => p);
  for (const p of all) {
    const holders = replicas.filter((r) => r.coordinator.heldPartitions().includes(p));
    expect(
      holders.map((r) => r.id),
      `partition ${p}`,
    ).toHaveLength(1);
    expect(world.ownerOf(p)).toBe(holders[0]!.id);
  }
  for (const r of replicas) {
    expect([...r.host.held].sort(byNumber)).toEqual(r.coordinator.heldPartitions());
    expect(world.leasedTo(r.id)).toEqual(r.coordinator.heldPartitions());
    expect(r.host.unfencedCheckpoints).toEqual([]);
    expect(r.errors).toEqual([]);
  }
}

function expectSettledOn(replicas: readonly Replica[]): void {
  const target = assignPartitions(
    PARTITIONS,
    replicas.map((r) => r.id),
  );
  const shares = replicas.map((r) => r.coordinator.heldPartitions().length);
  expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
  for (const r of replicas) {
    const mine = target.flatMap((owner, p) => (owner === r.id ? [p] : []));
    expect(r.coordinator.heldPartitions()).toEqual(mine);
    // The host's last instruction was exactly that set, with the leases held.
    const { next } = r.host.lastCall();
    expect([...next.keys()].sort(byNumber)).toEqual(mine);
    for (const [p, lease] of next) expect(r.coordinator.leaseOf(p)).toEqual(lease);
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ReplicaCoordinator', () => {
  it('spreads the partitions over three replicas, each held by exactly one', async () => {
    const world = new World();
    const rs = ['engine-a', 'engine-b', 'engine-c'].map((id) => replica(world, id));
    // The first round alone: the first replica sees only itself and takes everything.
    await rs[0]!.coordinator.round();
    expect(rs[0]!.coordinator.heldPartitions()).toHaveLength(PARTITIONS);
    expect(rs[0]!.host.lastCall().adopted).toHaveLength(PARTITIONS);

    await ticks(world, rs, 4);
    expectConsistent(world, rs);
    expectSettledOn(rs);
    expect(rs.map((r) => r.coordinator.heldPartitions().length).sort()).toEqual([5, 5, 6]);
    expect(rs[1]!.coordinator.liveReplicas).toEqual(['engine-a', 'engine-b', 'engine-c']);

    // Settled: further rounds renew and change nothing (no rebalance).
    const calls = rs.map((r) => r.host.calls.length);
    const rebalances = rs.map((r) => r.coordinator.rebalances);
    await ticks(world, rs, 5);
    expect(rs.map((r) => r.host.calls.length)).toEqual(calls);
    expect(rs.map((r) => r.coordinator.rebalances)).toEqual(rebalances);
    expectConsistent(world, rs);
  });

  it('takes over the partitions of a replica that stopped renewing', async () => {
    const world = new World();
    const rs = ['engine-a', 'engine-b', 'engine-c'].map((id) => replica(world, id));
    await ticks(world, rs, 5);
    expectConsistent(world, rs);
    const dead = rs[2]!;
    const orphans = dead.coordinator.heldPartitions();
    const survivors = rs.slice(0, 2);
    const callsBefore = survivors.map((r) => r.host.calls.length);

    // killed: no more rounds. While its leases and heartbeat last, nothing moves.
    await tick(world, survivors);
    expect(survivors.map((r) => r.host.calls.length)).toEqual(callsBefore);
    for (const p of orphans) expect(world.ownerOf(p)).toBe(dead.id);

    // Past the TTL its leases expire and it drops out of the live list: the others take over.
    await ticks(world, survivors, 3);
    expectConsistent(world, survivors);
    expectSettledOn(survivors);
    expect(survivors.flatMap((r) => r.coordinator.heldPartitions()).sort(byNumber)).toEqual(
      Array.from({ length: PARTITIONS }, (_, p) => p),
    );
    const adopted = survivors
      .flatMap((r) => r.host.calls.slice(callsBefore[survivors.indexOf(r)]))
      .flatMap((c) => c.adopted);
    // Every orphan was restored by exactly one survivor; what else moved was a hand-over between
    // the survivors (bounded loads), adopted by one after the other released it.
    for (const p of orphans) expect(adopted.filter((q) => q === p)).toHaveLength(1);
    for (const r of survivors) {
      for (const c of r.host.calls.slice(callsBefore[survivors.indexOf(r)])) {
        expect(c.lost.size).toBe(0);
      }
    }
  });

  it('takes a dead replica’s partitions once their leases expire, with explicit expiry', async () => {
    const world = new World();
    const rs = ['engine-a', 'engine-b', 'engine-c'].map((id) => replica(world, id));
    await ticks(world, rs, 5);
    const dead = rs[1]!;
    const orphans = dead.coordinator.heldPartitions();
    const survivors = [rs[0]!, rs[2]!];
    // Killed: its heartbeat and leases are gone at once (as if the TTL had passed).
    world.heartbeats.delete(dead.id);
    for (const p of orphans) world.leases.delete(partitionLease(p));
    const before = survivors.map((r) => new Set(r.coordinator.heldPartitions()));

    await ticks(world, survivors, 2);
    expectConsistent(world, survivors);
    expectSettledOn(survivors);
    // Held by a survivor now, each orphan was in that survivor's `next` as newly adopted.
    for (const p of orphans) {
      const i = survivors.findIndex((r) => r.coordinator.heldPartitions().includes(p));
      expect(i).toBeGreaterThanOrEqual(0);
      expect(before[i]!.has(p)).toBe(false);
      expect(survivors[i]!.host.calls.some((c) => c.adopted.includes(p))).toBe(true);
    }
  });

  it('hands a partition over only after the host checkpointed it under the lease', async () => {
    const world = new World();
    const a = replica(world, 'engine-a');
    await ticks(world, [a], 2);
    expect(a.coordinator.heldPartitions()).toHaveLength(PARTITIONS);

    const b = replica(world, 'engine-b');
    // The newcomer first finds every partition leased: it takes nothing, rebalances nothing.
    await b.coordinator.round();
    expect(b.coordinator.heldPartitions()).toEqual([]);
    expect(b.host.calls).toHaveLength(0);

    world.log.length = 0;
    await a.coordinator.round();
    const target = assignPartitions(PARTITIONS, ['engine-a', 'engine-b']);
    const toB = target.flatMap((owner, p) => (owner === 'engine-b' ? [p] : []));
    expect(toB.length).toBe(PARTITIONS / 2);
    const call = a.host.lastCall();
    expect(call.handedOver).toEqual(toB);
    expect(call.lost.size).toBe(0);
    expect(a.host.unfencedCheckpoints).toEqual([]);
    // The order of calls: the host's rebalance (with its checkpoint), then every release.
    expect(world.log).toEqual([
      'engine-a rebalance',
      ...toB.map((p) => `engine-a release ${partitionLease(p)}`),
    ]);
    for (const p of toB) expect(world.ownerOf(p)).toBeUndefined();

    // The newcomer's next round takes them.
    await b.coordinator.round();
    expect(b.host.lastCall().adopted).toEqual(toB);
    expectConsistent(world, [a, b]);
    expectSettledOn([a, b]);
  });

  it('reports a partition whose renewal failed as lost, and not in next, when another took it', async () => {
    const world = new World();
    const a = replica(world, 'engine-a');
    const b = replica(world, 'engine-b');
    await ticks(world, [a, b], 4);
    const p = a.coordinator.heldPartitions()[0]!;
    const lease = a.coordinator.leaseOf(p)!;
    // a paused past its TTL for p: the lease expired and someone else holds it now.
    world.steal(p, 'engine-x');

    await a.coordinator.round();
    const call = a.host.lastCall();
    expect([...call.lost]).toEqual([p]);
    expect(call.next.has(p)).toBe(false);
    expect(call.handedOver).toEqual([]);
    expect(a.coordinator.leaseOf(p)).toBeUndefined();
    expect(a.coordinator.heldPartitions()).not.toContain(p);
    expect(a.host.held.has(p)).toBe(false);
    // Not released (it is not ours any more), nothing else changed.
    expect(world.log).not.toContain(`engine-a release ${lease.name}`);
    expect([...call.next.keys()].sort(byNumber)).toEqual(a.coordinator.heldPartitions());
    expect(world.ownerOf(p)).toBe('engine-x');
  });

  it('reports a failed renewal as lost even when it retakes the lease in the same round', async () => {
    const world = new World();
    const a = replica(world, 'engine-a');
    await ticks(world, [a], 2);
    const p = 5;
    const old = a.coordinator.leaseOf(p)!;
    // The renewal fails (the lease expired), but the partition is still a's and free again.
    world.failRenew.add(partitionLease(p));
    world.leases.delete(partitionLease(p));

    await a.coordinator.round();
    const call = a.host.lastCall();
    // The host must drop what it applied (its checkpoint writes are fenced out) and restore p.
    expect([...call.lost]).toEqual([p]);
    expect(call.next.has(p)).toBe(true);
    expect(call.next.get(p)!.fence).toBeGreaterThan(old.fence);
    expect(a.coordinator.leaseOf(p)).toEqual(call.next.get(p));
  });

  it('releases every lease and leaves the membership on leave()', async () => {
    const world = new World();
    const a = replica(world, 'engine-a');
    const b = replica(world, 'engine-b');
    await ticks(world, [a, b], 4);
    const held = a.coordinator.heldPartitions();
    expect(held.length).toBe(PARTITIONS / 2);

    await a.coordinator.stop();
    await a.coordinator.leave();
    expect(a.coordinator.heldPartitions()).toEqual([]);
    expect(world.leasedTo('engine-a')).toEqual([]);
    for (const p of held) expect(world.log).toContain(`engine-a release ${partitionLease(p)}`);
    expect(world.heartbeats.has('engine-a')).toBe(false);
    // A round after stop() does nothing.
    await a.coordinator.round();
    expect(world.heartbeats.has('engine-a')).toBe(false);

    // The other takes over at once, without waiting for the TTL.
    await b.coordinator.round();
    expect(b.coordinator.heldPartitions()).toHaveLength(PARTITIONS);
    expect(b.host.lastCall().adopted).toEqual(held);
  });

  it('releases the other leases on leave() when one release fails', async () => {
    const world = new World();
    const service = world.leaseService('engine-a');
    const failing: LeaseService = {
      ...service,
      release: (lease) =>
        lease.name === partitionLease(3)
          ? Promise.reject(new Error('connection reset'))
          : service.release(lease),
    };
    const a = replica(world, 'engine-a', failing);
    await ticks(world, [a], 1);
    await a.coordinator.leave();
    expect(world.leasedTo('engine-a')).toEqual([3]);
    expect(a.coordinator.heldPartitions()).toEqual([]);
  });

  it('serializes rounds', async () => {
    const world = new World();
    const a = replica(world, 'engine-a');
    let inRound = 0;
    let maxInRound = 0;
    const rebalance = a.host.rebalance.bind(a.host);
    a.host.rebalance = async (next, lost) => {
      inRound++;
      maxInRound = Math.max(maxInRound, inRound);
      await new Promise((resolve) => setTimeout(resolve, 5));
      world.leases.clear(); // every round finds its leases gone: each one rebalances
      await rebalance(next, lost);
      inRound--;
    };
    await Promise.all([a.coordinator.round(), a.coordinator.round(), a.coordinator.round()]);
    expect(a.host.calls).toHaveLength(3);
    expect(maxInRound).toBe(1);
  });

  it('runs the first round in start() and then one every third of the TTL until stop()', async () => {
    vi.useFakeTimers();
    const world = new World();
    const a = replica(world, 'engine-a');
    let heartbeats = 0;
    const members = world.membership();
    const counting = new ReplicaCoordinator({
      self: 'engine-a',
      partitions: PARTITIONS,
      ttlMs: TTL,
      leases: world.leaseService('engine-a'),
      members: {
        ...members,
        heartbeat: (r) => {
          heartbeats++;
          return members.heartbeat(r);
        },
      },
      host: a.host,
      onError: (err) => a.errors.push(err),
    });
    await counting.start();
    expect(a.host.held.size).toBe(PARTITIONS);
    expect(heartbeats).toBe(1);
    await vi.advanceTimersByTimeAsync(TTL / 3);
    expect(heartbeats).toBe(2);
    await vi.advanceTimersByTimeAsync(TTL);
    expect(heartbeats).toBe(5);
    await counting.stop();
    await vi.advanceTimersByTimeAsync(TTL * 3);
    expect(heartbeats).toBe(5);
    expect(a.errors).toEqual([]);
  });

  // A rebalance that rejects after new leases were acquired leaves the leases held and renewed;
  // later rounds see no lease change but must still call the host until it holds them (else
  // nobody serves those partitions, and in the engine delivery stays stopped).
  it('calls the host again after a failed rebalance until it holds what is leased', async () => {
    const world = new World();
    const a = replica(world, 'engine-a');
    a.host.failNext = 1;
    await expect(a.coordinator.round()).rejects.toThrow('restore failed');
    expect(a.coordinator.heldPartitions()).toHaveLength(PARTITIONS);
    expect(a.host.held.size).toBe(0);

    await ticks(world, [a], 3);
    expect(a.host.held.size).toBe(PARTITIONS);
    expect([...a.host.held].sort(byNumber)).toEqual(a.coordinator.heldPartitions());
  });
});
