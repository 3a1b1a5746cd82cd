/**
 * @module state/model-aliases
 * Where the model registry keeps its aliases (`champion`, `challenger`, champion history) per
 * (kind, target):
 * - {@link RedisAliasStore}: hash `<PRESCIENT_REDIS_PREFIX>models:<kind>`, field = target, value =
 *   the aliases as JSON, shared by every replica and surviving restarts (with REDIS_URL);
 * - {@link FileAliasStore}: `<PRESCIENT_MODEL_DIR>/<kind>/aliases.json`, `{ "<target>": aliases }`,
 *   written whole through a temporary file renamed into place. Without Redis it is the store (an
 *   embedded engine restarted on the same model directory serves the same champions); with Redis
 *   it is a mirror for people and tools reading models/ ({@link MirroredAliasStore}).
 */
import type { RedisConnection } from '../clients/redis-client.js';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AliasStore } from '../learn/model-registry.js';
import { parseAliases, type Aliases } from '../learn/promotion.js';

function parseAll(json: unknown): Map<string, Aliases> {
  const out = new Map<string, Aliases>();
  if (typeof json !== 'object' || json === null) return out;
  for (const [target, v] of Object.entries(json as Record<string, unknown>)) {
    out.set(target, parseAliases(v));
  }
  return out;
}

export class RedisAliasStore implements AliasStore {
  readonly kind = 'redis';

  constructor(
    private readonly redis: RedisConnection,
    private readonly prefix: string,
  ) {}

  key(kind: string): string {
    return `${this.prefix}models:${kind}`;
  }

  async load(kind: string): Promise<Map<string, Aliases>> {
    const out = new Map<string, Aliases>();
    for (const [target, raw] of Object.entries(await this.redis.hgetall(this.key(kind)))) {
      try {
        out.set(target, parseAliases(JSON.parse(raw)));
      } catch {
        out.set(target, parseAliases(undefined));
      }
    }
    return out;
  }

  async save(kind: string, target: string, aliases: Aliases): Promise<void> {
    await this.redis.hset(this.key(kind), target, JSON.stringify(aliases));
  }
}

export class FileAliasStore implements AliasStore {
  readonly kind = 'file';
  private writes: Promise<void> = Promise.resolve();

  /** `dir`: the model directory (PRESCIENT_MODEL_DIR); files go to `<dir>/<kind>/aliases.json`. */
  constructor(private readonly dir: string) {}

  path(kind: string): string {
    return join(this.dir, kind, 'aliases.json');
  }

  async load(kind: string): Promise<Map<string, Aliases>> {
    try {
      return parseAll(JSON.parse(await readFile(this.path(kind), 'utf8')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw err;
    }
  }

  save(
    kind: string,
    _target: string,
    _aliases: Aliases,
    all: ReadonlyMap<string, Aliases>,
  ): Promise<void> {
    const body = `${JSON.stringify(Object.fromEntries([...all].sort()), null, 2)}\n`;
    // Chained: the last write wins, in the order the registry made them.
    this.writes = this.writes
      .catch(() => undefined)
      .then(async () => {
        const path = this.path(kind);
        const tmp = `${path}.${process.pid}.tmp`;
        await mkdir(join(this.dir, kind), { recursive: true });
        await writeFile(tmp, body);
        await rename(tmp, path);
      });
    return this.writes;
  }
}

/** Reads and writes `primary`; also writes `mirror`, whose failures are only reported. */
export class MirroredAliasStore implements AliasStore {
  readonly kind: string;

  constructor(
    private readonly primary: AliasStore,
    private readonly mirror: AliasStore,
    private readonly onMirrorError: (err: unknown) => void,
  ) {
    this.kind = primary.kind;
  }

  load(kind: string): Promise<Map<string, Aliases>> {
    return this.primary.load(kind);
  }

  async save(
    kind: string,
    target: string,
    aliases: Aliases,
    all: ReadonlyMap<string, Aliases>,
  ): Promise<void> {
    await this.primary.save(kind, target, aliases, all);
    await this.mirror.save(kind, target, aliases, all).catch(this.onMirrorError);
  }
}
