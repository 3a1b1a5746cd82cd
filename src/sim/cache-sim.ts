/**
 * @module sim/cache-sim
 * The cache simulator: replays a trace through an {@link EvictionPolicy} and counts hits and
 * byte hits (libCacheSim's `simulate`, the caffeine simulator's `Simulator`). Every request
 * counts; there is no warm-up.
 *
 * The simulator owns the clock: request i (0-based) gets `vtime = i`. Only a policy with
 * `usesFuture` (the offline optimum) also gets `nextAccessVtime`, the 0-based position of the
 * next request for the same key or −1. It comes from the trace when the trace carries it
 * (oracleGeneral's 1-based `next_access_vtime`, shifted to 0-based) or else from a backward pass
 * over the trace loaded into memory ({@link loadTrace}: keys interned to integer ids in an
 * `Int32Array`, one `Map<string, number>` for the interning, one `Int32Array` of next positions).
 *
 * Replaying a loaded trace ({@link simulateLoaded}), every request also carries its key's interned
 * id as `keyId`, which the policies' slot tables (`SlotTable`: every baseline, the learned
 * policy's structure duel) index by instead of hashing the key string, the bulk of an LRU
 * replay's time. The streaming {@link simulate} gives no ids (it would need the interning `Map`
 * itself), so policies look keys up by string there, unless it loads the trace for a policy that
 * reads the future.
 *
 * Sized traces: a policy in unit 'bytes' charges `sizeBytes`; in unit 'objects' every object
 * weighs 1. Unique bytes (the base of byte capacities) sum each distinct key's FIRST seen size,
 * the size it is first admitted with; a hit keeps the size the object was admitted with.
 */
import type { CacheRequest, EvictionPolicy } from '../policy/eviction-policy.js';
import type { TraceRequest } from './trace-reader.js';

/** What one replay measured. */
export interface SimResult {
  readonly requests: number;
  readonly hits: number;
  /** hits / requests (0 for an empty trace). */
  readonly hitRatio: number;
  /** Sum of the requested sizes (= requests for unit-size traces). */
  readonly bytes: number;
  /** Sum of the sizes of the requests that hit. */
  readonly byteHits: number;
  readonly byteHitRatio: number;
  /** Objects the policy evicted. */
  readonly evictions: number;
  /** Wall time of the replay (the policy's work plus the simulator loop), seconds. */
  readonly seconds: number;
  readonly requestsPerSec: number;
}

/** Options of {@link simulate} and {@link simulateLoaded}. */
export interface SimOptions {
  /** Treat every request as size 1 (a sized trace "as unit size"). Default false. */
  readonly unitSize?: boolean;
  /** Called with the requests replayed so far, every {@link PROGRESS_EVERY} requests. */
  readonly onProgress?: (done: number) => void;
  /**
   * {@link simulateLoaded} only: calls `onCheckpoint` every this many requests (and after the
   * last), with the requests replayed and the hits so far (the bench's "min vs LRU").
   */
  readonly checkpointEvery?: number;
  readonly onCheckpoint?: (requests: number, hits: number) => void;
}

/** A trace held in memory, keys interned to ids: what the bench replays many times. */
export interface LoadedTrace {
  /** Distinct keys; `keys[id]`. */
  readonly keys: readonly string[];
  /** Key id of each request. */
  readonly ids: Int32Array;
  /** Size of each request in bytes; undefined when every request has size 1. */
  readonly sizes: Float64Array | undefined;
  /** Timestamps, when the trace has them. */
  readonly timestamps: Float64Array | undefined;
  /** 0-based next position of each request's key (−1: none), when the trace carried it. */
  readonly oracleNext: Int32Array | undefined;
  readonly requests: number;
  readonly uniqueKeys: number;
  /** Sum over distinct keys of their first seen size (= uniqueKeys when unit size). */
  readonly uniqueBytes: number;
  /** Whether any request has a size other than 1. */
  readonly sized: boolean;
}

