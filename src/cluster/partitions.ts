/**
 * @module cluster/partitions
 * Which engine replica owns which partition, computed identically by every replica from the same
 * inputs (no coordination beyond the leases of `state/leases` and the live list of
 * `ReplicaMembership`). Pure: no I/O, no clock, no randomness.
 *
 * - {@link partitionOf}: the partition of a name (a cache node, a pool), FNV-1a mod the count,
 *   stable across processes and restarts.
 * - {@link assignPartitions}: the target owner of every partition for a live set: rendezvous
 *   (highest-random-weight) hashing (Thaler & Ravishankar, "A Name-Based Mapping Scheme for
 *   Rendezvous", 1996) with bounded loads (Mirrokni, Thorup & Zadimoghaddam, "Consistent Hashing
 *   with Bounded Loads", SODA 2018).
 * - {@link planOwnership}: one replica's next step towards that target: the leases to try to
 *   acquire and those to hand over.
 *
 * Why bounded loads: plain rendezvous hashing is only even on average. With 3 replicas and 16
 * partitions one replica gets 9 or more partitions (over half the work) for about one name set
 * in seven. Capping every replica at ⌈P/n⌉ (and only P mod n of them at that) makes the shares
 * differ by at most one, at the price of a few more moves when the live set changes: about 1.3×
 * the minimum P/n instead of exactly the minimum (measured over random names; see the tests).
 */
import { fnv1a32 } from '../random.js';

export { fnv1a32 };

/**
 * The partition of `name`, in [0, partitions): `fnv1a32(name) mod partitions`.
 * @param partitions The partition count, a positive integer (validated with the settings).
 */
export function partitionOf(name: string, partitions: number): number {
  return fnv1a32(name) % partitions;
}

/** MurmurHash3's 32-bit finalizer: every input bit flips each output bit with probability ~½. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The rendezvous weight of (partition, replica). FNV-1a alone mixes its last characters poorly
 * (`engine-1` and `engine-2` differ in few bits), which would make weights of similar names
 * correlated; the finalizers decorrelate them.
 */
function weight(partition: number, replicaHash: number): number {
  return fmix32(replicaHash ^ fmix32((partition + 0x9e3779b9) | 0));
}

/**
 * The target owner of every partition (index = partition) among `replicas`, or `[]` when there is
 * none. Deterministic in the *set* of replica ids (order and duplicates do not matter), so every
 * replica that sees the same live list computes the same assignment.
 *
 * Greedy by weight: all (partition, replica) pairs in decreasing rendezvous weight, a pair taken
 * when its partition is still unassigned and its replica below its cap. Caps: ⌊P/n⌋ for every
 * replica, ⌊P/n⌋ + 1 for the first P mod n replicas to get there, so shares differ by at most one.
 * Every partition is assigned: a replica's cap only falls and its count only grows, so a
 * partition left over would mean all replicas are full, i.e. P partitions already assigned.
 * Cost: O(P·n·log(P·n)), fine for the hundreds of partitions this is meant for.
 */
export function assignPartitions(partitions: number, replicas: readonly string[]): string[] {
  // Sorted by UTF-16 code units (not localeCompare): the same order in every process.
  const live = [...new Set(replicas)].sort();
  const n = live.length;
  if (n === 0) return [];
  const hashes = live.map(fnv1a32);
  const pairs: { w: number; p: number; r: number }[] = [];
  for (let p = 0; p < partitions; p++) {
    for (let r = 0; r < n; r++) pairs.push({ w: weight(p, hashes[r]!), p, r });
  }
  // Ties (equal 32-bit weights) broken by partition, then replica: a total order.
  pairs.sort((a, b) => b.w - a.w || a.p - b.p || a.r - b.r);

  const floor = Math.floor(partitions / n);
  const extra = partitions % n;
  const counts = new Array<number>(n).fill(0);
  let atCeiling = 0;
  const owner = new Array<number>(partitions).fill(-1);
  for (const { p, r } of pairs) {
    if (owner[p] !== -1) continue;
    const cap = atCeiling < extra ? floor + 1 : floor;
    if (counts[r]! >= cap) continue;
    owner[p] = r;
    counts[r]!++;
    if (counts[r] === floor + 1) atCeiling++;
  }
  return owner.map((r) => live[r]!);
}

/** What one replica knows when it plans its next step. */
export interface OwnershipInput {
  /** This replica's id (its lease holder string). Counted as live even if `live` misses it. */
  readonly self: string;
  /** The partition count, a positive integer. */
  readonly partitions: number;
  /** Ids of the live replicas (`ReplicaMembership.live()`), in any order. */
  readonly live: readonly string[];
  /** Partitions whose lease this replica holds (acquired and still renewed). */
  readonly held: ReadonlySet<number>;
  /** Current lease holder per partition (`RedisLeases.owners`); absent or undefined = free. */
  readonly owners: ReadonlyMap<number, string | undefined>;
}

/** Leases to try to acquire and to release, each in increasing partition order. */
export interface OwnershipPlan {
  readonly acquire: number[];
  readonly release: number[];
}

/**
 * One replica's next step towards {@link assignPartitions} of the live set (with `self` added).
 *
 * - acquire: partitions assigned to `self`, not held, and free — or leased to `self` already (a
 *   restarted replica with a stable id takes its leases back at once instead of waiting for them
 *   to expire). A partition held by another replica is never taken: its holder releases it when
 *   it sees the new assignment, or its lease expires when the holder died.
 * - release: held partitions assigned to another live replica (hand-over to a newcomer, which
 *   acquires them on a later step), and held partitions ≥ `partitions` (the count shrank).
 *
 * No partition stays unowned: every partition is assigned to some live replica, which acquires
 * it once free. A free partition assigned to a replica that died is taken over when that replica
 * drops out of `live` (its heartbeat expires) and the assignment moves it to a survivor; until
 * then it waits, at most the membership TTL. With no other live replica, everything is assigned
 * to `self`. During a hand-over a partition is unowned for up to one planning interval.
 */
export function planOwnership(input: OwnershipInput): OwnershipPlan {
  const { self, partitions, held, owners } = input;
  const target = assignPartitions(partitions, [...input.live, self]);
  const acquire: number[] = [];
  for (let p = 0; p < partitions; p++) {
    if (target[p] !== self || held.has(p)) continue;
    const owner = owners.get(p);
    if (owner === undefined || owner === self) acquire.push(p);
  }
  const release = [...held]
    .filter((p) => p >= partitions || target[p] !== self)
    .sort((a, b) => a - b);
  return { acquire, release };
}
