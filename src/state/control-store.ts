/**
 * @module state/control-store
 * Where the control plane's state lives: overrides, API tokens created at run time, client acks
 * and the audit log. In memory in embedded mode; in Redis with REDIS_URL (several replicas and
 * restarts see the same state):
 * - `<prefix>overrides`: hash id → override JSON;
 * - `<prefix>tokens`: hash name → token record JSON (SHA-256 hashes only);
 * - `<prefix>clients`: hash `<client>|<kind>|<target>` → ack JSON;
 * - `<prefix>audit`: stream, one field `e` (entry JSON), trimmed to about 100,000 entries.
 * A change and its audit entry are written in one MULTI or script: both or neither.
 */
import type { RedisConnection } from '../clients/redis-client.js';
import {
  MemoryAuditLog,
  auditMatches,
  type AuditEntry,
  type AuditInput,
  type AuditLog,
  type AuditPage,
  type AuditQuery,
} from '../control/audit.js';
import type { Override } from '../control/overrides.js';
import type { TokenRecord } from '../control/tokens.js';
import { clientAckKey, type ClientAck } from '../control/clients.js';

export interface ControlStore {
  readonly kind: 'memory' | 'redis';
  readonly audit: AuditLog;
  loadOverrides(): Promise<Override[]>;
  /** Writes the override and its audit entry together. */
  putOverride(o: Override, audit: AuditInput): Promise<AuditEntry>;
  /** Deletes the override and appends the audit entry; undefined (and nothing written) if absent. */
  deleteOverride(id: string, audit: (o: Override) => AuditInput): Promise<Override | undefined>;
  loadTokens(): Promise<TokenRecord[]>;
  putToken(t: TokenRecord, audit: AuditInput): Promise<AuditEntry>;
  deleteToken(
    name: string,
    audit: (t: TokenRecord) => AuditInput,
  ): Promise<TokenRecord | undefined>;
  /** Stores an ack; `forget`: an older ack to drop (the caller keeps the number bounded). */
  recordAck(ack: ClientAck, forget?: ClientAck): Promise<void>;
  loadAcks(): Promise<ClientAck[]>;
}

export class MemoryControlStore implements ControlStore {
  readonly kind = 'memory' as const;
  readonly audit = new MemoryAuditLog();
  private readonly overrides = new Map<string, Override>();
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly acks = new Map<string, ClientAck>();

  loadOverrides(): Promise<Override[]> {
    return Promise.resolve([...this.overrides.values()]);
  }
  async putOverride(o: Override, audit: AuditInput): Promise<AuditEntry> {
    this.overrides.set(o.id, o);
    return this.audit.append(audit);
  }
  async deleteOverride(id: string, audit: (o: Override) => AuditInput) {
    const o = this.overrides.get(id);
    if (!o) return undefined;
    this.overrides.delete(id);
    await this.audit.append(audit(o));
    return o;
  }
  loadTokens(): Promise<TokenRecord[]> {
    return Promise.resolve([...this.tokens.values()]);
  }
  async putToken(t: TokenRecord, audit: AuditInput): Promise<AuditEntry> {
    this.tokens.set(t.name, t);
    return this.audit.append(audit);
  }
  async deleteToken(name: string, audit: (t: TokenRecord) => AuditInput) {
    const t = this.tokens.get(name);
    if (!t) return undefined;
    this.tokens.delete(name);
    await this.audit.append(audit(t));
    return t;
  }
  recordAck(ack: ClientAck, forget?: ClientAck): Promise<void> {
    if (forget) this.acks.delete(clientAckKey(forget));
    this.acks.set(clientAckKey(ack), ack);
    return Promise.resolve();
  }
  loadAcks(): Promise<ClientAck[]> {
    return Promise.resolve([...this.acks.values()]);
  }
}

/** Audit entries kept in the stream (approximately: XADD MAXLEN ~). */
const AUDIT_MAX = 100_000;