/** Trace sizes a capacity is a fraction of. */
export interface TraceTotals {
  readonly uniqueKeys: number;
  readonly uniqueBytes: number;
}

export const PROGRESS_EVERY = 1 << 16;

type Chunks = AsyncIterable<TraceRequest[]> | Iterable<TraceRequest[]>;

/**
 * Capacity for a cache of `fraction` of the trace's unique keys (unit 'objects') or unique bytes
 * (unit 'bytes'): floor(fraction × unique), as libCacheSim rounds.
 */
export function capacityFor(
  totals: TraceTotals,
  fraction: number,
  unit: 'objects' | 'bytes',
): number {
  return Math.floor(fraction * (unit === 'bytes' ? totals.uniqueBytes : totals.uniqueKeys));
}

/**
 * Loads a trace into memory-efficient arrays (see {@link LoadedTrace}): ~4 bytes a request for
 * unit-size traces, +8 with sizes, +8 with timestamps, plus one string per distinct key.
 */
export async function loadTrace(
  source: Chunks,
  opts: { readonly onProgress?: (done: number) => void } = {},
): Promise<LoadedTrace> {
  const intern = new Map<string, number>();
  const keys: string[] = [];
  let ids = new Int32Array(1 << 16);
  let sizes: Float64Array | undefined;
  let timestamps: Float64Array | undefined;
  let oracleNext: Int32Array | undefined;
  let n = 0;
  let uniqueBytes = 0;
  let nextReport = PROGRESS_EVERY;
  const grow = <A extends Int32Array | Float64Array>(a: A, make: (len: number) => A): A => {
    const b = make(a.length * 2);
    b.set(a);
    return b;
  };
  for await (const chunk of source) {
    for (const r of chunk) {
      if (n === ids.length) {
        ids = grow(ids, (l) => new Int32Array(l));
        if (sizes) sizes = grow(sizes, (l) => new Float64Array(l));
        if (timestamps) timestamps = grow(timestamps, (l) => new Float64Array(l));
        if (oracleNext) oracleNext = grow(oracleNext, (l) => new Int32Array(l));
      }
      let id = intern.get(r.key);
      if (id === undefined) {
        id = keys.length;
        intern.set(r.key, id);
        keys.push(r.key);
        uniqueBytes += r.sizeBytes;
      }
      ids[n] = id;
      if (r.sizeBytes !== 1 && sizes === undefined) {
        sizes = new Float64Array(ids.length);
        sizes.fill(1, 0, n);
      }
      if (sizes) sizes[n] = r.sizeBytes;
      if (r.timestamp !== undefined) {
        timestamps ??= new Float64Array(ids.length);
        timestamps[n] = r.timestamp;
      }
      if (r.nextAccessVtime !== undefined) {
        // Only a trace whose every request carries it (oracleGeneral) keeps it.
        if (n === 0) oracleNext = new Int32Array(ids.length);
        if (oracleNext) oracleNext[n] = r.nextAccessVtime < 0 ? -1 : r.nextAccessVtime - 1;
      } else {
        oracleNext = undefined;
      }
      n++;
    }
    if (n >= nextReport) {
      opts.onProgress?.(n);
      nextReport = n + PROGRESS_EVERY;
    }
  }
  return loadedTrace(
    keys,
    ids.slice(0, n),
    sizes?.slice(0, n),
    timestamps?.slice(0, n),
    oracleNext?.slice(0, n),
    uniqueBytes,
  );
}

/**
 * The first `n` requests of `trace` (views of its arrays, not copies), with its keys and totals:
 * what the bench's warm-up replays. Made by the same function as {@link loadTrace}'s result, so
 * V8 sees one object shape in the replay loop.
 */
export function tracePrefix(trace: LoadedTrace, n: number): LoadedTrace {
  const m = Math.max(0, Math.min(trace.requests, n));
  // A prefix has `sizes` exactly when the trace has, so it is as `sized` as the trace.
  return loadedTrace(
    trace.keys,
    trace.ids.subarray(0, m),
    trace.sizes?.subarray(0, m),
    trace.timestamps?.subarray(0, m),
    trace.oracleNext?.subarray(0, m),
    trace.uniqueBytes,
  );
}

