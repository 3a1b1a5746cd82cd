/**
 * @module control/control-plane
 * The operators' side of the engine: API tokens, overrides (create, delete, expire, reload) and
 * client acks, over a {@link ControlStore} (memory, or Redis shared by replicas). Every change is
 * written to the store together with its audit entry before it takes effect here; the engine is
 * told which policy targets to republish (`onTargetsChanged`) so an override shows in the
 * published documents at once rather than at the next change of features.
 */
import { randomBytes } from 'node:crypto';
import { ConflictError, ERROR_CODES, NotFoundError, PrescientError } from '../errors.js';
import type { ControlStore } from '../state/control-store.js';
import type { AuditLog } from './audit.js';
import {
  makeOverride,
  OverrideBook,
  targetKeyOf,
  validateOverride,
  type Override,
  type OverrideRequest,
} from './overrides.js';
import {
  generateToken,
  hashToken,
  TokenSet,
  type Actor,
  type Role,
  type TokenRecord,
} from './tokens.js';
import { clientAckKey, clientStatus, type ClientAck, type ClientStatus } from './clients.js';
import type { PolicyKind } from '../publish/document.js';

export interface ControlPlaneOptions {
  /** Tokens from PRESCIENT_API_TOKENS / PRESCIENT_API_TOKENS_FILE. */
  readonly configuredTokens: readonly TokenRecord[];
  readonly maxOverrideTtlSec: number;
  readonly now?: () => number;
  /** Told of `eviction.<node>` / `weights.<pool>` keys whose overrides changed. */
  readonly onTargetsChanged?: (keys: ReadonlySet<string>) => void;
  /** Told of the admin token generated when no token is configured (print it once). */
  readonly onGeneratedToken?: (token: string) => void;
}

/** Client acks remembered at most (one per client, kind and target). */
export const MAX_CLIENT_ACKS = 10_000;

export class UnavailableError extends PrescientError {
  constructor(message: string) {
    super(ERROR_CODES.UNAVAILABLE, message, { statusCode: 503 });
  }
}

export class ControlPlane {
  readonly overrides = new OverrideBook();
  readonly tokens: TokenSet;
  private storeValue: ControlStore | undefined;
  private apiTokens: TokenRecord[] = [];
  private generated: TokenRecord | undefined;
  private readonly acks = new Map<string, ClientAck>();
  private readonly now: () => number;

  constructor(private readonly o: ControlPlaneOptions) {
    this.now = o.now ?? Date.now;
    this.tokens = new TokenSet(o.configuredTokens);
  }

  /** The store, once attached (the engine attaches Redis when it has connected). */
  private get store(): ControlStore {
    if (!this.storeValue) {
      throw new UnavailableError(
        'the control plane is starting (waiting for Redis); retry shortly',
      );
    }
    return this.storeValue;
  }

  get audit(): AuditLog {
    return this.store.audit;
  }

  get storeKind(): 'memory' | 'redis' | 'none' {
    return this.storeValue?.kind ?? 'none';
  }

  /**
   * Attaches the store and loads overrides, API tokens and acks from it. With no token
   * configured anywhere, generates one admin token for this run and hands it to
   * `onGeneratedToken` (it is never stored or logged; set PRESCIENT_API_TOKENS to keep one).
   */
  async attach(store: ControlStore): Promise<void> {
    this.storeValue = store;
    this.apiTokens = await store.loadTokens();
    if (this.o.configuredTokens.length === 0 && this.apiTokens.length === 0) {
      const token = generateToken();
      this.generated = {
        name: 'generated-admin',
        role: 'admin',
        sha256: hashToken(token),
        source: 'generated',
        createdAt: this.now(),
      };
      this.o.onGeneratedToken?.(token);
    }
    this.rebuildTokens();
    const acks = (await store.loadAcks()).sort((a, b) => a.receivedAt - b.receivedAt);
    for (const a of acks.slice(-MAX_CLIENT_ACKS)) this.acks.set(clientAckKey(a), a);
    this.notify(this.overrides.replace(await store.loadOverrides()));
  }

  private rebuildTokens(): void {
    this.tokens.replace([
      ...this.o.configuredTokens,
      ...this.apiTokens.filter((t) => !this.o.configuredTokens.some((c) => c.name === t.name)),
      ...(this.generated ? [this.generated] : []),
    ]);
  }

  private notify(keys: ReadonlySet<string>): void {
    if (keys.size > 0) this.o.onTargetsChanged?.(keys);
  }

  /** Re-reads overrides and tokens from a shared store (other replicas' changes). */
  async refresh(): Promise<void> {
    const store = this.storeValue;
    if (!store || store.kind === 'memory') return;
    const [overrides, tokens] = await Promise.all([store.loadOverrides(), store.loadTokens()]);
    this.apiTokens = tokens;
    this.rebuildTokens();
    this.notify(this.overrides.replace(overrides));
  }

