/**
 * @module policy/eviction-policy
 * The contract of cache eviction policies as the simulator drives them (libCacheSim's
 * `cache_t`, the caffeine simulator's `Policy`): one request at a time, the policy says hit or
 * miss, admits on a miss and evicts until it fits its capacity. One file per algorithm, each
 * opening with its paper; a registry; one shared contract test
 * (`test/policy/eviction-policy.contract.test.ts`) plus golden tests on tiny traces.
 *
 * Honest online protocol: at request t a policy may use requests before t and the key, size and
 * time of request t itself, never `nextAccessVtime` — only the offline optimum (Bélády), which is
 * marked `usesFuture`, reads it.
 */
import { Registry } from '../registry.js';

export interface CacheRequest {
  readonly key: string;
  /** 1 for unit-size traces. */
  readonly sizeBytes: number;
  /** Position of the request in the trace (0-based): the simulator's clock. */
  readonly vtime: number;
  /** Trace timestamp, when the trace has one (unit as in the trace). */
  readonly timestamp?: number;
  /**
   * 0-based position of the next request for the same key, or -1 if none. Offline knowledge:
   * present only when the simulator runs a policy with `usesFuture`.
   */
  readonly nextAccessVtime?: number;
  /**
   * A dense non-negative integer naming `key` within one replay: the same key always has the
   * same id and different keys different ids (0 … distinct keys − 1). Set by the simulator when
   * it replays a loaded trace, whose keys are already interned; policies may index arrays by it
   * instead of hashing `key` (`SlotTable` does). Absent on streamed and live requests: a policy
   * must then work from `key` alone, and one policy instance must not see ids from two replays.
   */
  readonly keyId?: number;
}

export interface PolicyOptions {
  /** Objects (unit 'objects') or bytes (unit 'bytes'). */
  readonly capacity: number;
  readonly unit: 'objects' | 'bytes';
  /** Seed for policies that sample (sampled LRU, learned policies). Default 1. */
  readonly seed?: number;
}

export interface EvictionPolicy {
  readonly id: string;
  /** True only for the offline optimum: the simulator then provides `nextAccessVtime`. */
  readonly usesFuture: boolean;
  /** Handles one request: true on a hit. On a miss the object is admitted (or bypassed). */
  access(req: CacheRequest): boolean;
  /** Objects evicted so far. */
  readonly evictions: number;
  /** Objects (unit 'objects') or bytes (unit 'bytes') held now; never above capacity. */
  readonly used: number;
  /** Whether `key` is cached now. */
  has(key: string): boolean;
}

export const evictionPolicies = new Registry<EvictionPolicy, PolicyOptions>('eviction policy');
