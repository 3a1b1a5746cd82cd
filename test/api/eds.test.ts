/**
 * GET /v1/pools/:pool/eds and the ClusterLoadAssignment builder, checked against the constraints
 * of Envoy's v3 API (envoy/config/endpoint/v3/endpoint.proto, endpoint_components.proto,
 * core/v3/address.proto, core/v3/health_check.proto), written out as a validator below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedApp } from '../helpers/engine.js';
import type { Engine } from '../../src/engine.js';
import type { App } from '../../src/api/app.js';
import { clusterLoadAssignment, parseBackendAddress } from '../../src/publish/eds.js';

const UINT32_MAX = 4_294_967_295;
/** core.v3.HealthStatus enum names (proto3 JSON encodes enums by name). */
const HEALTH_STATUS = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'];

/** Problems with `v` as a proto3-JSON envoy.config.endpoint.v3.ClusterLoadAssignment; [] if none. */
function envoyClaProblems(v: unknown): string[] {
  const p: string[] = [];
  const isObj = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  const only = (o: Record<string, unknown>, allowed: string[], at: string) => {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) p.push(`${at}: unknown field ${k}`);
  };
  if (!isObj(v)) return ['not an object'];
  only(v, ['cluster_name', 'endpoints', 'named_endpoints', 'policy'], 'cla');
  // cluster_name: string, min_len 1.
  if (typeof v['cluster_name'] !== 'string' || v['cluster_name'].length < 1)
    p.push('cluster_name must be a non-empty string');
  if (!Array.isArray(v['endpoints'])) return [...p, 'endpoints must be an array'];
  v['endpoints'].forEach((le: unknown, i) => {
    const at = `endpoints[${i}]`;
    if (!isObj(le)) {
      p.push(`${at} not an object`);
      return;
    }
    only(
      le,
      [
        'locality',
        'lb_endpoints',
        'leds_cluster_locality_config',
        'load_balancing_weight',
        'priority',
        'proximity',
      ],
      at,
    );
    if (!Array.isArray(le['lb_endpoints'])) {
      p.push(`${at}.lb_endpoints must be an array`);
      return;
    }
    let sum = 0;
    le['lb_endpoints'].forEach((lb: unknown, j) => {
      const at2 = `${at}.lb_endpoints[${j}]`;
      if (!isObj(lb)) {
        p.push(`${at2} not an object`);
        return;
      }
      only(
        lb,
        ['endpoint', 'endpoint_name', 'health_status', 'metadata', 'load_balancing_weight'],
        at2,
      );
      // load_balancing_weight: UInt32Value, gte 1.
      const w = lb['load_balancing_weight'];
      if (w !== undefined) {
        if (!Number.isInteger(w) || (w as number) < 1 || (w as number) > UINT32_MAX)
          p.push(
            `${at2}.load_balancing_weight must be an integer 1..2^32-1, got ${JSON.stringify(w)}`,
          );
        else sum += w as number;
      }
      const hs = lb['health_status'];
      if (hs !== undefined && !HEALTH_STATUS.includes(hs as string))
        p.push(`${at2}.health_status ${JSON.stringify(hs)} is not a HealthStatus`);
      const ep = lb['endpoint'];
      if (!isObj(ep)) {
        p.push(`${at2}.endpoint missing`);
        return;
      }
      const addr = ep['address'];
      if (!isObj(addr) || !isObj(addr['socket_address'])) {
        p.push(`${at2}.endpoint.address.socket_address missing`);
        return;
      }
      const sa = addr['socket_address'];
      only(
        sa,
        ['protocol', 'address', 'port_value', 'named_port', 'resolver_name', 'ipv4_compat'],
        `${at2}.socket_address`,
      );
      // address: string, min_len 1; port_value: uint32, lte 65535.
      if (typeof sa['address'] !== 'string' || sa['address'].length < 1)
        p.push(`${at2}.socket_address.address must be a non-empty string`);
      const port = sa['port_value'];
      if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535)
        p.push(`${at2}.socket_address.port_value must be an integer 0..65535`);
    });
    // The sum of the endpoint weights in a locality must not exceed uint32.
    if (sum > UINT32_MAX) p.push(`${at}: weights sum over 2^32-1`);
  });
  return p;
}

let engine: Engine;
let app: App;
beforeAll(async () => {
  ({ engine, app } = await embeddedApp({ weigher: 'inverse-latency' }));
});
afterAll(async () => {
  await app.close();
  await engine.stop();
});

