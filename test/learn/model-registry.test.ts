/**
 * The registry's flow on a fake model kind (a model is a number, its evaluation score): training,
 * shadow evaluation and the promotion rule, refusal of corrupt / NaN models, promote, rollback,
 * start-up from stored aliases, and the audit trail. The eviction kind and real stores are in
 * test/integration/models.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/control/audit.js';
import { ERROR_CODES, ModelInvalidError, NotFoundError } from '../../src/errors.js';
import type { ModelFiles, StoredModelFiles } from '../../src/learn/model-files.js';
import {
  ModelRegistry,
  type AliasStore,
  type ModelKindPlugin,
  type VersionStore,
} from '../../src/learn/model-registry.js';
import type { Aliases, Evaluation } from '../../src/learn/promotion.js';

interface Fake {
  readonly version: string;
  /** Its hit ratio on the evaluation window; NaN = a NaN-producing model. */
  readonly score: number;
}

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const dec = (b: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(b)) as unknown;

class FakeKind implements ModelKindPlugin<Fake> {
  readonly kind = 'fake';
  readonly heuristicId = 'lru';
  heuristic = 0.3;
  /** Scores of the next candidates per target; absent = "too little data". */
  readonly next = new Map<string, number[]>();
  readonly served = new Map<string, string>();
  /** Models trained per target (the number a kind proposes for a version's name). */
  readonly trained = new Map<string, number>();
  targets(): string[] {
    return [...this.next.keys()];
  }
  latest(target: string, version: (seq: number) => string): Fake | undefined {
    const s = this.next.get(target)?.[0];
    const seq = this.trained.get(target) ?? 1;
    return s === undefined ? undefined : { version: version(seq), score: s };
  }
  train(target: string, version: (seq: number) => string) {
    const s = this.next.get(target)?.shift();
    if (s === undefined) return { ok: false as const, reason: 'too little data' };
    const seq = (this.trained.get(target) ?? 0) + 1;
    this.trained.set(target, seq);
    return { ok: true as const, model: { version: version(seq), score: s } };
  }
  versionOf(m: Fake): string {
    return m.version;
  }
  encode(m: Fake, evaluation: Evaluation | null): ModelFiles {
    return {
      'model.json': enc({ version: m.version, score: Number.isNaN(m.score) ? 'NaN' : m.score }),
      'weights.bin': new Uint8Array(0),
      'metadata.json': enc({ savedAtMs: 1_700_000_000_000, metrics: { rows: 3 }, evaluation }),
    };
  }
  decode(files: StoredModelFiles): Fake {
    const j = dec(files['model.json']) as { version?: unknown; score?: unknown };
    if (typeof j.version !== 'string' || typeof j.score !== 'number') {
      throw new ModelInvalidError(`model ${String(j.version)} is invalid: score is not a number`);
    }
    return { version: j.version, score: j.score };
  }
  evaluate(_target: string, candidate: Fake, champion: Fake | undefined) {
    return Promise.resolve({
      ok: true as const,
      scores: {
        metric: 'hitRatio',
        requests: 1000,
        candidate: candidate.score,
        champion: champion?.score ?? null,
        heuristic: this.heuristic,
      },
    });
  }
  install(target: string, m: Fake | undefined): void {
    if (m === undefined) this.served.delete(target);
    else this.served.set(target, m.version);
  }
}

class MemoryVersions implements VersionStore {
  readonly files = new Map<string, StoredModelFiles>();
  save(version: string, files: ModelFiles): Promise<void> {
    this.files.set(version, files);
    return Promise.resolve();
  }
  read(version: string): Promise<StoredModelFiles> {
    const f = this.files.get(version);
    return f ? Promise.resolve(f) : Promise.reject(new NotFoundError(`no ${version}`));
  }
  list(): Promise<string[]> {
    return Promise.resolve([...this.files.keys()].sort());
  }
}

class MemoryAliases implements AliasStore {
  readonly kind = 'memory';
  readonly data = new Map<string, Map<string, Aliases>>();
  load(kind: string): Promise<Map<string, Aliases>> {
    return Promise.resolve(new Map(this.data.get(kind)));
  }
  save(kind: string, target: string, aliases: Aliases): Promise<void> {
    const m = this.data.get(kind) ?? new Map<string, Aliases>();
    m.set(target, aliases);
    this.data.set(kind, m);
    return Promise.resolve();
  }
}

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

