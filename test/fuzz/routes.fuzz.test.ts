/**
 * Hostile requests (issue 7): every route of the app (the OpenAPI ones from /openapi.json and the
 * hidden ones: /ui, /docs, /openapi.json; checked against fastify's own routing tree) gets 10,000
 * generated requests through `app.inject`: path parameters (unicode, empty, very long, `..`,
 * `%00`, malformed escapes), query strings, headers (mostly the admin token, so handlers run;
 * sometimes none, another role or garbage), bodies (schema-shaped with junk, arbitrary JSON, wrong
 * content types, invalid UTF-8, deep nesting, `__proto__` keys, over the body limit).
 *
 * Must hold: no 5xx, ever; every error body is `{ error: { code: PRESCIENT_E_…, message } }`;
 * every error answer is counted in `prescient_http_errors_total{status,code}`; every telemetry
 * event sent is counted accepted or rejected (`prescient_telemetry_*`); the engine stays healthy.
 *
 * One app serves every route; the write rate limit is lifted so mutating routes reach their
 * handlers 10,000 times.
 */
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { Engine } from '../../src/engine.js';
import { createLogger } from '../../src/log.js';
import { isolatedSettings, latencyEvents, postTelemetry, TEST_TOKENS } from '../helpers/engine.js';
import {
  accessArb,
  BAD_UTF8,
  deepJson,
  jsonArb,
  latencyArb,
  pollutingArb,
  PROTO_KEYS,
  RUNS,
  spliceBadUtf8,
} from './arbitraries.js';

// ---------------------------------------------------------------------------------------------
// The app, seeded with a pool, a node and a few overrides so handlers find something.
// ---------------------------------------------------------------------------------------------

const settings = isolatedSettings({
  writeRatePerMin: 1_000_000_000,
  // Random timestamps fill series fast; fitting forecasters in the background would cost ~5 ms
  // a request and test nothing the API does. Seasonal naive (the fallback) serves instead.
  forecastMinSeasons: 1_000_000,
  // Above the 1 MiB of the other routes, small enough that over-limit bodies are cheap.
  httpBodyLimitBytes: 2 * 1024 * 1024,
});
const engine = new Engine(settings, createLogger('silent'));
await engine.start();
const app = await buildApp({
  engine,
  logger: false,
  telemetryBodyLimitBytes: settings.httpBodyLimitBytes,
});
afterAll(async () => {
  await app.close();
  await engine.stop();
});

const ADMIN = `Bearer ${TEST_TOKENS.admin}`;
const json = { 'content-type': 'application/json', authorization: ADMIN };
async function seed(): Promise<string[]> {
  const latency = latencyEvents('api', ['b0:8080', 'b1:8080', 'b2'], 10, 5);
  const access = Array.from({ length: 20 }, (_, i) => ({
    ts: 1_000 + i,
    key: `k${i}`,
    hit: false,
  }));
  const codes = await postTelemetry(
    app,
    [
      ['latency', 'lb-1', latency],
      ['access', 'n1', access],
    ],
    json,
  );
  expect(codes).toEqual([202, 202]);
  await engine.publishNow();
  const ids: string[] = [];
  for (const payload of [
    { action: 'pin', node: 'n1', key: 'k1', reason: 'seed', ttlSec: 3600 },
    { action: 'drain', pool: 'api', backend: 'b1:8080', reason: 'seed', ttlSec: 3600 },
    { action: 'freeze', node: 'n1', reason: 'seed', ttlSec: 3600 },
  ]) {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/overrides',
      headers: json,
      payload: JSON.stringify(payload),
    });
    expect(r.statusCode).toBe(201);
    ids.push(r.json<{ id: string }>().id);
  }
  return ids;
}
const overrideIds = await seed();

// ---------------------------------------------------------------------------------------------
// Every route: OpenAPI operations, then whatever else the routing tree holds.
// ---------------------------------------------------------------------------------------------

interface JsonSchema {
  type?: string;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
}
interface Operation {
  parameters?: { in: 'path' | 'query' | 'header'; name: string; schema: JsonSchema }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
}
interface Route {
  readonly method: string;
  /** fastify's form: `/v1/pools/:pool/weights`. */
  readonly url: string;
  readonly op: Operation | undefined;
}

