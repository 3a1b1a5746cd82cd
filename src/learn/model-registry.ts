/**
 * @module learn/model-registry
 * The model registry: versions of every learned model kind, the aliases `champion` and
 * `challenger` per (kind, target) with the champions before (rollback), and the flow that
 * decides what is served:
 *
 *   train a candidate (schedule, on demand, or a target's first online model)
 *     → check it (encode → decode: corrupt or NaN weights, NaN-producing scores → refused)
 *     → evaluate it in shadow on the target's recent telemetry against the champion and the
 *       heuristic → promote it if it beats both by the margin, else keep it as the challenger
 *     → save its files (with the evaluation in metadata.json), store the aliases, audit.
 *
 * Kinds plug in through {@link ModelKindPlugin} (train, evaluate, encode / decode, install the
 * champion for serving); `learn/eviction-model-kind.ts` is the `eviction` kind,
 * `learn/forecast-model-kind.ts` the `forecast` kind. I/O comes in
 * through interfaces — {@link VersionStore} (files: models/<kind>/ and the NATS Object Store),
 * {@link AliasStore} (Redis or a file), the audit log — wired by the engine; the rules themselves
 * are the pure functions of `learn/promotion.ts`.
 *
 * Operations on one (kind, target) run one at a time (a promise chain per target), so a
 * scheduled retrain, an API promote and a bootstrap never interleave.
 */
import { ConflictError, ModelInvalidError, NotFoundError } from '../errors.js';
import type { AuditInput } from '../control/audit.js';
import type { ModelFiles, StoredModelFiles } from './model-files.js';
import {
  evaluationOf,
  NO_ALIASES,
  parseVersion,
  promoted,
  rolledBack,
  withChallenger,
  type Aliases,
  type Evaluation,
  type EvaluationScores,
} from './promotion.js';

/** One learned model kind, as the registry drives it. `M` is the kind's in-memory model. */
export interface ModelKindPlugin<M> {
  readonly kind: string;
  /** Id of the heuristic candidates are compared with (eviction: `lru`). */
  readonly heuristicId: string;
  /**
   * Promotion margin on this kind's score, when it is not the registry's (absolute, same unit as
   * the score; forecast: on −ln MASE).
   */
  readonly margin?: number;
  /** Targets that could train now (eviction: cache nodes that sent access telemetry). */
  targets(): string[];
  /**
   * The target's latest model trained on its own (online), named by `version(seq)`; undefined
   * before its first. Used for a target's first champion without waiting for the schedule.
   */
  latest(target: string, version: (seq: number) => string): M | undefined;
  /** Trains a candidate now from the telemetry applied so far, or says why it cannot. */
  train(
    target: string,
    version: (seq: number) => string,
  ):
    | { ok: true; model: M }
    | { ok: false; reason: string }
    | Promise<{ ok: true; model: M } | { ok: false; reason: string }>;
  versionOf(model: M): string;
  /** The version's files, `evaluation` included in its metadata. */
  encode(model: M, evaluation: Evaluation | null): ModelFiles;
  /**
   * Reads a version back, checking it.
   * @throws ModelInvalidError (`PRESCIENT_E_MODEL_INVALID`) for a corrupt or NaN-producing model.
   */
  decode(files: StoredModelFiles): M;
  /**
   * Scores candidate, champion and heuristic on the target's recent telemetry (only what was
   * already applied), or says why it cannot (too little of it).
   * @throws ModelInvalidError when the candidate produces a non-finite score.
   */
  evaluate(
    target: string,
    candidate: M,
    champion: M | undefined,
  ): Promise<{ ok: true; scores: EvaluationScores } | { ok: false; reason: string }>;
  /** Serves `model` for `target` from now on (undefined: nothing; the heuristic serves). */
  install(target: string, model: M | undefined): void;
}

/** A kind's saved versions (models/<kind>/<version>/, and the Object Store for other replicas). */
export interface VersionStore {
  save(version: string, files: ModelFiles): Promise<void>;
  /** @throws NotFoundError when the version is nowhere. */
  read(version: string): Promise<StoredModelFiles>;
  list(): Promise<string[]>;
}

