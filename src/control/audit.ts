/**
 * @module control/audit
 * The audit log's entries and the interface of its stores. Every override, promotion, rollback,
 * retrain and token change is appended with its actor, time, and the state before and after.
 * Stores: {@link MemoryAuditLog} (embedded mode) here; the Redis stream one in
 * state/redis-control-store.ts.
 */

export type AuditAction =
  | 'override.create'
  | 'override.delete'
  | 'override.expire'
  | 'model.retrain'
  | 'model.promote'
  | 'model.rollback'
  | 'model.refused'
  | 'token.create'
  | 'token.delete';

export const AUDIT_ACTIONS: readonly AuditAction[] = [
  'override.create',
  'override.delete',
  'override.expire',
  'model.retrain',
  'model.promote',
  'model.rollback',
  'model.refused',
  'token.create',
  'token.delete',
];

export interface AuditInput {
  /** Token name of the caller, or `scheduler` / `engine` for the engine's own actions. */
  readonly actor: string;
  readonly action: AuditAction;
  /** What was acted on: `override/<id>`, `eviction/<node>`, `token/<name>`. */
  readonly target: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly reason?: string;
}

export interface AuditEntry extends AuditInput {
  /** Stream id (Redis `<ms>-<seq>`); ids sort by time. */
  readonly id: string;
  /** Epoch ms. */
  readonly at: number;
}

export interface AuditQuery {
  /** Newest first; at most this many. */
  readonly limit: number;
  /** Only entries older than this id (the `next` of the previous page). */
  readonly before?: string;
  readonly actor?: string;
  readonly action?: string;
  /** Entries whose target starts with this. */
  readonly target?: string;
  /** Epoch ms bounds. */
  readonly since?: number;
  readonly until?: number;
}

export interface AuditPage {
  readonly entries: AuditEntry[];
  /** Pass as `before` for the next (older) page; null at the end. */
  readonly next: string | null;
}

export interface AuditLog {
  append(entry: AuditInput): Promise<AuditEntry>;
  list(query: AuditQuery): Promise<AuditPage>;
}

/** Whether an entry passes a query's filters (ids and time aside). */
export function auditMatches(e: AuditEntry, q: AuditQuery): boolean {
  if (q.actor !== undefined && e.actor !== q.actor) return false;
  if (q.action !== undefined && e.action !== q.action) return false;
  if (q.target !== undefined && !e.target.startsWith(q.target)) return false;
  if (q.since !== undefined && e.at < q.since) return false;
  if (q.until !== undefined && e.at > q.until) return false;
  return true;
}

/** Compares stream ids `<ms>-<seq>` numerically. */
export function compareAuditIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

/** In-process audit log (embedded mode): the newest `capacity` entries. */
export class MemoryAuditLog implements AuditLog {
  private readonly entries: AuditEntry[] = [];
  private lastMs = 0;
  private seq = 0;

  constructor(
    private readonly capacity = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  append(input: AuditInput): Promise<AuditEntry> {
    const at = this.now();
    this.seq = at === this.lastMs ? this.seq + 1 : 0;
    this.lastMs = Math.max(at, this.lastMs);
    const entry: AuditEntry = { ...input, id: `${this.lastMs}-${this.seq}`, at };
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.shift();
    return Promise.resolve(entry);
  }

  list(q: AuditQuery): Promise<AuditPage> {
    const out: AuditEntry[] = [];
    for (let i = this.entries.length - 1; i >= 0 && out.length <= q.limit; i--) {
      const e = this.entries[i]!;
      if (q.before !== undefined && compareAuditIds(e.id, q.before) >= 0) continue;
      if (auditMatches(e, q)) out.push(e);
    }
    const more = out.length > q.limit;
    const entries = out.slice(0, q.limit);
    return Promise.resolve({ entries, next: more ? entries[entries.length - 1]!.id : null });
  }
}
