/** Tiny seeded synthetic series for the forecaster tests. */
import type { SeriesInfo } from '../../src/forecast/forecaster.js';

import { mulberry32 as rng } from '../../src/random.js';

export { rng };

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
