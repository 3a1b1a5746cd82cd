/**
 * Request body limits beyond telemetry: every other route takes at most 1 MiB (fastify's
 * bodyLimit in app.ts), refused with 413 before the body is parsed; POST /v1/telemetry has its
 * own, larger limit (PRESCIENT_HTTP_BODY_LIMIT_BYTES).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/api/app.js';
import type { Engine } from '../../src/engine.js';
import { bearer, embeddedApp } from '../helpers/engine.js';

let app: App;
let engine: Engine;
beforeAll(async () => {
  ({ app, engine } = await embeddedApp());
});
afterAll(async () => {
  await app.close();
  await engine.stop();
});

const MIB = 1024 * 1024;
const override = (reasonBytes: number) =>
  JSON.stringify({
    action: 'drain',
    pool: 'api',
    backend: 'b0',
    reason: 'x'.repeat(reasonBytes),
    ttlSec: 60,
  });

describe('body limits', () => {
  it.each([
    ['POST', '/v1/overrides', 'operator'],
    ['POST', '/v1/tokens', 'admin'],
    ['POST', '/v1/clients/ack', 'telemetry'],
  ] as const)('%s %s over 1 MiB: 413 PRESCIENT_E_BODY_TOO_LARGE', async (method, url, role) => {
    const r = await app.inject({
      method,
      url,
      headers: { ...bearer(role), 'content-type': 'application/json' },
      payload: override(MIB + 1),
    });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ error: { code: 'PRESCIENT_E_BODY_TOO_LARGE' } });
  });

  it('a body just under 1 MiB is read (and validated: a reason is at most 500 characters)', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/overrides',
      headers: { ...bearer('operator'), 'content-type': 'application/json' },
      payload: override(MIB - 200),
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: 'PRESCIENT_E_BAD_REQUEST' } });
  });

  it('telemetry takes more than 1 MiB, up to its own limit', async () => {
    const events = Array.from({ length: 9000 }, (_, i) => ({
      ts: 1_700_000_000_000 + i,
      key: `key-${i}-${'x'.repeat(120)}`,
      hit: true,
    }));
    const payload = JSON.stringify({ kind: 'access', source: 'n', events });
    expect(payload.length).toBeGreaterThan(MIB);
    const r = await app.inject({
      method: 'POST',
      url: '/v1/telemetry',
      headers: { ...bearer('telemetry'), 'content-type': 'application/json' },
      payload,
    });
    expect(r.statusCode, r.body).toBe(202);
  });
});
