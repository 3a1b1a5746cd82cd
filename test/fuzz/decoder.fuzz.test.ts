/**
 * Hostile telemetry (issue 7): fast-check properties over the decoder and the path every NATS
 * message takes (`Ingestor.handle`: subject → bytes → events or dead letters), and the HTTP path
 * (`decodeEvents` on already-parsed items, then `Ingestor.reject`). Each property runs 10,000
 * generated messages: arbitrary bytes and invalid UTF-8, arbitrary JSON, mutated valid batches,
 * deep nesting, prototype keys, huge strings, oversized messages and batches.
 *
 * What must hold for every message: nothing throws; every event is accepted or rejected with a
 * stable code (accepted + rejected = the events of a parsed batch; a message that cannot be read
 * is one dead letter for the whole); every rejection is dead-lettered with its reason and the
 * letter serializes (the engine's sink JSON-encodes each one); the counters equal what was fed;
 * accepted events are exactly the contract's fields; nothing reaches Object.prototype.
 */
import fc from 'fast-check';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkAccess,
  checkLatency,
  decodeEvents,
  REJECT_CODES,
  type DecodeLimits,
} from '../../src/telemetry/decode.js';
import { Ingestor, type DeadLetter } from '../../src/telemetry/ingest.js';
import {
  AccessEventSchema,
  EVENT_LIMITS,
  LatencyEventSchema,
  type TelemetryKind,
} from '../../src/telemetry/events.js';
import {
  accessArb,
  BAD_UTF8,
  deepJson,
  jsonArb,
  latencyArb,
  loneSurrogateArb,
  pollutingArb,
  PROTO_KEYS,
  RUNS,
  spliceBadUtf8,
} from './arbitraries.js';

