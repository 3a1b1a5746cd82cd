/**
 * @module state/leases
 * Leases with fencing tokens and replica membership in Redis: what several engine replicas use to
 * split the partitions between them (`cluster/partitions` decides who should own what).
 *
 * A lease alone does not make a single writer: a replica paused (GC, stopped VM) or cut off past
 * its TTL still believes it holds the lease when it wakes up. So every acquisition takes a new
 * *fencing token* and writes are checked against it where they land (Kleppmann, "How to do
 * distributed locking", 2016; Redis docs, "Distributed locks with Redis"). Here the storage is
 * Redis itself, so the check is exact: {@link RedisLeases.fencedHset} compares the lease value and
 * writes in one script, and a holder whose lease was taken over — or merely expired — is refused.
 *
 * Keys (prefix e.g. `prescient:`):
 * - `<prefix>lease:<name>`: string `<holder> <fence>`, PX the lease TTL;
 * - `<prefix>lease:<name>:fence`: the fence counter, INCR on every acquisition, never expires,
 *   so fences of one lease name only grow (lease names must not end in `:fence`);
 * - `<prefix>replicas`: sorted set replica id → last heartbeat (Redis server time, ms).
 *
 * One Redis (or one primary): the Redlock multi-primary algorithm is not used. A failover to a
 * replica that missed the last writes can lose a lease or a fence increment; the fence check of
 * {@link RedisLeases.fencedHset} still holds, as it reads the same Redis it writes.
 */
import type { RedisConnection } from '../clients/redis-client.js';

/** A lease this replica holds: `fence` is greater than that of any earlier holder of `name`. */
export interface Lease {
  readonly name: string;
  readonly holder: string;
  readonly fence: number;
}

/** Who holds a lease, as read from Redis. */
export interface LeaseOwner {
  readonly holder: string;
  readonly fence: number;
}

/**
 * KEYS: lease, fence counter. ARGV: holder, ttl ms. Takes the lease if it is free or held by the
 * same holder (the value is `<holder> <digits>`), with a new fence; returns the fence or nil.
 */
const ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if v then
  local n = #ARGV[1]
  if string.sub(v, 1, n + 1) ~= ARGV[1] .. ' ' or not string.find(v, '^%d+$', n + 2) then
    return false
  end
end
local fence = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. fence, 'PX', ARGV[2])
return fence
`;

/** KEYS: lease. ARGV: expected value, ttl ms. 1 if extended, 0 if the lease is no longer ours. */
const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`;

/** KEYS: lease. ARGV: expected value. 1 if deleted, 0 if the lease is no longer ours. */
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`;

/**
 * KEYS: lease, hash, keys to delete... ARGV: expected lease value, field, value, field, value...
 * Writes the fields and deletes the keys only while the lease value is the expected one.
 */
const FENCED_HSET = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if #ARGV > 1 then redis.call('HSET', KEYS[2], unpack(ARGV, 2)) end
if #KEYS > 2 then redis.call('DEL', unpack(KEYS, 3)) end
return 1
`;

/** The lease value: the holder, a space, the fence (the holder may itself contain spaces). */
function leaseValue(holder: string, fence: number): string {
  return `${holder} ${fence}`;
}

function parseLeaseValue(value: string): LeaseOwner {
  const space = value.lastIndexOf(' ');
  return { holder: value.slice(0, space), fence: Number(value.slice(space + 1)) };
}