/** The one place a {@link LoadedTrace} object is made (one hidden class for all of them). */
function loadedTrace(
  keys: readonly string[],
  ids: Int32Array,
  sizes: Float64Array | undefined,
  timestamps: Float64Array | undefined,
  oracleNext: Int32Array | undefined,
  uniqueBytes: number,
): LoadedTrace {
  return {
    keys,
    ids,
    sizes,
    timestamps,
    oracleNext,
    requests: ids.length,
    uniqueKeys: keys.length,
    uniqueBytes,
    sized: sizes !== undefined,
  };
}

/**
 * 0-based position of the next request for the same key as request i, or −1: one backward pass
 * with one `Int32Array` of last-seen positions per key id.
 */
export function computeNextAccess(ids: Int32Array, uniqueKeys: number): Int32Array {
  const next = new Int32Array(ids.length);
  const seen = new Int32Array(uniqueKeys).fill(-1);
  for (let i = ids.length - 1; i >= 0; i--) {
    const id = ids[i]!;
    next[i] = seen[id]!;
    seen[id] = i;
  }
  return next;
}

const nextCache = new WeakMap<LoadedTrace, Int32Array>();

/** Next-access positions of a loaded trace: the trace's own, or computed once and cached. */
export function nextAccessOf(trace: LoadedTrace): Int32Array {
  if (trace.oracleNext) return trace.oracleNext;
  let next = nextCache.get(trace);
  if (!next) {
    next = computeNextAccess(trace.ids, trace.uniqueKeys);
    nextCache.set(trace, next);
  }
  return next;
}

/** Replays a loaded trace through `policy`. */
export function simulateLoaded(
  trace: LoadedTrace,
  policy: EvictionPolicy,
  opts: SimOptions = {},
): SimResult {
  const { keys, ids, timestamps } = trace;
  const sizes = opts.unitSize ? undefined : trace.sizes;
  const next = policy.usesFuture ? nextAccessOf(trace) : undefined;
  const n = trace.requests;
  const evictions0 = policy.evictions;
  let hits = 0;
  let bytes = 0;
  let byteHits = 0;
  const t0 = performance.now();
  const step = Math.max(1, opts.checkpointEvery ?? PROGRESS_EVERY);
  for (let start = 0; start < n; start += step) {
    const end = Math.min(n, start + step);
    // One loop per request shape keeps the request objects monomorphic. Every request carries
    // its key's interned id as `keyId`, so policies can skip hashing the key.
    if (next === undefined && timestamps === undefined) {
      for (let i = start; i < end; i++) {
        const sizeBytes = sizes === undefined ? 1 : sizes[i]!;
        const keyId = ids[i]!;
        const req: CacheRequest = { key: keys[keyId]!, sizeBytes, vtime: i, keyId };
        bytes += sizeBytes;
        if (policy.access(req)) {
          hits++;
          byteHits += sizeBytes;
        }
      }
    } else {
      for (let i = start; i < end; i++) {
        const sizeBytes = sizes === undefined ? 1 : sizes[i]!;
        const keyId = ids[i]!;
        const req = makeRequest(keys[keyId]!, sizeBytes, i, timestamps?.[i], next?.[i], keyId);
        bytes += sizeBytes;
        if (policy.access(req)) {
          hits++;
          byteHits += sizeBytes;
        }
      }
    }
    opts.onCheckpoint?.(end, hits);
    opts.onProgress?.(end);
  }
  return result(n, hits, bytes, byteHits, policy.evictions - evictions0, t0);
}

/**
 * Replays a stream of request chunks (what {@link readTrace} yields) through `policy`. Online
 * policies stream in constant memory. A `usesFuture` policy streams too when the trace carries
 * next-access times (oracleGeneral); otherwise the trace is first loaded with {@link loadTrace}
 * and the next accesses computed by a backward pass (two passes over the data).
 */
