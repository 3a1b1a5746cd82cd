import type { CacheRequest } from '../../src/policy/eviction-policy.js';

/** Small settings so tests train within a few thousand requests. */
export const FAST_SETTINGS = {
  retrainMinRequests: 2000,
  retrainFraction: 0,
  minRows: 128,
  minTableLabels: 128,
  bufferRows: 1024,
  epochs: 2,
  batchSize: 128,
} as const;

/**
 * A seeded synthetic trace: `hot` keys requested in a round-robin (period `hot` requests between
 * hot slots) interleaved with one-shot keys and a skewed warm set.
 */
export function syntheticTrace(n: number, seed = 7, hot = 60): CacheRequest[] {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const out: CacheRequest[] = [];
  let oneShot = 0;
  for (let i = 0; i < n; i++) {
    let key: string;
    const r = rand();
    if (i % 2 === 0) key = `hot-${(i / 2) % hot}`;
    else if (r < 0.6) key = `once-${oneShot++}`;
    else key = `warm-${Math.floor(Math.pow(rand(), 3) * 400)}`;
    out.push({ key, sizeBytes: 1, vtime: i });
  }
  return out;
}

/** The request as the policy sees it, with a `nextAccessVtime` that throws when read. */
export function guarded(req: CacheRequest): CacheRequest {
  return Object.defineProperty({ ...req }, 'nextAccessVtime', {
    get(): number {
      throw new Error(`nextAccessVtime read at vtime ${req.vtime}`);
    },
    enumerable: false,
  });
}