const spec = (await app.inject('/openapi.json')).json<{
  paths: Record<string, Record<string, Operation>>;
}>();
const documented: Route[] = Object.entries(spec.paths).flatMap(([path, ops]) =>
  Object.entries(ops).map(([method, op]) => ({
    method: method.toUpperCase(),
    url: path.replace(/\{(\w+)\}/g, ':$1'),
    op,
  })),
);

/** Routes from fastify's routing tree (`printRoutes`), HEAD aside (it is GET's twin). */
function routingTree(): { method: string; url: string }[] {
  const out: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([^)]*)\))?$/.exec(line);
    if (m === null) continue;
    stack.length = m[1]!.length / 4;
    stack.push(m[2]!);
    for (const method of m[3]?.split(', ') ?? []) {
      if (method !== 'HEAD') out.push({ method, url: stack.join('') });
    }
  }
  return out;
}
const hidden: Route[] = routingTree()
  .filter((r) => !documented.some((d) => d.method === r.method && d.url === r.url))
  .map((r) => ({ ...r, op: undefined }));
const ROUTES = [...documented, ...hidden];

// ---------------------------------------------------------------------------------------------
// Request arbitraries. A request is generated as a small description (printable when a property
// fails) and built into inject options just before it is sent.
// ---------------------------------------------------------------------------------------------

/** Known-good values per name, so handlers go past validation. */
const SEEDS: Record<string, readonly string[]> = {
  pool: ['api', 'web.eu', 'nope'],
  node: ['n1', 'n2'],
  source: ['n1', 'lb-1', 'edge-9'],
  backend: ['b0:8080', 'b1:8080', 'b2', 'zz'],
  key: ['k0', 'k1', 'user:1'],
  prefix: ['k', 'user:'],
  kind: ['eviction', 'weights', 'forecast', 'nope'],
  id: [...overrideIds, 'ovr_0123456789abcdef'],
  name: ['test-admin', 'test-viewer', 'fuzz-1', 'fuzz.2@x'],
  series: ['pool.api', 'node.n1', 'pool.nope'],
  target: ['n1', 'api', 'n1@1', 'override/'],
  version: ['n1@1', 'n1@999999999999', 'n2@0'],
  client: ['edge-1', 'lb-1'],
  actor: ['test-admin', 'engine'],
  before: ['1-0', '99999999999999999999-1', '0-0'],
  '*': ['json', 'yaml', 'static/index.html', 'static/swagger-initializer.js', 'nope.js'],
};

/** Path segments that are not what a route expects (already URL-encoded or deliberately not). */
const JUNK_SEGMENTS = [
  '',
  '.',
  '..',
  '../..',
  '..%2F..%2Fpackage.json',
  '%2e%2e',
  '%00',
  '%',
  '%zz',
  '%C0%AF',
  '%ED%A0%80',
  '%FF%FE',
  '%2F',
  '%252F',
  ';',
  '%20',
  '+',
  '~',
  '*',
  ':',
  '@',
  '%u0041',
  'é',
  '😀',
  '%F0%9F%98%80',
  'a/b',
  'CON',
  'null',
  'undefined',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
];

/**
 * Any code point, URL-encoded. Built once: a 'binary' string arbitrary maps all of Unicode when
 * it is constructed (hundreds of milliseconds).
 */
const encodedUnicode = fc.string({ unit: 'binary', maxLength: 30 }).map(encodeURIComponent);

const printable = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 24,
});

/**
 * Names whose values are only their seeds or junk, never fresh valid names: 10,000 requests must
 * not create 10,000 telemetry sources, API tokens (every request checks its token against all of
 * them) or client acks, or the later routes would measure that.
 */
const BOUNDED = new Set(['source', 'name', 'client', 'target']);
const BOUNDED_JUNK = fc.constantFrom('', ' ', 'a b', '..', 'é', '\u0000', 'x'.repeat(300));

function stringArb(s: JsonSchema, name: string | undefined): fc.Arbitrary<string> {
  const seeds = name !== undefined && Object.hasOwn(SEEDS, name) ? SEEDS[name] : undefined;
  if (seeds !== undefined && BOUNDED.has(name ?? ''))
    return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...seeds) }, BOUNDED_JUNK);
  const arbs: fc.Arbitrary<string>[] = [
    fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 24, 24) }),
  ];
  if (seeds !== undefined) arbs.push(fc.constantFrom(...seeds), fc.constantFrom(...seeds));
  if (s.pattern !== undefined) {
    const max = s.maxLength ?? Infinity;
    arbs.push(
      fc
        .stringMatching(new RegExp(s.pattern), { size: 'small' })
        .filter((x) => x.length <= max && x.length >= (s.minLength ?? 0)),
    );
  }
  return fc.oneof(...arbs);
}

