/**
 * Regressions found by the hostile-input fuzz (test/fuzz/routes.fuzz.test.ts), each on its own,
 * plus the error counter the fuzz checks: prescient_http_errors_total{status,code}.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedApp } from '../helpers/engine.js';
import type { Engine } from '../../src/engine.js';
import type { App } from '../../src/api/app.js';

let engine: Engine;
let app: App;

beforeAll(async () => {
  ({ engine, app } = await embeddedApp({ victimRanker: 'lru' }));
});
afterAll(async () => {
  await app.close();
  await engine.stop();
});

async function errorCount(status: number, code: string): Promise<number> {
  const text = (await app.inject('/metrics')).body;
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`prescient_http_errors_total{status="${status}",code="${code}"}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('hostile input', () => {
  it('an event nested 20,000 levels deep is rejected with 400, and the dead letters still read', async () => {
    // Was a 500: the dead-letter sink JSON-encoded the event and overflowed the stack, and the
    // event stayed in the recent letters, so GET /v1/telemetry/deadletters failed too.
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const r = await app.inject({
      method: 'POST',
      url: '/v1/telemetry',
      headers: { 'content-type': 'application/json' },
      payload: `{"kind":"access","source":"n1","events":[${deep},{"ts":-1,"key":"k","hit":true,"x":${deep}}]}`,
    });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: { code: 'PRESCIENT_E_TELEMETRY_REJECTED' } });
    const letters = await app.inject('/v1/telemetry/deadletters?limit=2');
    expect(letters.statusCode).toBe(200);
    expect(letters.json<{ deadLetters: { code: string; event: unknown }[] }>()).toMatchObject({
      deadLetters: [
        { code: 'PRESCIENT_E_TELEMETRY_OUT_OF_RANGE', event: expect.stringMatching(/nested/) },
        { code: 'PRESCIENT_E_TELEMETRY_NOT_AN_OBJECT', event: expect.stringMatching(/nested/) },
      ],
    });
  });

  it('a malformed URL or an over-long path parameter gets the API error shape', async () => {
    // Were fastify's own bodies ({"error":"Bad Request","code":"FST_ERR_BAD_URL",…}).
    for (const [url, status] of [
      ['/v1/pools/%zz/weights', 400],
      ['/v1/pools/%ED%A0%80/weights', 400],
      [`/v1/pools/${'a'.repeat(500)}/weights`, 414],
    ] as const) {
      const r = await app.inject(url);
      expect(r.statusCode, url).toBe(status);
      expect(r.json(), url).toEqual({
        error: { code: 'PRESCIENT_E_BAD_REQUEST', message: expect.any(String) as string },
      });
    }
  });

  it('counts every error answer by status and code', async () => {
    const before = {
      notFound: await errorCount(404, 'PRESCIENT_E_ROUTE_NOT_FOUND'),
      unauthorized: await errorCount(401, 'PRESCIENT_E_UNAUTHORIZED'),
      badUrl: await errorCount(400, 'PRESCIENT_E_BAD_REQUEST'),
    };
    await app.inject('/nope');
    await app.inject('/nope');
    await app.inject({ url: '/v1/stats', headers: { authorization: 'Bearer nope' } });
    await app.inject('/v1/pools/%zz/weights');
    expect(await errorCount(404, 'PRESCIENT_E_ROUTE_NOT_FOUND')).toBe(before.notFound + 2);
    expect(await errorCount(401, 'PRESCIENT_E_UNAUTHORIZED')).toBe(before.unauthorized + 1);
    expect(await errorCount(400, 'PRESCIENT_E_BAD_REQUEST')).toBe(before.badUrl + 1);
  });
});