const PREFIX = 'fuzz';
const SUBJECT = {
  access: `${PREFIX}.telemetry.access.node-1`,
  latency: `${PREFIX}.telemetry.latency.lb-1`,
} as const;
/** Small messages keep 10,000 runs cheap; the default 8 MiB limit has its own cases. */
const LIMITS: DecodeLimits = { maxUnknownFields: 8, maxMessageBytes: 16 * 1024 };
const CODES: ReadonlySet<string> = new Set(Object.values(REJECT_CODES));
const KNOWN: Record<TelemetryKind, readonly string[]> = {
  access: ['ts', 'key', 'hit', 'size', 'op', 'latencyMs'],
  latency: ['ts', 'pool', 'backend', 'latencyMs', 'status', 'inflight', 'bytes'],
};
const REQUIRED: Record<TelemetryKind, readonly string[]> = {
  access: ['ts', 'key', 'hit'],
  latency: ['ts', 'pool', 'backend', 'latencyMs', 'status'],
};
const SCHEMA = {
  access: TypeCompiler.Compile(AccessEventSchema),
  latency: TypeCompiler.Compile(LatencyEventSchema),
};
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Plain assertions for the per-message checks (vitest's expect is slow at 10,000 × items). */
function ok(cond: boolean, what: string | (() => string)): void {
  if (!cond) throw new Error(typeof what === 'string' ? what : what());
}
function eq(actual: unknown, expected: unknown, what: string): void {
  if (!Object.is(actual, expected))
    throw new Error(`${what}: expected ${String(expected)}, got ${String(actual)}`);
}

// ---------------------------------------------------------------------------------------------
// The harness: an Ingestor wired like the engine's (src/engine.ts), checking every message.
// ---------------------------------------------------------------------------------------------

interface Fed {
  readonly accepted: number;
  readonly rejected: number;
  readonly events: readonly Record<string, unknown>[];
  /** The dead letters as they went on the wire (JSON-encoded and read back). */
  readonly letters: readonly DeadLetter[];
  /** True when the whole message was refused (one letter, index -1). */
  readonly whole: boolean;
}

class Harness {
  /** What the harness fed and saw, to compare with the ingestor's own counters. */
  readonly seen = { messages: 0, accepted: 0, rejected: 0, applied: 0, letters: 0 };
  readonly byCode = new Map<string, number>();
  readonly ingestor: Ingestor;
  private events: Record<string, unknown>[] = [];
  private letters: DeadLetter[] = [];

  constructor(readonly limits: DecodeLimits = LIMITS) {
    const apply = (events: readonly object[]) => {
      for (const e of events) this.events.push(e as Record<string, unknown>);
    };
    this.ingestor = new Ingestor(
      {
        applyAccess: (_node, events) => apply(events),
        applyLatency: (_p, events) => apply(events),
      },
      {
        // As the engine's sink: one JSON document per letter. It must serialize, whatever came in.
        send: (letters) => {
          for (const l of letters) this.letters.push(JSON.parse(JSON.stringify(l)) as DeadLetter);
        },
      },
      { subjectPrefix: PREFIX, limits, now: () => 1_700_000_000_000 },
    );
  }

  /** One NATS message through `Ingestor.handle`, with the checks every message must pass. */
  feed(subject: string, data: Uint8Array | string): Fed {
    this.events = [];
    this.letters = [];
    const seq = this.seen.messages + 1;
    const outcome = this.ingestor.handle(subject, data, { msgId: `m-${seq}`, seq });
    this.seen.messages++;
    const fed = this.tally(outcome.accepted, outcome.rejected, subject);
    for (const l of fed.letters) {
      eq(l.msgId, `m-${seq}`, 'letter msgId');
      eq(l.seq, seq, 'letter seq');
    }
    return fed;
  }

  /** The HTTP path (engine.ingestHttp): parsed items → decodeEvents → rejections dead-lettered. */
  feedItems(kind: TelemetryKind, items: readonly unknown[]): Fed {
    this.events = [];
    this.letters = [];
    const decoded =
      kind === 'access'
        ? decodeEvents('access', 'node-1', items, this.limits.maxUnknownFields, checkAccess)
        : decodeEvents('latency', 'lb-1', items, this.limits.maxUnknownFields, checkLatency);
    eq(decoded.total, items.length, 'decoded total');
    if (decoded.events.length > 0) {
      // Embedded mode re-publishes the good events; the in-process bus hands them to `handle`.
      const data = utf8.encode(JSON.stringify({ events: decoded.events }));
      const outcome = this.ingestor.handle(SUBJECT[kind], data);
      eq(outcome.accepted, decoded.events.length, 're-published events accepted');
      eq(outcome.rejected, 0, 're-published events rejected');
      this.seen.messages++;
    }
    if (decoded.rejections.length > 0) this.ingestor.reject(SUBJECT[kind], decoded);
    return this.tally(decoded.events.length, decoded.rejections.length, SUBJECT[kind]);
  }

  private tally(accepted: number, rejected: number, subject: string): Fed {
    const { events, letters } = this;
    eq(events.length, accepted, 'events applied = accepted');
    const whole = letters.length === 1 && letters[0]!.index === -1;
    for (const l of letters) {
      ok(CODES.has(l.code), `unknown code ${l.code}`);
      ok(typeof l.reason === 'string' && l.reason.length > 0, 'a letter says why');
      eq(l.subject, subject, 'letter subject');
      eq(l.receivedAtMs, 1_700_000_000_000, 'letter receivedAtMs');
      // A letter stays small whatever the event was (the last 100 are kept in memory).
      ok(JSON.stringify(l).length < 64 * 1024, 'letter under 64 KiB');
    }
    if (whole) {
      eq(accepted, 0, 'nothing accepted from a refused message');
      ok(rejected >= 1, 'a refused message counts at least one rejection');
    } else {
      eq(letters.length, rejected, 'one letter per rejected event');
      letters.forEach((l, i) => {
        ok(l.index >= 0 && l.index < accepted + rejected, `letter index ${l.index} in the batch`);
        ok(i === 0 || l.index > letters[i - 1]!.index, 'letters in batch order, once each');
      });
    }
    for (const e of events) checkAccepted(e);
    for (const l of letters) {
      const n = whole ? rejected : 1;
      this.byCode.set(l.code, (this.byCode.get(l.code) ?? 0) + n);
    }
    this.seen.accepted += accepted;
    this.seen.rejected += rejected;
    this.seen.applied += events.length;
    this.seen.letters += letters.length;
    return { accepted, rejected, events, letters, whole };
  }

  /** The ingestor's counters equal what was fed, by outcome and by code. */
  expectCounters(): void {
    const c = this.ingestor.counters;
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    expect(c.messages).toBe(this.seen.messages);
    expect(sum(c.accepted)).toBe(this.seen.accepted);
    expect(sum(c.rejected)).toBe(this.seen.rejected);
    expect(this.seen.applied).toBe(this.seen.accepted);
    const byCode = new Map<string, number>();
    for (const e of c.rejectedByCode.values())
      byCode.set(e.code, (byCode.get(e.code) ?? 0) + e.count);
    expect(byCode).toEqual(this.byCode);
    expect(this.ingestor.recentDeadLetters().length).toBe(Math.min(100, this.seen.letters));
  }
}

/** An accepted event is exactly a valid event of its kind: schema, byte limits, own fields. */
function checkAccepted(e: Record<string, unknown>): void {
  ok(Object.getPrototypeOf(e) === Object.prototype, 'an accepted event is a plain object');
  const kind: TelemetryKind = 'key' in e ? 'access' : 'latency';
  for (const k of Object.keys(e)) ok(KNOWN[kind].includes(k), `unexpected field ${k}`);
  ok(SCHEMA[kind].Check(e), () => `accepted event fails its schema: ${JSON.stringify(e)}`);
  for (const field of ['key', 'pool', 'backend']) {
    const v = e[field];
    if (typeof v !== 'string') continue;
    ok(v.isWellFormed(), `${field} is well-formed UTF-16`);
    const max = field === 'key' ? EVENT_LIMITS.maxKeyBytes : EVENT_LIMITS.maxNameBytes;
    ok(Buffer.byteLength(v, 'utf8') <= max, `${field} within ${max} bytes`);
  }
  ok((e as { polluted?: unknown }).polluted === undefined, 'no polluted field');
}

// ---------------------------------------------------------------------------------------------
// The contract's answer for a whole message (docs/protocol.md), computed independently.
// ---------------------------------------------------------------------------------------------

type Expected = { total: number; code?: string };

function expectedFor(subject: string, data: Uint8Array | string, limits = LIMITS): Expected {
  const size = typeof data === 'string' ? data.length : data.byteLength;
  if (size > limits.maxMessageBytes) return { total: 1, code: REJECT_CODES.MESSAGE_TOO_LARGE };
  const m = /^fuzz\.telemetry\.(access|latency)\.(.*)$/s.exec(subject);
  if (m === null) return { total: 1, code: REJECT_CODES.UNKNOWN_SUBJECT };
  if (!/^[A-Za-z0-9_\-=/]{1,256}$/.test(m[2]!)) return { total: 1, code: REJECT_CODES.BAD_SOURCE };
  let text: string;
  try {
    text = typeof data === 'string' ? data : strictUtf8.decode(data);
  } catch {
    return { total: 1, code: REJECT_CODES.BAD_ENCODING };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { total: 1, code: REJECT_CODES.BAD_JSON };
  }
  if (isObject(parsed) && Object.hasOwn(parsed, 'events')) {
    const events = (parsed as { events: unknown }).events;
    if (!Array.isArray(events)) return { total: 1, code: REJECT_CODES.WRONG_TYPE };
    if (events.length > EVENT_LIMITS.maxBatch)
      return { total: events.length, code: REJECT_CODES.BATCH_TOO_LARGE };
    return { total: events.length };
  }
  return { total: 1 };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Feeds one message and checks it against {@link expectedFor}. */
function feedChecked(h: Harness, subject: string, data: Uint8Array | string): Fed {
  const fed = h.feed(subject, data);
  const want = expectedFor(subject, data, h.limits);
  eq(fed.accepted + fed.rejected, want.total, 'accepted + rejected = events in the message');
  if (want.code !== undefined) {
    ok(fed.whole, 'refused whole');
    eq(fed.letters[0]!.code, want.code, 'whole-message code');
  } else {
    ok(!fed.whole, 'not refused whole');
  }
  return fed;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries.
// ---------------------------------------------------------------------------------------------

/** Marker values replaced in the JSON text by numbers JSON.stringify cannot write. */
const INF = '\u0000INF\u0000';
const NEG_INF = '\u0000-INF\u0000';
function jsonText(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll(JSON.stringify(INF), '1e999')
    .replaceAll(JSON.stringify(NEG_INF), '-1e999');
}

/** What the decoder must say about one batch item. */
type Verdict = { accept: true } | { accept: false; code?: string; field?: string };

type Mutation =
  | { op: 'none' }
  | { op: 'drop'; field: string }
  | { op: 'retype'; field: string; value: unknown }
  | { op: 'infinite'; field: string; negative: boolean }
  | { op: 'long'; field: string; char: string }
  | { op: 'surrogate'; field: string; value: string }
  | { op: 'extra'; fields: number }
  | { op: 'proto'; key: (typeof PROTO_KEYS)[number]; value: unknown }
  | { op: 'not-object'; value: unknown };

const mutationArb = (kind: TelemetryKind): fc.Arbitrary<Mutation> => {
  const field = fc.constantFrom(...KNOWN[kind]);
  const numeric = fc.constantFrom(
    ...(kind === 'access'
      ? ['ts', 'size', 'latencyMs']
      : ['ts', 'latencyMs', 'status', 'inflight', 'bytes']),
  );
  const text = fc.constantFrom(...(kind === 'access' ? ['key'] : ['pool', 'backend']));
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant({ op: 'none' as const }) },
    fc.record({ op: fc.constant('drop' as const), field }),
    fc.record({ op: fc.constant('retype' as const), field, value: jsonArb }),
    fc.record({ op: fc.constant('infinite' as const), field: numeric, negative: fc.boolean() }),
    fc.record({
      op: fc.constant('long' as const),
      field: text,
      char: fc.constantFrom('a', 'é', '€', '😀'),
    }),
    fc.record({ op: fc.constant('surrogate' as const), field: text, value: loneSurrogateArb }),
    fc.record({ op: fc.constant('extra' as const), fields: fc.integer({ min: 1, max: 20 }) }),
    fc.record({
      op: fc.constant('proto' as const),
      key: fc.constantFrom(...PROTO_KEYS),
      value: pollutingArb,
    }),
    fc.record({
      op: fc.constant('not-object' as const),
      value: fc.oneof(
        fc.constant(null),
        fc.array(jsonArb, { maxLength: 3 }),
        fc.string(),
        fc.double(),
      ),
    }),
  );
};

/** Applies a mutation to a valid event and says what the decoder must answer. */
function mutate(
  kind: TelemetryKind,
  event: Record<string, unknown>,
  m: Mutation,
): [unknown, Verdict] {
  const e: Record<string, unknown> = { ...event };
  const required = 'field' in m && REQUIRED[kind].includes(m.field);
  switch (m.op) {
    case 'none':
      return [e, { accept: true }];
    case 'drop':
      delete e[m.field];
      return [
        e,
        required
          ? { accept: false, code: REJECT_CODES.MISSING_FIELD, field: m.field }
          : { accept: true },
      ];
    case 'retype':
      e[m.field] = m.value;
      // The new value may happen to be valid; if not, the fault names this field.
      return [e, { accept: false, field: m.field }];
    case 'infinite':
      e[m.field] = m.negative ? NEG_INF : INF;
      return [e, { accept: false, code: REJECT_CODES.NOT_FINITE, field: m.field }];
    case 'long': {
      const max = m.field === 'key' ? EVENT_LIMITS.maxKeyBytes : EVENT_LIMITS.maxNameBytes;
      const bytes = Buffer.byteLength(m.char);
      const value = m.char.repeat(Math.floor(max / bytes) + 1);
      e[m.field] = m.field === 'pool' ? 'a'.repeat(max + 1) : value;
      return [e, { accept: false, code: REJECT_CODES.TOO_LONG, field: m.field }];
    }
    case 'surrogate':
      e[m.field] = m.value;
      return [e, { accept: false, code: REJECT_CODES.BAD_ENCODING, field: m.field }];
    case 'extra': {
      for (let i = 0; i < m.fields; i++) e[`x${i}`] = i;
      const unknown = m.fields;
      return [
        e,
        unknown > LIMITS.maxUnknownFields
          ? { accept: false, code: REJECT_CODES.TOO_MANY_UNKNOWN_FIELDS, field: '' }
          : { accept: true },
      ];
    }
    case 'proto':
      // An own "__proto__" key, as JSON.parse makes it: counted as one unknown field, never merged.
      Object.defineProperty(e, m.key, { value: m.value, enumerable: true, writable: true });
      return [e, { accept: true }];
    case 'not-object':
      return [m.value, { accept: false, code: REJECT_CODES.NOT_AN_OBJECT }];
  }
}

const itemsArb = (kind: TelemetryKind) =>
  fc.array(
    fc
      .tuple(kind === 'access' ? accessArb : latencyArb, mutationArb(kind))
      .map(([e, m]) => mutate(kind, e as Record<string, unknown>, m)),
    { minLength: 1, maxLength: 12 },
  );

/** Checks the decoder's answer for each item against its verdict. */
function expectVerdicts(fed: Fed, verdicts: readonly Verdict[]): void {
  ok(!fed.whole, 'a batch is decoded event by event');
  eq(fed.accepted + fed.rejected, verdicts.length, 'accepted + rejected = items');
  const letters = new Map(fed.letters.map((l) => [l.index, l]));
  verdicts.forEach((v, i) => {
    const letter = letters.get(i);
    if (v.accept) {
      ok(letter === undefined, () => `item ${i} must be accepted, got ${letter?.code}`);
      return;
    }
    if (letter === undefined) {
      ok(v.code === undefined, `item ${i} must be rejected with ${v.code}`); // a retype may stay valid
      return;
    }
    if (v.code !== undefined) eq(letter.code, v.code, `item ${i} code`);
    if (v.field !== undefined) eq(letter.field, v.field, `item ${i} field`);
  });
}

// ---------------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------------

const PROTO_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();
afterEach(() => {
  // Nothing any message did reached the shared prototypes.
  expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  expect(([] as unknown as { polluted?: unknown }).polluted).toBeUndefined();
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTO_NAMES);
  expect(Object.getOwnPropertyNames(Array.prototype)).not.toContain('polluted');
});

const subjectArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(SUBJECT.access, SUBJECT.latency) },
  {
    weight: 1,
    arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => `${PREFIX}.telemetry.${s}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('access', 'latency'), fc.string({ unit: 'binary', maxLength: 300 }))
      .map(([k, s]) => `${PREFIX}.telemetry.${k}.${s}`),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

describe('Ingestor.handle on hostile messages (10,000 each)', () => {
  it('arbitrary bytes on arbitrary subjects: a stable code per rejection, never a throw', () => {
    const h = new Harness();
    fc.assert(
      fc.property(subjectArb, fc.uint8Array({ maxLength: 300 }), (subject, bytes) => {
        feedChecked(h, subject, bytes);
      }),
      { numRuns: RUNS },
    );
    h.expectCounters();
  });

  it('valid messages with invalid UTF-8 spliced in are refused whole as BAD_ENCODING', () => {
    const h = new Harness();
    const spliced = fc
      .tuple(
        fc.constantFrom('access', 'latency'),
        fc.array(fc.oneof(accessArb, latencyArb), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.constantFrom(...BAD_UTF8),
      )
      .map(([kind, events, at, seq]) => {
        // One bad sequence anywhere in valid UTF-8 leaves it invalid (two could pair up).
        const data = spliceBadUtf8(utf8.encode(JSON.stringify({ events })), at, seq);
        return { subject: SUBJECT[kind], data };
      });
    fc.assert(
      fc.property(spliced, ({ subject, data }) => {
        const fed = feedChecked(h, subject, data);
        expect(fed.letters[0]?.code).toBe(REJECT_CODES.BAD_ENCODING);
      }),
      { numRuns: RUNS },
    );
    h.expectCounters();
  });

  it('arbitrary JSON, alone or as a batch, as bytes or text', () => {
    const h = new Harness();
    const message = fc.oneof(
      jsonArb.map((v) => JSON.stringify(v)),
      fc.array(jsonArb, { maxLength: 8 }).map((events) => JSON.stringify({ events })),
      fc
        .dictionary(
          fc.constantFrom(...KNOWN.access, ...KNOWN.latency, 'events', ...PROTO_KEYS, 'x'),
          jsonArb,
          { maxKeys: 10 },
        )
        .map((o) => JSON.stringify(o)),
      fc.string({ maxLength: 64 }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(SUBJECT.access, SUBJECT.latency),
        message,
        fc.boolean(),
        (subject, text, asBytes) => {
          feedChecked(h, subject, asBytes ? utf8.encode(text) : text);
        },
      ),
      { numRuns: RUNS },
    );
    h.expectCounters();
  });

  for (const kind of ['access', 'latency'] as const) {
    it(`mutated ${kind} batches: good events applied, each bad one rejected with its code and field`, () => {
      const h = new Harness({ ...LIMITS, maxMessageBytes: 256 * 1024 });
      fc.assert(
        fc.property(itemsArb(kind), fc.boolean(), (pairs, wrap) => {
          const items = pairs.map(([item]) => item);
          const text = wrap || items.length > 1 ? jsonText({ events: items }) : jsonText(items[0]);
          const fed = feedChecked(h, SUBJECT[kind], utf8.encode(text));
          expectVerdicts(
            fed,
            pairs.map(([, v]) => v),
          );
        }),
        { numRuns: RUNS },
      );
      h.expectCounters();
    });
  }

  it('deep nesting, balanced or not, anywhere in a message', () => {
    const h = new Harness({ ...LIMITS, maxMessageBytes: 1024 * 1024 });
    const depth = fc.oneof(
      { weight: 19, arbitrary: fc.integer({ min: 1, max: 200 }) },
      { weight: 1, arbitrary: fc.integer({ min: 2_000, max: 12_000 }) },
    );
    const shape = fc.constantFrom(
      'array',
      'object',
      'unknown-field',
      'rejected-event',
      'batch-item',
      'unbalanced',
    );
    fc.assert(
      fc.property(depth, shape, (d, s) => {
        const arrays = deepJson(d, 'array');
        const objects = deepJson(d, 'object');
        const text = {
          array: arrays,
          object: objects,
          'unknown-field': `{"ts":1,"key":"k","hit":true,"x":${objects}}`,
          'rejected-event': `{"ts":-1,"key":"k","hit":true,"x":${arrays}}`,
          'batch-item': `{"events":[${arrays},{"ts":1,"key":"k","hit":true,"y":${arrays}}]}`,
          unbalanced: deepJson(d, 'unbalanced'),
        }[s];
        const fed = feedChecked(h, SUBJECT.access, utf8.encode(text));
        const code = {
          array: REJECT_CODES.NOT_AN_OBJECT,
          object: REJECT_CODES.MISSING_FIELD,
          'unknown-field': undefined,
          'rejected-event': REJECT_CODES.OUT_OF_RANGE,
          'batch-item': REJECT_CODES.NOT_AN_OBJECT,
          unbalanced: REJECT_CODES.BAD_JSON,
        }[s];
        expect(fed.letters.map((l) => l.code)).toEqual(code === undefined ? [] : [code]);
        expect(fed.accepted).toBe(s === 'unknown-field' || s === 'batch-item' ? 1 : 0);
      }),
      { numRuns: RUNS },
    );
    h.expectCounters();
  });

  it('__proto__, constructor and prototype keys anywhere never pollute and never merge', () => {
    const h = new Harness();
    const at = fc.constantFrom('wrapper', 'event', 'nested', 'batch-of-protos');
    fc.assert(
      fc.property(
        at,
        fc.constantFrom(...PROTO_KEYS),
        pollutingArb,
        accessArb,
        (where, key, value, event) => {
          const v = JSON.stringify(value);
          const ev = JSON.stringify(event);
          const text = {
            // A batch hidden under a prototype key is not a batch: one event, missing its fields.
            wrapper: `{"${key}":{"events":[${ev}]}}`,
            event: `${ev.slice(0, -1)},"${key}":${v}}`,
            nested: `${ev.slice(0, -1)},"x":{"${key}":${v},"y":[{"${key}":${v}}]}}`,
            'batch-of-protos': `{"events":[${ev},{"${key}":${v}},${ev}],"${key}":${v}}`,
          }[where];
          const fed = feedChecked(h, SUBJECT.access, text);
          for (const e of fed.events) expect(Object.hasOwn(e, key)).toBe(false);
          if (where === 'event' || where === 'nested') expect(fed.accepted).toBe(1);
          if (where === 'batch-of-protos') expect(fed.accepted).toBe(2);
        },
      ),
      { numRuns: RUNS },
    );
    h.expectCounters();
  });

  it('strings around their byte limits, in 1- to 4-byte characters', () => {
    const h = new Harness();
    fc.assert(
      fc.property(
        fc.constantFrom('key', 'pool', 'backend'),
        fc.constantFrom('a', 'é', '€', '😀'),
        fc.integer({ min: 0, max: 40 }),
        fc.boolean(),
        (field, char, slack, over) => {
          const max = field === 'key' ? EVENT_LIMITS.maxKeyBytes : EVENT_LIMITS.maxNameBytes;
          const ch = field === 'pool' ? 'a' : char;
          const n = Math.max(
            1,
            Math.floor(max / Buffer.byteLength(ch)) + (over ? 1 + slack : -slack),
          );
          const value = ch.repeat(n);
          const kind: TelemetryKind = field === 'key' ? 'access' : 'latency';
          const event =
            kind === 'access'
              ? { ts: 1, key: value, hit: true }
              : { ts: 1, pool: 'p', backend: 'b', latencyMs: 1, status: 200, [field]: value };
          const fed = feedChecked(h, SUBJECT[kind], utf8.encode(JSON.stringify(event)));
          const fits = Buffer.byteLength(value) <= max;
          expect(fed.accepted).toBe(fits ? 1 : 0);
          if (!fits) expect(fed.letters[0]).toMatchObject({ code: REJECT_CODES.TOO_LONG, field });
        },
      ),
      { numRuns: RUNS },
    );
    h.expectCounters();
  });

  it('messages around PRESCIENT_MAX_MESSAGE_BYTES are refused whole above it, decoded below', () => {
    const limits = { ...LIMITS, maxMessageBytes: 1024 };
    const h = new Harness(limits);
    fc.assert(
      fc.property(
        fc.array(accessArb, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: -64, max: 64 }),
        (events, delta) => {
          const body = JSON.stringify({ events });
          const target = limits.maxMessageBytes + delta;
          const size = utf8.encode(body).byteLength;
          fc.pre(size <= target);
          const data = utf8.encode(body + ' '.repeat(target - size));
          const fed = feedChecked(h, SUBJECT.access, data);
          if (delta > 0) expect(fed.letters[0]?.code).toBe(REJECT_CODES.MESSAGE_TOO_LARGE);
          else expect(fed.accepted).toBe(events.length);
        },
      ),
      { numRuns: RUNS },
    );
    h.expectCounters();
  });
});

describe('decodeEvents and Ingestor.reject on parsed items (the HTTP path, 10,000 each)', () => {
  it('any JavaScript value as an item: counted, never thrown', () => {
    const anything = fc.anything({
      maxDepth: 3,
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withTypedArray: true,
      withSparseArray: true,
      withUnicodeString: true,
    });
    const item = fc.oneof(
      anything,
      // Event-shaped objects whose fields are anything at all.
      fc.dictionary(fc.constantFrom(...KNOWN.access, ...KNOWN.latency, ...PROTO_KEYS), anything, {
        maxKeys: 8,
      }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom('access', 'latency'),
        fc.array(item, { maxLength: 8 }),
        (kind, items) => {
          const decoded =
            kind === 'access'
              ? decodeEvents('access', 'n', items, 8, checkAccess)
              : decodeEvents('latency', 'p', items, 8, checkLatency);
          expect(decoded.total).toBe(items.length);
          expect(decoded.events.length + decoded.rejections.length).toBe(items.length);
          for (const r of decoded.rejections) expect(CODES.has(r.code)).toBe(true);
          for (const e of decoded.events) checkAccepted(e as unknown as Record<string, unknown>);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('JSON items as POST /v1/telemetry hands them over: counted and dead-lettered', () => {
    const h = new Harness({ ...LIMITS, maxMessageBytes: 1024 * 1024 });
    // Deep items are built inside the property from their depth, so a counterexample prints.
    const deep = (d: number) => JSON.parse(deepJson(d, 'array')) as unknown;
    const item = fc.oneof(
      { weight: 10, arbitrary: fc.oneof(accessArb, latencyArb, jsonArb) },
      { weight: 1, arbitrary: fc.record({ deep: fc.integer({ min: 1, max: 12_000 }) }) },
      { weight: 1, arbitrary: fc.record({ deepField: fc.integer({ min: 1, max: 12_000 }) }) },
    );
    const build = (x: unknown): unknown => {
      if (x !== null && typeof x === 'object' && 'deep' in x) return deep(x.deep as number);
      if (x !== null && typeof x === 'object' && 'deepField' in x)
        return { ts: 'x', x: deep(x.deepField as number) };
      return x;
    };
    fc.assert(
      fc.property(
        fc.constantFrom('access', 'latency'),
        fc.array(item, { maxLength: 6 }),
        (kind, specs) => {
          const items = specs.map(build);
          const fed = h.feedItems(kind, items);
          eq(fed.accepted + fed.rejected, items.length, 'accepted + rejected = items');
        },
      ),
      { numRuns: RUNS },
    );
    h.expectCounters();
  });
});

describe('targeted large cases', () => {
  const big: DecodeLimits = { maxUnknownFields: 8, maxMessageBytes: 8 * 1024 * 1024 };

  it('a message one byte over the default 8 MiB is one dead letter, not parsed', () => {
    const h = new Harness(big);
    const data = new Uint8Array(big.maxMessageBytes + 1).fill(0x5b); // "[[[[…": never read
    const fed = feedChecked(h, SUBJECT.access, data);
    expect(fed.letters[0]).toMatchObject({ code: REJECT_CODES.MESSAGE_TOO_LARGE, index: -1 });
    h.expectCounters();
  });

  it('batches around 10,000 events: over it, every event is counted rejected once', () => {
    const h = new Harness(big);
    fc.assert(
      fc.property(fc.integer({ min: 9_998, max: 10_003 }), fc.boolean(), (n, valid) => {
        const item = valid ? '{"ts":1,"key":"k","hit":true}' : '{}';
        const fed = feedChecked(
          h,
          SUBJECT.access,
          utf8.encode(`{"events":[${new Array<string>(n).fill(item).join(',')}]}`),
        );
        if (n > EVENT_LIMITS.maxBatch) {
          expect(fed.letters).toEqual([
            expect.objectContaining({ code: REJECT_CODES.BATCH_TOO_LARGE }),
          ]);
          expect(fed.rejected).toBe(n);
        } else {
          expect(fed.accepted).toBe(valid ? n : 0);
          expect(fed.rejected).toBe(valid ? 0 : n);
        }
      }),
      { numRuns: 24 },
    );
    h.expectCounters();
  });

  it('100,000 levels of nesting as a message, an event and a rejected event', () => {
    const h = new Harness(big);
    const d = 100_000;
    const arrays = deepJson(d, 'array');
    feedChecked(h, SUBJECT.access, arrays);
    feedChecked(h, SUBJECT.access, `{"events":[${arrays}]}`);
    const fed = feedChecked(h, SUBJECT.access, `{"ts":"x","key":"k","hit":true,"x":${arrays}}`);
    expect(fed.letters[0]).toMatchObject({ code: REJECT_CODES.WRONG_TYPE, field: 'ts' });
    expect(
      feedChecked(h, SUBJECT.access, `{"ts":1,"key":"k","hit":true,"x":${arrays}}`).accepted,
    ).toBe(1);
    h.expectCounters();
  });

  it('a rejected event with a 4 MiB string keeps a bounded preview in its dead letter', () => {
    const h = new Harness(big);
    const fed = feedChecked(
      h,
      SUBJECT.access,
      `{"events":[{"ts":-1,"key":"k","hit":true,"x":"${'y'.repeat(4 * 1024 * 1024)}"}]}`,
    );
    expect(fed.letters[0]).toMatchObject({ code: REJECT_CODES.OUT_OF_RANGE, field: 'ts' });
    expect(typeof fed.letters[0]!.event).toBe('string');
    h.expectCounters();
  });
});
