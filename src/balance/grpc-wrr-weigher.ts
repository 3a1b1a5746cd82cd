/**
 * @module balance/grpc-wrr-weigher
 * gRPC client-side weighted round robin (gRFC A58 `weighted_round_robin`): each backend reports
 * its load (ORCA, gRFC A51) and its weight is
 *
 *     weight = qps / (utilization + errorUtilizationPenalty × eps / qps)
 *
 * with qps the backend's request rate, eps its error rate per second and utilization its CPU
 * utilization. Prescient has no CPU reports, so utilization is derived from the proxy telemetry
 * by Little's law: the mean number of requests the backend holds, qps × EWMA latency (s), or the
 * reported in-flight count when that is larger. Either way qps / utilization ≈ 1 / latency for
 * an unloaded backend, and a backend that needs more concurrency for the same qps (slower) gets
 * less. eps / qps is the error rate. As in A58, a backend without a usable report yet (qps or
 * utilization 0) gets the mean weight of the others. The A58 `blackout_period` and
 * `weight_expiration_period` are left to the feature store's decay. Reason code `HEURISTIC`.
 */
import type { WeightDecision } from '../decisions.js';
import type { BackendFeatures } from '../features/types.js';
import { limitShares, NO_LIMITS, type ShareLimits } from './shares.js';
import { weighers, type WeighContext, type Weigher } from './weigher.js';

export interface GrpcWrrOptions extends ShareLimits {
  /** A58 `error_utilization_penalty`, default 1.0 as in A58. */
  readonly errorUtilizationPenalty: number;
}

export const GRPC_WRR_DEFAULTS: GrpcWrrOptions = { ...NO_LIMITS, errorUtilizationPenalty: 1 };

export class GrpcWrrWeigher implements Weigher {
  readonly id = 'grpc-wrr';
  readonly model = { id: 'grpc-wrr', version: 'heuristic' };
  readonly limits: ShareLimits;

  constructor(private readonly options: GrpcWrrOptions = GRPC_WRR_DEFAULTS) {
    this.limits = options;
  }

  weigh(backends: readonly BackendFeatures[], context?: WeighContext): WeightDecision[] {
    const rows = backends.map((b) => {
      const qps = Math.max(0, b.requestRatePerSec);
      const utilization = Math.max(qps * (Math.max(0, b.ewmaLatencyMs) / 1000), b.inflight);
      const eps = qps * Math.min(1, Math.max(0, b.errorRate));
      const denom =
        utilization + (qps > 0 ? (this.options.errorUtilizationPenalty * eps) / qps : 0);
      const weight = qps > 0 && utilization > 0 && denom > 0 ? qps / denom : NaN;
      return { qps, utilization, eps, weight: Number.isFinite(weight) ? weight : NaN };
    });
    const known = rows.filter((r) => !Number.isNaN(r.weight));
    const mean = known.length > 0 ? known.reduce((a, r) => a + r.weight, 0) / known.length : 1;
    const raw = rows.map((r) => (Number.isNaN(r.weight) ? mean : r.weight));
    const total = raw.reduce((a, b) => a + b, 0);
    const previous = context?.previous;
    const shares = limitShares(
      raw,
      previous && backends.map((b) => previous.get(b.backend)),
      this.limits,
    );
    return backends.map((b, i) => {
      const r = rows[i]!;
      const weight = shares[i]!;
      const share = total > 0 ? raw[i]! / total : 1 / backends.length;
      const unknown = Number.isNaN(r.weight);
      return {
        backend: b.backend,
        weight,
        reason: 'HEURISTIC',
        text: unknown
          ? `${(weight * 100).toFixed(1)} % of traffic: no load report yet, mean weight (gRPC WRR)`
          : `${(weight * 100).toFixed(1)} % of traffic: gRPC WRR qps ${r.qps.toFixed(1)} / ` +
            `(utilization ${r.utilization.toFixed(2)} + penalty × error rate ${(b.errorRate * 100).toFixed(1)} %)`,
        attributions: {
          qps: unknown ? 0 : Math.log(Math.max(r.qps, 1e-12)),
          utilization: unknown ? 0 : -Math.log(Math.max(r.utilization, 1e-12)),
          errors: unknown
            ? 0
            : Math.log(Math.max(r.utilization, 1e-12)) -
              Math.log(
                Math.max(1e-12, r.utilization + this.options.errorUtilizationPenalty * b.errorRate),
              ),
          meanWeight: unknown ? Math.log(Math.max(mean, 1e-12)) : 0,
          normalisation: -Math.log(Math.max(total, 1e-300)),
          override: Math.log(Math.max(weight, 1e-12)) - Math.log(Math.max(share, 1e-12)),
        },
        inputs: {
          qps: r.qps,
          utilization: r.utilization,
          eps: r.eps,
          errorRate: b.errorRate,
          ewmaLatencyMs: b.ewmaLatencyMs,
          inflight: b.inflight,
        },
      };
    });
  }
}

weighers.register('grpc-wrr', () => new GrpcWrrWeigher());
