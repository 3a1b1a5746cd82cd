/**
 * @module balance/equal-weigher
 * Static equal shares: every backend gets 1/n, whatever its health. The weight document a plain
 * round-robin balancer (NGINX `upstream` default, HAProxy `balance roundrobin` with equal
 * weights) implies; the floor every other weigher is compared with. Reason code `HEURISTIC`.
 */
import type { WeightDecision } from '../decisions.js';
import type { BackendFeatures } from '../features/types.js';
import { limitShares, NO_LIMITS, type ShareLimits } from './shares.js';
import { weighers, type WeighContext, type Weigher } from './weigher.js';

export class EqualWeigher implements Weigher {
  readonly id = 'equal';
  readonly model = { id: 'equal', version: 'static' };

  /** @param limits floor and step limit; default none (the static split is published as is). */
  constructor(readonly limits: ShareLimits = NO_LIMITS) {}

  weigh(backends: readonly BackendFeatures[], context?: WeighContext): WeightDecision[] {
    const n = backends.length;
    const previous = context?.previous;
    const shares = limitShares(
      backends.map(() => 1 / n),
      previous && backends.map((b) => previous.get(b.backend)),
      this.limits,
    );
    return backends.map((b, i) => {
      const weight = shares[i]!;
      return {
        backend: b.backend,
        weight,
        reason: 'HEURISTIC',
        text: `${(weight * 100).toFixed(1)} % of traffic: equal split over ${n} backends`,
        attributions: {
          equalSplit: Math.log(1 / n),
          override: Math.log(Math.max(weight, 1e-12)) - Math.log(1 / n),
        },
        inputs: { backends: n },
      };
    });
  }
}

weighers.register('equal', () => new EqualWeigher());
