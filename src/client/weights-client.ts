/**
 * @module client/weights-client
 * The SDK a Node service embeds to balance its own calls with Prescient's weights:
 *
 *   KV watch `weights.<pool>` → validate → apply (picker rebuilt) → ack on
 *   `<prefix>.policy.ack.weights.<clientId>`;  `pick()` / `acquire()` per call
 *
 * It keeps the last known good document: a malformed document, an older version, or one that
 * arrives already stale is not applied. Once the applied document is past `generatedAt + ttlMs`
 * the client balances with equal weights over the same backends until a fresh one arrives, and
 * `status()` says so. The clock is injectable, so all of this is tested without NATS.
 */
import type { NatsConnection } from 'nats';
import { ackSubject, type WeightsAck } from './ack.js';
import { DocumentFollower, validateHeader, type FollowedDocument } from './document-follower.js';
import {
  SmoothWeightedRoundRobin,
  WeightedP2C,
  type Picker,
  type WeightedBackend,
} from './pickers.js';

export type PickerKind = 'swrr' | 'p2c';

/**
 * - `waiting`: no document yet, `pick()` returns undefined;
 * - `live`: balancing by the applied document's weights;
 * - `stale`: the applied document is past its TTL: equal weights over its backends.
 */
export type WeightsClientState = 'waiting' | 'live' | 'stale';

export interface WeightsClientOptions {
  readonly pool: string;
  /** Ack token: `<prefix>.policy.ack.weights.<clientId>`; one subject token. */
  readonly clientId: string;
  /** Default `swrr`. */
  readonly picker?: PickerKind;
  /** Without a connection the client only takes documents given to {@link WeightsClient.applyDocument}. */
  readonly nc?: NatsConnection;
  /** PRESCIENT_SUBJECT_PREFIX. Default `prescient`. */
  readonly subjectPrefix?: string;
  /** PRESCIENT_KV_BUCKET. Default `prescient-policy`. */
  readonly kvBucket?: string;
  /** Epoch ms. Default Date.now. */
  readonly now?: () => number;
  /** [0, 1) source for P2C. Default Math.random. */
  readonly random?: () => number;
  readonly onError?: (err: Error) => void;
}

/** The fields of a weights document the client relies on (docs/protocol.md). */
interface ValidDocument extends FollowedDocument {
  readonly entries: readonly WeightedBackend[];
}

export interface WeightsClientStatus {
  readonly state: WeightsClientState;
  readonly pool: string;
  /** Version of the applied document (0 before the first). */
  readonly version: number;
  /** Epoch ms the applied document stops being fresh (generatedAt + ttlMs). */
  readonly expiresAt: number;
  /** The weights `pick()` uses now (equal when stale). */
  readonly backends: readonly WeightedBackend[];
  /** One sentence for an operator. */
  readonly detail: string;
  readonly rejected: number;
}

function validate(raw: unknown): ValidDocument | string {
  const doc = validateHeader(raw, 'weights');
  if (typeof doc === 'string') return doc;
  const { entries: rawEntries, ...header } = doc;
  if (!Array.isArray(rawEntries) || rawEntries.length === 0) return '"entries" is empty';
  const entries: WeightedBackend[] = [];
  for (const e of rawEntries as unknown[]) {
    if (typeof e !== 'object' || e === null) return 'an entry is not an object';
    const x = e as Record<string, unknown>;
    if (typeof x['backend'] !== 'string' || typeof x['weight'] !== 'number')
      return 'an entry lacks "backend" or "weight"';
    if (!Number.isFinite(x['weight']) || x['weight'] < 0) return 'an entry has a bad "weight"';
    entries.push({ backend: x['backend'], weight: x['weight'] });
  }
  return { ...header, entries };
}

export class WeightsClient extends DocumentFollower<ValidDocument> {
  private picker: Picker | undefined;
  /** Whether `picker` was built with equal weights, and from which document. */
  private pickerEqual = false;
  private pickerDoc: ValidDocument | undefined;
  private readonly inflightCounts = new Map<string, number>();

