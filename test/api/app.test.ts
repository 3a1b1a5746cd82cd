import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedApp } from '../helpers/engine.js';
import type { Engine } from '../../src/engine.js';
import type { App } from '../../src/api/app.js';

let engine: Engine;
let app: App;

beforeAll(async () => {
  ({ engine, app } = await embeddedApp({
    httpBodyLimitBytes: 64 * 1024,
    weigher: 'inverse-latency',
    // This file checks the heuristic document; the learned ranker has its own tests.
    victimRanker: 'lru',
  }));
});
afterAll(async () => {
  await app.close();
  await engine.stop();
});

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: '/v1/telemetry',
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    headers: { 'content-type': 'application/json', ...headers },
  });

describe('probes', () => {
  it('GET /healthz', async () => {
    const r = await app.inject('/healthz');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 in embedded mode once running', async () => {
    const r = await app.inject('/readyz');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ ready: true, state: 'running' });
  });

  it('GET /openapi.json lists the routes', async () => {
    const r = await app.inject('/openapi.json');
    expect(r.statusCode).toBe(200);
    const paths = Object.keys(r.json<{ paths: object }>().paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/healthz',
        '/readyz',
        '/metrics',
        '/v1/telemetry',
        '/v1/pools/{pool}/weights',
        '/v1/nodes/{node}/eviction',
        '/v1/stats',
      ]),
    );
  });

  it('GET /docs serves the API docs UI', async () => {
    const r = await app.inject('/docs/');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/html');
  });
});

describe('POST /v1/telemetry', () => {
  it('applies access events, dead-letters the bad ones, and reports both', async () => {
    const r = await post({
      kind: 'access',
      source: 'node-a',
      events: [
        { ts: 1_000, key: 'k1', hit: false, size: 10 },
        { ts: 2_000, key: 'k2', hit: true },
        { ts: 3_000, key: 'k1', hit: true },
        { ts: 'bad', key: 'k3', hit: true },
      ],
    });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toEqual({
      accepted: 3,
      rejected: 1,
      rejections: [
        {
          index: 3,
          code: 'PRESCIENT_E_TELEMETRY_WRONG_TYPE',
          field: 'ts',
          reason: expect.any(String),
        },
      ],
    });
    const k1 = engine.store.keyFeatures('node-a', 'k1');
    expect(k1).toMatchObject({
      accesses: 2,
      hits: 1,
      misses: 1,
      sizeBytes: 10,
      lastAccessMs: 3_000,
      gapsMs: [2_000],
    });
    const dl = await app.inject('/v1/telemetry/deadletters?limit=5');
    expect(dl.json()).toMatchObject({
      deadLetters: [
        { code: 'PRESCIENT_E_TELEMETRY_WRONG_TYPE', index: 3, source: 'node-a', kind: 'access' },
      ],
    });
  });

  it('400 with every rejection when no event is valid', async () => {
    const r = await post({ kind: 'latency', source: 'edge-1', events: [{ ts: 1 }, { pool: 'p' }] });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({
      error: { code: 'PRESCIENT_E_TELEMETRY_REJECTED', details: [{ index: 0 }, { index: 1 }] },
    });
  });

  it.each([
    ['unknown kind', { kind: 'other', source: 'n', events: [{}] }],
    ['missing events', { kind: 'access', source: 'n' }],
    ['empty events', { kind: 'access', source: 'n', events: [] }],
    ['bad source name', { kind: 'access', source: 'a.b', events: [{}] }],
    ['extra top-level field', { kind: 'access', source: 'n', events: [{}], extra: 1 }],
  ])('400 PRESCIENT_E_BAD_REQUEST for %s', async (_name, body) => {
    const r = await post(body);
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: 'PRESCIENT_E_BAD_REQUEST' } });
  });

  it('400 PRESCIENT_E_BAD_JSON for a body that is not JSON', async () => {
    const r = await post('{"kind":');
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: 'PRESCIENT_E_BAD_JSON' } });
  });

  it('400 for prototype-pollution keys', async () => {
    const r = await post('{"kind":"access","source":"n","events":[{}],"__proto__":{"x":1}}');
    expect(r.statusCode).toBe(400);
    expect(r.json()).toHaveProperty('error.code');
  });

  it('413 PRESCIENT_E_BODY_TOO_LARGE above the body limit', async () => {
    const events = Array.from({ length: 2000 }, (_, i) => ({
      ts: i,
      key: `key-${i}-${'x'.repeat(30)}`,
      hit: true,
    }));
    const r = await post({ kind: 'access', source: 'n', events });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ error: { code: 'PRESCIENT_E_BODY_TOO_LARGE' } });
  });

  it('415 for a content type other than JSON', async () => {
    const r = await post('<telemetry/>', { 'content-type': 'application/xml' });
    expect(r.statusCode).toBe(415);
    expect(r.json()).toMatchObject({ error: { code: 'PRESCIENT_E_UNSUPPORTED_MEDIA_TYPE' } });
  });
});