/** A value of `s`, mostly valid, from the route's own schema. */
function fromSchema(s: JsonSchema, name?: string, depth = 0): fc.Arbitrary<unknown> {
  if (s.anyOf !== undefined) return fc.oneof(...s.anyOf.map((x) => fromSchema(x, name, depth)));
  if (s.enum !== undefined) return fc.constantFrom(...s.enum);
  if (s.const !== undefined) return fc.constant(s.const);
  switch (s.type) {
    case 'string':
      return stringArb(s, name);
    case 'integer': {
      const min = Math.max(s.minimum ?? -1e6, -(2 ** 31));
      const max = Math.min(s.maximum ?? 2 ** 31 - 1, 2 ** 31 - 1);
      return fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max));
    }
    case 'number':
      return fc.double({
        ...(s.minimum === undefined ? {} : { min: s.minimum }),
        ...(s.maximum === undefined ? {} : { max: s.maximum }),
        noNaN: true,
        noDefaultInfinity: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      if (name === 'events') return eventsArb;
      return fc.array(s.items === undefined ? jsonArb : fromSchema(s.items, name, depth + 1), {
        maxLength: 4,
      });
    case 'object':
      return depth > 3 ? jsonArb : objectArb(s, depth);
    default:
      return jsonArb;
  }
}

/**
 * Telemetry events: valid, broken, or anything. Valid ones name a few pools (and the route a few
 * sources): 10,000 bodies must not grow the engine's state without bound.
 */
const eventsArb = fc.array(
  fc.oneof(
    accessArb,
    fc
      .tuple(latencyArb, fc.constantFrom('api', 'web.eu', 'p'))
      .map(([e, pool]) => ({ ...e, pool })),
    jsonArb,
    fc.record({ ts: fc.oneof(fc.double(), jsonArb), key: jsonArb, hit: jsonArb }),
  ),
  { minLength: 0, maxLength: 12 },
);

function objectArb(s: JsonSchema, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const props = s.properties ?? {};
  const keys = Object.keys(props);
  const valid = fc.record(
    Object.fromEntries(keys.map((k) => [k, fromSchema(props[k]!, k, depth + 1)])),
    { requiredKeys: s.required ?? [] },
  );
  const junk = fc.record(Object.fromEntries(keys.map((k) => [k, jsonArb])), { requiredKeys: [] });
  const extra = fc.dictionary(fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string()), jsonArb, {
    maxKeys: 3,
  });
  return fc.oneof(
    { weight: 5, arbitrary: valid },
    {
      weight: 3,
      arbitrary: fc.tuple(valid, junk).map(([a, b]) => ({ ...a, ...b })),
    },
    {
      weight: 1,
      // Own "__proto__" / "constructor" keys, as a hostile JSON body carries them.
      arbitrary: fc.tuple(valid, extra).map(([a, b]) => {
        const o: Record<string, unknown> = { ...a };
        for (const [k, v] of Object.entries(b))
          Object.defineProperty(o, k, { value: v, enumerable: true, writable: true });
        return o;
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record(
        Object.fromEntries(keys.map((k) => [k, fromSchema(props[k]!, k, depth + 1)])),
        { requiredKeys: [] },
      ),
    },
  );
}

type Body =
  | { json: unknown }
  | { text: string }
  | { truncated: unknown; at: number }
  | { proto: string; value: unknown }
  | { badUtf8: unknown; at: number; seq: readonly number[] }
  | { deep: number; shape: 'array' | 'object' | 'unbalanced' }
  | { huge: number }
  | { empty: true };

function bodyArb(route: Route): fc.Arbitrary<Body> {
  const schema = route.op?.requestBody?.content['application/json']?.schema;
  const shaped = schema === undefined ? jsonArb : fromSchema(schema);
  // Weights out of 1,000: a handful of bodies over the limit per route, they cost milliseconds.
  return fc.oneof(
    { weight: 560, arbitrary: shaped.map((json) => ({ json })) },
    { weight: 150, arbitrary: jsonArb.map((json) => ({ json })) },
    { weight: 50, arbitrary: fc.string({ maxLength: 40 }).map((text) => ({ text })) },
    { weight: 50, arbitrary: fc.record({ truncated: shaped, at: fc.nat() }) },
    {
      weight: 50,
      arbitrary: fc.record({ proto: fc.constantFrom(...PROTO_KEYS), value: pollutingArb }),
    },
    {
      weight: 50,
      arbitrary: fc.record({ badUtf8: shaped, at: fc.nat(), seq: fc.constantFrom(...BAD_UTF8) }),
    },
    {
      weight: 40,
      arbitrary: fc.record({
        deep: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 20_000 })),
        shape: fc.constantFrom('array' as const, 'object' as const, 'unbalanced' as const),
      }),
    },
    { weight: 48, arbitrary: fc.constant({ empty: true as const }) },
    // Over the limit (1 MiB; 2 MiB for POST /v1/telemetry in this app).
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 1200 }).map((n) => ({ huge: n })) },
  );
}

const CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/json;',
  'application/vnd.api+json',
  'application/problem+json',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=----x',
  'application/octet-stream',
  'garbage',
  ';;;',
  'application/json, text/plain',
  '',
];

const authArb = fc.oneof(
  { weight: 16, arbitrary: fc.constant(ADMIN) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      ...Object.values(TEST_TOKENS).map((t) => `Bearer ${t}`),
      `bearer ${TEST_TOKENS.admin}`,
      `Bearer  ${TEST_TOKENS.admin}`,
      `Basic ${Buffer.from('admin:admin').toString('base64')}`,
      'Bearer',
      'Bearer ',
      `Bearer ${'a'.repeat(600)}`,
      '',
    ),
  },
  { weight: 1, arbitrary: printable.map((t) => `Bearer ${t}`) },
);

interface RequestSpec {
  readonly method: string;
  readonly segments: readonly string[];
  readonly query: string | undefined;
  readonly auth: string | undefined;
  readonly contentType: string | undefined;
  readonly headers: readonly [string, string][];
  readonly body: Body | undefined;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

function requestArb(route: Route): fc.Arbitrary<RequestSpec> {
  const params = route.url.match(/:\w+|\*/g) ?? [];
  const schemaOf = (name: string, where: 'path' | 'query') =>
    route.op?.parameters?.find((p) => p.in === where && p.name === name)?.schema ?? {
      type: 'string',
    };
  const segment = (param: string) => {
    const name = param === '*' ? '*' : param.slice(1);
    return fc.oneof(
      { weight: 6, arbitrary: stringArb(schemaOf(name, 'path'), name).map(encodeURIComponent) },
      { weight: 2, arbitrary: fc.constantFrom(...JUNK_SEGMENTS) },
      {
        weight: 2,
        arbitrary: encodedUnicode,
      },
      {
        weight: 1,
        arbitrary: printable.map((s) => s.replaceAll('#', '%23').replaceAll('?', '%3F')),
      },
      // Around fastify's maxParamLength (100), and far past it.
      { weight: 1, arbitrary: fc.integer({ min: 95, max: 105 }).map((n) => 'a'.repeat(n)) },
      { weight: 1, arbitrary: fc.integer({ min: 200, max: 2_000 }).map((n) => 'é'.repeat(n)) },
    );
  };
  const queryNames = (route.op?.parameters ?? [])
    .filter((p) => p.in === 'query')
    .map((p) => p.name);
  const queryKey = fc.oneof(
    ...(queryNames.length > 0
      ? [fc.constantFrom(...queryNames), fc.constantFrom(...queryNames)]
      : []),
    fc.constantFrom(
      '__proto__',
      'constructor',
      '__proto__[polluted]',
      'constructor[prototype][polluted]',
      'a[]',
      'limit',
      '',
    ),
    encodedUnicode.map((x) => x.slice(0, 24).replace(/%[0-9A-F]?$/, '')),
  );
  // Built once per key: `chain` below would otherwise build (slow) string arbitraries per run.
  const queryValues = new Map<string, fc.Arbitrary<string>>();
  const queryValue = (key: string) => {
    const known = queryValues.get(key);
    if (known !== undefined) return known;
    const arb = queryValueOf(key);
    queryValues.set(key, arb);
    return arb;
  };
  const queryValueOf = (key: string) =>
    fc.oneof(
      {
        weight: 4,
        arbitrary: fromSchema(schemaOf(key, 'query'), key).map((v) =>
          encodeURIComponent(String(v)),
        ),
      },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          '',
          '-1',
          '0',
          '1e999',
          'NaN',
          'Infinity',
          '0x10',
          '1.5',
          '99999999999999999999999',
          'true',
          'null',
          '%zz',
          '%00',
          '%ED%A0%80',
          'é',
        ),
      },
      {
        weight: 1,
        arbitrary: encodedUnicode,
      },
      { weight: 1, arbitrary: fc.integer({ min: 100, max: 4_000 }).map((n) => 'x'.repeat(n)) },
    );
  const query = fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    {
      weight: 6,
      arbitrary: fc
        .array(
          queryKey.chain((k) => queryValue(k).map((v) => `${k}=${v}`)),
          { maxLength: 4 },
        )
        .map((pairs) => pairs.join('&')),
    },
    { weight: 1, arbitrary: fc.constantFrom('', '&&', '=', '==&=', '&a', 'a=1&a=2&a=3') },
  );
  const writes = !['GET', 'HEAD'].includes(route.method);
  return fc.record({
    method: fc.oneof(
      { weight: 17, arbitrary: fc.constant(route.method) },
      { weight: 1, arbitrary: fc.constant(route.method === 'GET' ? 'HEAD' : route.method) },
      { weight: 2, arbitrary: fc.constantFrom(...METHODS) },
    ),
    segments: fc.tuple(...params.map(segment)),
    query,
    auth: authArb,
    contentType: fc.oneof(
      { weight: 10, arbitrary: fc.constant('application/json') },
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
    ),
    headers: fc.array(
      fc.oneof(
        fc.tuple(fc.constant('accept'), fc.constantFrom('*/*', 'text/html', 'application/xml', '')),
        fc.tuple(fc.constant('content-encoding'), fc.constantFrom('gzip', 'br', 'identity', 'x')),
        fc.tuple(fc.constant('content-length'), fc.constantFrom('0', '1', '5', '-1', 'abc')),
        fc.tuple(fc.constant('x-forwarded-for'), fc.constantFrom('1.2.3.4', 'garbage')),
        fc.tuple(fc.constant('accept-version'), fc.constantFrom('1.x', '*')),
        fc.tuple(fc.constant('x-http-method-override'), fc.constantFrom('DELETE', 'PUT')),
        fc.tuple(fc.constant('x-junk'), printable),
      ),
      { maxLength: 2 },
    ),
    body: fc.oneof(
      { weight: writes ? 1 : 8, arbitrary: fc.constant(undefined) },
      { weight: writes ? 12 : 2, arbitrary: bodyArb(route) },
    ),
  });
}