export class RedisLeases {
  /**
   * @param prefix Key prefix, e.g. `prescient:`.
   * @param ttlMs Lease lifetime from the last acquire or renew, in ms (an integer > 0). Renew
   *   well within it (e.g. every ttlMs / 3) so one slow round trip does not lose the lease.
   */
  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
    readonly ttlMs: number,
  ) {}

  private key(name: string): string {
    return `${this.prefix}lease:${name}`;
  }

  /**
   * Takes the lease `name` for `holder` if it is free, or already held by the same holder string
   * (a restarted replica with a stable id gets its lease back without waiting for the TTL). Each
   * success takes a new fence, also when re-acquiring. Undefined if another holder has it.
   */
  async acquire(name: string, holder: string): Promise<Lease | undefined> {
    const key = this.key(name);
    const fence = (await this.redis.eval(
      ACQUIRE,
      2,
      key,
      `${key}:fence`,
      holder,
      String(this.ttlMs),
    )) as number | null;
    return fence === null ? undefined : { name, holder, fence };
  }

  /** Extends the lease by `ttlMs` from now; false if it expired or another holder has it since. */
  async renew(lease: Lease): Promise<boolean> {
    const res = await this.redis.eval(
      RENEW,
      1,
      this.key(lease.name),
      leaseValue(lease.holder, lease.fence),
      String(this.ttlMs),
    );
    return res === 1;
  }

  /** Gives the lease up now; false (and nothing deleted) if it is no longer this lease. */
  async release(lease: Lease): Promise<boolean> {
    const res = await this.redis.eval(
      RELEASE,
      1,
      this.key(lease.name),
      leaseValue(lease.holder, lease.fence),
    );
    return res === 1;
  }

  /** The current holder of `name`, or undefined when the lease is free. */
  async owner(name: string): Promise<LeaseOwner | undefined> {
    const value = await this.redis.get(this.key(name));
    return value === null ? undefined : parseLeaseValue(value);
  }

  /** The current holders of `names` in one round trip (MGET); free leases map to undefined. */
  async owners(names: readonly string[]): Promise<Map<string, LeaseOwner | undefined>> {
    const out = new Map<string, LeaseOwner | undefined>();
    if (names.length === 0) return out;
    const values = await this.redis.mget(names.map((n) => this.key(n)));
    names.forEach((name, i) => {
      const value = values[i];
      out.set(name, value === null || value === undefined ? undefined : parseLeaseValue(value));
    });
    return out;
  }

  /**
   * Writes `fields` into the hash `key` — and deletes the keys `del` in the same step — only if
   * `lease` is still the current lease (same holder, same fence, not expired): the fenced write
   * of a checkpoint's pointer switch, so a replica that lost its lease cannot overwrite the new
   * owner's checkpoint. Returns false, writing nothing, when fenced out.
   *
   * Only this step is fenced: anything written before it (a checkpoint's chunks) must go to keys
   * the new owner never uses, e.g. keys that include the fence.
   */
  async fencedHset(
    lease: Lease,
    key: string,
    fields: Readonly<Record<string, string | number>>,
    del: readonly string[] = [],
  ): Promise<boolean> {
    const args = Object.entries(fields).flatMap(([f, v]) => [f, String(v)]);
    const res = await this.redis.eval(
      FENCED_HSET,
      2 + del.length,
      this.key(lease.name),
      key,
      ...del,
      leaseValue(lease.holder, lease.fence),
      ...args,
    );
    return res === 1;
  }
}

/**
 * KEYS: replicas zset. ARGV: replica, ttl ms. Records a heartbeat at the server's time and drops
 * members silent for 10 TTLs (long dead; the factor keeps the set small without racing `live`).
 */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - 10 * tonumber(ARGV[2])))
return now
`;

/** KEYS: replicas zset. ARGV: ttl ms. Members whose last heartbeat is younger than the TTL. */
const LIVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf')
`;

/**
 * Which replicas are alive: each calls {@link heartbeat} well within `ttlMs` (e.g. every ttlMs / 3);
 * a replica is live while its last heartbeat is younger than `ttlMs`.
 *
 * Clock: heartbeats and the liveness cut-off are both stamped with the Redis server's `TIME`
 * inside the scripts, never a replica's clock, so clock skew between replica hosts does not
 * matter; only the one server clock has to move steadily (a jump forward expires everyone for a
 * moment, like a jump of the clock that expires PX keys). Needs Redis ≥ 5 (scripts replicated as
 * effects, so `TIME` before a write is allowed).
 */
export class ReplicaMembership {
  private readonly key: string;

  /**
   * @param prefix Key prefix, e.g. `prescient:`; the set is `<prefix>replicas`.
   * @param ttlMs How long a heartbeat keeps a replica live, in ms.
   */
  constructor(
    private readonly redis: RedisConnection,
    prefix: string,
    readonly ttlMs: number,
  ) {
    this.key = `${prefix}replicas`;
  }

  /** Marks `replica` live for the next `ttlMs`, and forgets replicas silent for 10 × `ttlMs`. */
  async heartbeat(replica: string): Promise<void> {
    await this.redis.eval(HEARTBEAT, 1, this.key, replica, String(this.ttlMs));
  }

  /** The live replicas' ids, sorted (UTF-16 code unit order, the same in every process). */
  async live(): Promise<string[]> {
    const members = (await this.redis.eval(LIVE, 1, this.key, String(this.ttlMs))) as string[];
    return members.sort();
  }

  /** Removes `replica` at once (graceful shutdown), rather than after its TTL. */
  async leave(replica: string): Promise<void> {
    await this.redis.zrem(this.key, replica);
  }
}
