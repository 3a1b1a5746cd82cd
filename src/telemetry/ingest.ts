/**
 * @module telemetry/ingest
 * Decoded telemetry → feature store, with the bookkeeping the contract asks for: every event is
 * counted as accepted or rejected (by kind and code), every rejection is dead-lettered with its
 * reason, and a bad event never stops the rest of its batch. Transport-free: the NATS source,
 * the in-process bus and the HTTP route all call {@link Ingestor.handle} / {@link Ingestor.record}.
 */
import type { AccessEvent, LatencyEvent, TelemetryKind } from './events.js';
import {
  decodeMessage,
  parseSubject,
  type Decoded,
  type DecodeLimits,
  type Rejection,
} from './decode.js';

/** Where valid events go (the feature store). */
export interface EventSink {
  applyAccess(node: string, events: readonly AccessEvent[]): void;
  applyLatency(proxy: string, events: readonly LatencyEvent[]): void;
}

/** One rejected event (or message), as published on `prescient.deadletter.telemetry`. */
export interface DeadLetter extends Rejection {
  readonly kind: TelemetryKind | 'unknown';
  readonly source: string;
  readonly subject: string;
  readonly receivedAtMs: number;
  readonly msgId?: string;
  readonly seq?: number;
}

/** Publishes dead letters; must not throw (a failing sink counts its own failures). */
export interface DeadLetterSink {
  send(letters: readonly DeadLetter[]): void;
}

export interface MessageMeta {
  readonly msgId?: string;
  readonly seq?: number;
}

export interface IngestOutcome {
  readonly accepted: number;
  readonly rejected: number;
}

type CountKind = TelemetryKind | 'unknown';

/** A dead letter keeps its event as is up to this depth: JSON.stringify recurses, JSON.parse does not. */
const LETTER_EVENT_MAX_DEPTH = 64;
/** …and up to this many characters of JSON (the last letters stay in memory for the API). */
const LETTER_EVENT_MAX_CHARS = 16 * 1024;
const LETTER_PREVIEW_CHARS = 512;

/**
 * The event a dead letter carries: the offending event itself, or a string in its place when it
 * is nested too deep to serialize (a hostile event may nest 100,000 levels) or too large to keep.
 */
function letterEvent(event: unknown): unknown {
  const stack: unknown[] = [event];
  const depths: number[] = [0];
  while (stack.length > 0) {
    const v = stack.pop();
    const depth = depths.pop() ?? 0;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= LETTER_EVENT_MAX_DEPTH)
      return `(event not kept: nested deeper than ${LETTER_EVENT_MAX_DEPTH} levels)`;
    for (const child of Object.values(v)) {
      stack.push(child);
      depths.push(depth + 1);
    }
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(event);
  } catch {
    return '(event not kept: not serializable as JSON)';
  }
  if (text === undefined || text.length <= LETTER_EVENT_MAX_CHARS) return event;
  return `${text.slice(0, LETTER_PREVIEW_CHARS)}…`;
}

/** Plain counters (the hot path increments numbers; /metrics reads them when scraped). */
export class IngestCounters {
  messages = 0;
  readonly accepted: Record<CountKind, number> = { access: 0, latency: 0, unknown: 0 };
  readonly rejected: Record<CountKind, number> = { access: 0, latency: 0, unknown: 0 };
  /** Rejections by `kind` and code. */
  readonly rejectedByCode = new Map<string, { kind: CountKind; code: string; count: number }>();

  countRejections(kind: CountKind, rejections: readonly Rejection[], total: number): void {
    // A whole-message rejection of a batch counts every event in it.
    const whole = rejections.length === 1 && rejections[0]?.index === -1;
    const n = whole ? Math.max(1, total) : rejections.length;
    this.rejected[kind] += n;
    for (const r of rejections) {
      const id = `${kind}\u0000${r.code}`;
      const entry = this.rejectedByCode.get(id);
      const add = whole ? n : 1;
      if (entry) entry.count += add;
      else this.rejectedByCode.set(id, { kind, code: r.code, count: add });
    }
  }
}

export interface IngestorOptions {
  readonly subjectPrefix: string;
  readonly limits: DecodeLimits;
  /** Recent dead letters kept in memory for the API. Default 100. */
  readonly recentDeadLetters?: number;
  readonly now?: () => number;
}

export class Ingestor {
  readonly counters = new IngestCounters();
  private readonly recent: DeadLetter[] = [];
  private readonly recentMax: number;
  private readonly now: () => number;

  constructor(
    private readonly sink: EventSink,
    private readonly deadLetters: DeadLetterSink,
    private readonly options: IngestorOptions,
  ) {
    this.recentMax = options.recentDeadLetters ?? 100;
    this.now = options.now ?? Date.now;
  }

  /** Decodes one message from its subject and applies its valid events. */
  handle(subject: string, data: Uint8Array | string, meta: MessageMeta = {}): IngestOutcome {
    const { kind, source } = parseSubject(subject, this.options.subjectPrefix);
    return this.record(subject, decodeMessage(kind, source, data, this.options.limits), meta);
  }

  /** Applies an already decoded message: valid events to the sink, rejections to dead letters. */
  record(subject: string, decoded: Decoded, meta: MessageMeta = {}): IngestOutcome {
    this.counters.messages++;
    if (decoded.kind === 'access' && decoded.events.length > 0)
      this.sink.applyAccess(decoded.source, decoded.events);
    else if (decoded.kind === 'latency' && decoded.events.length > 0)
      this.sink.applyLatency(decoded.source, decoded.events);
    this.counters.accepted[decoded.kind] += decoded.events.length;
    if (decoded.rejections.length > 0) this.reject(subject, decoded, meta);
    return { accepted: decoded.events.length, rejected: decoded.total - decoded.events.length };
  }

  /** Counts and dead-letters the rejections of a message (its valid events are handled elsewhere). */
  reject(subject: string, decoded: Decoded, meta: MessageMeta = {}): void {
    this.counters.countRejections(decoded.kind, decoded.rejections, decoded.total);
    const receivedAtMs = this.now();
    const letters = decoded.rejections.map((r): DeadLetter => {
      const letter: DeadLetter = {
        ...r,
        ...(r.event === undefined ? {} : { event: letterEvent(r.event) }),
        kind: decoded.kind,
        source: decoded.source,
        subject,
        receivedAtMs,
      };
      return {
        ...letter,
        ...(meta.msgId === undefined ? {} : { msgId: meta.msgId }),
        ...(meta.seq === undefined ? {} : { seq: meta.seq }),
      };
    });
    for (const l of letters) {
      this.recent.push(l);
      if (this.recent.length > this.recentMax) this.recent.shift();
    }
    this.deadLetters.send(letters);
  }

  /** The most recent dead letters, newest last. */
  recentDeadLetters(): readonly DeadLetter[] {
    return this.recent;
  }
}
