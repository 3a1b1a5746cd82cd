/**
 * @module client/pickers
 * Backend pickers for the WeightsClient SDK, pure and deterministic (no I/O, an injectable RNG):
 *
 * - {@link SmoothWeightedRoundRobin}: nginx's smooth weighted round robin (`ngx_http_upstream_
 *   get_peer` in ngx_http_upstream_round_robin.c, 2012): every pick adds each backend's weight
 *   to its current value, takes the largest and subtracts the total from it. Over a cycle each
 *   backend is picked exactly in proportion to its weight, interleaved (5/1/1 → a a b a c a a).
 * - {@link WeightedP2C}: weighted power of two choices (Mitzenmacher, "The Power of Two Choices
 *   in Randomized Load Balancing", 2001; Finagle's P2C): draw two distinct backends with
 *   probability ∝ weight, keep the one with fewer in-flight requests per unit of weight.
 */

/** A backend and its (non-negative) weight; only the ratios matter. */
export interface WeightedBackend {
  readonly backend: string;
  readonly weight: number;
}

export interface Picker {
  /** The next backend, or undefined when none has a positive weight. */
  pick(): string | undefined;
}

export { mulberry32 as seededRandom } from '../random.js';

export class SmoothWeightedRoundRobin implements Picker {
  private readonly backends: WeightedBackend[];
  private readonly current: number[];
  private readonly total: number;

  constructor(backends: readonly WeightedBackend[]) {
    this.backends = backends.filter((b) => b.weight > 0);
    this.current = this.backends.map(() => 0);
    this.total = this.backends.reduce((a, b) => a + b.weight, 0);
  }

  pick(): string | undefined {
    let best = -1;
    for (let i = 0; i < this.backends.length; i++) {
      this.current[i]! += this.backends[i]!.weight;
      if (best < 0 || this.current[i]! > this.current[best]!) best = i;
    }
    if (best < 0) return undefined;
    this.current[best]! -= this.total;
    return this.backends[best]!.backend;
  }
}

export class WeightedP2C implements Picker {
  private readonly backends: WeightedBackend[];
  private readonly total: number;

  constructor(
    backends: readonly WeightedBackend[],
    /** In-flight requests of a backend (the caller's own count). */
    private readonly inflight: (backend: string) => number,
    private readonly random: () => number = Math.random,
  ) {
    this.backends = backends.filter((b) => b.weight > 0);
    this.total = this.backends.reduce((a, b) => a + b.weight, 0);
  }

  /** Index drawn with probability ∝ weight, skipping `except` (its weight taken out). */
  private draw(except: number): number {
    const total = except >= 0 ? this.total - this.backends[except]!.weight : this.total;
    let r = this.random() * total;
    let last = -1;
    for (let i = 0; i < this.backends.length; i++) {
      if (i === except) continue;
      last = i;
      r -= this.backends[i]!.weight;
      if (r < 0) return i;
    }
    return last; // rounding at the top end
  }

  pick(): string | undefined {
    if (this.backends.length === 0) return undefined;
    if (this.backends.length === 1) return this.backends[0]!.backend;
    const a = this.draw(-1);
    const b = this.draw(a);
    const cost = (i: number) =>
      (this.inflight(this.backends[i]!.backend) + 1) / this.backends[i]!.weight;
    return this.backends[cost(b) < cost(a) ? b : a]!.backend;
  }
}