const utf8 = new TextEncoder();

function payloadOf(body: Body, limit: number): string | Buffer {
  if ('json' in body) return JSON.stringify(body.json) ?? 'null';
  if ('text' in body) return body.text;
  if ('truncated' in body) {
    const text = JSON.stringify(body.truncated) ?? 'null';
    return text.slice(0, body.at % (text.length + 1));
  }
  if ('proto' in body) return `{"${body.proto}":${JSON.stringify(body.value)}}`;
  if ('badUtf8' in body)
    return Buffer.from(
      spliceBadUtf8(utf8.encode(JSON.stringify(body.badUtf8) ?? 'null'), body.at, body.seq),
    );
  if ('deep' in body) return deepJson(body.deep, body.shape);
  if ('huge' in body) return Buffer.alloc(limit + body.huge, 0x20);
  return '';
}

function build(route: Route, r: RequestSpec): InjectOptions {
  let i = 0;
  const path = route.url.replace(/:\w+|\*/g, () => r.segments[i++] ?? '');
  const headers: Record<string, string> = {};
  for (const [k, v] of r.headers) headers[k] = v;
  if (r.auth !== undefined) headers['authorization'] = r.auth;
  const opts: InjectOptions = {
    method: r.method,
    url: r.query === undefined ? path : `${path}?${r.query}`,
    headers,
  };
  if (r.body !== undefined) {
    const limit = route.url === '/v1/telemetry' ? settings.httpBodyLimitBytes : 1024 * 1024;
    opts.payload = payloadOf(r.body, limit);
    if (r.contentType !== undefined) headers['content-type'] = r.contentType;
  }
  return opts;
}

// ---------------------------------------------------------------------------------------------
// What every answer must be, and what was counted.
// ---------------------------------------------------------------------------------------------