/** Where aliases live (Redis hash `<prefix>models:<kind>`, or models/<kind>/aliases.json). */
export interface AliasStore {
  readonly kind: string;
  load(kind: string): Promise<Map<string, Aliases>>;
  /** Stores one target's aliases; `all` is every target's, for stores that write them whole. */
  save(
    kind: string,
    target: string,
    aliases: Aliases,
    all: ReadonlyMap<string, Aliases>,
  ): Promise<void>;
}

/** A saved version as GET /v1/models lists it. */
export interface VersionInfo {
  readonly version: string;
  /** ISO 8601 (metadata.json `savedAtMs`); null when unknown. */
  readonly createdAt: string | null;
  readonly metrics: Record<string, unknown> | null;
  readonly evaluation: Evaluation | null;
}

export interface ModelEntry {
  readonly kind: string;
  readonly target: string;
  readonly champion: string | null;
  readonly challenger: string | null;
  readonly history: string[];
  /** The version actually served (null: the champion could not be loaded, or there is none). */
  readonly serving: string | null;
  readonly versions: VersionInfo[];
}

export type RetrainStatus = 'promoted' | 'challenger' | 'refused' | 'not-trained';

export interface RetrainOutcome {
  readonly target: string;
  readonly status: RetrainStatus;
  readonly promoted: boolean;
  readonly version: string | null;
  readonly evaluation: Evaluation | null;
  /** Why it was not trained, or refused (null otherwise; the evaluation says why promoted). */
  readonly reason: string | null;
  readonly champion: string | null;
  readonly challenger: string | null;
}

export interface AliasChange {
  readonly kind: string;
  readonly target: string;
  readonly champion: string | null;
  readonly previous: string | null;
}

export interface RegistryLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ModelRegistryOptions {
  readonly aliases: AliasStore;
  /** Appends to the audit log (`model.retrain`, `model.promote`, `model.rollback`, `model.refused`). */
  readonly audit: (entry: AuditInput) => Promise<unknown>;
  /**
   * Promote when the candidate beats max(champion, heuristic) by this much (absolute), for kinds
   * without their own {@link ModelKindPlugin.margin}.
   */
  readonly margin: number;
  readonly log: RegistryLogger;
  readonly now?: () => number;
}

interface TargetState<M> {
  aliases: Aliases;
  /** The champion's model as installed (undefined: none servable). */
  served: { version: string; model: M } | undefined;
}

/** One kind's registry: its plug-in, versions, aliases and served champions. */
class KindRegistry<M> {
  readonly targets = new Map<string, TargetState<M>>();
  readonly versions = new Map<string, VersionInfo>();

  constructor(
    readonly plugin: ModelKindPlugin<M>,
    readonly store: VersionStore,
  ) {}

  state(target: string): TargetState<M> {
    let s = this.targets.get(target);
    if (s === undefined) {
      s = { aliases: NO_ALIASES, served: undefined };
      this.targets.set(target, s);
    }
    return s;
  }

  aliasMap(): Map<string, Aliases> {
    const m = new Map<string, Aliases>();
    for (const [t, s] of this.targets) m.set(t, s.aliases);
    return m;
  }

  /** Names given so far, by target and the kind's proposed number. */
  private readonly names = new Map<string, Map<number, string>>();

  /**
   * `<target>@<n>`: n is the kind's proposed number (eviction: the shadow's retrain count) or,
   * when a version of the target already has that number or a higher one (a restart begins
   * counting again), one above them all. The same proposal always gets the same name in a
   * process, so a model offered twice is recognised as already registered.
   */
  versionName(target: string, proposed: number): string {
    let byTarget = this.names.get(target);
    const known = byTarget?.get(proposed);
    if (known !== undefined) return known;
    let top = 0;
    for (const v of this.versions.keys()) {
      const p = parseVersion(v);
      if (p?.target === target) top = Math.max(top, p.seq);
    }
    const s = this.targets.get(target)?.aliases;
    for (const v of [s?.champion, s?.challenger, ...(s?.history ?? [])]) {
      const p = v == null ? undefined : parseVersion(v);
      if (p?.target === target) top = Math.max(top, p.seq);
    }
    const name = `${target}@${Math.max(proposed, top + 1)}`;
    if (byTarget === undefined) {
      byTarget = new Map();
      this.names.set(target, byTarget);
    }
    byTarget.set(proposed, name);
    return name;
  }
}

