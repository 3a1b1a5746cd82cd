import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import {
  checkAccess,
  checkLatency,
  decodeMessage,
  parseSubject,
  REJECT_CODES,
  Fault,
  type Decoded,
} from '../../src/telemetry/decode.js';
import { AccessEventSchema, LatencyEventSchema } from '../../src/telemetry/events.js';

const limits = { maxUnknownFields: 2, maxMessageBytes: 8 * 1024 * 1024 };
const access = (data: unknown, raw = false): Decoded =>
  decodeMessage('access', 'node-1', raw ? (data as string) : JSON.stringify(data), limits);
const latency = (data: unknown): Decoded =>
  decodeMessage('latency', 'proxy-1', JSON.stringify(data), limits);
const codeOf = (d: Decoded, i = 0) => d.rejections[i]?.code;

describe('parseSubject', () => {
  it('splits kind and source', () => {
    expect(parseSubject('prescient.telemetry.access.node-1', 'prescient')).toEqual({
      kind: 'access',
      source: 'node-1',
    });
    expect(parseSubject('prescient.telemetry.latency.edge', 'prescient')).toEqual({
      kind: 'latency',
      source: 'edge',
    });
    expect(parseSubject('prescient.telemetry.other.x', 'prescient').kind).toBe('unknown');
    expect(parseSubject('other.telemetry.access.x', 'prescient').kind).toBe('unknown');
    expect(parseSubject('prescient.telemetry.access', 'prescient').kind).toBe('unknown');
  });
});

describe('decodeMessage: access events', () => {
  it('accepts a single event and keeps absent optionals absent', () => {
    const d = access({ ts: 1000, key: 'a', hit: true });
    expect(d.kind).toBe('access');
    expect(d.events).toEqual([{ ts: 1000, key: 'a', hit: true }]);
    expect(Object.keys(d.events[0]!)).toEqual(['ts', 'key', 'hit']);
    expect(d.rejections).toEqual([]);
  });

  it('accepts every optional field', () => {
    const e = { ts: 1, key: 'k', size: 10, hit: false, op: 'set', latencyMs: 0.5 };
    expect(access(e).events).toEqual([e]);
  });

  it('applies the good events of a batch and rejects the bad ones with codes and indexes', () => {
    const d = access({
      events: [
        { ts: 1, key: 'ok', hit: true },
        { ts: 'x', key: 'a', hit: true },
        { ts: 1, key: 'b', hit: 'yes' },
        { ts: 1, key: 'c', hit: true, size: -5 },
        { ts: null, key: 'd', hit: true },
        { ts: 1, key: 'e'.repeat(1025), hit: true },
        { ts: 1, hit: true },
        { ts: 1, key: 'f', hit: true, op: 'touch' },
        { ts: 1, key: 'g', hit: true, a: 1, b: 2, c: 3 },
        { ts: 1, key: 'h', hit: true, size: 1.5 },
        42,
        { ts: 2, key: 'ok2', hit: false, extra1: 1, extra2: 2 },
      ],
    });
    expect(d.events.map((e) => (e as { key: string }).key)).toEqual(['ok', 'ok2']);
    expect(d.total).toBe(12);
    expect(d.rejections.map((r) => [r.index, r.code, r.field])).toEqual([
      [1, REJECT_CODES.WRONG_TYPE, 'ts'],
      [2, REJECT_CODES.WRONG_TYPE, 'hit'],
      [3, REJECT_CODES.OUT_OF_RANGE, 'size'],
      [4, REJECT_CODES.WRONG_TYPE, 'ts'],
      [5, REJECT_CODES.TOO_LONG, 'key'],
      [6, REJECT_CODES.MISSING_FIELD, 'key'],
      [7, REJECT_CODES.WRONG_TYPE, 'op'],
      [8, REJECT_CODES.TOO_MANY_UNKNOWN_FIELDS, ''],
      [9, REJECT_CODES.WRONG_TYPE, 'size'],
      [10, REJECT_CODES.NOT_AN_OBJECT, undefined],
    ]);
  });

  it('rejects numbers JSON turns into Infinity', () => {
    expect(codeOf(access('{"ts":1e999,"key":"k","hit":true}', true))).toBe(REJECT_CODES.NOT_FINITE);
    expect(codeOf(access('{"ts":1,"key":"k","hit":true,"latencyMs":-1e999}', true))).toBe(
      REJECT_CODES.NOT_FINITE,
    );
  });

  it('counts key length in UTF-8 bytes, not characters', () => {
    expect(access({ ts: 1, key: 'é'.repeat(512), hit: true }).events).toHaveLength(1); // 1024 bytes
    expect(codeOf(access({ ts: 1, key: 'é'.repeat(513), hit: true }))).toBe(REJECT_CODES.TOO_LONG); // 1026 bytes
  });

  it('rejects a key with an unpaired surrogate (not encodable as UTF-8)', () => {
    expect(codeOf(access('{"ts":1,"key":"a\\ud800","hit":true}', true))).toBe(
      REJECT_CODES.BAD_ENCODING,
    );
  });

  it('refuses whole messages that are not JSON, not UTF-8, too large or too big a batch', () => {
    expect(codeOf(access('{"ts":1,', true))).toBe(REJECT_CODES.BAD_JSON);
    expect(codeOf(access('NaN', true))).toBe(REJECT_CODES.BAD_JSON);
    expect(
      codeOf(decodeMessage('access', 'n', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), limits)),
    ).toBe(REJECT_CODES.BAD_ENCODING);
    expect(
      codeOf(decodeMessage('access', 'n', 'x'.repeat(limits.maxMessageBytes + 1), limits)),
    ).toBe(REJECT_CODES.MESSAGE_TOO_LARGE);
    const big = access({ events: new Array(10_001).fill({ ts: 1, key: 'k', hit: true }) });
    expect(codeOf(big)).toBe(REJECT_CODES.BATCH_TOO_LARGE);
    expect(big.total).toBe(10_001);
    expect(codeOf(access({ events: 'nope' }))).toBe(REJECT_CODES.WRONG_TYPE);
    for (const d of [access('{"ts":1,', true), big]) expect(d.rejections[0]?.index).toBe(-1);
  });

  it('survives deeply nested JSON and prototype keys without polluting Object.prototype', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(codeOf(access(deep, true))).toBe(REJECT_CODES.NOT_AN_OBJECT);
    const d = access('{"ts":1,"key":"k","hit":true,"__proto__":{"polluted":1}}', true);
    expect(d.events).toHaveLength(1);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(d.events[0])).toBe(Object.prototype);
  });

  it('rejects bad subjects and source names as whole messages', () => {
    expect(codeOf(decodeMessage('unknown', '', '{}', limits))).toBe(REJECT_CODES.UNKNOWN_SUBJECT);
    expect(codeOf(decodeMessage('access', 'bad name', '{}', limits))).toBe(REJECT_CODES.BAD_SOURCE);
  });
});

