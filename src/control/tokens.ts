/**
 * @module control/tokens
 * Bearer tokens and roles of the REST API. Only SHA-256 hashes of tokens are configured or stored;
 * a presented token is hashed and compared in constant time with every known hash.
 *
 * Roles, each including the ones before it:
 * - `viewer`: reads (policies, explanations, models, overrides, audit, clients);
 * - `operator`: also overrides and retraining;
 * - `admin`: also promote, rollback and token changes.
 * `telemetry` stands apart: it may only POST /v1/telemetry (for caches and proxies without NATS),
 * which operators and admins may also do.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.js';

export type Role = 'viewer' | 'operator' | 'admin' | 'telemetry';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin', 'telemetry'];

/** What each role may do beyond its own name. */
const GRANTS: Record<Role, readonly Role[]> = {
  viewer: ['viewer'],
  operator: ['viewer', 'operator', 'telemetry'],
  admin: ['viewer', 'operator', 'admin', 'telemetry'],
  telemetry: ['telemetry'],
};

/** Whether a caller with role `has` may call a route that needs `needs`. */
export function allows(has: Role, needs: Role): boolean {
  return GRANTS[has].includes(needs);
}

export interface TokenRecord {
  /** Shown in the audit log as the actor; unique. */
  readonly name: string;
  readonly role: Role;
  /** Lower-case hex SHA-256 of the token. */
  readonly sha256: string;
  /** Where it came from: `env`, `file`, `api` (created by an admin) or `generated` (at start). */
  readonly source: 'env' | 'file' | 'api' | 'generated';
  readonly createdAt?: number;
  readonly createdBy?: string;
}

/** The caller of a request, once its token is verified. */
export interface Actor {
  readonly name: string;
  readonly role: Role;
}

export const TOKEN_NAME_PATTERN = '^[A-Za-z0-9_.@-]{1,64}$';
const NAME_RE = new RegExp(TOKEN_NAME_PATTERN);
const HASH_RE = /^[0-9a-f]{64}$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token (256 bits, URL-safe) to hand out once. */
export function generateToken(): string {
  return `psk_${randomBytes(32).toString('base64url')}`;
}

function isRole(s: string): s is Role {
  return (ROLES as readonly string[]).includes(s);
}

/** Checks one configured record; `where` names its origin in the error. */
export function checkTokenRecord(
  r: { name?: unknown; role?: unknown; sha256?: unknown },
  where: string,
): { name: string; role: Role; sha256: string } {
  const { name, role, sha256 } = r;
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new ConfigError(`${where}: token name must match ${TOKEN_NAME_PATTERN}`);
  }
  if (typeof role !== 'string' || !isRole(role)) {
    throw new ConfigError(
      `${where}: token "${name}" has role ${String(role)}; one of ${ROLES.join(', ')}`,
    );
  }
  const hash = typeof sha256 === 'string' ? sha256.toLowerCase() : '';
  if (!HASH_RE.test(hash)) {
    throw new ConfigError(
      `${where}: token "${name}" needs sha256 = 64 hex digits (the hash, never the token itself)`,
    );
  }
  return { name, role, sha256: hash };
}

/**
 * Parses PRESCIENT_API_TOKENS: `name:role:sha256hex` entries separated by commas or whitespace.
 */
export function parseTokenList(text: string, where = 'PRESCIENT_API_TOKENS'): TokenRecord[] {
  return text
    .split(/[\s,]+/)
    .filter((s) => s.length > 0)
    .map((entry) => {
      const [name, role, sha256, ...rest] = entry.split(':');
      if (rest.length > 0 || sha256 === undefined) {
        throw new ConfigError(
          `${where}: entry ${JSON.stringify(entry.slice(0, 20))}… is not name:role:sha256`,
        );
      }
      return { ...checkTokenRecord({ name, role, sha256 }, where), source: 'env' as const };
    });
}

/** Parses a tokens file: a JSON array of `{ name, role, sha256 }`. */
export function parseTokenFile(json: string, where: string): TokenRecord[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`${where}: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(data)) throw new ConfigError(`${where}: expected a JSON array of tokens`);
  return data.map((r: unknown, i) => {
    if (typeof r !== 'object' || r === null) throw new ConfigError(`${where}[${i}]: not an object`);
    return { ...checkTokenRecord(r, `${where}[${i}]`), source: 'file' as const };
  });
}

/**
 * The known tokens. Verification hashes the presented token once and compares it with every
 * record's hash with `timingSafeEqual`, never stopping early, so the time taken tells nothing
 * about which record (if any) was close.
 */
export class TokenSet {
  private records: TokenRecord[] = [];

  constructor(records: readonly TokenRecord[] = []) {
    this.replace(records);
  }

  replace(records: readonly TokenRecord[]): void {
    const seen = new Set<string>();
    for (const r of records) {
      if (seen.has(r.name)) throw new ConfigError(`token name "${r.name}" is configured twice`);
      seen.add(r.name);
    }
    this.records = [...records];
  }

  get size(): number {
    return this.records.length;
  }

  list(): readonly TokenRecord[] {
    return this.records;
  }

  get(name: string): TokenRecord | undefined {
    return this.records.find((r) => r.name === name);
  }

  verify(token: string): Actor | undefined {
    const presented = Buffer.from(hashToken(token), 'hex');
    let found: TokenRecord | undefined;
    for (const r of this.records) {
      if (timingSafeEqual(presented, Buffer.from(r.sha256, 'hex')) && found === undefined)
        found = r;
    }
    return found === undefined ? undefined : { name: found.name, role: found.role };
  }
}
