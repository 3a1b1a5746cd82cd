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