async function setup(o: { versions?: MemoryVersions; aliases?: MemoryAliases } = {}) {
  const kind = new FakeKind();
  const versions = o.versions ?? new MemoryVersions();
  const aliases = o.aliases ?? new MemoryAliases();
  const audit: AuditInput[] = [];
  const registry = new ModelRegistry({
    aliases,
    audit: (e) => Promise.resolve(audit.push(e)),
    margin: 0.002,
    log: quiet,
    now: () => 1_700_000_000_000,
  });
  registry.register(kind, versions);
  await registry.start();
  return { kind, versions, aliases, audit, registry };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('ModelRegistry', () => {
  it('promotes a candidate that beats the heuristic by the margin, and audits both steps', async () => {
    const { kind, registry, audit, aliases } = await setup();
    kind.next.set('a', [0.4]);
    const [out] = await registry.retrain('fake', 'a', 'ops');
    expect(out).toMatchObject({
      target: 'a',
      status: 'promoted',
      promoted: true,
      version: 'a@1',
      champion: 'a@1',
      challenger: null,
      reason: null,
    });
    expect(out!.evaluation).toMatchObject({ candidate: 0.4, heuristic: 0.3, promote: true });
    expect(kind.served.get('a')).toBe('a@1');
    expect(aliases.data.get('fake')?.get('a')).toEqual({
      champion: 'a@1',
      challenger: null,
      history: [],
    });
    expect(audit.map((e) => [e.action, e.actor, e.target])).toEqual([
      ['model.retrain', 'ops', 'fake/a'],
      ['model.promote', 'ops', 'fake/a'],
    ]);
    expect(audit[1]!.after).toEqual({ champion: 'a@1', challenger: null, history: [] });
    const [entry] = registry.list();
    expect(entry).toMatchObject({ kind: 'fake', target: 'a', champion: 'a@1', serving: 'a@1' });
    expect(entry!.versions).toEqual([
      {
        version: 'a@1',
        createdAt: new Date(1_700_000_000_000).toISOString(),
        metrics: { rows: 3 },
        evaluation: out!.evaluation,
      },
    ]);
  });

  it('keeps a candidate that is not better by the margin as the challenger', async () => {
    const { kind, registry } = await setup();
    kind.next.set('a', [0.4, 0.401, 0.2]);
    await registry.retrain('fake', 'a', 'ops');
    const [second] = await registry.retrain('fake', 'a', 'ops');
    expect(second).toMatchObject({
      status: 'challenger',
      promoted: false,
      version: 'a@2',
      champion: 'a@1',
      challenger: 'a@2',
    });
    expect(second!.evaluation).toMatchObject({ champion: 0.4, championVersion: 'a@1' });
    expect(second!.evaluation!.reason).toMatch(/does not beat the champion/);
    expect(kind.served.get('a')).toBe('a@1');
    const [third] = await registry.retrain('fake', 'a', 'ops');
    expect(third).toMatchObject({ status: 'challenger', challenger: 'a@3' });
    // A promoted candidate supersedes the older challenger.
    kind.next.set('a', [0.6]);
    const [fourth] = await registry.retrain('fake', 'a', 'ops');
    expect(fourth).toMatchObject({ status: 'promoted', champion: 'a@4', challenger: null });
    expect(registry.list()[0]!.history).toEqual(['a@1']);
  });

  it('says why it could not train, and trains every target of the kind when none is named', async () => {
    const { kind, registry, audit } = await setup();
    kind.next.set('a', [0.5]);
    kind.next.set('b', []);
    const outs = await registry.retrain('fake', undefined, 'scheduler');
    expect(outs.map((o) => [o.target, o.status, o.reason])).toEqual([
      ['a', 'promoted', null],
      ['b', 'not-trained', 'too little data'],
    ]);
    expect(audit.every((e) => e.actor === 'scheduler')).toBe(true);
  });

  it('refuses a NaN-producing candidate: nothing saved, the champion stays, audited', async () => {
    const { kind, registry, versions, audit } = await setup();
    kind.next.set('a', [0.4, Number.NaN]);
    await registry.retrain('fake', 'a', 'ops');
    const [out] = await registry.retrain('fake', 'a', 'ops');
    expect(out).toMatchObject({ status: 'refused', promoted: false, version: 'a@2' });
    expect(out!.reason).toMatch(/invalid/);
    expect([...versions.files.keys()]).toEqual(['a@1']);
    expect(kind.served.get('a')).toBe('a@1');
    expect(audit[audit.length - 1]).toMatchObject({ action: 'model.refused', actor: 'ops' });
  });

  it('promotes the challenger or a named version, rolls back, and refuses what it cannot do', async () => {
    const { kind, registry, audit } = await setup();
    kind.heuristic = 0.9; // nothing is promoted automatically
    kind.next.set('a', [0.4, 0.5]);
    expect(await codeOf(registry.promote('fake', 'a', undefined, 'admin'))).toBe(
      ERROR_CODES.CONFLICT,
    );
    await registry.retrain('fake', 'a', 'ops');
    expect(await registry.promote('fake', 'a', undefined, 'admin')).toEqual({
      kind: 'fake',
      target: 'a',
      champion: 'a@1',
      previous: null,
    });
    expect(await codeOf(registry.rollback('fake', 'a', 'admin'))).toBe(ERROR_CODES.CONFLICT);
    await registry.retrain('fake', 'a', 'ops');
    expect(await registry.promote('fake', 'a', 'a@2', 'admin')).toMatchObject({
      champion: 'a@2',
      previous: 'a@1',
    });
    expect(kind.served.get('a')).toBe('a@2');
    expect(await registry.rollback('fake', 'a', 'admin')).toMatchObject({
      champion: 'a@1',
      previous: 'a@2',
    });
    expect(kind.served.get('a')).toBe('a@1');
    expect(registry.list()[0]).toMatchObject({ champion: 'a@1', challenger: null, history: [] });
    expect(audit.filter((e) => e.actor === 'admin').map((e) => e.action)).toEqual([
      'model.promote',
      'model.promote',
      'model.rollback',
    ]);
    expect(await codeOf(registry.promote('fake', 'a', 'a@9', 'admin'))).toBe(ERROR_CODES.NOT_FOUND);
    expect(await codeOf(registry.promote('fake', 'a', 'b@1', 'admin'))).toBe(ERROR_CODES.NOT_FOUND);
    expect(await codeOf(registry.retrain('nope', undefined, 'ops'))).toBe(ERROR_CODES.NOT_FOUND);
  });

  it('refuses to promote a corrupt version with 422 and keeps the champion', async () => {
    const { kind, registry, versions, audit } = await setup();
    kind.next.set('a', [0.4]);
    await registry.retrain('fake', 'a', 'ops');
    versions.files.set('a@7', {
      'model.json': enc({ version: 'a@7', score: 'NaN' }),
      'weights.bin': new Uint8Array(0),
    });
    let err: unknown;
    try {
      await registry.promote('fake', 'a', 'a@7', 'admin');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: ERROR_CODES.MODEL_INVALID, statusCode: 422 });
    expect(kind.served.get('a')).toBe('a@1');
    expect(registry.list()[0]).toMatchObject({ champion: 'a@1', serving: 'a@1' });
    expect(audit[audit.length - 1]).toMatchObject({
      action: 'model.refused',
      actor: 'admin',
      target: 'fake/a',
    });
  });

  it('reloads aliases and champions at start, and serves nothing for a corrupt champion', async () => {
    const first = await setup();
    first.kind.next.set('a', [0.4]);
    first.kind.next.set('b', [0.5]);
    await first.registry.retrain('fake', undefined, 'ops');
    // b's champion file is damaged before the restart.
    first.versions.files.set('b@1', {
      'model.json': new TextEncoder().encode('{not json'),
      'weights.bin': new Uint8Array(0),
    });
    const second = await setup({ versions: first.versions, aliases: first.aliases });
    expect(second.kind.served.get('a')).toBe('a@1');
    expect(second.kind.served.has('b')).toBe(false);
    const b = second.registry.list().find((e) => e.target === 'b');
    expect(b).toMatchObject({ champion: 'b@1', serving: null });
    expect(second.audit).toEqual([
      expect.objectContaining({ action: 'model.refused', actor: 'engine', target: 'fake/b' }),
    ]);
    // Versions continue above those already stored, whatever the kind proposes.
    second.kind.next.set('a', [0.6]);
    const [out] = await second.registry.retrain('fake', 'a', 'ops');
    expect(out!.version).toBe('a@2');
    expect(second.registry.hasChampion('fake', 'a')).toBe(true);
    expect(second.registry.hasChampion('fake', 'c')).toBe(false);
    expect(second.registry.awaitsFirstModel('fake', 'a')).toBe(false);
    expect(second.registry.awaitsFirstModel('fake', 'c')).toBe(true);
    expect(second.registry.awaitsFirstModel('other', 'c')).toBe(false);
  });

  it("takes a target's latest online model as its first candidate, once", async () => {
    const { kind, registry } = await setup();
    kind.next.set('a', [0.4]);
    const [first] = await registry.retrain('fake', 'a', 'scheduler', 'latest');
    expect(first).toMatchObject({ status: 'promoted', version: 'a@1' });
    // The same online model offered again: nothing new.
    const [again] = await registry.retrain('fake', 'a', 'scheduler', 'latest');
    expect(again).toMatchObject({ status: 'not-trained', version: null });
    expect(again!.reason).toMatch(/no new telemetry since a@1/);
  });

  it('runs operations on one target one at a time', async () => {
    const { kind, registry } = await setup();
    kind.heuristic = 0;
    kind.next.set('a', [0.1, 0.2, 0.3]);
    const outs = await Promise.all([
      registry.retrain('fake', 'a', 'x'),
      registry.retrain('fake', 'a', 'y'),
      registry.retrain('fake', 'a', 'z'),
    ]);
    expect(outs.map((o) => o[0]!.version)).toEqual(['a@1', 'a@2', 'a@3']);
    await registry.idle();
    expect(registry.list()[0]).toMatchObject({ champion: 'a@3', history: ['a@1', 'a@2'] });
  });
});