/** Error answers seen, by `status code` (bodiless HEAD answers by status alone). */
const seenErrors = new Map<string, number>();
const seenHeadErrors = new Map<number, number>();
const bump = <K>(m: Map<K, number>, k: K, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

function fail(what: string, r: InjectOptions, status: number, body: string): never {
  throw new Error(
    `${what}: ${String(r.method)} ${JSON.stringify(r.url).slice(0, 200)} → ${status} ${body.slice(0, 400)}`,
  );
}

function checkAnswer(
  r: InjectOptions,
  res: { statusCode: number; body: string; headers: Record<string, unknown> },
): void {
  const { statusCode: status, body } = res;
  if (status >= 500) fail('5xx', r, status, body);
  if (status < 400) {
    const type = res.headers['content-type'];
    // Small answers only: parsing the 100 KB OpenAPI document 10,000 times proves nothing new.
    const json = typeof type === 'string' && type.startsWith('application/json');
    if (r.method !== 'HEAD' && json && body.length < 16_384) {
      try {
        JSON.parse(body);
      } catch {
        fail('a JSON answer that does not parse', r, status, body);
      }
    }
    return;
  }
  if (r.method === 'HEAD') {
    bump(seenHeadErrors, status);
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    fail('an error answer that is not JSON', r, status, body);
  }
  const e = (parsed as { error?: { code?: unknown; message?: unknown } }).error;
  if (
    Object.keys(parsed as object).join() !== 'error' ||
    typeof e?.code !== 'string' ||
    !/^PRESCIENT_E_[A-Z_]+$/.test(e.code) ||
    typeof e.message !== 'string' ||
    Object.keys(e).some((k) => !['code', 'message', 'details'].includes(k))
  ) {
    fail('an error answer not shaped { error: { code: PRESCIENT_E_…, message } }', r, status, body);
  }
  bump(seenErrors, `${status} ${e.code}`);
}

function telemetryCounts() {
  const c = engine.ingestor.counters;
  const sum = (x: Record<string, number>) => Object.values(x).reduce((a, b) => a + b, 0);
  return { accepted: sum(c.accepted), rejected: sum(c.rejected) };
}

/** `name{labels} value` lines of one metric from /metrics. */
async function scrape(name: string): Promise<Map<string, number>> {
  const res = await app.inject('/metrics');
  const out = new Map<string, number>();
  for (const line of res.body.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (m) out.set(m[1] ?? '', Number(m[2]));
  }
  return out;
}
const labelsOf = (status: number | string, code: string) => `{status="${status}",code="${code}"}`;

const errorsBefore = await scrape('prescient_http_errors_total');
const telemetryBefore = telemetryCounts();
/** Events sent in bodies the telemetry route decoded, by outcome. */
const telemetrySeen = { accepted: 0, rejected: 0, requests: 0 };

/** POST /v1/telemetry: the events of every decoded body are counted, accepted or rejected. */
function checkTelemetry(
  r: InjectOptions,
  res: { statusCode: number; body: string },
  before: { accepted: number; rejected: number },
): void {
  const after = telemetryCounts();
  const accepted = after.accepted - before.accepted;
  const rejected = after.rejected - before.rejected;
  let want = { accepted: 0, rejected: 0 };
  const answer =
    r.method === 'HEAD' ? undefined : (JSON.parse(res.body) as Record<string, unknown>);
  const code = (answer?.['error'] as { code?: string } | undefined)?.code;
  if (res.statusCode === 202) {
    want = answer as typeof want;
  } else if (code === 'PRESCIENT_E_TELEMETRY_REJECTED') {
    const sent = JSON.parse(Buffer.from(r.payload as string | Buffer).toString('utf8')) as {
      events: unknown;
    };
    // The route's schema coerces a lone value to an array of one (ajv coerceTypes "array").
    want = { accepted: 0, rejected: Array.isArray(sent.events) ? sent.events.length : 1 };
  }
  if (accepted !== want.accepted || rejected !== want.rejected) {
    fail(
      `telemetry counted ${accepted} accepted / ${rejected} rejected, answered ${JSON.stringify(want)}`,
      r,
      res.statusCode,
      res.body,
    );
  }
  telemetrySeen.accepted += accepted;
  telemetrySeen.rejected += rejected;
  telemetrySeen.requests++;
}

// ---------------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------------

const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

describe('hostile requests, 10,000 per route', () => {
  it('covers every route of the routing tree', () => {
    expect(documented.length).toBeGreaterThanOrEqual(30);
    expect(hidden.map((r) => r.url)).toEqual(
      expect.arrayContaining(['/openapi.json', '/ui', '/ui/app.js', '/docs', '/docs/*']),
    );
    for (const { method, url } of routingTree())
      expect(
        ROUTES.some((r) => r.method === method && r.url === url),
        `${method} ${url}`,
      ).toBe(true);
  });

  for (const route of ROUTES) {
    it(`${route.method} ${route.url}`, { timeout: 120_000 }, async () => {
      const telemetry = route.method === 'POST' && route.url === '/v1/telemetry';
      await fc.assert(
        fc.asyncProperty(requestArb(route), async (request) => {
          const r = build(route, request);
          const before = telemetryCounts();
          const res = await app.inject(r);
          checkAnswer(r, res);
          if (telemetry) checkTelemetry(r, res, before);
          else {
            const after = telemetryCounts();
            if (after.rejected !== before.rejected || after.accepted !== before.accepted)
              fail('telemetry counted outside the telemetry route', r, res.statusCode, res.body);
          }
        }),
        { numRuns: RUNS },
      );
      expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
      expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTO_NAMES);
    });
  }
});

