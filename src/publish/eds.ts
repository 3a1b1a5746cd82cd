/**
 * @module publish/eds
 * A weights document as an Envoy v3 `ClusterLoadAssignment` (envoy.config.endpoint.v3), the
 * resource EDS serves, in proto3 JSON field names:
 *
 *   { cluster_name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address:
 *     { address, port_value } } }, health_status, load_balancing_weight }] }] }
 *
 * Envoy requires `load_balancing_weight` ≥ 1 (UInt32Value, `gte: 1`), so a share cannot be 0:
 * shares are scaled so the largest is {@link EDS_MAX_WEIGHT} and any non-zero share gets ≥ 1, and
 * a drained backend (share 0) is sent `UNHEALTHY` (weight 1) so Envoy stops routing to it.
 */
import type { WeightsDocument } from './document.js';

/** The largest backend's `load_balancing_weight`. */
export const EDS_MAX_WEIGHT = 1000;

export interface SocketAddress {
  readonly address: string;
  readonly port: number;
}

/**
 * Splits `10.0.0.7:8080`, `[::1]:8080` or `api.internal:443` into host and port; a name without
 * a port (`10.0.0.7`, `::1`, `api.internal`) takes `defaultPort`, or is undefined without one.
 */
export function parseBackendAddress(
  backend: string,
  defaultPort?: number,
): SocketAddress | undefined {
  const valid = (p: number) => Number.isInteger(p) && p >= 1 && p <= 65535;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(backend);
  let host: string;
  let port: number | undefined;
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else {
    const colons = backend.split(':').length - 1;
    const m = colons === 1 ? /^(.+):(\d+)$/.exec(backend) : null;
    if (colons === 1 && !m) return undefined; // "host:" or "host:abc"
    host = m ? m[1]! : backend;
    port = m ? Number(m[2]) : undefined;
  }
  port ??= defaultPort;
  if (host === '' || port === undefined || !valid(port)) return undefined;
  return { address: host, port };
}

export interface LbEndpoint {
  endpoint: { address: { socket_address: { address: string; port_value: number } } };
  health_status: 'HEALTHY' | 'UNHEALTHY';
  load_balancing_weight: number;
}

export interface ClusterLoadAssignment {
  cluster_name: string;
  endpoints: { lb_endpoints: LbEndpoint[] }[];
}

export type EdsResult =
  | { readonly ok: true; readonly cla: ClusterLoadAssignment }
  | { readonly ok: false; readonly unaddressable: readonly string[] };

/** Integer weights 1..EDS_MAX_WEIGHT, the largest share → EDS_MAX_WEIGHT; 0 for a drained backend. */
export function edsWeights(shares: readonly number[]): number[] {
  const max = Math.max(0, ...shares);
  return shares.map((w) =>
    w <= 0 || max <= 0 ? 0 : Math.max(1, Math.round((EDS_MAX_WEIGHT * w) / max)),
  );
}

export function clusterLoadAssignment(
  doc: Pick<WeightsDocument, 'entries'>,
  clusterName: string,
  defaultPort?: number,
): EdsResult {
  const weights = edsWeights(doc.entries.map((e) => e.weight));
  const unaddressable: string[] = [];
  const lb: LbEndpoint[] = [];
  doc.entries.forEach((e, i) => {
    const addr = parseBackendAddress(e.backend, defaultPort);
    if (!addr) {
      unaddressable.push(e.backend);
      return;
    }
    const w = weights[i]!;
    lb.push({
      endpoint: { address: { socket_address: { address: addr.address, port_value: addr.port } } },
      health_status: w > 0 ? 'HEALTHY' : 'UNHEALTHY',
      load_balancing_weight: Math.max(1, w),
    });
  });
  if (unaddressable.length > 0) return { ok: false, unaddressable };
  return { ok: true, cla: { cluster_name: clusterName, endpoints: [{ lb_endpoints: lb }] } };
}