describe('policies', () => {
  it('publishes LRU-order victims and inverse-latency weights, served by the API', async () => {
    await post({
      kind: 'access',
      source: 'node-b',
      events: [
        { ts: 10_000, key: 'old', hit: false },
        { ts: 20_000, key: 'mid', hit: false },
        { ts: 30_000, key: 'new', hit: false },
        { ts: 31_000, key: 'gone', hit: false },
        { ts: 32_000, key: 'gone', hit: false, op: 'evict' },
      ],
    });
    await post({
      kind: 'latency',
      source: 'edge-1',
      events: [
        { ts: 1_000, pool: 'web', backend: 'fast', latencyMs: 10, status: 200 },
        { ts: 1_000, pool: 'web', backend: 'slow', latencyMs: 40, status: 200 },
      ],
    });
    await engine.publishNow();

    const ev = await app.inject('/v1/nodes/node-b/eviction?limit=2');
    expect(ev.statusCode).toBe(200);
    const doc = ev.json<{
      kind: string;
      version: number;
      entries: { key: string; rank: number; score: number; reason: string }[];
      reasons: { code: string }[];
    }>();
    expect(doc).toMatchObject({
      kind: 'eviction',
      target: 'node-b',
      version: 1,
      model: { id: 'lru' },
    });
    expect(doc.entries.map((e) => [e.key, e.rank, e.reason])).toEqual([
      ['old', 1, 'HEURISTIC'],
      ['mid', 2, 'HEURISTIC'],
    ]);
    // Idle time at the store clock (32 s): 'old' last seen at 10 s.
    expect(doc.entries[0]!.score).toBe(22);
    // Reasons summarise the published document (3 resident keys), not the page cut by ?limit.
    expect(doc.reasons).toEqual([{ code: 'HEURISTIC', entries: 3, text: expect.any(String) }]);

    const w = await app.inject('/v1/pools/web/weights');
    expect(w.statusCode).toBe(200);
    const weights = w.json<{
      entries: { backend: string; weight: number; haproxyWeight: number; attributions: object }[];
    }>();
    expect(
      weights.entries.map((e) => [e.backend, Number(e.weight.toFixed(6)), e.haproxyWeight]),
    ).toEqual([
      ['fast', 0.8, 256],
      ['slow', 0.2, 64],
    ]);
    expect(weights.entries[0]!.attributions).toHaveProperty('latency');
  });

  it('404 PRESCIENT_E_NOT_FOUND for unknown targets, 400 for bad names and limits', async () => {
    for (const url of ['/v1/pools/nope/weights', '/v1/nodes/nope/eviction']) {
      const r = await app.inject(url);
      expect(r.statusCode).toBe(404);
      expect(r.json()).toMatchObject({ error: { code: 'PRESCIENT_E_NOT_FOUND' } });
    }
    for (const url of [
      '/v1/nodes/node-b/eviction?limit=0',
      '/v1/nodes/node-b/eviction?limit=abc',
      '/v1/pools/bad%20pool/weights',
    ]) {
      const r = await app.inject(url);
      expect(r.statusCode, url).toBe(400);
      expect(r.json()).toMatchObject({ error: { code: 'PRESCIENT_E_BAD_REQUEST' } });
    }
  });

  it('404 PRESCIENT_E_ROUTE_NOT_FOUND for unknown routes', async () => {
    const r = await app.inject('/v1/nothing');
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ error: { code: 'PRESCIENT_E_ROUTE_NOT_FOUND' } });
  });
});

describe('metrics and stats', () => {
  it('GET /metrics counts accepted and rejected events by kind', async () => {
    const r = await app.inject('/metrics');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    const body = r.body;
    const value = (labels: string) =>
      Number(
        new RegExp(`^prescient_telemetry_events_total\\{${labels}\\} (\\S+)$`, 'm').exec(body)?.[1],
      );
    expect(value('kind="access",outcome="accepted"')).toBe(8);
    expect(value('kind="access",outcome="rejected"')).toBe(1);
    expect(value('kind="latency",outcome="rejected"')).toBe(2);
    expect(value('kind="latency",outcome="accepted"')).toBe(2);
    expect(body).toMatch(
      /^prescient_telemetry_rejected_total\{kind="access",code="PRESCIENT_E_TELEMETRY_WRONG_TYPE"\} 1$/m,
    );
  });

  it('GET /v1/stats reports mode, counts and features', async () => {
    const r = await app.inject('/v1/stats');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      mode: { bus: 'embedded', state: 'memory' },
      state: 'running',
      telemetry: { accepted: { access: 8, latency: 2 } },
      features: { trackedKeys: 6 },
    });
  });
});

describe('weigher choice', () => {
  it('serves the predictive weigher by default and refuses an unknown one at construction', async () => {
    const { Engine } = await import('../../src/engine.js');
    const { createLogger } = await import('../../src/log.js');
    const { loadSettings } = await import('../../src/config/settings.js');
    expect(new Engine(loadSettings({}), createLogger('silent')).weigher.id).toBe('predictive');
    expect(
      () => new Engine(loadSettings({ PRESCIENT_WEIGHER: 'nope' }), createLogger('silent')),
    ).toThrow(
      expect.objectContaining({
        code: 'PRESCIENT_E_CONFIG',
        message: expect.stringContaining('predictive'),
      }),
    );
  });
});
