/**
 * @module balance/inverse-latency-weigher
 * The heuristic floor for weights: share ∝ 1 / EWMA latency, the rule behind "least response
 * time" balancing (e.g. NGINX Plus `least_time`, HAProxy agent-driven weights). A backend that
 * has answered only with errors recently gets its latency inflated by its error rate, so a fast
 * failing backend is not preferred. Reason code `HEURISTIC`.
 */
import type { WeightDecision } from '../decisions.js';
import type { BackendFeatures } from '../features/types.js';
import { weighers, type Weigher } from './weigher.js';

/** Latencies below this are treated as this, so a 0 ms sample cannot take all the traffic. */
const MIN_LATENCY_MS = 1;

export class InverseLatencyWeigher implements Weigher {
  readonly id = 'inverse-latency';
  readonly model = { id: 'inverse-latency', version: 'heuristic' };

  weigh(backends: readonly BackendFeatures[]): WeightDecision[] {
    const costs = backends.map(
      (b) => Math.max(MIN_LATENCY_MS, b.ewmaLatencyMs) / Math.max(1e-3, 1 - b.errorRate),
    );
    const inv = costs.map((c) => 1 / c);
    const total = inv.reduce((a, b) => a + b, 0);
    return backends.map((b, i) => {
      const weight = total > 0 ? inv[i]! / total : 1 / backends.length;
      const pct = (weight * 100).toFixed(1);
      return {
        backend: b.backend,
        weight,
        reason: 'HEURISTIC',
        text:
          `${pct} % of traffic: inverse of EWMA latency ${b.ewmaLatencyMs.toFixed(1)} ms` +
          (b.errorRate > 0.005
            ? ` inflated by error rate ${(b.errorRate * 100).toFixed(1)} %`
            : ''),
        // Log-linear split of the share: log w = −log latency + log(1 − errorRate) − log Σ.
        attributions: {
          latency: -Math.log(Math.max(MIN_LATENCY_MS, b.ewmaLatencyMs)),
          errors: Math.log(Math.max(1e-3, 1 - b.errorRate)),
          normalisation: -Math.log(total),
        },
        inputs: {
          ewmaLatencyMs: b.ewmaLatencyMs,
          errorRate: b.errorRate,
          p99Ms: b.p99Ms,
          requestRatePerSec: b.requestRatePerSec,
        },
      };
    });
  }
}

weighers.register('inverse-latency', () => new InverseLatencyWeigher());