export async function simulate(
  requests: Chunks,
  policy: EvictionPolicy,
  opts: SimOptions = {},
): Promise<SimResult> {
  const it = toAsyncIterator(requests);
  const first = await it.next();
  if (first.done === true) return result(0, 0, 0, 0, 0, performance.now());
  const rest: AsyncIterable<TraceRequest[]> = {
    [Symbol.asyncIterator]: () => it,
  };
  const head = first.value;
  const all = prepend(head, rest);
  if (policy.usesFuture && head[0]?.nextAccessVtime === undefined) {
    const trace = await loadTrace(all);
    return simulateLoaded(trace, policy, opts);
  }
  const evictions0 = policy.evictions;
  const unit = opts.unitSize === true;
  const future = policy.usesFuture;
  let vtime = 0;
  let hits = 0;
  let bytes = 0;
  let byteHits = 0;
  let nextReport = PROGRESS_EVERY;
  const t0 = performance.now();
  for await (const chunk of all) {
    for (const r of chunk) {
      const sizeBytes = unit ? 1 : r.sizeBytes;
      let next: number | undefined;
      if (future) {
        const raw = r.nextAccessVtime ?? -1;
        next = raw < 0 ? -1 : raw - 1;
      }
      const req = makeRequest(r.key, sizeBytes, vtime++, r.timestamp, next);
      bytes += sizeBytes;
      if (policy.access(req)) {
        hits++;
        byteHits += sizeBytes;
      }
    }
    if (vtime >= nextReport) {
      opts.onProgress?.(vtime);
      nextReport = vtime + PROGRESS_EVERY;
    }
  }
  return result(vtime, hits, bytes, byteHits, policy.evictions - evictions0, t0);
}

/** A request of the shape its defined fields call for (`keyId`: {@link simulateLoaded} only). */
function makeRequest(
  key: string,
  sizeBytes: number,
  vtime: number,
  timestamp: number | undefined,
  nextAccessVtime: number | undefined,
  keyId?: number,
): CacheRequest {
  if (keyId !== undefined) {
    if (timestamp === undefined) {
      return nextAccessVtime === undefined
        ? { key, sizeBytes, vtime, keyId }
        : { key, sizeBytes, vtime, nextAccessVtime, keyId };
    }
    return nextAccessVtime === undefined
      ? { key, sizeBytes, vtime, timestamp, keyId }
      : { key, sizeBytes, vtime, timestamp, nextAccessVtime, keyId };
  }
  if (timestamp === undefined) {
    return nextAccessVtime === undefined
      ? { key, sizeBytes, vtime }
      : { key, sizeBytes, vtime, nextAccessVtime };
  }
  return nextAccessVtime === undefined
    ? { key, sizeBytes, vtime, timestamp }
    : { key, sizeBytes, vtime, timestamp, nextAccessVtime };
}

function result(
  requests: number,
  hits: number,
  bytes: number,
  byteHits: number,
  evictions: number,
  t0: number,
): SimResult {
  const seconds = (performance.now() - t0) / 1000;
  return {
    requests,
    hits,
    hitRatio: requests > 0 ? hits / requests : 0,
    bytes,
    byteHits,
    byteHitRatio: bytes > 0 ? byteHits / bytes : 0,
    evictions,
    seconds,
    requestsPerSec: seconds > 0 ? Math.round(requests / seconds) : 0,
  };
}

function toAsyncIterator(source: Chunks): AsyncIterator<TraceRequest[]> {
  if (Symbol.asyncIterator in source) return source[Symbol.asyncIterator]();
  const it = source[Symbol.iterator]();
  return { next: () => Promise.resolve(it.next()) };
}

async function* prepend(
  head: TraceRequest[],
  rest: AsyncIterable<TraceRequest[]>,
): AsyncGenerator<TraceRequest[], void, undefined> {
  yield head;
  yield* rest;
}
