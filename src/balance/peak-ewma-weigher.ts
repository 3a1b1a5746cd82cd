/**
 * @module balance/peak-ewma-weigher
 * Peak-EWMA weights, after Finagle's `PeakEwma` balancer and Linkerd 2 / tower's
 * `tower::load::PeakEwma` (Finagle "Aperture / P2C + PeakEWMA", 2016): the cost of a backend is
 * its peak-EWMA latency times (in-flight + 1), so a backend that just got slow, or that already
 * holds many outstanding requests, costs more; share ∝ 1 / cost. Those balancers compare the
 * cost of two random picks per request; as published weights the same cost gives a split.
 * The peak-EWMA itself is the feature store's (features/backend-stats.ts). A backend's cost is
 * also divided by its success rate, as the inverse-latency floor does, so that a fast failing
 * backend is not preferred (Finagle leaves errors to its failure accrual). Reason `HEURISTIC`.
 */
import type { WeightDecision } from '../decisions.js';
import type { BackendFeatures } from '../features/types.js';
import { limitShares, NO_LIMITS, type ShareLimits } from './shares.js';
import { weighers, type WeighContext, type Weigher } from './weigher.js';

/** Latencies below this are treated as this, so a 0 ms sample cannot take all the traffic. */
const MIN_LATENCY_MS = 1;

export class PeakEwmaWeigher implements Weigher {
  readonly id = 'peak-ewma';
  readonly model = { id: 'peak-ewma', version: 'heuristic' };

  constructor(readonly limits: ShareLimits = NO_LIMITS) {}

  weigh(backends: readonly BackendFeatures[], context?: WeighContext): WeightDecision[] {
    const costs = backends.map(
      (b) =>
        (Math.max(MIN_LATENCY_MS, b.peakEwmaLatencyMs) * (Math.max(0, b.inflight) + 1)) /
        Math.max(1e-3, 1 - b.errorRate),
    );
    const inv = costs.map((c) => 1 / c);
    const total = inv.reduce((a, b) => a + b, 0);
    const previous = context?.previous;
    const shares = limitShares(
      inv,
      previous && backends.map((b) => previous.get(b.backend)),
      this.limits,
    );
    return backends.map((b, i) => {
      const weight = shares[i]!;
      const raw = total > 0 ? inv[i]! / total : 1 / backends.length;
      const inflight = Math.max(0, b.inflight);
      return {
        backend: b.backend,
        weight,
        reason: 'HEURISTIC',
        text:
          `${(weight * 100).toFixed(1)} % of traffic: cost = peak-EWMA ` +
          `${b.peakEwmaLatencyMs.toFixed(1)} ms × (${inflight} in flight + 1)` +
          (b.errorRate > 0.005 ? ` / success rate ${((1 - b.errorRate) * 100).toFixed(1)} %` : ''),
        // log w = −log peakEwma − log(inflight + 1) + log(1 − errorRate) − log Σ (+ limits).
        attributions: {
          latency: -Math.log(Math.max(MIN_LATENCY_MS, b.peakEwmaLatencyMs)),
          inflight: -Math.log(inflight + 1),
          errors: Math.log(Math.max(1e-3, 1 - b.errorRate)),
          normalisation: -Math.log(total),
          override: Math.log(Math.max(weight, 1e-12)) - Math.log(Math.max(raw, 1e-12)),
        },
        inputs: {
          peakEwmaLatencyMs: b.peakEwmaLatencyMs,
          inflight,
          errorRate: b.errorRate,
          cost: costs[i]!,
        },
      };
    });
  }
}

weighers.register('peak-ewma', () => new PeakEwmaWeigher());