describe('afterwards', () => {
  it('counted every error answer in prescient_http_errors_total{status,code}', async () => {
    const after = await scrape('prescient_http_errors_total');
    const delta = new Map<string, number>();
    for (const [labels, n] of after) {
      const d = n - (errorsBefore.get(labels) ?? 0);
      if (d > 0) delta.set(labels, d);
    }
    // Bodiless HEAD answers are known by status only: each status's total must match exactly.
    const byStatus = (m: Map<string, number>) => {
      const out = new Map<string, number>();
      for (const [labels, n] of m) bump(out, /status="(\d+)"/.exec(labels)![1]!, n);
      return out;
    };
    const seen = new Map<string, number>();
    for (const [k, n] of seenErrors) {
      const [status, code] = k.split(' ') as [string, string];
      seen.set(labelsOf(status, code), n);
      expect(delta.get(labelsOf(status, code)) ?? 0, k).toBeGreaterThanOrEqual(n);
    }
    const seenByStatus = byStatus(seen);
    for (const [status, n] of seenHeadErrors) bump(seenByStatus, String(status), n);
    // The scrapes of /metrics above answered 200, so the counts are exactly the fuzz's.
    expect(byStatus(delta)).toEqual(seenByStatus);
    expect([...seenByStatus.keys()].every((s) => Number(s) < 500)).toBe(true);
  });

  it('counted every telemetry event sent, accepted or rejected, in /metrics', async () => {
    const now = telemetryCounts();
    expect(now.accepted - telemetryBefore.accepted).toBe(telemetrySeen.accepted);
    expect(now.rejected - telemetryBefore.rejected).toBe(telemetrySeen.rejected);
    // (Unless a filter left the telemetry route out.)
    if (telemetrySeen.requests > 0) expect(telemetrySeen.rejected).toBeGreaterThan(1000);
    const rejectedByCode = await scrape('prescient_telemetry_rejected_total');
    const total = [...rejectedByCode.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(now.rejected);
    const events = await scrape('prescient_telemetry_events_total');
    const rejected = [...events]
      .filter(([labels]) => labels.includes('outcome="rejected"'))
      .reduce((a, [, n]) => a + n, 0);
    expect(rejected).toBe(now.rejected);
  });

  it('left the engine healthy', async () => {
    expect(engine.state).toBe('running');
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    expect((await app.inject('/readyz')).json()).toMatchObject({ ready: true });
    const who = await app.inject({ url: '/v1/whoami', headers: { authorization: ADMIN } });
    expect(who.json()).toEqual({ name: 'test-admin', role: 'admin' });
    const sent = await app.inject({
      method: 'POST',
      url: '/v1/telemetry',
      headers: json,
      payload: JSON.stringify({
        kind: 'latency',
        source: 'lb-1',
        events: [{ ts: 5_000, pool: 'api', backend: 'b0:8080', latencyMs: 3, status: 200 }],
      }),
    });
    expect(sent.statusCode).toBe(202);
    await engine.publishNow();
    const weights = await app.inject({
      url: '/v1/pools/api/weights',
      headers: { authorization: ADMIN },
    });
    expect(weights.statusCode).toBe(200);
  });
});