async function send(pool: string, latencies: Record<string, number>) {
  const events = Object.entries(latencies).map(([backend, latencyMs], i) => ({
    ts: 1_000 + i,
    pool,
    backend,
    latencyMs,
    status: 200,
  }));
  const r = await app.inject({
    method: 'POST',
    url: '/v1/telemetry',
    payload: { kind: 'latency', source: 'lb-1', events },
  });
  expect(r.statusCode).toBe(202);
  await engine.publishNow();
}

describe('GET /v1/pools/:pool/eds', () => {
  it('answers a ClusterLoadAssignment Envoy accepts, weights scaled to 1..1000', async () => {
    await send('api', { '10.0.0.7:8080': 10, '10.0.0.8:8080': 40, '[::1]:9000': 20 });
    const r = await app.inject('/v1/pools/api/eds');
    expect(r.statusCode).toBe(200);
    const cla = r.json<{
      cluster_name: string;
      endpoints: {
        lb_endpoints: {
          endpoint: { address: { socket_address: { address: string; port_value: number } } };
          load_balancing_weight: number;
          health_status: string;
        }[];
      }[];
    }>();
    expect(envoyClaProblems(cla)).toEqual([]);
    expect(cla.cluster_name).toBe('api');
    expect(r.headers['x-prescient-version']).toBe(
      String(engine.latestPolicy('weights', 'api')!.version),
    );
    const lbs = cla.endpoints[0]!.lb_endpoints.map((lb) => [
      lb.endpoint.address.socket_address.address,
      lb.endpoint.address.socket_address.port_value,
      lb.load_balancing_weight,
      lb.health_status,
    ]);
    expect(lbs).toEqual([
      ['10.0.0.7', 8080, 1000, 'HEALTHY'],
      ['10.0.0.8', 8080, 250, 'HEALTHY'],
      ['::1', 9000, 500, 'HEALTHY'],
    ]);
  });

  it('needs ports: 400 PRESCIENT_E_BAD_REQUEST without, ?port= supplies one', async () => {
    await send('named', { a: 10, b: 10 });
    const bad = await app.inject('/v1/pools/named/eds');
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: { code: string; details: unknown } }>().error).toMatchObject({
      code: 'PRESCIENT_E_BAD_REQUEST',
      details: { backends: ['a', 'b'] },
    });
    const ok = await app.inject('/v1/pools/named/eds?port=8080&cluster=named-svc');
    expect(ok.statusCode).toBe(200);
    expect(envoyClaProblems(ok.json())).toEqual([]);
    expect(ok.json<{ cluster_name: string }>().cluster_name).toBe('named-svc');
  });

  it('404 PRESCIENT_E_NOT_FOUND for an unknown pool, 400 for a bad port', async () => {
    const r = await app.inject('/v1/pools/nope/eds');
    expect(r.statusCode).toBe(404);
    expect(r.json<{ error: { code: string } }>().error.code).toBe('PRESCIENT_E_NOT_FOUND');
    const p = await app.inject('/v1/pools/api/eds?port=70000');
    expect(p.json<{ error: { code: string } }>().error.code).toBe('PRESCIENT_E_BAD_REQUEST');
  });
});

describe('clusterLoadAssignment', () => {
  it('marks a drained backend UNHEALTHY instead of weight 0, keeps tiny shares ≥ 1', () => {
    const res = clusterLoadAssignment(
      {
        entries: [
          { backend: 'h1:80', weight: 0.9995 },
          { backend: 'h2:80', weight: 0.0005 },
          { backend: 'h3:80', weight: 0 },
        ] as never,
      },
      'c',
    );
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(envoyClaProblems(res.cla)).toEqual([]);
    expect(
      res.cla.endpoints[0]!.lb_endpoints.map((l) => [l.load_balancing_weight, l.health_status]),
    ).toEqual([
      [1000, 'HEALTHY'],
      [1, 'HEALTHY'],
      [1, 'UNHEALTHY'],
    ]);
  });

  it('parses backend addresses', () => {
    expect(parseBackendAddress('10.0.0.7:8080')).toEqual({ address: '10.0.0.7', port: 8080 });
    expect(parseBackendAddress('[2001:db8::1]:443')).toEqual({ address: '2001:db8::1', port: 443 });
    expect(parseBackendAddress('2001:db8::1', 80)).toEqual({ address: '2001:db8::1', port: 80 });
    expect(parseBackendAddress('api.internal')).toBeUndefined();
    expect(parseBackendAddress('api.internal', 8443)).toEqual({
      address: 'api.internal',
      port: 8443,
    });
    expect(parseBackendAddress('h:0')).toBeUndefined();
    expect(parseBackendAddress('h:x')).toBeUndefined();
  });
});
