/**
 * @module telemetry/decode
 * Bytes → typed events. The edge of the engine: every telemetry message, from NATS or HTTP,
 * passes here and nowhere else is telemetry validated. A message carries one event or
 * `{"events":[...]}`; each bad event becomes a {@link Rejection} with a stable code while the
 * good events of the same batch go through. Never throws: hostile input is data, not an error.
 *
 * The checks are written out by hand (no schema interpreter) because this runs for every event
 * at hundreds of thousands per second; `test/telemetry/decode.test.ts` keeps them in agreement
 * with the JSON Schemas in ./events.ts.
 */
import {
  ACCESS_OPS,
  EVENT_LIMITS,
  POOL_PATTERN,
  SOURCE_PATTERN,
  type AccessEvent,
  type AccessOp,
  type LatencyEvent,
  type TelemetryKind,
} from './events.js';

/** Stable rejection codes, used as the `code` label of `prescient_telemetry_rejected_total`. */
export const REJECT_CODES = {
  BAD_ENCODING: 'PRESCIENT_E_TELEMETRY_BAD_ENCODING',
  BAD_JSON: 'PRESCIENT_E_TELEMETRY_BAD_JSON',
  MESSAGE_TOO_LARGE: 'PRESCIENT_E_TELEMETRY_MESSAGE_TOO_LARGE',
  BATCH_TOO_LARGE: 'PRESCIENT_E_TELEMETRY_BATCH_TOO_LARGE',
  UNKNOWN_SUBJECT: 'PRESCIENT_E_TELEMETRY_UNKNOWN_SUBJECT',
  BAD_SOURCE: 'PRESCIENT_E_TELEMETRY_BAD_SOURCE',
  NOT_AN_OBJECT: 'PRESCIENT_E_TELEMETRY_NOT_AN_OBJECT',
  MISSING_FIELD: 'PRESCIENT_E_TELEMETRY_MISSING_FIELD',
  WRONG_TYPE: 'PRESCIENT_E_TELEMETRY_WRONG_TYPE',
  NOT_FINITE: 'PRESCIENT_E_TELEMETRY_NOT_FINITE',
  OUT_OF_RANGE: 'PRESCIENT_E_TELEMETRY_OUT_OF_RANGE',
  TOO_LONG: 'PRESCIENT_E_TELEMETRY_TOO_LONG',
  BAD_NAME: 'PRESCIENT_E_TELEMETRY_BAD_NAME',
  TOO_MANY_UNKNOWN_FIELDS: 'PRESCIENT_E_TELEMETRY_TOO_MANY_UNKNOWN_FIELDS',
} as const;
export type RejectCode = (typeof REJECT_CODES)[keyof typeof REJECT_CODES];

export interface Rejection {
  readonly code: RejectCode;
  /** What is wrong and what to send instead. */
  readonly reason: string;
  /** Position in the batch, or -1 when the whole message was refused. */
  readonly index: number;
  readonly field?: string;
  /** The offending event (or a prefix of the raw message when it did not parse). */
  readonly event?: unknown;
}

export interface DecodeLimits {
  /** Unknown fields tolerated per event (ignored); more and the event is rejected. */
  readonly maxUnknownFields: number;
  /** Largest message in bytes. */
  readonly maxMessageBytes: number;
}

export type Decoded =
  | {
      readonly kind: 'access';
      readonly source: string;
      readonly events: AccessEvent[];
      readonly rejections: Rejection[];
      readonly total: number;
    }
  | {
      readonly kind: 'latency';
      readonly source: string;
      readonly events: LatencyEvent[];
      readonly rejections: Rejection[];
      readonly total: number;
    }
  | {
      readonly kind: 'unknown';
      readonly source: string;
      readonly events: [];
      readonly rejections: Rejection[];
      readonly total: number;
    };

/** Node and proxy names (a subject token) and pool names (part of a KV key `weights.<pool>`). */
const TOKEN_RE = new RegExp(SOURCE_PATTERN);
const POOL_RE = new RegExp(POOL_PATTERN);

