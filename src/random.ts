/**
 * @module random
 * The one seeded pseudo-random generator of the project: mulberry32 (Tommy Ettinger, public
 * domain), 32 bits of state, good enough for sampling and simulation, and reproducible: every
 * seeded run (simulators, samplers, model initialisation, test workloads) draws the same numbers.
 */

/** A generator of uniform numbers in [0, 1) from `seed`. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * FNV-1a, 32 bits, over the UTF-16 code units of `s` (equal to the standard FNV-1a of the bytes
 * for ASCII strings). Stable across restarts and processes; not a cryptographic hash.
 */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
