/**
 * @module client/document-follower
 * What the SDK clients (WeightsClient, VictimsClient) share, as their base class: follow one key
 * of the policy KV bucket and keep its last known good document.
 *
 *   KV watch `<key>` → validate → newer version? → fresh? → keep → ack
 *
 * A malformed document, an older version, or one that arrives already stale is rejected: counted,
 * reported to `onError` as "`<key>`: why; keeping the last known good", and not applied. The
 * state follows from the kept document's `generatedAt + ttlMs`. What a document means (its
 * validation, what applying it changes, the ack) is the client's, passed to the constructor.
 */
import type { NatsConnection } from 'nats';
import { watchPolicyKey, type PolicyWatch } from './policy-watch.js';

/** The fields of every policy document the follower relies on (docs/protocol.md). */
export interface FollowedDocument {
  readonly version: number;
  /** Epoch ms. */
  readonly generatedAt: number;
  readonly ttlMs: number;
}

/**
 * - `waiting`: no document yet;
 * - `live`: the kept document is fresh;
 * - `stale`: the kept document is past `generatedAt + ttlMs`.
 */
export type FollowerState = 'waiting' | 'live' | 'stale';

/**
 * The checks every policy document passes (docs/protocol.md): an object of `kind` with finite
 * `version`, `generatedAt` and `ttlMs`. Returns those fields and the unchecked `entries` for the
 * kind's own checks, or why the document is unusable.
 */
export function validateHeader(
  raw: unknown,
  kind: string,
): (FollowedDocument & { readonly entries: unknown }) | string {
  if (typeof raw !== 'object' || raw === null) return 'not an object';
  const d = raw as Record<string, unknown>;
  if (d['kind'] !== kind) return `kind is ${JSON.stringify(d['kind'])}, not "${kind}"`;
  for (const f of ['version', 'generatedAt', 'ttlMs'] as const) {
    if (typeof d[f] !== 'number' || !Number.isFinite(d[f])) return `"${f}" is not a number`;
  }
  return {
    version: d['version'] as number,
    generatedAt: d['generatedAt'] as number,
    ttlMs: d['ttlMs'] as number,
    entries: d['entries'],
  };
}

/** What a client shares with the follower: the connection-level options of both clients. */
export interface FollowerConnection {
  /** Without a connection the client only takes documents given to `applyDocument`. */
  readonly nc?: NatsConnection;
  /** Default `prescient-policy`. */
  readonly kvBucket?: string;
  /** Epoch ms. Default Date.now. */
  readonly now?: () => number;
  readonly onError?: (err: Error) => void;
}

/** The kind-specific parts of a client, passed to {@link DocumentFollower}. */
export interface DocumentKind<D extends FollowedDocument> {
  /** KV key followed, e.g. `weights.checkout`; also starts every rejection message. */
  readonly key: string;
  /** The client's class name, for the error `start()` throws without a connection. */
  readonly owner: string;
  /** The document's fields, or why it is unusable. */
  readonly validate: (raw: unknown) => D | string;
  /** Called with each applied document, before its ack. */
  readonly onApply: (doc: D) => void;
  /**
   * For a valid, newer document that arrived stale while nothing is kept: what to keep anyway
   * (it is still rejected and not acked). Default: nothing.
   */
  readonly keepStaleArrival?: (doc: D) => D;
  /** Where applied documents are acked. */
  readonly ackSubject: string;
  /** The ack's body (sent as JSON) for a document applied at `appliedAt` (epoch ms). */
  readonly ackBody: (doc: D, appliedAt: number) => unknown;
}

/**
 * The base of the SDK clients: their shared public lifecycle (`start`, `stop`, `applyDocument`)
 * and, for the subclass, the kept document, its state and the rejections.
 */
export abstract class DocumentFollower<D extends FollowedDocument> {
  protected readonly now: () => number;
  private kept: D | undefined;
  private watch: PolicyWatch | undefined;
  private rejectedCount = 0;
  private lastRejectionText = '';

  protected constructor(
    private readonly connection: FollowerConnection,
    private readonly kind: DocumentKind<D>,
  ) {
    this.now = connection.now ?? Date.now;
  }

  /** Watches the client's KV key; resolves once the watch is established. Needs `nc`. */
  async start(): Promise<void> {
    const { nc, onError } = this.connection;
    if (!nc) throw new Error(`${this.kind.owner}.start() needs a NATS connection (option nc)`);
    this.watch = watchPolicyKey(nc, {
      bucket: this.connection.kvBucket ?? 'prescient-policy',
      key: this.kind.key,
      onDocument: (doc) => {
        this.applyDocument(doc);
      },
      ...(onError ? { onError } : {}),
    });
    await this.watch.ready;
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
  }

  /**
   * Applies a document if it is valid, newer than the applied one and fresh; acks it when
   * connected. Returns whether it was applied.
   */
  applyDocument(raw: unknown): boolean {
    const doc = this.kind.validate(raw);
    if (typeof doc === 'string') return this.reject(doc);
    if (this.kept && doc.version <= this.kept.version)
      return this.reject(`version ${doc.version} is not newer than ${this.kept.version}`);
    const now = this.now();
    if (doc.generatedAt + doc.ttlMs < now) {
      if (!this.kept && this.kind.keepStaleArrival) this.kept = this.kind.keepStaleArrival(doc);
      return this.reject(`version ${doc.version} arrived stale`);
    }
    this.kept = doc;
    this.kind.onApply(doc);
    this.connection.nc?.publish(this.kind.ackSubject, JSON.stringify(this.kind.ackBody(doc, now)));
    return true;
  }

  /** The document kept: the last applied one (or a stale arrival kept by `keepStaleArrival`). */
  protected get doc(): D | undefined {
    return this.kept;
  }

  /** How many documents were rejected. */
  protected get rejected(): number {
    return this.rejectedCount;
  }

  /** Why the last document was rejected; empty before the first rejection. */
  protected get lastRejection(): string {
    return this.lastRejectionText;
  }

  /** `waiting` before the first document, then `live` until `generatedAt + ttlMs`, then `stale`. */
  protected stateAt(now: number): FollowerState {
    if (!this.kept) return 'waiting';
    return this.kept.generatedAt + this.kept.ttlMs < now ? 'stale' : 'live';
  }

  /** Epoch ms the kept document stops being fresh (generatedAt + ttlMs); 0 before the first. */
  protected expiresAt(): number {
    return this.kept ? this.kept.generatedAt + this.kept.ttlMs : 0;
  }

  private reject(why: string): false {
    this.rejectedCount++;
    this.lastRejectionText = why;
    this.connection.onError?.(new Error(`${this.kind.key}: ${why}; keeping the last known good`));
    return false;
  }
}
