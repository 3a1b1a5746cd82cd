/** Tiny seeded synthetic series for the forecaster tests. */
import type { SeriesInfo } from '../../src/forecast/forecaster.js';

/** mulberry32: a small seeded PRNG, so every test series is the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws (Box–Muller) from a seeded PRNG. */
export function gaussian(seed: number): () => number {
  const u = rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

export const hourly = (season = 24): SeriesInfo => ({ stepSec: 3600, startMs: 0, season });

/** Level + daily sine + seeded Gaussian noise. */
export function noisySeasonal(n: number, season: number, sigma: number, seed = 1): Float64Array {
  const z = gaussian(seed);
  return Float64Array.from(
    { length: n },
    (_, t) => 100 + 20 * Math.sin((2 * Math.PI * t) / season) + sigma * z(),
  );
}