export class ModelRegistry {
  private readonly kinds = new Map<string, KindRegistry<unknown>>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly now: () => number;

  constructor(private readonly o: ModelRegistryOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Adds a kind; call {@link start} after the last. */
  register<M>(plugin: ModelKindPlugin<M>, store: VersionStore): void {
    // A kind's model type stays inside its plug-in: the registry only passes models back to it.
    this.kinds.set(plugin.kind, new KindRegistry<M>(plugin, store));
  }

  kindNames(): string[] {
    return [...this.kinds.keys()];
  }

  /**
   * Loads every kind's aliases and saved versions, and installs each target's champion; a
   * champion that is missing or refused is logged and audited (`model.refused`), and its
   * target is served by the heuristic (`FALLBACK`) until a champion can be served.
   */
  async start(): Promise<void> {
    for (const k of this.kinds.values()) {
      for (const version of await k.store.list()) {
        const info = await this.readInfo(k, version);
        if (info !== undefined) k.versions.set(version, info);
      }
      for (const [target, aliases] of await this.o.aliases.load(k.plugin.kind)) {
        k.state(target).aliases = aliases;
        if (aliases.champion === null) continue;
        try {
          const model = await this.load(k, aliases.champion);
          this.install(k, target, aliases.champion, model);
          this.o.log.info(
            { kind: k.plugin.kind, target, version: aliases.champion },
            'champion loaded',
          );
        } catch (err) {
          this.o.log.error(
            { kind: k.plugin.kind, target, version: aliases.champion, err: message(err) },
            'champion refused at start: the heuristic serves this target (reason FALLBACK)',
          );
          await this.audit({
            actor: 'engine',
            action: 'model.refused',
            target: `${k.plugin.kind}/${target}`,
            before: aliases,
            after: aliases,
            reason: `champion ${aliases.champion} cannot be served: ${message(err)}`,
          });
        }
      }
    }
  }

  /**
   * Re-reads a kind's aliases and installs the champion of each of `targets` that differs from
   * the one served: a replica taking over a partition (docs/scaling.md) serves what the
   * partition's last holder promoted, not what was champion when this replica started.
   */
  async adopt(kind: string, targets: readonly string[]): Promise<void> {
    const k = this.kinds.get(kind);
    if (k === undefined || targets.length === 0) return;
    const all = new Map(await this.o.aliases.load(kind));
    for (const target of targets) {
      const aliases = all.get(target);
      if (aliases === undefined) continue;
      const s = k.state(target);
      s.aliases = aliases;
      if (aliases.champion === null || s.served?.version === aliases.champion) continue;
      try {
        this.install(k, target, aliases.champion, await this.load(k, aliases.champion));
      } catch (err) {
        this.o.log.error(
          { kind, target, version: aliases.champion, err: message(err) },
          'champion of an adopted target refused: the heuristic serves it (reason FALLBACK)',
        );
      }
    }
  }

  /** Resolves when every operation started so far has finished. */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.chains.values()];
      await Promise.allSettled(pending);
      if ([...this.chains.values()].every((p) => pending.includes(p))) return;
    }
  }

  /** The target's champion when it is not the version served (refused at load), else undefined. */
  unservedChampion(kind: string, target: string): string | undefined {
    const s = this.kinds.get(kind)?.targets.get(target);
    const champion = s?.aliases.champion ?? null;
    return champion !== null && s?.served?.version !== champion ? champion : undefined;
  }

  hasChampion(kind: string, target: string): boolean {
    return this.kinds.get(kind)?.targets.get(target)?.aliases.champion != null;
  }

  /** True while a target of a known kind has neither a champion nor a challenger. */
  awaitsFirstModel(kind: string, target: string): boolean {
    if (!this.kinds.has(kind)) return false;
    const a = this.kinds.get(kind)?.targets.get(target)?.aliases;
    return a === undefined || (a.champion === null && a.challenger === null);
  }

  /** Every (kind, target) with aliases, versions or telemetry; sorted. */
  list(): ModelEntry[] {
    const out: ModelEntry[] = [];
    for (const k of this.kinds.values()) {
      const targets = new Set<string>([...k.targets.keys(), ...k.plugin.targets()]);
      const versionsOf = new Map<string, VersionInfo[]>();
      for (const info of k.versions.values()) {
        const t = parseVersion(info.version)?.target;
        if (t === undefined) continue;
        targets.add(t);
        const list = versionsOf.get(t) ?? [];
        list.push(info);
        versionsOf.set(t, list);
      }
      for (const target of [...targets].sort()) {
        const s = k.targets.get(target);
        const a = s?.aliases ?? NO_ALIASES;
        const versions = (versionsOf.get(target) ?? []).sort(
          (x, y) => (parseVersion(x.version)?.seq ?? 0) - (parseVersion(y.version)?.seq ?? 0),
        );
        out.push({
          kind: k.plugin.kind,
          target,
          champion: a.champion,
          challenger: a.challenger,
          history: [...a.history],
          serving: s?.served?.version ?? null,
          versions,
        });
      }
    }
    return out;
  }

  /**
   * Trains a candidate for `target` (every target of the kind when undefined), evaluates it and
   * promotes it or keeps it as the challenger. `mode: 'latest'` takes the target's latest online
   * model instead of training (a target's first champion).
   * @throws NotFoundError for an unknown kind.
   */
  async retrain(
    kind: string,
    target: string | undefined,
    actor: string,
    mode: 'train' | 'latest' = 'train',
  ): Promise<RetrainOutcome[]> {
    const k = this.kind(kind);
    const targets = target === undefined ? k.plugin.targets().sort() : [target];
    const out: RetrainOutcome[] = [];
    for (const t of targets) {
      out.push(await this.exclusive(kind, t, () => this.retrainOne(k, t, actor, mode)));
    }
    return out;
  }

  /**
   * Makes `version` (default: the challenger) the champion of `target`.
   * @throws NotFoundError (unknown kind or version), ConflictError (no challenger to promote),
   *   ModelInvalidError (422: the version is corrupt or NaN-producing; the champion stays).
   */
  async promote(
    kind: string,
    target: string,
    version: string | undefined,
    actor: string,
  ): Promise<AliasChange> {
    const k = this.kind(kind);
    return this.exclusive(kind, target, async () => {
      const s = k.state(target);
      const before = s.aliases;
      const v = version ?? before.challenger;
      if (v === null) {
        throw new ConflictError(
          `${kind}/${target} has no challenger to promote: retrain it first or name a version`,
          { kind, target },
        );
      }
      if (parseVersion(v)?.target !== target) {
        throw new NotFoundError(`version "${v}" is not a version of ${kind} target "${target}"`);
      }
      const model = await this.loadOrRefuse(k, target, v, actor, before);
      const after = promoted(before, v);
      await this.setAliases(k, target, after);
      this.install(k, target, v, model);
      await this.audit({
        actor,
        action: 'model.promote',
        target: `${kind}/${target}`,
        before,
        after,
        reason: version === undefined ? `challenger ${v} promoted` : `${v} promoted`,
      });
      this.o.log.info({ kind, target, version: v, actor }, 'model promoted');
      return { kind, target, champion: v, previous: before.champion };
    });
  }

  /**
   * The previous champion of `target` comes back.
   * @throws NotFoundError (unknown kind), ConflictError (no previous champion),
   *   ModelInvalidError (422: the previous champion cannot be served; nothing changes).
   */
  async rollback(kind: string, target: string, actor: string): Promise<AliasChange> {
    const k = this.kind(kind);
    return this.exclusive(kind, target, async () => {
      const s = k.state(target);
      const before = s.aliases;
      const after = rolledBack(before);
      if (after === undefined || after.champion === null) {
        throw new ConflictError(`${kind}/${target} has no previous champion to roll back to`, {
          kind,
          target,
          champion: before.champion,
        });
      }
      const model = await this.loadOrRefuse(k, target, after.champion, actor, before);
      await this.setAliases(k, target, after);
      this.install(k, target, after.champion, model);
      await this.audit({
        actor,
        action: 'model.rollback',
        target: `${kind}/${target}`,
        before,
        after,
        reason: `${before.champion ?? 'none'} rolled back to ${after.champion}`,
      });
      this.o.log.info({ kind, target, version: after.champion, actor }, 'model rolled back');
      return { kind, target, champion: after.champion, previous: before.champion };
    });
  }

  private kind(kind: string): KindRegistry<unknown> {
    const k = this.kinds.get(kind);
    if (k === undefined) {
      const known = this.kindNames();
      throw new NotFoundError(
        `unknown model kind "${kind}": known ${known.length > 0 ? known.join(', ') : 'none (PRESCIENT_VICTIM_RANKER is not learned)'}`,
      );
    }
    return k;
  }

  private async retrainOne<M>(
    k: KindRegistry<M>,
    target: string,
    actor: string,
    mode: 'train' | 'latest',
  ): Promise<RetrainOutcome> {
    const kind = k.plugin.kind;
    const s = k.state(target);
    const before = s.aliases;
    const notTrained = (reason: string): RetrainOutcome => ({
      target,
      status: 'not-trained',
      promoted: false,
      version: null,
      evaluation: null,
      reason,
      champion: before.champion,
      challenger: before.challenger,
    });
    const name = (seq: number) => k.versionName(target, seq);
    let candidate: M;
    if (mode === 'latest') {
      const latest = k.plugin.latest(target, name);
      if (latest === undefined) return notTrained('no model trained yet');
      candidate = latest;
    } else {
      const trained = await k.plugin.train(target, name);
      if (!trained.ok) return notTrained(trained.reason);
      candidate = trained.model;
    }
    const version = k.plugin.versionOf(candidate);
    if (k.versions.has(version)) {
      return notTrained(`no new telemetry since ${version} was trained`);
    }
    let evaluation: Evaluation;
    try {
      // The files round trip is the check a stored version gets: NaN weights, bad shapes and
      // NaN-producing scores on probe keys are refused here, before anything is saved.
      k.plugin.decode(k.plugin.encode(candidate, null));
      const champion = s.served?.model;
      const evaluated = await k.plugin.evaluate(target, candidate, champion);
      if (!evaluated.ok) return notTrained(evaluated.reason);
      evaluation = evaluationOf(evaluated.scores, k.plugin.margin ?? this.o.margin, {
        championVersion: s.served?.version ?? null,
        heuristicId: k.plugin.heuristicId,
        evaluatedAtMs: this.now(),
      });
    } catch (err) {
      if (!(err instanceof ModelInvalidError)) throw err;
      await this.refused(k, target, version, actor, before, err);
      return {
        ...notTrained(err.message),
        status: 'refused',
        version,
      };
    }
    await k.store.save(version, k.plugin.encode(candidate, evaluation));
    k.versions.set(version, {
      version,
      createdAt: new Date(this.now()).toISOString(),
      metrics: null,
      evaluation,
    });
    // The metrics are the kind's; read them back from what was saved.
    const info = await this.readInfo(k, version);
    if (info !== undefined) k.versions.set(version, info);
    // Promoted, the candidate also supersedes an older challenger; else it becomes the challenger.
    const asChallenger = withChallenger(before, version);
    const after = evaluation.promote ? promoted(asChallenger, version) : asChallenger;
    await this.setAliases(k, target, after);
    if (evaluation.promote) this.install(k, target, version, candidate);
    await this.audit({
      actor,
      action: 'model.retrain',
      target: `${kind}/${target}`,
      before,
      after: asChallenger,
      reason: `${version} trained: ${evaluation.reason}`,
    });
    if (evaluation.promote) {
      await this.audit({
        actor,
        action: 'model.promote',
        target: `${kind}/${target}`,
        before: asChallenger,
        after,
        reason: `automatic: ${evaluation.reason}`,
      });
    }
    this.o.log.info(
      { kind, target, version, promoted: evaluation.promote, reason: evaluation.reason },
      evaluation.promote ? 'candidate promoted' : 'candidate kept as challenger',
    );
    return {
      target,
      status: evaluation.promote ? 'promoted' : 'challenger',
      promoted: evaluation.promote,
      version,
      evaluation,
      reason: null,
      champion: after.champion,
      challenger: after.challenger,
    };
  }

  /** Loads a version to serve it; a refusal is audited and rethrown (the champion stays). */
  private async loadOrRefuse<M>(
    k: KindRegistry<M>,
    target: string,
    version: string,
    actor: string,
    aliases: Aliases,
  ): Promise<M> {
    const s = k.state(target);
    if (s.served?.version === version) return s.served.model;
    try {
      return await this.load(k, version);
    } catch (err) {
      if (err instanceof ModelInvalidError)
        await this.refused(k, target, version, actor, aliases, err);
      throw err;
    }
  }

  private async refused<M>(
    k: KindRegistry<M>,
    target: string,
    version: string,
    actor: string,
    aliases: Aliases,
    err: Error,
  ): Promise<void> {
    this.o.log.warn(
      { kind: k.plugin.kind, target, version, err: err.message },
      'model refused; the champion stays',
    );
    await this.audit({
      actor,
      action: 'model.refused',
      target: `${k.plugin.kind}/${target}`,
      before: aliases,
      after: aliases,
      reason: `${version}: ${err.message}`,
    });
  }

  private async load<M>(k: KindRegistry<M>, version: string): Promise<M> {
    const files = await k.store.read(version);
    const model = k.plugin.decode(files);
    if (!k.versions.has(version)) {
      const info = await this.readInfo(k, version);
      if (info !== undefined) k.versions.set(version, info);
    }
    return model;
  }

  private install<M>(k: KindRegistry<M>, target: string, version: string, model: M): void {
    k.state(target).served = { version, model };
    k.plugin.install(target, model);
  }

  private async setAliases<M>(k: KindRegistry<M>, target: string, aliases: Aliases) {
    k.state(target).aliases = aliases;
    await this.o.aliases.save(k.plugin.kind, target, aliases, k.aliasMap());
  }

  private async readInfo<M>(k: KindRegistry<M>, version: string): Promise<VersionInfo | undefined> {
    if (parseVersion(version) === undefined) return undefined;
    let meta: Record<string, unknown> = {};
    try {
      const bytes = (await k.store.read(version))['metadata.json'];
      if (bytes !== undefined) {
        const parsed = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
        if (typeof parsed === 'object' && parsed !== null) meta = parsed as Record<string, unknown>;
      }
    } catch {
      // A version without readable metadata is still listed (and refused if promoted).
    }
    const savedAtMs = meta['savedAtMs'];
    const metrics = meta['metrics'];
    const evaluation = meta['evaluation'];
    return {
      version,
      createdAt:
        typeof savedAtMs === 'number' && Number.isFinite(savedAtMs)
          ? new Date(savedAtMs).toISOString()
          : null,
      metrics:
        typeof metrics === 'object' && metrics !== null
          ? (metrics as Record<string, unknown>)
          : null,
      evaluation:
        typeof evaluation === 'object' && evaluation !== null ? (evaluation as Evaluation) : null,
    };
  }

  private async audit(entry: AuditInput): Promise<void> {
    try {
      await this.o.audit(entry);
    } catch (err) {
      this.o.log.warn({ action: entry.action, err: message(err) }, 'audit append failed');
    }
  }

  /** Runs `fn` after every earlier operation on the same (kind, target). */
  private exclusive<T>(kind: string, target: string, fn: () => Promise<T>): Promise<T> {
    const key = `${kind}/${target}`;
    const prev = this.chains.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, settled);
    void settled.then(() => {
      if (this.chains.get(key) === settled) this.chains.delete(key);
    });
    return run;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
