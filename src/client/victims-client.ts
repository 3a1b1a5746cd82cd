/**
 * @module client/victims-client
 * The SDK a cache embeds to evict with Prescient's victims, the counterpart of the WeightsClient:
 *
 *   KV watch `eviction.<node>` → validate → apply → ack on
 *   `<prefix>.policy.ack.eviction.<clientId>`;  `pickVictim()` per eviction
 *
 * It keeps the last known good document: a malformed document, an older version, or one that
 * arrives already stale is not applied. While the applied document is fresh the cache evicts the
 * best-ranked resident key it lists; before the first document, and once the applied one is past
 * `generatedAt + ttlMs` (the engine stopped publishing), the cache evicts by its own LRU order
 * until a fresh one arrives, and `status()` says so. The clock is injectable, so all of this is
 * tested without NATS.
 */
import type { NatsConnection } from 'nats';
import { DocumentFollower, validateHeader, type FollowedDocument } from './document-follower.js';

/**
 * Same states as the WeightsClient's:
 * - `waiting`: no document yet: evict by local LRU;
 * - `live`: evicting by the applied document's ranking;
 * - `stale`: the applied document is past its TTL: evict by local LRU.
 */
export type VictimsClientState = 'waiting' | 'live' | 'stale';

/** Who chose a victim: the document's ranking, or the cache's own least recently used order. */
export type VictimSource = 'document' | 'lru';

export interface VictimsClientOptions {
  /** The cache node: the KV key `eviction.<node>`. */
  readonly node: string;
  /** Ack token: `<prefix>.policy.ack.eviction.<clientId>`; one subject token. */
  readonly clientId: string;
  /** Without a connection the client only takes documents given to {@link VictimsClient.applyDocument}. */
  readonly nc?: NatsConnection;
  /** PRESCIENT_SUBJECT_PREFIX. Default `prescient`. */
  readonly subjectPrefix?: string;
  /** PRESCIENT_KV_BUCKET. Default `prescient-policy`. */
  readonly kvBucket?: string;
  /** Epoch ms. Default Date.now. */
  readonly now?: () => number;
  readonly onError?: (err: Error) => void;
}

export interface VictimsClientStatus {
  readonly state: VictimsClientState;
  readonly node: string;
  /** Version of the applied document (0 before the first). */
  readonly version: number;
  /** Epoch ms the applied document stops being fresh (generatedAt + ttlMs); 0 before the first. */
  readonly expiresAt: number;
  /** Where victims come from now: `document` while live, else `lru`. */
  readonly source: VictimSource;
  /** The keys in force, evict-first first; empty when evicting by LRU. */
  readonly victims: readonly string[];
  /** One sentence for an operator. */
  readonly detail: string;
  readonly rejected: number;
}

/** The ack of an applied eviction document (docs/protocol.md "Acknowledgements"). */
export interface EvictionAck {
  readonly target: string;
  readonly version: number;
  readonly appliedAt: number;
}

interface ValidDocument extends FollowedDocument {
  readonly keys: readonly string[];
}

function validate(raw: unknown): ValidDocument | string {
  const doc = validateHeader(raw, 'eviction');
  if (typeof doc === 'string') return doc;
  const { entries, ...header } = doc;
  if (!Array.isArray(entries)) return '"entries" is not an array';
  const keys: string[] = [];
  for (const e of entries as unknown[]) {
    const key = (e as Record<string, unknown> | null)?.['key'];
    if (typeof key !== 'string') return 'an entry lacks "key"';
    keys.push(key);
  }
  return { ...header, keys };
}

export class VictimsClient extends DocumentFollower<ValidDocument> {
  /** Index of the next listed key {@link pickVictim} considers (each is handed out once). */
  private cursor = 0;

  constructor(private readonly o: VictimsClientOptions) {
    super(o, {
      key: `eviction.${o.node}`,
      owner: 'VictimsClient',
      validate,
      onApply: () => {
        this.cursor = 0;
      },
      ackSubject: `${o.subjectPrefix ?? 'prescient'}.policy.ack.eviction.${o.clientId}`,
      ackBody: (doc, appliedAt): EvictionAck => ({
        target: o.node,
        version: doc.version,
        appliedAt,
      }),
    });
  }

  /** The applied document's victims, evict-first first, while it is fresh; else empty (use LRU). */
  victims(): readonly string[] {
    return this.stateAt(this.now()) === 'live' ? this.doc!.keys : [];
  }

  /**
   * The key to evict next. While the document is fresh: the best-ranked key it lists that
   * `isResident` accepts and that was not handed out before. Otherwise (no document, a stale
   * one, or every listed key used up): `lruKey()`, the cache's own least recently used key.
   * Undefined when neither has a key.
   */
  pickVictim(
    isResident: (key: string) => boolean,
    lruKey: () => string | undefined,
  ): { readonly key: string; readonly source: VictimSource } | undefined {
    const keys = this.victims();
    while (this.cursor < keys.length) {
      const key = keys[this.cursor++]!;
      if (isResident(key)) return { key, source: 'document' };
    }
    const key = lruKey();
    return key === undefined ? undefined : { key, source: 'lru' };
  }

  status(): VictimsClientStatus {
    const now = this.now();
    const state = this.stateAt(now);
    const doc = this.doc;
    const expiresAt = this.expiresAt();
    const node = `eviction.${this.o.node}`;
    const detail =
      state === 'waiting'
        ? this.rejected > 0
          ? `no usable ${node} document yet (${this.lastRejection}): evicting by local LRU`
          : `no ${node} document yet: evicting by local LRU`
        : state === 'live'
          ? `evicting by version ${doc!.version}, fresh for ${Math.round((expiresAt - now) / 1000)} s more`
          : `version ${doc!.version} is stale since ${Math.round((now - expiresAt) / 1000)} s: evicting by local LRU until a fresh one arrives`;
    return {
      state,
      node: this.o.node,
      version: doc?.version ?? 0,
      expiresAt,
      source: state === 'live' ? 'document' : 'lru',
      victims: state === 'live' ? doc!.keys : [],
      detail,
      rejected: this.rejected,
    };
  }
}