/** HGET + HDEL + XADD in one step; returns [old value, stream id] or nil when the field is absent. */
const DELETE_WITH_AUDIT = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[2])
return {v, id}
`;

/** XADD arguments after the key: trim to about AUDIT_MAX, auto id, the entry in field `e`. */
function auditXaddArgs(entry: AuditInput, at: number) {
  return ['MAXLEN', '~', String(AUDIT_MAX), '*', 'e', JSON.stringify({ ...entry, at })] as const;
}

class RedisAuditLog implements AuditLog {
  constructor(
    private readonly redis: RedisConnection,
    readonly key: string,
  ) {}

  async append(input: AuditInput): Promise<AuditEntry> {
    const at = Date.now();
    const id = await this.redis.xadd(this.key, ...auditXaddArgs(input, at));
    return { ...input, at, id: id! };
  }

  /** Newest first, scanning pages of the stream until `limit` entries pass the filters. */
  async list(q: AuditQuery): Promise<AuditPage> {
    const out: AuditEntry[] = [];
    let end = q.before === undefined ? '+' : `(${q.before}`;
    const start = q.since === undefined ? '-' : String(q.since);
    const page = Math.max(100, q.limit + 1);
    for (;;) {
      const rows = await this.redis.xrevrange(this.key, end, start, 'COUNT', page);
      for (const [id, fields] of rows) {
        const e = parseAuditRow(id, fields);
        if (e && auditMatches(e, q)) out.push(e);
        if (out.length > q.limit) break;
      }
      if (out.length > q.limit || rows.length < page) break;
      end = `(${rows[rows.length - 1]![0]}`;
    }
    const entries = out.slice(0, q.limit);
    return { entries, next: out.length > q.limit ? entries[entries.length - 1]!.id : null };
  }
}

function parseAuditRow(id: string, fields: string[]): AuditEntry | undefined {
  const i = fields.indexOf('e');
  if (i < 0 || fields[i + 1] === undefined) return undefined;
  try {
    const e = JSON.parse(fields[i + 1]!) as Omit<AuditEntry, 'id'>;
    return { ...e, id };
  } catch {
    return undefined;
  }
}

export class RedisControlStore implements ControlStore {
  readonly kind = 'redis' as const;
  readonly audit: RedisAuditLog;
  private readonly keys: { overrides: string; tokens: string; clients: string; audit: string };

  constructor(
    private readonly redis: RedisConnection,
    prefix: string,
  ) {
    this.keys = {
      overrides: `${prefix}overrides`,
      tokens: `${prefix}tokens`,
      clients: `${prefix}clients`,
      audit: `${prefix}audit`,
    };
    this.audit = new RedisAuditLog(redis, this.keys.audit);
  }

  private async putWithAudit(hash: string, field: string, value: unknown, audit: AuditInput) {
    const at = Date.now();
    const res = await this.redis
      .multi()
      .hset(hash, field, JSON.stringify(value))
      .xadd(this.keys.audit, ...auditXaddArgs(audit, at))
      .exec();
    const failed = res?.find(([err]) => err !== null);
    if (!res || failed) throw failed?.[0] ?? new Error('Redis MULTI aborted');
    return { ...audit, at, id: String(res[1]![1]) };
  }

  private async deleteWithAudit<T>(hash: string, field: string, audit: (v: T) => AuditInput) {
    const current = await this.redis.hget(hash, field);
    if (current === null) return undefined;
    const value = JSON.parse(current) as T;
    const entry = JSON.stringify({ ...audit(value), at: Date.now() });
    const res = (await this.redis.eval(
      DELETE_WITH_AUDIT,
      2,
      hash,
      this.keys.audit,
      field,
      entry,
      String(AUDIT_MAX),
    )) as [string, string] | null;
    return res === null ? undefined : (JSON.parse(res[0]) as T);
  }

  private async values<T>(hash: string): Promise<T[]> {
    const all = await this.redis.hgetall(hash);
    const out: T[] = [];
    for (const v of Object.values(all)) {
      try {
        out.push(JSON.parse(v) as T);
      } catch {
        // A value another writer corrupted: skipped rather than failing every load.
      }
    }
    return out;
  }

  loadOverrides(): Promise<Override[]> {
    return this.values<Override>(this.keys.overrides);
  }
  putOverride(o: Override, audit: AuditInput): Promise<AuditEntry> {
    return this.putWithAudit(this.keys.overrides, o.id, o, audit);
  }
  deleteOverride(id: string, audit: (o: Override) => AuditInput) {
    return this.deleteWithAudit(this.keys.overrides, id, audit);
  }
  loadTokens(): Promise<TokenRecord[]> {
    return this.values<TokenRecord>(this.keys.tokens);
  }
  putToken(t: TokenRecord, audit: AuditInput): Promise<AuditEntry> {
    return this.putWithAudit(this.keys.tokens, t.name, t, audit);
  }
  deleteToken(name: string, audit: (t: TokenRecord) => AuditInput) {
    return this.deleteWithAudit(this.keys.tokens, name, audit);
  }
  async recordAck(ack: ClientAck, forget?: ClientAck): Promise<void> {
    if (forget) await this.redis.hdel(this.keys.clients, clientAckKey(forget));
    await this.redis.hset(this.keys.clients, clientAckKey(ack), JSON.stringify(ack));
  }
  loadAcks(): Promise<ClientAck[]> {
    return this.values<ClientAck>(this.keys.clients);
  }
}
