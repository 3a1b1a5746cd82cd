/** fast-check arbitraries shared by the hostile-input properties (test/fuzz/*.fuzz.test.ts). */
import fc from 'fast-check';
import { ACCESS_OPS, EVENT_LIMITS } from '../../src/telemetry/events.js';

/** Generated inputs per property (issue 7: 10,000 or more). */
export const RUNS = 10_000;

const nameChar = fc.constantFrom(...'abcxyzXYZ0189_-=/'.split(''));
/** Node, proxy and backend-ish names in the subject-token alphabet. */
export const nameArb = fc.string({ unit: nameChar, minLength: 1, maxLength: 12 });
export const poolArb = fc.array(nameArb, { minLength: 1, maxLength: 3 }).map((a) => a.join('.'));
const tsArb = fc.double({ min: 0, max: EVENT_LIMITS.maxTsMs, noNaN: true });
const nonNegative = fc.double({ min: 0, noNaN: true, noDefaultInfinity: true });
const textArb = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 });

/** Valid access events (docs/protocol.md), optional fields present or not. */
export const accessArb = fc.record(
  {
    ts: tsArb,
    key: textArb,
    hit: fc.boolean(),
    size: fc.maxSafeNat(),
    op: fc.constantFrom(...ACCESS_OPS),
    latencyMs: nonNegative,
  },
  { requiredKeys: ['ts', 'key', 'hit'] },
);

/** Valid latency observations. */
export const latencyArb = fc.record(
  {
    ts: tsArb,
    pool: poolArb,
    backend: textArb,
    latencyMs: nonNegative,
    status: fc.integer({ min: 100, max: 599 }),
    inflight: fc.nat(),
    bytes: fc.maxSafeNat(),
  },
  { requiredKeys: ['ts', 'pool', 'backend', 'latencyMs', 'status'] },
);

export const jsonArb = fc.jsonValue({ maxDepth: 4 });

export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/** Values that pollute a prototype if anything merges them into an object. */
export const pollutingArb = fc.oneof(
  fc.constant({ polluted: true }),
  fc.constant({ prototype: { polluted: true } }),
  jsonArb,
);

/** Strings ending in an unpaired UTF-16 surrogate (not encodable as UTF-8). */
export const loneSurrogateArb = fc
  .tuple(fc.string({ maxLength: 8 }), fc.integer({ min: 0xd800, max: 0xdfff }))
  .map(([s, c]) => `${s}${String.fromCharCode(c)}`);

/**
 * Byte sequences no UTF-8 decoder accepts: stray continuation bytes, overlong forms, encoded
 * surrogates, code points over U+10FFFF, truncated sequences.
 */
export const BAD_UTF8: readonly (readonly number[])[] = [
  [0xff],
  [0xfe],
  [0x80],
  [0xbf],
  [0xc0, 0xaf],
  [0xc1, 0xbf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x82],
  [0xc3],
];

/** `bytes` with one invalid UTF-8 sequence inserted at `at` (modulo its length). */
export function spliceBadUtf8(bytes: Uint8Array, at: number, seq: readonly number[]): Uint8Array {
  const i = at % (bytes.length + 1);
  const out = new Uint8Array(bytes.length + seq.length);
  out.set(bytes.subarray(0, i), 0);
  out.set(seq, i);
  out.set(bytes.subarray(i), i + seq.length);
  return out;
}

/** JSON text nested `depth` levels: arrays, objects, or left open. */
export function deepJson(depth: number, shape: 'array' | 'object' | 'unbalanced'): string {
  if (shape === 'array') return '['.repeat(depth) + ']'.repeat(depth);
  if (shape === 'object') return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  return '{"a":['.repeat(depth);
}