  constructor(private readonly o: WeightsClientOptions) {
    super(o, {
      key: `weights.${o.pool}`,
      owner: 'WeightsClient',
      validate,
      onApply: () => {
        this.picker = undefined;
      },
      // Stale on arrival: not applied; without anything better, its backends with equal weights
      // (version 0 marks it, see stateAt).
      keepStaleArrival: (doc) => ({ ...doc, version: 0 }),
      ackSubject: ackSubject(o.subjectPrefix ?? 'prescient', o.clientId),
      ackBody: (doc, appliedAt): WeightsAck => ({
        pool: o.pool,
        version: doc.version,
        appliedAt,
        proxy: o.clientId,
        servers: doc.entries.map((e) => ({ server: e.backend, weight: e.weight })),
      }),
    });
  }

  protected override stateAt(now: number): WeightsClientState {
    const state = super.stateAt(now);
    return state === 'live' && this.doc!.version === 0 ? 'stale' : state;
  }

  /** The weights in force: the document's, or equal ones when it is stale. */
  private weightsAt(now: number): WeightedBackend[] {
    const doc = this.doc;
    if (!doc) return [];
    const usable = doc.entries.some((e) => e.weight > 0);
    if (this.stateAt(now) === 'live' && usable) return [...doc.entries];
    return doc.entries.map((e) => ({ backend: e.backend, weight: 1 }));
  }

  private currentPicker(): Picker | undefined {
    const now = this.now();
    const weights = this.weightsAt(now);
    const equal = this.stateAt(now) !== 'live';
    // Rebuilt when the weights in force change: a new document, or live ↔ stale (a stale
    // arrival kept before any document counts as a new document).
    if (!this.picker || this.pickerEqual !== equal || this.pickerDoc !== this.doc) {
      this.pickerEqual = equal;
      this.pickerDoc = this.doc;
      this.picker =
        this.o.picker === 'p2c'
          ? new WeightedP2C(weights, (b) => this.inflightCounts.get(b) ?? 0, this.o.random)
          : new SmoothWeightedRoundRobin(weights);
    }
    return this.picker;
  }

  /** The backend for the next call, or undefined while no document has arrived. */
  pick(): string | undefined {
    return this.currentPicker()?.pick();
  }

  /**
   * Picks a backend and counts the call in flight (what P2C compares) until `release()`.
   * Undefined while no document has arrived.
   */
  acquire(): { readonly backend: string; release(): void } | undefined {
    const backend = this.pick();
    if (backend === undefined) return undefined;
    this.inflightCounts.set(backend, (this.inflightCounts.get(backend) ?? 0) + 1);
    let released = false;
    return {
      backend,
      release: () => {
        if (released) return;
        released = true;
        this.inflightCounts.set(backend, (this.inflightCounts.get(backend) ?? 1) - 1);
      },
    };
  }

  inflight(backend: string): number {
    return this.inflightCounts.get(backend) ?? 0;
  }

  status(): WeightsClientStatus {
    const now = this.now();
    const state = this.stateAt(now);
    const doc = this.doc;
    const expiresAt = this.expiresAt();
    const detail =
      state === 'waiting'
        ? `no weights.${this.o.pool} document yet`
        : state === 'live'
          ? `balancing by version ${doc!.version}, fresh for ${Math.round((expiresAt - now) / 1000)} s more`
          : doc!.version === 0
            ? `only a stale document arrived (${this.lastRejection}): equal weights`
            : `version ${doc!.version} is stale since ${Math.round((now - expiresAt) / 1000)} s: equal weights until a fresh one arrives`;
    return {
      state,
      pool: this.o.pool,
      version: doc?.version ?? 0,
      expiresAt,
      backends: this.weightsAt(now),
      detail,
      rejected: this.rejected,
    };
  }
}