describe('decodeMessage: latency events', () => {
  it('accepts valid observations, checks status and pool names', () => {
    const ok = {
      ts: 5,
      pool: 'web.eu',
      backend: '10.0.0.1:8080',
      latencyMs: 12.5,
      status: 200,
      inflight: 3,
      bytes: 512,
    };
    expect(latency(ok).events).toEqual([ok]);
    expect(codeOf(latency({ ...ok, status: 600 }))).toBe(REJECT_CODES.OUT_OF_RANGE);
    expect(codeOf(latency({ ...ok, status: 200.5 }))).toBe(REJECT_CODES.WRONG_TYPE);
    expect(codeOf(latency({ ...ok, pool: 'has space' }))).toBe(REJECT_CODES.BAD_NAME);
    expect(codeOf(latency({ ...ok, pool: '.leading' }))).toBe(REJECT_CODES.BAD_NAME);
    expect(codeOf(latency({ ...ok, latencyMs: -1 }))).toBe(REJECT_CODES.OUT_OF_RANGE);
    expect(codeOf(latency({ ...ok, inflight: -1 }))).toBe(REJECT_CODES.OUT_OF_RANGE);
    const { status: _s, ...noStatus } = ok;
    expect(codeOf(latency(noStatus))).toBe(REJECT_CODES.MISSING_FIELD);
  });
});

describe('hand-written checks agree with the JSON Schemas in docs/protocol.md', () => {
  // A seeded sweep over field values: the decoder accepts exactly what the schema accepts
  // (apart from the rules a JSON Schema cannot state: UTF-8 byte length and surrogates).
  const values: unknown[] = [
    0,
    1,
    -1,
    1.5,
    1e14,
    'a',
    '',
    true,
    false,
    null,
    [],
    {},
    'get',
    'evict',
    200,
    599,
    99,
  ];
  const pick = (seed: number, i: number) => values[(seed * 31 + i * 17) % values.length];
  it('on access events', () => {
    for (let seed = 0; seed < 500; seed++) {
      const e: Record<string, unknown> = {
        ts: pick(seed, 1),
        key: pick(seed, 2),
        hit: pick(seed, 3),
      };
      if (seed % 2) e['size'] = pick(seed, 4);
      if (seed % 3) e['op'] = pick(seed, 5);
      if (seed % 5) e['latencyMs'] = pick(seed, 6);
      expect(!(checkAccess(e, 8) instanceof Fault), JSON.stringify(e)).toBe(
        Value.Check(AccessEventSchema, e),
      );
    }
  });
  it('on latency events', () => {
    for (let seed = 0; seed < 500; seed++) {
      const e: Record<string, unknown> = {
        ts: pick(seed, 1),
        pool: seed % 7 ? 'p' : pick(seed, 2),
        backend: pick(seed, 3),
        latencyMs: pick(seed, 4),
        status: pick(seed, 5),
      };
      if (seed % 2) e['inflight'] = pick(seed, 6);
      expect(!(checkLatency(e, 8) instanceof Fault), JSON.stringify(e)).toBe(
        Value.Check(LatencyEventSchema, e),
      );
    }
  });
});
