/**
 * The control plane over HTTP in embedded mode: auth on every route, overrides (round trip,
 * expiry, validation), audit, explanations, client acks and tokens. The same flows over real NATS
 * and Redis, with timing and restarts, are in test/integration/control.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, embeddedApp, latencyEvents, postTelemetry, waitFor } from '../helpers/engine.js';
import type { Engine } from '../../src/engine.js';
import type { App } from '../../src/api/app.js';
import type { WeightsDocument, EvictionDocument } from '../../src/publish/document.js';
import { buildApp } from '../../src/api/app.js';
import { Engine as EngineClass } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { isolatedSettings } from '../helpers/engine.js';

let engine: Engine;
let app: App;

beforeAll(async () => {
  ({ engine, app } = await embeddedApp({ weigher: 'inverse-latency', victimRanker: 'lru' }));
  // Pool api: b0 fast, b1 medium, b2 slow. Node n1: keys k0..k9 then user:0..4, in that order.
  const latency = latencyEvents('api', ['b0', 'b1', 'b2'], 20, 10);
  const access = [
    ...Array.from({ length: 10 }, (_, i) => `k${i}`),
    ...Array.from({ length: 5 }, (_, i) => `user:${i}`),
  ].map((key, i) => ({ ts: 1_000 + i, key, op: 'get', hit: false }));
  const codes = await postTelemetry(app, [
    ['latency', 'lb-1', latency],
    ['access', 'n1', access],
  ]);
  expect(codes).toEqual([202, 202]);
  await engine.publishNow();
});
afterAll(async () => {
  await app.close();
  await engine.stop();
});

const weights = () => engine.latestPolicy('weights', 'api') as WeightsDocument;
const victims = () => engine.latestPolicy('eviction', 'n1') as EvictionDocument;
const share = (doc: WeightsDocument, backend: string) =>
  doc.entries.find((e) => e.backend === backend)!.weight;

function fill(path: string): string {
  return path.replace(/\{(\w+)\}|:(\w+)/g, (_m, a: string | undefined, b: string | undefined) => {
    const name = a ?? b;
    return name === 'id' ? 'ovr_0123456789abcdef' : name === 'kind' ? 'eviction' : 'x';
  });
}

describe('auth', () => {
  it('answers 401 without a token and 403 for a viewer on every mutating route', async () => {
    const spec = (await app.inject('/openapi.json')).json<{ paths: Record<string, object> }>();
    const mutating = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['post', 'put', 'patch', 'delete'].includes(m))
        .map((m) => ({ method: m.toUpperCase() as 'POST', url: fill(path) })),
    );
    expect(mutating.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/overrides',
        'DELETE /v1/overrides/ovr_0123456789abcdef',
        'POST /v1/tokens',
        'POST /v1/telemetry',
      ]),
    );
    for (const r of mutating) {
      const none = await app.inject({ ...r, payload: {}, headers: { authorization: '' } });
      expect(none.statusCode, `${r.method} ${r.url} without a token`).toBe(401);
      expect(none.json()).toMatchObject({ error: { code: 'PRESCIENT_E_UNAUTHORIZED' } });
      expect(none.headers['www-authenticate']).toContain('Bearer');
      const bad = await app.inject({
        ...r,
        payload: {},
        headers: { authorization: 'Bearer nope' },
      });
      expect(bad.statusCode, `${r.method} ${r.url} with a bad token`).toBe(401);
      const viewer = await app.inject({ ...r, payload: {}, headers: bearer('viewer') });
      expect(viewer.statusCode, `${r.method} ${r.url} as viewer`).toBe(403);
      expect(viewer.json()).toMatchObject({ error: { code: 'PRESCIENT_E_FORBIDDEN' } });
    }
  });

  it('keeps reads behind a token, probes open, and tells the caller who it is', async () => {
    expect(
      (await app.inject({ url: '/v1/pools/api/weights', headers: { authorization: '' } }))
        .statusCode,
    ).toBe(401);
    expect(
      (await app.inject({ url: '/v1/pools/api/weights', headers: bearer('viewer') })).statusCode,
    ).toBe(200);
    expect(
      (await app.inject({ url: '/v1/pools/api/weights', headers: bearer('telemetry') })).statusCode,
    ).toBe(403);
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      expect((await app.inject({ url, headers: { authorization: '' } })).statusCode, url).toBe(200);
    }
    const me = await app.inject({ url: '/v1/whoami', headers: bearer('operator') });
    expect(me.json()).toEqual({ name: 'test-operator', role: 'operator' });
  });

  it('lets operators override but only admins manage tokens', async () => {
    const asOperator = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer('operator'),
      payload: { name: 'x', role: 'viewer' },
    });
    expect(asOperator.statusCode).toBe(403);
  });
});

describe('overrides', () => {
  it('drain: applies at once with reason OVERRIDE, is listed and audited, and goes away on delete', async () => {
    const before = weights();
    expect(share(before, 'b0')).toBeGreaterThan(0.4);
    const created = await app.inject({
      method: 'POST',
      url: '/v1/overrides',
      headers: bearer('operator'),
      payload: { action: 'drain', pool: 'api', backend: 'b0', reason: 'kernel patch', ttlSec: 600 },
    });
    expect(created.statusCode).toBe(201);
    const o = created.json<{ id: string; actor: string; expiresAt: number; createdAt: number }>();
    expect(o).toMatchObject({ action: 'drain', actor: 'test-operator', reason: 'kernel patch' });
    expect(o.expiresAt - o.createdAt).toBe(600_000);

    // No publishNow here: the override itself triggers the publication.
    const doc = await waitFor(
      () => (weights().version > before.version ? weights() : undefined),
      1000,
      'republish',
    );
    expect(share(doc, 'b0')).toBe(0);
    expect(share(doc, 'b1') + share(doc, 'b2')).toBeCloseTo(1, 9);
    expect(doc.entries.find((e) => e.backend === 'b0')).toMatchObject({
      reason: 'OVERRIDE',
      override: o.id,
      haproxyWeight: 0,
    });
    expect(doc.overrides).toEqual([
      expect.objectContaining({ id: o.id, action: 'drain', affected: 1 }),
    ]);
    expect(doc.reasons.map((r) => r.code)).toContain('OVERRIDE');
    expect(doc.shadow?.entries.find((e) => e.backend === 'b0')?.weight).toBeCloseTo(
      share(before, 'b0'),
      9,
    );

    const listed = await app.inject('/v1/overrides?pool=api');
    expect(listed.json<{ overrides: { id: string }[] }>().overrides.map((x) => x.id)).toEqual([
      o.id,
    ]);

    const explained = await app.inject('/v1/pools/api/backends/b0/explain');
    expect(explained.statusCode).toBe(200);
    expect(explained.json()).toMatchObject({
      decision: { weight: 0, reason: 'OVERRIDE' },
      model: { id: 'inverse-latency', decision: { reason: 'HEURISTIC' } },
      heuristic: { id: 'inverse-latency', decision: { backend: 'b0' } },
      overrides: [{ id: o.id }],
      features: { backend: 'b0' },
    });

    const del = await app.inject({
      method: 'DELETE',
      url: `/v1/overrides/${o.id}?reason=done`,
      headers: bearer('operator'),
    });
    expect(del.statusCode).toBe(200);
    const after = await waitFor(
      () => (weights().overrides.length === 0 ? weights() : undefined),
      1000,
      'override gone',
    );
    expect(share(after, 'b0')).toBeCloseTo(share(before, 'b0'), 9);
    expect(
      (
        await app.inject({
          method: 'DELETE',
          url: `/v1/overrides/${o.id}`,
          headers: bearer('operator'),
        })
      ).statusCode,
    ).toBe(404);

    const audit = await app.inject(`/v1/audit?target=override/${o.id}`);
    const entries = audit.json<{
      entries: {
        action: string;
        actor: string;
        before: unknown;
        after: unknown;
        reason?: string;
      }[];
    }>().entries;
    expect(entries.map((e) => e.action)).toEqual(['override.delete', 'override.create']);
    expect(entries[0]).toMatchObject({
      actor: 'test-operator',
      reason: 'done',
      after: null,
      before: { id: o.id },
    });
    expect(entries[1]).toMatchObject({
      actor: 'test-operator',
      before: null,
      after: { id: o.id, backend: 'b0' },
    });
  });

  it('pin and evict-first reshape the victims; freeze publishes LRU with the model in shadow', async () => {
    const post = (payload: object) =>
      app.inject({
        method: 'POST',
        url: '/v1/overrides',
        headers: bearer('operator'),
        payload: { reason: 'test', ttlSec: 60, ...payload },
      });
    const lruFirst = victims().entries[0]!.key;
    expect(lruFirst).toBe('k0');
    const pin = (await post({ action: 'pin', node: 'n1', key: 'k0' })).json<{ id: string }>();
    const first = (await post({ action: 'evict-first', node: 'n1', prefix: 'user:' })).json<{
      id: string;
    }>();
    const doc = await waitFor(
      () => (victims().overrides.length === 2 ? victims() : undefined),
      1000,
      'overrides in the document',
    );
    const keys = doc.entries.map((e) => e.key);
    expect(keys.slice(0, 5)).toEqual(['user:0', 'user:1', 'user:2', 'user:3', 'user:4']);
    expect(keys).not.toContain('k0');
    expect(doc.entries[0]).toMatchObject({ reason: 'OVERRIDE', override: first.id, rank: 1 });

    const explained = await app.inject('/v1/nodes/n1/keys/k0/explain');
    expect(explained.json()).toMatchObject({
      decision: { victim: false },
      heuristic: { id: 'lru', rank: 1 },
      overrides: [{ id: pin.id, action: 'pin' }],
      features: { key: 'k0' },
    });
    expect((await app.inject('/v1/nodes/n1/keys/nope/explain')).statusCode).toBe(404);

    for (const id of [pin.id, first.id]) {
      await app.inject({
        method: 'DELETE',
        url: `/v1/overrides/${id}`,
        headers: bearer('operator'),
      });
    }
    await waitFor(() => victims().overrides.length === 0, 1000, 'overrides gone');
    expect(victims().entries[0]!.key).toBe('k0');
  });

  it('expires on its own: the document drops it and the audit log says so', async () => {
    const o = (
      await app.inject({
        method: 'POST',
        url: '/v1/overrides',
        headers: bearer('operator'),
        payload: {
          action: 'enforce',
          pool: 'api',
          percent: 0,
          reason: 'shadow for a second',
          ttlSec: 1,
        },
      })
    ).json<{ id: string }>();
    await waitFor(() => weights().overrides.some((x) => x.id === o.id), 1000, 'override applied');
    // Shadow mode: the heuristic is published, the model's would-be shares ride along.
    const shadowed = weights();
    expect(shadowed.enforcement).toBe(0);
    expect(shadowed.entries.every((e) => e.reason === 'OVERRIDE')).toBe(true);
    const heuristic = engine.heuristic.weigher.weigh(engine.store.poolBackends('api'), {
      pool: 'api',
    });
    for (const h of heuristic) expect(share(shadowed, h.backend)).toBeCloseTo(h.weight, 9);
    expect(shadowed.shadow?.model).toEqual(shadowed.model);
    expect(shadowed.shadow?.entries.map((e) => e.reason)).toEqual([
      'HEURISTIC',
      'HEURISTIC',
      'HEURISTIC',
    ]);
    // The engine's own publish loop (every second) notices the expiry: nobody calls anything.
    await waitFor(() => weights().overrides.length === 0, 4000, 'expiry published');
    expect(weights().enforcement).toBe(100);
    const audit = (
      await app.inject(`/v1/audit?action=override.expire&target=override/${o.id}`)
    ).json<{ entries: { actor: string }[] }>();
    expect(audit.entries).toEqual([expect.objectContaining({ actor: 'engine' })]);
    expect(engine.control.listOverrides({})).toEqual([]);
  });

  it('refuses invalid overrides with 400 and a code, writing nothing', async () => {
    const auditBefore = (await app.inject('/v1/audit?limit=1000')).json<{ entries: unknown[] }>()
      .entries.length;
    const cases: [object, string][] = [
      [{ action: 'drain', pool: 'api', reason: 'r', ttlSec: 60 }, 'PRESCIENT_E_OVERRIDE_INVALID'],
      [
        { action: 'set-weight', pool: 'api', backend: 'b0', weight: 2, reason: 'r', ttlSec: 60 },
        'PRESCIENT_E_OVERRIDE_INVALID',
      ],
      [
        { action: 'pin', node: 'bad node', key: 'k', reason: 'r', ttlSec: 60 },
        'PRESCIENT_E_OVERRIDE_INVALID',
      ],
      [
        { action: 'freeze', pool: 'api', reason: 'r', ttlSec: 10 ** 9 },
        'PRESCIENT_E_OVERRIDE_INVALID',
      ],
      [{ action: 'explode', pool: 'api', reason: 'r', ttlSec: 60 }, 'PRESCIENT_E_BAD_REQUEST'],
      [{ action: 'freeze', pool: 'api', ttlSec: 60 }, 'PRESCIENT_E_BAD_REQUEST'],
      [
        { action: 'freeze', pool: 'api', reason: 'r', ttlSec: 60, extra: 1 },
        'PRESCIENT_E_BAD_REQUEST',
      ],
    ];
    for (const [payload, code] of cases) {
      const r = await app.inject({
        method: 'POST',
        url: '/v1/overrides',
        headers: bearer('operator'),
        payload,
      });
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
      expect(r.json()).toMatchObject({ error: { code } });
    }
    expect(engine.control.listOverrides({})).toEqual([]);
    const auditAfter = (await app.inject('/v1/audit?limit=1000')).json<{ entries: unknown[] }>()
      .entries.length;
    expect(auditAfter).toBe(auditBefore);
  });
});

describe('clients, tokens and rate limits', () => {
  it('lists acked versions and how far behind each client is', async () => {
    const latest = weights().version;
    for (const [client, version] of [
      ['proxy-a', latest],
      ['proxy-b', latest - 1],
    ] as const) {
      const r = await app.inject({
        method: 'POST',
        url: '/v1/clients/ack',
        headers: bearer('telemetry'),
        payload: { client, kind: 'weights', target: 'api', version, appliedAt: Date.now() },
      });
      expect(r.statusCode).toBe(204);
    }
    const clients = (await app.inject('/v1/clients')).json<{ clients: object[] }>().clients;
    expect(clients).toEqual([
      expect.objectContaining({
        client: 'proxy-a',
        version: latest,
        latestVersion: latest,
        versionsBehind: 0,
        status: 'current',
        staleMs: 0,
      }),
      expect.objectContaining({ client: 'proxy-b', versionsBehind: 1, status: 'behind' }),
    ]);
  });

  it('creates a token once, audits it, and revokes it; configured tokens cannot be deleted', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/tokens',
      payload: { name: 'ci-bot', role: 'viewer' },
    });
    expect(created.statusCode).toBe(201);
    const { token } = created.json<{ token: string }>();
    expect(
      (
        await app.inject({ url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } })
      ).json(),
    ).toEqual({ name: 'ci-bot', role: 'viewer' });
    expect(
      (
        await app.inject({
          method: 'POST',
          url: '/v1/tokens',
          payload: { name: 'ci-bot', role: 'admin' },
        })
      ).statusCode,
    ).toBe(409);
    const listed = (await app.inject('/v1/tokens')).json<{ tokens: object[] }>().tokens;
    expect(JSON.stringify(listed)).not.toMatch(/sha256|psk_/);
    expect((await app.inject({ method: 'DELETE', url: '/v1/tokens/ci-bot' })).statusCode).toBe(200);
    expect(
      (await app.inject({ url: '/v1/whoami', headers: { authorization: `Bearer ${token}` } }))
        .statusCode,
    ).toBe(401);
    expect(
      (await app.inject({ method: 'DELETE', url: '/v1/tokens/test-viewer' })).json(),
    ).toMatchObject({ error: { code: 'PRESCIENT_E_CONFLICT' } });
    const audit = (await app.inject('/v1/audit?target=token/ci-bot')).json<{
      entries: { action: string; after: unknown; before: unknown }[];
    }>();
    expect(audit.entries.map((e) => e.action)).toEqual(['token.delete', 'token.create']);
    expect(JSON.stringify(audit.entries)).not.toContain(token);
  });

  it('answers 429 with Retry-After past the write rate', async () => {
    const limited = await embeddedApp({ writeRatePerMin: 2 });
    try {
      const post = () =>
        limited.app.inject({
          method: 'POST',
          url: '/v1/overrides',
          headers: bearer('operator'),
          payload: { action: 'freeze', pool: 'p', reason: 'r', ttlSec: 5 },
        });
      expect((await post()).statusCode).toBe(201);
      expect((await post()).statusCode).toBe(201);
      const third = await post();
      expect(third.statusCode).toBe(429);
      expect(third.json()).toMatchObject({ error: { code: 'PRESCIENT_E_RATE_LIMITED' } });
      expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await limited.app.close();
      await limited.engine.stop();
    }
  });

  it('generates one admin token at start when none is configured, and hands it out once', async () => {
    const given: string[] = [];
    const settings = isolatedSettings({ apiTokens: undefined });
    const e = new EngineClass(settings, createLogger('silent'), {
      onGeneratedToken: (t) => given.push(t),
    });
    await e.start();
    const a = await buildApp({ engine: e, logger: false, telemetryBodyLimitBytes: 1024 * 1024 });
    try {
      expect(given).toHaveLength(1);
      const me = await a.inject({
        url: '/v1/whoami',
        headers: { authorization: `Bearer ${given[0]}` },
      });
      expect(me.json()).toEqual({ name: 'generated-admin', role: 'admin' });
      expect((await a.inject('/v1/whoami')).statusCode).toBe(401);
    } finally {
      await a.close();
      await e.stop();
    }
  });
});