/** True when `name` can be a node or proxy name (one subject token, KV-key safe). */
export function isValidSourceName(name: string): boolean {
  return name.length > 0 && name.length <= EVENT_LIMITS.maxNameBytes && TOKEN_RE.test(name);
}

/** Splits `<prefix>.telemetry.<kind>.<source>` into kind and source. */
export function parseSubject(
  subject: string,
  prefix: string,
): { kind: TelemetryKind | 'unknown'; source: string } {
  const head = `${prefix}.telemetry.`;
  if (!subject.startsWith(head)) return { kind: 'unknown', source: '' };
  const rest = subject.slice(head.length);
  const dot = rest.indexOf('.');
  if (dot < 0) return { kind: 'unknown', source: '' };
  const kind = rest.slice(0, dot);
  const source = rest.slice(dot + 1);
  return { kind: kind === 'access' || kind === 'latency' ? kind : 'unknown', source };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const PREVIEW_CHARS = 512;

function preview(text: string): string {
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

/** Decodes a message body of the given kind. `data` is the raw message (bytes or text). */
export function decodeMessage(
  kind: TelemetryKind | 'unknown',
  source: string,
  data: Uint8Array | string,
  limits: DecodeLimits,
): Decoded {
  const whole = (code: RejectCode, reason: string, event?: unknown, total = 1): Decoded => ({
    kind: 'unknown',
    source,
    events: [],
    total,
    rejections: [
      event === undefined ? { code, reason, index: -1 } : { code, reason, index: -1, event },
    ],
  });
  const size = typeof data === 'string' ? data.length : data.byteLength;
  if (size > limits.maxMessageBytes) {
    return whole(
      REJECT_CODES.MESSAGE_TOO_LARGE,
      `message is ${size} bytes; the limit is ${limits.maxMessageBytes} (PRESCIENT_MAX_MESSAGE_BYTES): split it into smaller batches`,
    );
  }
  if (kind === 'unknown') {
    return whole(
      REJECT_CODES.UNKNOWN_SUBJECT,
      'subject must be <prefix>.telemetry.access.<node> or <prefix>.telemetry.latency.<proxy>',
    );
  }
  if (!isValidSourceName(source)) {
    return whole(
      REJECT_CODES.BAD_SOURCE,
      `${kind === 'access' ? 'node' : 'proxy'} name ${JSON.stringify(preview(source))} must be 1-256 characters of A-Z a-z 0-9 _ - = /`,
    );
  }
  let text: string;
  if (typeof data === 'string') {
    text = data;
  } else {
    try {
      text = utf8.decode(data);
    } catch {
      return whole(REJECT_CODES.BAD_ENCODING, 'message is not valid UTF-8');
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return whole(
      REJECT_CODES.BAD_JSON,
      `message is not JSON (${(err as Error).message})`,
      preview(text),
    );
  }
  let items: unknown[];
  if (
    parsed !== null &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    Object.hasOwn(parsed, 'events')
  ) {
    const batch = (parsed as { events: unknown }).events;
    if (!Array.isArray(batch)) {
      return whole(REJECT_CODES.WRONG_TYPE, '"events" must be an array of events');
    }
    if (batch.length > EVENT_LIMITS.maxBatch) {
      return whole(
        REJECT_CODES.BATCH_TOO_LARGE,
        `batch has ${batch.length} events; at most ${EVENT_LIMITS.maxBatch} per message`,
        undefined,
        batch.length,
      );
    }
    items = batch;
  } else {
    items = [parsed];
  }
  return kind === 'access'
    ? decodeEvents('access', source, items, limits.maxUnknownFields, checkAccess)
    : decodeEvents('latency', source, items, limits.maxUnknownFields, checkLatency);
}

/** Validates already-parsed events (the HTTP route parses JSON itself). */
export function decodeEvents<K extends TelemetryKind, E>(
  kind: K,
  source: string,
  items: readonly unknown[],
  maxUnknownFields: number,
  check: (raw: Record<string, unknown>, maxUnknownFields: number) => E | Fault,
): Decoded & { kind: K } {
  const events: E[] = [];
  const rejections: Rejection[] = [];
  for (let i = 0; i < items.length; i++) {
    const raw = items[i];
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      rejections.push({
        code: REJECT_CODES.NOT_AN_OBJECT,
        reason: 'each event must be a JSON object',
        index: i,
        event: raw,
      });
      continue;
    }
    const out = check(raw as Record<string, unknown>, maxUnknownFields);
    if (out instanceof Fault)
      rejections.push({
        code: out.code,
        reason: out.reason,
        field: out.field,
        index: i,
        event: raw,
      });
    else events.push(out);
  }
  return { kind, source, events, rejections, total: items.length } as unknown as Decoded & {
    kind: K;
  };
}

/** A failed check: returned, not thrown, on the hot path. */
export class Fault {
  constructor(
    readonly code: RejectCode,
    readonly field: string,
    readonly reason: string,
  ) {}
}

function num(
  raw: Record<string, unknown>,
  field: string,
  required: boolean,
  min: number,
  max: number,
  integer: boolean,
): number | undefined | Fault {
  const v = raw[field];
  if (v === undefined)
    return required
      ? new Fault(REJECT_CODES.MISSING_FIELD, field, `"${field}" is required`)
      : undefined;
  if (typeof v !== 'number')
    return new Fault(
      REJECT_CODES.WRONG_TYPE,
      field,
      `"${field}" must be a number, got ${v === null ? 'null' : typeof v}`,
    );
  if (!Number.isFinite(v))
    return new Fault(REJECT_CODES.NOT_FINITE, field, `"${field}" must be finite`);
  if (v < min || v > max)
    return new Fault(
      REJECT_CODES.OUT_OF_RANGE,
      field,
      `"${field}" must be between ${min} and ${max}, got ${v}`,
    );
  if (integer && !Number.isInteger(v))
    return new Fault(REJECT_CODES.WRONG_TYPE, field, `"${field}" must be a whole number, got ${v}`);
  return v;
}

function str(
  raw: Record<string, unknown>,
  field: string,
  maxBytes: number,
  pattern?: RegExp,
): string | Fault {
  const v = raw[field];
  if (v === undefined)
    return new Fault(REJECT_CODES.MISSING_FIELD, field, `"${field}" is required`);
  if (typeof v !== 'string')
    return new Fault(
      REJECT_CODES.WRONG_TYPE,
      field,
      `"${field}" must be a string, got ${v === null ? 'null' : typeof v}`,
    );
  if (v.length === 0)
    return new Fault(REJECT_CODES.OUT_OF_RANGE, field, `"${field}" must not be empty`);
  // A UTF-16 unit is at most 3 UTF-8 bytes, so short strings skip the byte count.
  if (v.length * 3 > maxBytes && Buffer.byteLength(v, 'utf8') > maxBytes) {
    return new Fault(
      REJECT_CODES.TOO_LONG,
      field,
      `"${field}" is longer than ${maxBytes} UTF-8 bytes`,
    );
  }
  if (!v.isWellFormed())
    return new Fault(
      REJECT_CODES.BAD_ENCODING,
      field,
      `"${field}" holds an unpaired UTF-16 surrogate (not encodable as UTF-8)`,
    );
  if (pattern !== undefined && !pattern.test(v)) {
    return new Fault(
      REJECT_CODES.BAD_NAME,
      field,
      `"${field}" must be dot-separated words of A-Z a-z 0-9 _ - = /`,
    );
  }
  return v;
}

function unknownFields(
  raw: Record<string, unknown>,
  known: number,
  maxUnknown: number,
): Fault | undefined {
  let n = 0;
  for (const _ in raw) n++;
  return n - known > maxUnknown
    ? new Fault(
        REJECT_CODES.TOO_MANY_UNKNOWN_FIELDS,
        '',
        `event has ${n - known} unknown fields; at most ${maxUnknown} are tolerated`,
      )
    : undefined;
}

const OPS: ReadonlySet<string> = new Set(ACCESS_OPS);

/** Checks one access event (fields per docs/protocol.md). */
export function checkAccess(
  raw: Record<string, unknown>,
  maxUnknownFields: number,
): AccessEvent | Fault {
  const ts = num(raw, 'ts', true, 0, EVENT_LIMITS.maxTsMs, false);
  if (ts instanceof Fault) return ts;
  const key = str(raw, 'key', EVENT_LIMITS.maxKeyBytes);
  if (key instanceof Fault) return key;
  const hit = raw['hit'];
  if (hit === undefined) return new Fault(REJECT_CODES.MISSING_FIELD, 'hit', '"hit" is required');
  if (typeof hit !== 'boolean')
    return new Fault(REJECT_CODES.WRONG_TYPE, 'hit', '"hit" must be true or false');
  let known = 3;
  const size = num(raw, 'size', false, 0, Number.MAX_SAFE_INTEGER, true);
  if (size instanceof Fault) return size;
  const latencyMs = num(raw, 'latencyMs', false, 0, Number.MAX_VALUE, false);
  if (latencyMs instanceof Fault) return latencyMs;
  const op = raw['op'];
  if (op !== undefined && (typeof op !== 'string' || !OPS.has(op))) {
    return new Fault(REJECT_CODES.WRONG_TYPE, 'op', `"op" must be one of ${ACCESS_OPS.join(', ')}`);
  }
  if (size !== undefined) known++;
  if (latencyMs !== undefined) known++;
  if (op !== undefined) known++;
  const extra = unknownFields(raw, known, maxUnknownFields);
  if (extra !== undefined) return extra;
  // Built field by field: an absent optional stays absent (exactOptionalPropertyTypes).
  const ev: {
    ts: number;
    key: string;
    hit: boolean;
    size?: number;
    op?: AccessOp;
    latencyMs?: number;
  } = { ts: ts as number, key, hit };
  if (size !== undefined) ev.size = size;
  if (op !== undefined) ev.op = op as AccessOp;
  if (latencyMs !== undefined) ev.latencyMs = latencyMs;
  return ev;
}

/** Checks one latency observation (fields per docs/protocol.md). */
export function checkLatency(
  raw: Record<string, unknown>,
  maxUnknownFields: number,
): LatencyEvent | Fault {
  const ts = num(raw, 'ts', true, 0, EVENT_LIMITS.maxTsMs, false);
  if (ts instanceof Fault) return ts;
  const pool = str(raw, 'pool', EVENT_LIMITS.maxNameBytes, POOL_RE);
  if (pool instanceof Fault) return pool;
  const backend = str(raw, 'backend', EVENT_LIMITS.maxNameBytes);
  if (backend instanceof Fault) return backend;
  const latencyMs = num(raw, 'latencyMs', true, 0, Number.MAX_VALUE, false);
  if (latencyMs instanceof Fault) return latencyMs;
  const status = num(raw, 'status', true, 100, 599, true);
  if (status instanceof Fault) return status;
  let known = 5;
  const inflight = num(raw, 'inflight', false, 0, Number.MAX_SAFE_INTEGER, true);
  if (inflight instanceof Fault) return inflight;
  const bytes = num(raw, 'bytes', false, 0, Number.MAX_SAFE_INTEGER, true);
  if (bytes instanceof Fault) return bytes;
  if (inflight !== undefined) known++;
  if (bytes !== undefined) known++;
  const extra = unknownFields(raw, known, maxUnknownFields);
  if (extra !== undefined) return extra;
  const ev: {
    ts: number;
    pool: string;
    backend: string;
    latencyMs: number;
    status: number;
    inflight?: number;
    bytes?: number;
  } = {
    ts: ts as number,
    pool,
    backend,
    latencyMs: latencyMs as number,
    status: status as number,
  };
  if (inflight !== undefined) ev.inflight = inflight;
  if (bytes !== undefined) ev.bytes = bytes;
  return ev;
}
