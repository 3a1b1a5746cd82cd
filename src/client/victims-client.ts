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
import { watchPolicyKey, type PolicyWatch } from './policy-watch.js';

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

interface ValidDocument {
  readonly version: number;
  readonly generatedAt: number;
  readonly ttlMs: number;
  readonly keys: readonly string[];
}

function validate(doc: unknown): ValidDocument | string {
  if (typeof doc !== 'object' || doc === null) return 'not an object';
  const d = doc as Record<string, unknown>;
  if (d['kind'] !== 'eviction') return `kind is ${JSON.stringify(d['kind'])}, not "eviction"`;
  for (const f of ['version', 'generatedAt', 'ttlMs'] as const) {
    if (typeof d[f] !== 'number' || !Number.isFinite(d[f])) return `"${f}" is not a number`;
  }
  if (!Array.isArray(d['entries'])) return '"entries" is not an array';
  const keys: string[] = [];
  for (const e of d['entries'] as unknown[]) {
    const key = (e as Record<string, unknown> | null)?.['key'];
    if (typeof key !== 'string') return 'an entry lacks "key"';
    keys.push(key);
  }
  return {
    version: d['version'] as number,
    generatedAt: d['generatedAt'] as number,
    ttlMs: d['ttlMs'] as number,
    keys,
  };
}

export class VictimsClient {
  private readonly now: () => number;
  private readonly prefix: string;
  private doc: ValidDocument | undefined;
  /** Index of the next listed key {@link pickVictim} considers (each is handed out once). */
  private cursor = 0;
  private watch: PolicyWatch | undefined;
  private rejected = 0;
  private lastRejection = '';

  constructor(private readonly o: VictimsClientOptions) {
    this.now = o.now ?? Date.now;
    this.prefix = o.subjectPrefix ?? 'prescient';
  }

  /** Watches `eviction.<node>`; resolves once the watch is established. Needs `nc`. */
  async start(): Promise<void> {
    if (!this.o.nc) throw new Error('VictimsClient.start() needs a NATS connection (option nc)');
    this.watch = watchPolicyKey(this.o.nc, {
      bucket: this.o.kvBucket ?? 'prescient-policy',
      key: `eviction.${this.o.node}`,
      onDocument: (doc) => {
        this.applyDocument(doc);
      },
      ...(this.o.onError ? { onError: this.o.onError } : {}),
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
    const doc = validate(raw);
    const reject = (why: string) => {
      this.rejected++;
      this.lastRejection = why;
      this.o.onError?.(new Error(`eviction.${this.o.node}: ${why}; keeping the last known good`));
      return false;
    };
    if (typeof doc === 'string') return reject(doc);
    if (this.doc && doc.version <= this.doc.version)
      return reject(`version ${doc.version} is not newer than ${this.doc.version}`);
    const now = this.now();
    if (doc.generatedAt + doc.ttlMs < now) return reject(`version ${doc.version} arrived stale`);
    this.doc = doc;
    this.cursor = 0;
    if (this.o.nc) {
      const ack: EvictionAck = { target: this.o.node, version: doc.version, appliedAt: now };
      this.o.nc.publish(
        `${this.prefix}.policy.ack.eviction.${this.o.clientId}`,
        JSON.stringify(ack),
      );
    }
    return true;
  }

  private stateAt(now: number): VictimsClientState {
    if (!this.doc) return 'waiting';
    return this.doc.generatedAt + this.doc.ttlMs < now ? 'stale' : 'live';
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
    const expiresAt = doc ? doc.generatedAt + doc.ttlMs : 0;
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
