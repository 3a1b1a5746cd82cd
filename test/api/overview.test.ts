import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedApp } from '../helpers/engine.js';
import type { Engine } from '../../src/engine.js';
import type { App } from '../../src/api/app.js';

let engine: Engine;
let app: App;

beforeAll(async () => {
  ({ engine, app } = await embeddedApp({
    weigher: 'inverse-latency',
    victimRanker: 'lru',
    // Only publishNow() publishes, so versions are known.
    publishIntervalMs: 3_600_000,
  }));
});
afterAll(async () => {
  await app.close();
  await engine.stop();
});

const get = (url: string) => app.inject({ method: 'GET', url });

async function send(kind: 'access' | 'latency', source: string, events: unknown[]) {
  const r = await app.inject({
    method: 'POST',
    url: '/v1/telemetry',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ kind, source, events }),
  });
  expect(r.statusCode).toBe(202);
}

describe('overview routes', () => {
  it('list nothing before anything is published', async () => {
    expect((await get('/v1/pools')).json()).toEqual({ pools: [] });
    expect((await get('/v1/nodes')).json()).toEqual({ nodes: [] });
    const r = await get('/v1/pools/web/history');
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ error: { code: 'PRESCIENT_E_NOT_FOUND' } });
  });

  it('list pools with their weights, their history, and nodes with their victim counts', async () => {
    await send('latency', 'edge-1', [
      { ts: 1_000, pool: 'web', backend: 'fast', latencyMs: 10, status: 200 },
      { ts: 1_000, pool: 'web', backend: 'slow', latencyMs: 40, status: 200 },
      { ts: 1_000, pool: 'api', backend: 'x', latencyMs: 5, status: 200 },
    ]);
    await send('access', 'node-1', [
      { ts: 1_000, key: 'a', hit: false },
      { ts: 2_000, key: 'b', hit: false },
    ]);
    await engine.publishNow();
    await send('latency', 'edge-1', [
      { ts: 2_000, pool: 'web', backend: 'slow', latencyMs: 400, status: 200 },
    ]);
    await engine.publishNow();

    const pools = (await get('/v1/pools')).json<{
      pools: {
        pool: string;
        version: number;
        generatedAt: number;
        model: { id: string };
        entries: { backend: string; weight: number; reason: string; text: string }[];
      }[];
    }>().pools;
    expect(pools.map((p) => [p.pool, p.version])).toEqual([
      ['api', 1],
      ['web', 2],
    ]);
    const web = pools[1]!;
    expect(web.model.id).toBe('inverse-latency');
    expect(web.entries.map((e) => e.backend).sort()).toEqual(['fast', 'slow']);
    for (const e of web.entries) {
      expect(e.reason).toBe('HEURISTIC');
      expect(e.text.length).toBeGreaterThan(0);
    }
    expect(web.entries.reduce((s, e) => s + e.weight, 0)).toBeCloseTo(1, 9);

    const history = (await get('/v1/pools/web/history')).json<{
      pool: string;
      points: { ts: number; version: number; weights: Record<string, number> }[];
    }>();
    expect(history.pool).toBe('web');
    expect(history.points.map((p) => p.version)).toEqual([1, 2]);
    expect(history.points[1]!.ts).toBe(web.generatedAt);
    // The slow backend lost share after its 400 ms answer.
    expect(history.points[1]!.weights['slow']).toBeLessThan(history.points[0]!.weights['slow']!);
    const last = (await get('/v1/pools/web/history?limit=1')).json<{ points: unknown[] }>();
    expect(last.points).toEqual([history.points[1]]);
    expect((await get('/v1/pools/web/history?limit=0')).statusCode).toBe(400);

    expect((await get('/v1/nodes')).json()).toEqual({
      nodes: [
        {
          node: 'node-1',
          version: 1,
          generatedAt: expect.any(Number),
          model: { id: 'lru', version: expect.any(String) },
          victims: 2,
        },
      ],
    });
  });
});

describe('/ui', () => {
  const SECURITY = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  };

  it('serves the page with a strict CSP and no inline script or style', async () => {
    for (const url of ['/ui', '/ui/']) {
      const r = await get(url);
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers).toMatchObject(SECURITY);
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("img-src 'self' data:");
      expect(csp).not.toContain('unsafe-inline');
      // What the CSP would block anyway: every script has a src, no style attribute or element.
      expect(r.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(r.body).not.toMatch(/\sstyle=|<style/);
      expect(r.body).toContain('src="/ui/app.js"');
    }
  });

  it('needs no token, while the data routes the page calls do', async () => {
    const anonymous = (url: string) =>
      app.inject({ method: 'GET', url, headers: { authorization: 'Bearer not-a-token' } });
    expect((await anonymous('/ui')).statusCode).toBe(200);
    expect((await anonymous('/ui/app.js')).statusCode).toBe(200);
    expect((await anonymous('/ui/vendor/uPlot.iife.min.js')).statusCode).toBe(200);
    expect((await anonymous('/v1/pools')).statusCode).toBe(401);
    expect((await anonymous('/v1/pools/web/history')).statusCode).toBe(401);
    expect((await anonymous('/v1/nodes')).statusCode).toBe(401);
  });

  it('serves its script, stylesheet and uPlot with the same headers', async () => {
    for (const [url, type] of [
      ['/ui/app.js', 'text/javascript; charset=utf-8'],
      ['/ui/style.css', 'text/css; charset=utf-8'],
      ['/ui/vendor/uPlot.iife.min.js', 'text/javascript; charset=utf-8'],
      ['/ui/vendor/uPlot.min.css', 'text/css; charset=utf-8'],
    ] as const) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(200);
      expect(r.headers['content-type']).toBe(type);
      expect(r.headers).toMatchObject(SECURITY);
      expect(r.body.length).toBeGreaterThan(100);
    }
    expect((await get('/ui/vendor/uPlot.iife.min.js')).body).toContain('uPlot');
    expect((await get('/ui/nope.js')).statusCode).toBe(404);
  });
});
