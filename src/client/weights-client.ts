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
import { watchPolicyKey, type PolicyWatch } from './policy-watch.js';
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
interface ValidDocument {
  readonly version: number;
  readonly generatedAt: number;
  readonly ttlMs: number;
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

function validate(doc: unknown): ValidDocument | string {
  if (typeof doc !== 'object' || doc === null) return 'not an object';
  const d = doc as Record<string, unknown>;
  if (d['kind'] !== 'weights') return `kind is ${JSON.stringify(d['kind'])}, not "weights"`;
  for (const f of ['version', 'generatedAt', 'ttlMs'] as const) {
    if (typeof d[f] !== 'number' || !Number.isFinite(d[f])) return `"${f}" is not a number`;
  }
  if (!Array.isArray(d['entries']) || d['entries'].length === 0) return '"entries" is empty';
  const entries: WeightedBackend[] = [];
  for (const e of d['entries'] as unknown[]) {
    const x = e as Record<string, unknown>;
    if (typeof x['backend'] !== 'string' || typeof x['weight'] !== 'number')
      return 'an entry lacks "backend" or "weight"';
    if (!Number.isFinite(x['weight']) || x['weight'] < 0) return 'an entry has a bad "weight"';
    entries.push({ backend: x['backend'], weight: x['weight'] });
  }
  return {
    version: d['version'] as number,
    generatedAt: d['generatedAt'] as number,
    ttlMs: d['ttlMs'] as number,
    entries,
  };
}

export class WeightsClient {
  private readonly now: () => number;
  private readonly prefix: string;
  private doc: ValidDocument | undefined;
  private picker: Picker | undefined;
  /** Whether `picker` was built with equal weights. */
  private pickerEqual = false;
  private readonly inflightCounts = new Map<string, number>();
  private watch: PolicyWatch | undefined;
  private rejected = 0;
  private lastRejection = '';

  constructor(private readonly o: WeightsClientOptions) {
    this.now = o.now ?? Date.now;
    this.prefix = o.subjectPrefix ?? 'prescient';
  }

  /** Watches `weights.<pool>`; resolves once the watch is established. Needs `nc`. */
  async start(): Promise<void> {
    if (!this.o.nc) throw new Error('WeightsClient.start() needs a NATS connection (option nc)');
    this.watch = watchPolicyKey(this.o.nc, {
      bucket: this.o.kvBucket ?? 'prescient-policy',
      key: `weights.${this.o.pool}`,
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
      this.o.onError?.(new Error(`weights.${this.o.pool}: ${why}; keeping the last known good`));
      return false;
    };
    if (typeof doc === 'string') return reject(doc);
    if (this.doc && doc.version <= this.doc.version)
      return reject(`version ${doc.version} is not newer than ${this.doc.version}`);
    const now = this.now();
    if (doc.generatedAt + doc.ttlMs < now) {
      // Stale on arrival: not applied; without anything better, its backends with equal weights.
      if (!this.doc) this.doc = { ...doc, version: 0 };
      return reject(`version ${doc.version} arrived stale`);
    }
    this.doc = doc;
    this.picker = undefined;
    if (this.o.nc) {
      const ack: WeightsAck = {
        pool: this.o.pool,
        version: doc.version,
        appliedAt: now,
        proxy: this.o.clientId,
        servers: doc.entries.map((e) => ({ server: e.backend, weight: e.weight })),
      };
      this.o.nc.publish(ackSubject(this.prefix, this.o.clientId), JSON.stringify(ack));
    }
    return true;
  }

  private stateAt(now: number): WeightsClientState {
    if (!this.doc) return 'waiting';
    if (this.doc.version === 0 || this.doc.generatedAt + this.doc.ttlMs < now) return 'stale';
    return 'live';
  }

  /** The weights in force: the document's, or equal ones when it is stale. */
  private weightsAt(now: number): WeightedBackend[] {
    if (!this.doc) return [];
    const usable = this.doc.entries.some((e) => e.weight > 0);
    if (this.stateAt(now) === 'live' && usable) return [...this.doc.entries];
    return this.doc.entries.map((e) => ({ backend: e.backend, weight: 1 }));
  }

  private currentPicker(): Picker | undefined {
    const now = this.now();
    const weights = this.weightsAt(now);
    const equal = this.stateAt(now) !== 'live';
    if (!this.picker || this.pickerEqual !== equal) {
      this.pickerEqual = equal;
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
    const expiresAt = doc ? doc.generatedAt + doc.ttlMs : 0;
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