  /**
   * Deletes overrides past their expiry (from the store too, audited as `override.expire` by
   * `engine`), and returns them. They already stopped applying at expiresAt: the publisher only
   * asks for active ones.
   */
  async expire(): Promise<Override[]> {
    const store = this.storeValue;
    if (!store) return [];
    const expired = this.overrides.takeExpired(this.now());
    for (const o of expired) {
      await store.deleteOverride(o.id, (old) => ({
        actor: 'engine',
        action: 'override.expire',
        target: `override/${o.id}`,
        before: old,
        after: null,
        reason: 'ttl elapsed',
      }));
    }
    this.notify(new Set(expired.map(targetKeyOf)));
    return expired;
  }

  async createOverride(req: OverrideRequest, actor: Actor): Promise<Override> {
    validateOverride(req, { maxTtlSec: this.o.maxOverrideTtlSec });
    const o = makeOverride(req, {
      id: `ovr_${randomBytes(8).toString('hex')}`,
      actor: actor.name,
      nowMs: this.now(),
    });
    await this.store.putOverride(o, {
      actor: actor.name,
      action: 'override.create',
      target: `override/${o.id}`,
      before: null,
      after: o,
      reason: o.reason,
    });
    this.overrides.add(o);
    this.notify(new Set([targetKeyOf(o)]));
    return o;
  }

  async deleteOverride(id: string, actor: Actor, reason: string | undefined): Promise<Override> {
    const o = await this.store.deleteOverride(id, (old) => ({
      actor: actor.name,
      action: 'override.delete',
      target: `override/${id}`,
      before: old,
      after: null,
      ...(reason === undefined ? {} : { reason }),
    }));
    this.overrides.remove(id);
    if (!o) throw new NotFoundError(`no override ${id} (expired or deleted already?)`);
    this.notify(new Set([targetKeyOf(o)]));
    return o;
  }

  listOverrides(filter: { node?: string; pool?: string }): Override[] {
    return this.overrides.active(this.now()).filter((o) => {
      if (filter.node !== undefined && o.node !== filter.node) return false;
      if (filter.pool !== undefined && o.pool !== filter.pool) return false;
      return true;
    });
  }

  /** Active overrides of one policy target. */
  activeFor(kind: 'eviction' | 'weights', target: string, nowMs = this.now()): Override[] {
    return this.overrides.active(nowMs, kind, target);
  }

  /** Creates an API token; the plain token is returned here and never again. */
  async createToken(
    req: { name: string; role: Role },
    actor: Actor,
  ): Promise<{ token: string; record: TokenRecord }> {
    if (this.tokens.get(req.name)) {
      throw new ConflictError(`a token named "${req.name}" exists; delete it first`, {
        name: req.name,
      });
    }
    const token = generateToken();
    const record: TokenRecord = {
      name: req.name,
      role: req.role,
      sha256: hashToken(token),
      source: 'api',
      createdAt: this.now(),
      createdBy: actor.name,
    };
    await this.store.putToken(record, {
      actor: actor.name,
      action: 'token.create',
      target: `token/${req.name}`,
      before: null,
      after: publicToken(record),
    });
    this.apiTokens = [...this.apiTokens.filter((t) => t.name !== req.name), record];
    this.rebuildTokens();
    return { token, record };
  }

  async deleteToken(name: string, actor: Actor): Promise<TokenRecord> {
    const known = this.tokens.get(name);
    if (known && known.source !== 'api') {
      throw new ConflictError(
        `token "${name}" comes from ${known.source === 'generated' ? 'this run (generated at start)' : `the ${known.source} configuration`}; remove it there`,
        { name, source: known.source },
      );
    }
    const t = await this.store.deleteToken(name, (old) => ({
      actor: actor.name,
      action: 'token.delete',
      target: `token/${name}`,
      before: publicToken(old),
      after: null,
    }));
    if (!t) throw new NotFoundError(`no token named "${name}"`);
    this.apiTokens = this.apiTokens.filter((x) => x.name !== name);
    this.rebuildTokens();
    return t;
  }

  listTokens(): Omit<TokenRecord, 'sha256'>[] {
    return this.tokens.list().map(publicToken);
  }

  /**
   * Keeps the latest ack per client and target, at most {@link MAX_CLIENT_ACKS}: past that the
   * least recently acked entry is forgotten (here and in the store), so a telemetry token cannot
   * grow memory without bound by inventing client names.
   */
  async recordAck(ack: ClientAck): Promise<void> {
    const key = clientAckKey(ack);
    this.acks.delete(key);
    this.acks.set(key, ack);
    let forgotten: ClientAck | undefined;
    if (this.acks.size > MAX_CLIENT_ACKS) {
      const oldest = this.acks.keys().next().value!;
      forgotten = this.acks.get(oldest);
      this.acks.delete(oldest);
    }
    await this.storeValue?.recordAck(ack, forgotten);
  }

  clients(
    latest: (
      kind: PolicyKind,
      target: string,
    ) => { version: number; generatedAt: number } | undefined,
    ttlMs: number,
  ): ClientStatus[] {
    const now = this.now();
    return [...this.acks.values()]
      .map((a) => clientStatus(a, latest(a.kind, a.target), now, ttlMs))
      .sort((a, b) => a.client.localeCompare(b.client) || a.target.localeCompare(b.target));
  }
}

/** A token record without its hash (for listings and the audit log). */
function publicToken(t: TokenRecord): Omit<TokenRecord, 'sha256'> {
  const { sha256: _hash, ...rest } = t;
  return rest;
}
