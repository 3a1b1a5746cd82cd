/**
 * @module engine
 * The composition root: wires settings to concrete pieces and runs the loop
 *
 *   bus (NATS JetStream | in-process) → Ingestor (decode, validate, dead-letter) → FeatureStore
 *     → PolicyPublisher (victim ranker, weigher) → PolicySink (NATS KV | memory)
 *   FeatureStore → checkpoint (Redis | none) → ack telemetry up to the checkpointed sequence
 *   access batches → LearnedEvictionTrainer (per-node shadow cache, replayed each publish tick)
 *     → candidates (cron, POST /v1/models/:kind/retrain, a node's first model) → ModelRegistry
 *     (shadow evaluation vs champion and LRU; versions in models/ + Object Store, aliases in
 *     Redis) → each node's champion → LearnedVictimRanker (`learned`)
 *
 * Mode is chosen by the settings alone: NATS_URL set → JetStream; REDIS_URL set → Redis
 * checkpoints; PRESCIENT_PARTITIONS ≥ 1 → scale-out: this replica holds the leases of some
 * partitions (cluster/replica-coordinator.ts) and applies, checkpoints and publishes only theirs
 * (cluster/partition-table.ts, docs/scaling.md). A configured server that is unreachable is
 * retried with backoff and /readyz answers 503 meanwhile; the engine never silently falls back
 * to the embedded pieces.
 */
import { randomUUID } from 'node:crypto';
import { names, type Names, type Settings } from './config/settings.js';
import { PrescientError, ERROR_CODES } from './errors.js';
import type { Logger } from './log.js';
import { FeatureStore } from './features/feature-store.js';
import type { FeatureStoreOptions } from './features/types.js';
import {
  checkAccess,
  checkLatency,
  decodeEvents,
  type Decoded,
  type Rejection,
} from './telemetry/decode.js';
import { Ingestor, type DeadLetter, type DeadLetterSink } from './telemetry/ingest.js';
import type { TelemetryKind } from './telemetry/events.js';
import type { ConnectionState, InboundMessage, TelemetryBus } from './telemetry/bus.js';
import { MemoryBus } from './telemetry/memory-bus.js';
import { NatsBus } from './telemetry/nats-bus.js';
import { NatsClient } from './clients/nats-client.js';
import { RedisClient } from './clients/redis-client.js';
import { NoSnapshotStore, type SnapshotStore } from './state/snapshot-store.js';
import { RedisSnapshotStore } from './state/redis-snapshot-store.js';
import { MemoryPolicySink, type PolicySink } from './publish/policy-sink.js';
import { NatsKvSink } from './publish/nats-kv-sink.js';
import { FanoutSink, RedisVictimsSink } from './publish/redis-victims-sink.js';
import { PolicyPublisher } from './publish/policy-publisher.js';
import type { PolicyDocument, PolicyKind } from './publish/document.js';
import { victimRankers, type VictimRanker } from './policy/victim-ranker.js';
import { weighers, type WeighContext, type Weigher } from './balance/weigher.js';
import './policy/lru-victims.js';
import './policy/learned-victims.js';
import { loadTf } from './learn/tf.js';
import { LearnedEvictionTrainer } from './learn/learned-eviction-trainer.js';
import { FsModelStore } from './state/model-store.js';
import { ModelRegistry } from './learn/model-registry.js';
import { EvictionModelKind } from './learn/eviction-model-kind.js';
import { ForecastModelKind } from './learn/forecast-model-kind.js';
import { RetrainScheduler } from './learn/retrain-scheduler.js';
import { FileAliasStore, MirroredAliasStore, RedisAliasStore } from './state/model-aliases.js';
import { ModelVersionStore } from './state/model-versions.js';
import type { NodeEvictionModel } from './policy/victim-ranker.js';
import { NatsModelObjectStore } from './publish/nats-model-store.js';
import { join } from 'node:path';
import './balance/builtin.js';
import { EngineMetrics } from './metrics.js';
import { ForecastService, type FitFn, type ForecastView } from './forecast/service.js';
import { fallbackFit, servedFit } from './forecast/served.js';
import './learn/forecast-registration.js';
import { HotKeyHistory } from './features/hot-key-history.js';
import type { ForecastDocument } from './publish/document.js';
import { readFileSync } from 'node:fs';
import { ControlPlane } from './control/control-plane.js';
import type { AuditLog } from './control/audit.js';
import { parseAck } from './control/clients.js';
import { targetKeyOf } from './control/overrides.js';
import { parseTokenFile, parseTokenList, type TokenRecord } from './control/tokens.js';
import { MemoryControlStore, RedisControlStore } from './state/control-store.js';

/** Tokens from PRESCIENT_API_TOKENS and PRESCIENT_API_TOKENS_FILE (hashes only). */
export function configuredTokens(s: Settings): TokenRecord[] {
  const out: TokenRecord[] = [];
  if (s.apiTokens !== undefined) out.push(...parseTokenList(s.apiTokens));
  if (s.apiTokensFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(s.apiTokensFile, 'utf8');
    } catch (err) {
      throw new PrescientError(
        ERROR_CODES.CONFIG,
        `PRESCIENT_API_TOKENS_FILE=${s.apiTokensFile}: ${(err as Error).message}`,
      );
    }
    out.push(...parseTokenFile(text, `PRESCIENT_API_TOKENS_FILE (${s.apiTokensFile})`));
  }
  return out;
}
import { PolicyHistory } from './publish/history.js';
import { hostname } from 'node:os';
import type { Features } from './features/types.js';
import { PartitionTable, POOL_PARTITION } from './cluster/partition-table.js';
import { ReplicaCoordinator, type PartitionHost } from './cluster/replica-coordinator.js';
import { RedisLeases, ReplicaMembership, type Lease } from './state/leases.js';

export type EngineState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface Readiness {
  readonly ready: boolean;
  readonly state: EngineState;
  readonly checks: Record<
    string,
    { readonly state: ConnectionState | EngineState; readonly detail: string }
  >;
}

export interface HttpIngestResult {
  readonly accepted: number;
  readonly rejected: number;
  readonly rejections: readonly Rejection[];
}

export function featureOptions(s: Settings): FeatureStoreOptions {
  return {
    maxTrackedKeys: s.maxTrackedKeys,
    decayHalfLivesSec: s.decayHalfLivesSec,
    latencyWindowSec: s.latencyWindowSec,
    ewmaTauMs: s.ewmaTauMs,
    seriesStepSec: s.seriesStepSec,
    seriesHistorySteps: s.seriesHistorySteps,
    maxSeries: s.maxSeries,
  };
}

/** Runs `fn` every `ms`, never overlapping itself; errors go to `onError`. */
function every(
  ms: number,
  fn: () => Promise<unknown>,
  onError: (err: unknown) => void,
): () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const loop = () => {
    timer = setTimeout(() => {
      running = fn()
        .catch(onError)
        .finally(() => {
          if (!stopped) loop();
        });
    }, ms);
  };
  loop();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

/** The series the engine forecasts (and versions as model kind `forecast`). */
function forecastSeriesIds(ids: readonly string[]): string[] {
  return ids.filter((id) => id.startsWith('pool.') || id.startsWith('node.'));
}

/** Pieces a caller may replace (tests use fast forecasters). */
export interface EngineOptions {
  readonly fitServed?: FitFn;
  readonly fitFallback?: FitFn;
  /** Told of the admin token generated at start when none is configured (print it once). */
  readonly onGeneratedToken?: (token: string) => void;
}

export class Engine {
  readonly n: Names;
  readonly forecasts: ForecastService;
  /** The served forecaster's fit: the ForecastService's refits and the `forecast` kind's candidates. */
  private readonly fitServed: FitFn;
  /** One long-lived instance: it keeps each backend's learned latency curve between decisions. */
  readonly weigher: Weigher;
  /** Per cache node, the keys hot at each hour of day (pre-warm hints). */
  readonly hotKeys = new HotKeyHistory();
  /** Each pool's recent shares, one point per weights document (the dashboard's charts). */
  readonly history = new PolicyHistory();
  readonly metrics = new EngineMetrics();
  /** Tokens, overrides, client acks and the audit log. */
  readonly control: ControlPlane;
  /** What `freeze` / `enforce` overrides and explanations fall back to. */
  readonly heuristic: { readonly ranker: VictimRanker; readonly weigher: Weigher };
  readonly mode: { readonly bus: 'embedded' | 'nats'; readonly state: 'memory' | 'redis' };
  readonly bus: TelemetryBus;
  readonly ingestor: Ingestor;
  /** One engine: every feature. Scale-out: the shards of the partitions held (`table.features`). */
  private storeValue: FeatureStore | PartitionTable['features'];
  /** Scale-out (PRESCIENT_PARTITIONS ≥ 1): the partitions held, their watermarks and checkpoints. */
  private table: PartitionTable | undefined;
  private coordinator: ReplicaCoordinator | undefined;
  /** This replica's name in the leases (PRESCIENT_REPLICA_ID, or the host name). */
  readonly replicaId: string;
  private publisherValue: PolicyPublisher | undefined;
  private readonly nats: NatsClient | undefined;
  private readonly redis: RedisClient | undefined;
  private snapshots: SnapshotStore = new NoSnapshotStore();
  /** Ranks each node's victims for `eviction.<node>` (PRESCIENT_VICTIM_RANKER). */
  readonly victimRanker: VictimRanker;
  /** Per-node shadow caches training the learned eviction models (ranker `learned` only). */
  private trainer: LearnedEvictionTrainer | undefined;
  private modelObjects: NatsModelObjectStore | undefined;
  /** Each node's champion eviction model, installed by the model registry; the ranker serves it. */
  private readonly evictionChampions = new Map<string, NodeEvictionModel>();
  /** Versions, aliases and promotions of the learned models (`eviction` with ranker `learned`; `forecast`). */
  private registry: ModelRegistry | undefined;
  /** Cron retraining per model kind (PRESCIENT_RETRAIN_CRON_<KIND>). */
  private scheduler: RetrainScheduler | undefined;
  private stateValue: EngineState = 'created';
  private failure = '';
  private started: Promise<void> | undefined;
  private stopLoops: (() => Promise<void>)[] = [];
  /** Exactly-once watermark: highest bus sequence applied. */
  private appliedSeq = 0;
  private checkpointedSeq = 0;
  /** Sequence the engine resumed after at start (the restored checkpoint's, or 0). */
  private restoredSeq = 0;
  private streamCreated = '';
  private duplicates = 0;
  private checkpointFailures = 0;
  private checkpointing = false;
  /** Called after each message is applied (benchmarks measure apply latency with it). */
  onApplied: ((msg: InboundMessage, appliedAtMs: number) => void) | undefined;
  /** Called after each document is written to the sink (benchmarks measure telemetry → policy). */
  onPublished: ((doc: PolicyDocument, publishedAtMs: number) => void) | undefined;

  constructor(
    readonly settings: Settings,
    readonly log: Logger,
    options: EngineOptions = {},
  ) {
    this.n = names(settings);
    // Created here so an unknown PRESCIENT_WEIGHER stops the engine at start, naming the known ones.
    this.weigher = weighers.create(settings.weigher, undefined);
    // Same for PRESCIENT_VICTIM_RANKER. The trainer appears at start (tfjs loads asynchronously).
    this.victimRanker = victimRankers.create(settings.victimRanker, {
      models: { current: (node) => this.evictionChampions.get(node) },
    });
    this.heuristic = {
      ranker: victimRankers.create('lru', undefined),
      weigher: weighers.create(settings.heuristicWeigher, undefined),
    };
    this.control = new ControlPlane({
      configuredTokens: configuredTokens(settings),
      maxOverrideTtlSec: settings.overrideMaxTtlSec,
      onTargetsChanged: (keys) => this.onOverridesChanged(keys),
      ...(options.onGeneratedToken ? { onGeneratedToken: options.onGeneratedToken } : {}),
    });
    this.fitServed = options.fitServed ?? servedFit;
    this.forecasts = new ForecastService({
      horizon: settings.forecastHorizonSteps,
      refitIntervalMs: settings.forecastRefitSec * 1000,
      seasonSteps: settings.forecastSeasonSteps,
      minFitSeasons: settings.forecastMinSeasons,
      fitServed: this.fitServed,
      fitFallback: options.fitFallback ?? fallbackFit,
      unservedChampion: (series) => this.registry?.unservedChampion('forecast', series),
    });
    this.storeValue = new FeatureStore(featureOptions(settings));
    this.replicaId = settings.replicaId ?? hostname();
    if (settings.natsUrl !== undefined) {
      this.nats = new NatsClient({
        url: settings.natsUrl,
        name: 'prescient-engine',
        log,
        security: settings,
      });
      // Scale-out: each replica reads the whole stream with its own durable consumer.
      const consumerName =
        settings.partitions > 0
          ? `${settings.consumerName}-${this.replicaId.replace(/[^A-Za-z0-9_-]/g, '_')}`
          : settings.consumerName;
      this.bus = new NatsBus(this.nats, { ...settings, consumerName }, this.n, log);
    } else {
      this.bus = new MemoryBus();
    }
    if (settings.redisUrl !== undefined)
      this.redis = new RedisClient(settings.redisUrl, log, settings, settings.redisCluster === 1);
    this.mode = { bus: this.bus.kind, state: this.redis ? 'redis' : 'memory' };
    const deadLetters: DeadLetterSink = {
      send: (letters: readonly DeadLetter[]) => {
        for (const l of letters) this.bus.publishDeadLetter(Buffer.from(JSON.stringify(l)));
      },
    };
    const sink = {
      applyAccess: (node: string, events: Parameters<FeatureStore['applyAccess']>[1]) => {
        this.storeValue.applyAccess(node, events);
        // O(1): the batch is replayed into the node's shadow cache at the next publish tick.
        this.trainer?.enqueue(node, events);
      },
      applyLatency: (proxy: string, events: Parameters<FeatureStore['applyLatency']>[1]) =>
        this.storeValue.applyLatency(proxy, events),
    };
    this.ingestor = new Ingestor(sink, deadLetters, {
      subjectPrefix: settings.subjectPrefix,
      limits: {
        maxUnknownFields: settings.maxUnknownFields,
        maxMessageBytes: settings.maxMessageBytes,
      },
    });
    this.metrics.bind({
      ingestCounters: () => this.ingestor.counters,
      featureStats: () => this.storeValue.stats(),
      publishStats: () => this.publisherValue?.stats(),
      connections: () => this.connections(),
      forecasts: () => this.forecasts.views(),
      evictionShadows: () => this.evictionTraining(),
      checkpoint: () => ({
        appliedSeq: this.appliedSeq,
        checkpointedSeq: this.checkpointedSeq,
        duplicates: this.duplicates,
        failures: this.checkpointFailures,
      }),
    });
  }

  get store(): Features {
    return this.storeValue;
  }
  get state(): EngineState {
    return this.stateValue;
  }

  /** Starts in the background; resolves when running (or rejects if setup fails for good). */
  start(): Promise<void> {
    this.started ??= this.startInner().catch((err: unknown) => {
      if (this.stateValue === 'stopping' || this.stateValue === 'stopped') return;
      this.stateValue = 'failed';
      this.failure = (err as Error).message;
      this.log.error({ err: (err as Error).message }, 'engine failed to start');
      throw err;
    });
    return this.started;
  }

  private async startInner(): Promise<void> {
    this.stateValue = 'starting';
    let sink: PolicySink = new MemoryPolicySink();
    if (this.bus instanceof NatsBus) {
      await this.bus.setup();
      this.streamCreated = this.bus.streamCreated;
      sink = await NatsKvSink.open(
        this.nats!.connection,
        this.n.kvBucket,
        this.settings.streamReplicas,
      );
    }
    if (this.settings.victimRanker === 'learned') {
      const { tf } = await loadTf({ log: (msg) => this.log.info(msg) });
      this.trainer = new LearnedEvictionTrainer({
        tf,
        shadowCapacity: this.settings.evictionShadowCapacity,
        residentKeys: (node) => this.storeValue.residentKeys(node),
        maxShadowKeys: this.settings.evictionShadowMaxKeys,
        retrainEvents: this.settings.evictionRetrainEvents,
        evalRequests: this.settings.modelEvalRequests,
      });
    }
    if (this.nats) {
      this.modelObjects = await NatsModelObjectStore.open(
        this.nats.connection,
        this.settings.modelsBucket,
        this.settings.streamReplicas,
      );
    }
    if (this.redis) {
      await this.redis.connect();
      await this.control.attach(new RedisControlStore(this.redis.redis, this.settings.redisPrefix));
      if (this.settings.partitions > 0) this.openCluster(this.redis);
      else {
        this.snapshots = new RedisSnapshotStore(this.redis.redis, this.n.redisSnapshotKey);
        await this.restore();
      }
      // Caches can also take their victims from Redis: ZPOPMAX prescient:evict:<node>.
      sink = new FanoutSink(
        sink,
        [new RedisVictimsSink(this.redis.redis, this.settings.redisPrefix)],
        (err, mirror, key) =>
          this.log.warn({ mirror, key, err: err.message }, 'policy mirror not written'),
      );
    }
    if (!this.redis) await this.control.attach(new MemoryControlStore());
    await this.openModelRegistry(this.trainer);
    if (this.nats) this.subscribeAcks();
    this.publisherValue = new PolicyPublisher(
      this.storeValue,
      sink,
      this.victimRanker,
      this.weigher,
      {
        ttlMs: this.settings.policyTtlMs,
        victimsPerNode: this.settings.victimsPerNode,
        candidatesPerNode: this.trainer ? this.settings.evictionCandidates : 0,
        weighContext: (pool) => this.weighContext(pool),
        overrides: (kind, target, nowMs) => this.control.activeFor(kind, target, nowMs),
        heuristic: this.heuristic,
        ...(this.table ? { owns: (kind, target) => this.owns(kind, target) } : {}),
      },
    );
    // Overrides loaded from the store (a restart) apply from the first publication.
    this.onOverridesChanged(new Set(this.control.listOverrides({}).map(targetKeyOf)));
    this.publisherValue.onPublish((doc) => {
      this.history.record(doc);
      this.onPublished?.(doc, Date.now());
    });
    // Champions loaded at start are published at the first tick (their nodes' features may not
    // change for a while after a restart).
    const known = new Set(this.storeValue.nodes());
    for (const node of this.evictionChampions.keys()) {
      if (known.has(node)) this.publisherValue.markChanged('eviction', node);
    }
    // Scale-out: the first round takes this replica's partitions and starts delivery.
    if (this.coordinator) await this.coordinator.start();
    else await this.bus.start(this.appliedSeq, (msg) => this.apply(msg));
    const onError = (what: string) => (err: unknown) =>
      this.log.warn({ err: (err as Error).message }, `${what} failed; retrying`);
    this.stopLoops.push(
      every(this.settings.publishIntervalMs, () => this.publishNow(), onError('publish')),
    );
    this.stopLoops.push(
      every(this.settings.snapshotIntervalMs, () => this.checkpoint(), onError('checkpoint')),
    );
    this.scheduleRetraining();
    this.stateValue = 'running';
    this.log.info(
      { bus: this.mode.bus, state: this.mode.state, fromSeq: this.appliedSeq + 1 },
      'engine running',
    );
  }

  private async restore(): Promise<void> {
    const cp = await this.snapshots.load();
    if (!cp) {
      this.log.info('no checkpoint found: starting from empty features');
      return;
    }
    this.storeValue = FeatureStore.restore(cp.snapshot, featureOptions(this.settings));
    const sameStream = this.mode.bus === 'embedded' || cp.meta.streamCreated === this.streamCreated;
    this.appliedSeq = sameStream ? cp.meta.appliedSeq : 0;
    this.checkpointedSeq = this.appliedSeq;
    this.restoredSeq = this.appliedSeq;
    if (!sameStream) {
      this.log.warn(
        { checkpointStream: cp.meta.streamCreated, stream: this.streamCreated },
        'telemetry stream was re-created since the checkpoint: reading it from the start',
      );
    } else if (this.bus instanceof NatsBus && this.bus.firstSeq > this.appliedSeq + 1) {
      this.log.warn(
        { appliedSeq: this.appliedSeq, firstSeq: this.bus.firstSeq },
        'telemetry expired from the stream before it was applied (raise PRESCIENT_STREAM_MAX_AGE_SEC?)',
      );
    }
    this.log.info(
      {
        appliedSeq: this.appliedSeq,
        keys: this.storeValue.stats().trackedKeys,
        bytes: cp.meta.bytes,
      },
      'features restored from checkpoint',
    );
  }

  /**
   * Scale-out: the partition table and the lease coordinator. Each partition is checkpointed
   * under `<features snapshot key>:p<partition>`, fenced by its lease.
   */
  private openCluster(redis: RedisClient): void {
    const { partitions, leaseTtlMs, redisPrefix } = this.settings;
    const leases = new RedisLeases(redis.redis, redisPrefix, leaseTtlMs);
    const stores = new Map<number, SnapshotStore>();
    this.table = new PartitionTable({
      partitions,
      features: featureOptions(this.settings),
      subjectPrefix: this.settings.subjectPrefix,
      feeds: this.settings.partitionSubjects === 1 ? 'partition' : 'stream',
      streamCreated: () => this.streamCreated,
      snapshots: (p) => {
        let store = stores.get(p);
        if (store === undefined) {
          store = new RedisSnapshotStore(redis.redis, `${this.n.redisSnapshotKey}:p${p}`, {
            leases,
            lease: () => this.coordinator?.leaseOf(p),
          });
          stores.set(p, store);
        }
        return store;
      },
    });
    this.storeValue = this.table.features;
    const host: PartitionHost = { rebalance: (next, lost) => this.rebalance(next, lost) };
    this.coordinator = new ReplicaCoordinator({
      self: this.replicaId,
      partitions,
      ttlMs: leaseTtlMs,
      leases,
      members: new ReplicaMembership(redis.redis, redisPrefix, leaseTtlMs),
      host,
      onError: (err) =>
        this.log.warn({ err: (err as Error).message }, 'lease round failed; retrying'),
    });
  }

  /**
   * The partitions held change: stop delivery, drop partitions whose lease was lost, checkpoint
   * the rest while their leases are held (hand-overs included), drop the hand-overs, restore the
   * new ones from their checkpoints, and resume delivery from the lowest sequence any needs.
   */
  private async rebalance(
    next: ReadonlyMap<number, Lease>,
    lost: ReadonlySet<number>,
  ): Promise<void> {
    const table = this.table!;
    const feeds = table.feeds === 'partition';
    // One stream feed: stopped while the set changes. Partition feeds: only those leaving stop.
    if (!feeds) await this.bus.stopDelivery();
    for (const p of table.held())
      if (feeds && (lost.has(p) || !next.has(p))) await this.stopFeed(p);
    for (const p of lost) this.dropPartition(p, 'lease lost (no checkpoint: it is fenced out)');
    try {
      await this.checkpoint();
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message },
        'checkpoint before a hand-over failed: the next holder replays from the last one',
      );
    }
    for (const p of table.held()) if (!next.has(p)) this.dropPartition(p, 'handed over');
    const taken = [...next].filter(([p]) => !table.features.owns(p));
    for (const [p] of taken) await this.adoptPartition(p);
    await this.adoptModels(taken.map(([p]) => p));
    if (feeds) await this.startFeeds(taken);
    else await this.bus.start(table.resumeAfter(), (msg) => this.apply(msg));
  }

  /** PRESCIENT_PARTITION_SUBJECTS: each held partition's consumer on its mapped subjects. */
  private readonly feeds = new Map<number, NatsBus>();

  /**
   * Reads each taken partition p through the durable consumer `<PRESCIENT_CONSUMER>-p<p>-f<fence>`,
   * from the sequence after its checkpoint. The lease's fence is in the name: a holder that lost
   * the lease without noticing keeps pulling from its own (deleted) consumer, never from this one,
   * so no message is handed to it instead of the new holder. Consumers of earlier terms are
   * deleted (the stream's consumers are listed once for all the partitions taken).
   */
  private async startFeeds(taken: readonly (readonly [number, Lease])[]): Promise<void> {
    if (taken.length === 0) return;
    const { consumerName, streamName } = this.settings;
    const base = (p: number) => `${consumerName}-p${p}-f`;
    const name = (p: number, fence: number) => `${base(p)}${fence}`;
    // A partition's consumer name without the fence → the name of this term's consumer.
    const wanted = new Map(taken.map(([p, lease]) => [base(p), name(p, lease.fence)]));
    const jsm = await this.nats!.connection.jetstreamManager();
    for await (const c of jsm.consumers.list(streamName)) {
      const current = wanted.get(c.name.replace(/\d+$/, ''));
      if (current !== undefined && c.name !== current)
        await jsm.consumers.delete(streamName, c.name).catch(() => false);
    }
    for (const [p, lease] of taken) {
      const feed = new NatsBus(
        this.nats!,
        { ...this.settings, consumerName: name(p, lease.fence) },
        this.n,
        this.log,
        this.n.partitionWildcard(p),
      );
      this.feeds.set(p, feed);
      await feed.start(this.table!.appliedThrough(p), (msg) => this.apply(msg));
    }
  }

  /** Partition feeds: telemetry stored on subjects the NATS mappings did not rewrite (none read it). */
  private unmappedTelemetry = 0;

  /**
   * The leader's check that the server has the mappings: telemetry stored under a documented
   * subject (`<prefix>.telemetry.<kind>.<source>`) reaches no partition's consumer. Readiness
   * fails and says so until the stream holds none (fix the mappings, purge those subjects).
   */
  private async checkUnmappedTelemetry(): Promise<void> {
    const jsm = await this.nats!.connection.jetstreamManager();
    const info = await jsm.streams.info(this.settings.streamName, {
      subjects_filter: `${this.settings.subjectPrefix}.telemetry.*.*`,
    });
    const count = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    if (count > this.unmappedTelemetry)
      this.log.error(
        { messages: count, stream: this.settings.streamName },
        'telemetry on unmapped subjects is read by no partition: add the NATS mappings (prescient cluster nats-mappings, docs/scaling.md)',
      );
    this.unmappedTelemetry = count;
  }

  private async stopFeed(p: number): Promise<void> {
    const feed = this.feeds.get(p);
    this.feeds.delete(p);
    await feed?.stopDelivery();
  }

  private dropPartition(p: number, why: string): void {
    const nodes = this.table!.drop(p);
    for (const node of nodes) this.trainer?.forget(node);
    this.log.info({ partition: p, nodes: nodes.length, why }, 'partition released');
  }

  private async adoptPartition(p: number): Promise<void> {
    const r = await this.table!.adopt(p);
    const shard = this.table!.features.shard(p)!;
    for (const node of shard.nodes()) this.publisherValue?.markChanged('eviction', node);
    for (const pool of shard.pools()) this.publisherValue?.markChanged('weights', pool);
    this.log.info(
      { partition: p, restoredSeq: r.restoredSeq, keys: r.keys, leader: p === POOL_PARTITION },
      'partition taken',
    );
  }

  /**
   * The champions of the taken partitions' nodes and series: their last holder may have promoted
   * models since this replica started (one read of each kind's aliases for all of them).
   */
  private async adoptModels(partitions: readonly number[]): Promise<void> {
    const shards = partitions.map((p) => this.table!.features.shard(p)!);
    await this.registry?.adopt(
      'eviction',
      shards.flatMap((s) => s.nodes()),
    );
    await this.registry?.adopt('forecast', forecastSeriesIds(shards.flatMap((s) => s.seriesIds())));
  }

  /** Scale-out: whether this replica publishes a target (its partition is held here). */
  private owns(kind: PolicyKind, target: string): boolean {
    const f = this.table!.features;
    if (kind === 'eviction') return f.ownsNode(target);
    if (kind === 'forecast' && target.startsWith('node.'))
      return f.ownsNode(target.slice('node.'.length));
    return f.owns(POOL_PARTITION);
  }

  /** Applies one bus message exactly once (scale-out: once per partition, if held here). */
  private apply(msg: InboundMessage): void {
    if (this.table) {
      const verdict = this.table.admit(msg.seq, msg.subject);
      if (verdict === 'duplicate') this.duplicates++;
      if (verdict === 'misrouted' && this.table.misrouted === 1)
        this.log.error(
          { subject: msg.subject, partitions: this.settings.partitions },
          'telemetry mapped to another partition than its node hashes to: the NATS mappings need the partition count of PRESCIENT_PARTITIONS (prescient cluster nats-mappings)',
        );
      if (verdict !== 'apply') return;
    } else if (msg.seq <= this.appliedSeq) {
      this.duplicates++;
      return;
    }
    this.ingestor.handle(
      this.table ? this.table.documentedSubject(msg.subject) : msg.subject,
      msg.data,
      msg.msgId === undefined ? { seq: msg.seq } : { seq: msg.seq, msgId: msg.msgId },
    );
    this.appliedSeq = Math.max(this.appliedSeq, msg.seq);
    this.requestPublish();
    const now = Date.now();
    this.metrics.applyLatency.observe(Math.max(0, now - msg.storedAtMs) / 1000);
    this.onApplied?.(msg, now);
  }

  /** Saves the features with the sequence they include, then acks telemetry up to it. */
  async checkpoint(): Promise<void> {
    if (this.table) {
      // Serialized, never skipped: a hand-over must wait for its checkpoint.
      const run = this.checkpointChain.then(() => this.checkpointPartitions(this.table!));
      this.checkpointChain = run.catch(() => undefined);
      return run;
    }
    if (this.checkpointing || this.appliedSeq === this.checkpointedSeq) return;
    this.checkpointing = true;
    const seq = this.appliedSeq;
    const end = this.metrics.checkpointSeconds.startTimer();
    try {
      if (this.snapshots.kind !== 'memory') {
        // One engine (no partition table): the store is never sharded.
        const snapshot = (this.storeValue as FeatureStore).snapshot();
        await this.snapshots.save({
          snapshot,
          meta: {
            appliedSeq: seq,
            streamCreated: this.streamCreated,
            savedAtMs: Date.now(),
            bytes: snapshot.byteLength,
          },
        });
      }
      this.bus.ackThrough(seq);
      this.checkpointedSeq = seq;
    } catch (err) {
      this.checkpointFailures++;
      throw err;
    } finally {
      end();
      this.checkpointing = false;
    }
  }

  private checkpointChain: Promise<unknown> = Promise.resolve();

  /** Scale-out: each held partition with new telemetry, then acks what all of them hold. */
  private async checkpointPartitions(table: PartitionTable): Promise<void> {
    const end = this.metrics.checkpointSeconds.startTimer();
    try {
      const { ackThrough, failures } = await table.checkpoint();
      for (const f of failures) {
        this.checkpointFailures++;
        this.log.warn(
          { partition: f.partition, err: (f.err as Error).message },
          'partition checkpoint failed',
        );
      }
      if (table.feeds === 'partition') {
        for (const [p, feed] of this.feeds) feed.ackThrough(table.savedThrough(p));
        if (table.isLeader()) await this.checkUnmappedTelemetry().catch(() => undefined);
      } else {
        this.bus.ackThrough(ackThrough);
      }
      this.checkpointedSeq = ackThrough;
    } finally {
      end();
    }
  }

  /** POST /v1/telemetry: validates, dead-letters the bad events, sends the good ones through the bus. */
  async ingestHttp(
    kind: TelemetryKind,
    source: string,
    events: readonly unknown[],
  ): Promise<HttpIngestResult> {
    const subject =
      kind === 'access' ? this.n.accessSubject(source) : this.n.latencySubject(source);
    const decoded: Decoded =
      kind === 'access'
        ? decodeEvents('access', source, events, this.settings.maxUnknownFields, checkAccess)
        : decodeEvents('latency', source, events, this.settings.maxUnknownFields, checkLatency);
    if (decoded.events.length > 0) {
      if (this.stateValue !== 'running') {
        throw new PrescientError(
          ERROR_CODES.UNAVAILABLE,
          `engine is ${this.stateValue}; retry when /readyz answers 200`,
          { statusCode: 503 },
        );
      }
      await this.publishEvents(subject, decoded.events);
    }
    if (decoded.rejections.length > 0) this.ingestor.reject(subject, decoded);
    return {
      accepted: decoded.events.length,
      rejected: decoded.rejections.length,
      rejections: decoded.rejections,
    };
  }

  /** Publishes events as one message, or several when one would exceed the transport's limit. */
  private async publishEvents(subject: string, events: readonly unknown[]): Promise<void> {
    const data = Buffer.from(JSON.stringify({ events }));
    if (data.byteLength <= this.bus.maxPayloadBytes() || events.length === 1) {
      await this.bus.publish(subject, data, randomUUID());
      return;
    }
    const half = Math.ceil(events.length / 2);
    await this.publishEvents(subject, events.slice(0, half));
    await this.publishEvents(subject, events.slice(half));
  }

  /**
   * The model registry (`eviction` kind: one model per cache node, with ranker `learned`;
   * `forecast` kind: one per pool and cache-node series) with each kind's version store
   * (models/<kind>/ and, with NATS, the Object Store) and aliases (Redis hash
   * `<prefix>models:<kind>` mirrored to models/<kind>/aliases.json, or that file alone without
   * Redis); loads the aliases and installs each target's champion.
   */
  private async openModelRegistry(trainer: LearnedEvictionTrainer | undefined): Promise<void> {
    const dir = this.settings.modelDir;
    const file = new FileAliasStore(dir);
    const aliases = this.redis
      ? new MirroredAliasStore(
          new RedisAliasStore(this.redis.redis, this.settings.redisPrefix),
          file,
          (err) =>
            this.log.warn(
              { err: (err as Error).message },
              'writing models/<kind>/aliases.json failed',
            ),
        )
      : file;
    const registry = new ModelRegistry({
      aliases,
      audit: (entry) => this.audit.append(entry),
      margin: this.settings.modelPromoteMargin,
      log: this.log,
    });
    if (trainer) {
      registry.register(
        new EvictionModelKind({
          trainer,
          serving: this.evictionChampions,
          onInstall: (node) => this.publisherValue?.markChanged('eviction', node),
        }),
        new ModelVersionStore(
          'eviction',
          new FsModelStore(join(dir, 'eviction')),
          this.modelObjects,
        ),
      );
    }
    // The ForecastService keeps its own refit loop; a champion replaces it for its series.
    registry.register(
      new ForecastModelKind({
        source: this.storeValue,
        seriesIds: () => forecastSeriesIds(this.storeValue.seriesIds()),
        horizon: this.settings.forecastHorizonSteps,
        season: (stepSec) => this.forecasts.season(stepSec),
        minFitSeasons: this.settings.forecastMinSeasons,
        fit: this.fitServed,
        promoteMargin: this.settings.forecastPromoteMargin,
        serve: (series, champion) => this.forecasts.setChampion(series, champion),
      }),
      new ModelVersionStore('forecast', new FsModelStore(join(dir, 'forecast')), this.modelObjects),
    );
    await registry.start();
    this.registry = registry;
  }

  /**
   * PRESCIENT_RETRAIN_CRON_<KIND>: every target of each registered kind retrained and evaluated,
   * as actor `scheduler`.
   */
  private scheduleRetraining(): void {
    const registry = this.registry;
    if (!registry) return;
    this.scheduler = new RetrainScheduler({
      onError: (kind, err) =>
        this.log.warn({ kind, err: (err as Error).message }, 'scheduled retrain failed'),
      onSkip: (kind) =>
        this.log.warn({ kind }, 'scheduled retrain skipped: the previous one is still running'),
    });
    const patterns: Record<string, string> = {
      eviction: this.settings.retrainCronEviction,
      forecast: this.settings.retrainCronForecast,
    };
    for (const kind of registry.kindNames()) {
      this.scheduler.add({
        kind,
        pattern: patterns[kind] ?? '',
        jitterSec: this.settings.retrainJitterSec,
        run: async () => {
          const outcomes = await registry.retrain(kind, undefined, 'scheduler');
          this.log.info(
            {
              kind,
              outcomes: outcomes.map((o) => ({
                target: o.target,
                status: o.status,
                version: o.version,
                reason: o.reason ?? o.evaluation?.reason,
              })),
            },
            'scheduled retrain done',
          );
        },
      });
    }
  }

  /** The model registry (kind `forecast` always, `eviction` with ranker `learned`); undefined before start. */
  get models(): ModelRegistry | undefined {
    return this.registry;
  }

  /** Resolves when every registry operation (retrain, save, promotion) started so far is done. */
  async modelsSaved(): Promise<void> {
    await this.registry?.idle();
  }

  /** Per-node shadow-cache counters of the learned eviction policy (empty with ranker `lru`). */
  evictionTraining() {
    return this.trainer?.stats() ?? [];
  }

  get audit(): AuditLog {
    return this.control.audit;
  }

  /**
   * Overrides of these targets changed: republish them now (within the second the API promises),
   * not at the next change of their features.
   */
  private onOverridesChanged(keys: ReadonlySet<string>): void {
    const publisher = this.publisherValue;
    if (!publisher) return;
    for (const key of keys) {
      const dot = key.indexOf('.');
      publisher.markChanged(key.slice(0, dot) as PolicyKind, key.slice(dot + 1));
    }
    if (this.stateValue !== 'running' || this.publishQueued) return;
    this.publishQueued = true;
    setImmediate(() => {
      this.publishQueued = false;
      this.publishNow().catch((err: unknown) =>
        this.log.warn({ err: (err as Error).message }, 'publishing overridden targets failed'),
      );
    });
  }
  private publishQueued = false;

  /** Client acks on `<prefix>.policy.ack.<kind>.<client>` (core NATS). */
  private subscribeAcks(): void {
    const prefix = `${this.settings.subjectPrefix}.policy.ack.`;
    this.nats!.connection.subscribe(`${prefix}>`, {
      callback: (err, msg) => {
        if (err) return;
        const [kind = '', ...rest] = msg.subject.slice(prefix.length).split('.');
        let body: unknown;
        try {
          body = msg.json();
        } catch {
          body = undefined;
        }
        const ack = parseAck(kind, rest.join('.'), body, Date.now());
        if (typeof ack === 'string') {
          this.log.debug({ subject: msg.subject, reason: ack }, 'ignored a malformed ack');
          return;
        }
        this.control
          .recordAck(ack)
          .catch((e: unknown) =>
            this.log.warn({ err: (e as Error).message }, 'recording a client ack failed'),
          );
      },
    });
  }

  latestPolicy(kind: PolicyKind, target: string): PolicyDocument | undefined {
    return this.publisherValue?.latest(kind, target);
  }

  /** The latest document of every target of a kind, sorted by target (the dashboard lists them). */
  latestPolicies(kind: PolicyKind): PolicyDocument[] {
    return this.publisherValue?.latestPolicies(kind) ?? [];
  }

  /**
   * One publication tick: documents of changed targets, then forecasts of series that gained a
   * complete step. The loop calls it every PRESCIENT_PUBLISH_INTERVAL_MS; tests call it directly.
   */
  publishNow(): Promise<number> {
    const run = this.publishing.then(() => this.publishInner());
    this.publishing = run.catch(() => undefined);
    return run;
  }

  /** Publications in order: the loop, override changes and tests never run two at once. */
  private publishing: Promise<unknown> = Promise.resolve();

  /**
   * Telemetry was applied: publish the targets it changed soon, not at the next tick. All
   * targets changed meanwhile go out together, at most once per PRESCIENT_PUBLISH_MIN_INTERVAL_MS
   * (a burst of messages makes one publication, not one per message). The tick keeps the slower
   * work (overrides, training, forecasts, TTL refreshes).
   */
  private requestPublish(): void {
    const minMs = this.settings.publishMinIntervalMs;
    if (minMs === 0 || this.changeTimer !== undefined || this.stateValue !== 'running') return;
    const waitMs = Math.max(0, this.lastChangePublishMs + minMs - Date.now());
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined;
      this.lastChangePublishMs = Date.now();
      const run = this.publishing.then(() => this.publisherValue?.tick() ?? 0);
      this.publishing = run.catch((err: unknown) =>
        this.log.warn({ err: (err as Error).message }, 'publishing changed targets failed'),
      );
    }, waitMs);
  }
  private changeTimer: NodeJS.Timeout | undefined;
  private lastChangePublishMs = 0;

  private async publishInner(): Promise<number> {
    const publisher = this.publisherValue;
    if (!publisher) return 0;
    // Other replicas' overrides and tokens, then expiry: an expired override is gone from the
    // documents published below. With the control store unreachable (Redis down) the documents
    // are published all the same, with the overrides last read: policies do not stop with Redis.
    try {
      await this.control.refresh();
      // Scale-out: the leader expires (and audits) overrides, once for all replicas.
      if (!this.table || this.table.isLeader()) await this.control.expire();
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message },
        'control store unreachable: publishing with the overrides last read',
      );
    }
    // Replays the telemetry buffered since the last tick into the shadow caches (bounded time),
    // so the documents below use each node's latest model.
    const trained = this.trainer?.drain(this.settings.evictionTrainBudgetMs);
    // Serving is the champion's (the registry republishes a node when it changes). A node with
    // neither champion nor challenger gets its first candidate from its shadow's latest online
    // model, evaluated like any other (once: later ones come from the schedule or the API).
    const registry = this.registry;
    for (const node of trained?.retrained ?? []) {
      if (!registry?.awaitsFirstModel('eviction', node)) continue;
      try {
        await registry.retrain('eviction', node, 'engine', 'latest');
      } catch (err) {
        this.log.warn({ node, err: (err as Error).message }, 'first eviction model not registered');
      }
    }
    let n = await publisher.tick();
    for (const view of await this.updateForecasts()) {
      await publisher.publishForecast(view, this.prewarm(view));
      n++;
    }
    return n;
  }

  /** Forecasts pool and cache-node series; records hot keys per time of day for pre-warming. */
  private async updateForecasts(): Promise<ForecastView[]> {
    const store = this.storeValue;
    for (const node of store.nodes()) {
      this.hotKeys.observe(node, store.clockMs, () =>
        store
          .hottestKeys(node, this.hotKeys.keysPerSlot)
          .map((k) => ({ key: k.key, count: k.decayedCounts[0] ?? 0 })),
      );
    }
    return this.forecasts.update(store, forecastSeriesIds(store.seriesIds()));
  }

  /** The forecast a weigher sees for a pool: the coming steps' p50 and p90, and the spike flag. */
  private weighContext(pool: string): WeighContext {
    const view = this.forecasts.view(`pool.${pool}`);
    if (!view) return {};
    return {
      forecast: {
        p50: view.points.map((p) => p.p50),
        p90: view.points.map((p) => p.p90),
        spike: view.spike?.active ?? false,
      },
    };
  }

  /** For a cache node: the keys hot the last time the forecast peak's time of day came around. */
  private prewarm(view: ForecastView): ForecastDocument['prewarm'] {
    if (!view.series.startsWith('node.') || view.points.length === 0) return null;
    const peak = view.points.reduce((a, b) => (b.p50 > a.p50 ? b : a));
    const record = this.hotKeys.lookup(view.series.slice('node.'.length), peak.ts);
    return record
      ? { peakTs: peak.ts, recordedAtMs: record.recordedAtMs, keys: record.keys }
      : null;
  }

  /** The latest forecast of a series (`pool.<pool>`, `node.<node>`), with its pre-warm hint. */
  forecast(series: string): (ForecastView & { prewarm: ForecastDocument['prewarm'] }) | undefined {
    const view = this.forecasts.view(series);
    return view ? { ...view, prewarm: this.prewarm(view) } : undefined;
  }

  connections(): Record<string, ConnectionState> {
    const out: Record<string, ConnectionState> = {};
    if (this.nats) out['nats'] = this.nats.state;
    if (this.redis) out['redis'] = this.redis.state;
    return out;
  }

  readiness(): Readiness {
    const checks: Record<string, { state: ConnectionState | EngineState; detail: string }> = {
      engine: {
        state: this.stateValue,
        detail: this.failure || `bus ${this.mode.bus}, state ${this.mode.state}`,
      },
    };
    if (this.nats) checks['nats'] = { state: this.nats.state, detail: this.nats.detail };
    if (this.redis) checks['redis'] = { state: this.redis.state, detail: this.redis.detail };
    if (this.unmappedTelemetry > 0)
      checks['nats-mappings'] = {
        state: 'failed',
        detail: `${this.unmappedTelemetry} telemetry messages on unmapped subjects are read by no partition: add the NATS mappings (prescient cluster nats-mappings)`,
      };
    const ready =
      this.stateValue === 'running' &&
      this.unmappedTelemetry === 0 &&
      Object.values(this.connections()).every((s) => s === 'connected');
    return { ready, state: this.stateValue, checks };
  }

  stats() {
    return {
      mode: this.mode,
      state: this.stateValue,
      telemetry: {
        messages: this.ingestor.counters.messages,
        accepted: { ...this.ingestor.counters.accepted },
        rejected: { ...this.ingestor.counters.rejected },
        duplicates: this.duplicates,
      },
      checkpoint: {
        appliedSeq: this.appliedSeq,
        checkpointedSeq: this.checkpointedSeq,
        restoredSeq: this.restoredSeq,
        failures: this.checkpointFailures,
        // Scale-out: one fenced Redis checkpoint per partition (positions under `cluster`).
        store: this.table ? ('redis' as const) : this.snapshots.kind,
      },
      features: this.storeValue.stats(),
      publish: this.publisherValue?.stats() ?? null,
      eviction: { ranker: this.victimRanker.id, nodes: this.evictionTraining() },
      cluster: this.clusterStats(),
    };
  }

  /** Scale-out: this replica, its partitions and positions, the leader flag, the live replicas. */
  clusterStats() {
    const table = this.table;
    const c = this.coordinator;
    if (!table || !c) return null;
    return {
      replica: this.replicaId,
      partitions: this.settings.partitions,
      held: table.held(),
      leader: table.isLeader(),
      live: c.liveReplicas,
      rebalances: c.rebalances,
      feeds: table.feeds,
      skippedMessages: table.skipped,
      misroutedMessages: table.misrouted,
      positions: table.positions(),
    };
  }

  /**
   * Graceful stop: stop delivery, checkpoint what was applied (so it is acked and not delivered
   * again), stop the loops, drain NATS, close Redis.
   */
  async stop(): Promise<void> {
    if (this.stateValue === 'stopped' || this.stateValue === 'stopping') return;
    const wasRunning = this.stateValue === 'running';
    this.stateValue = 'stopping';
    await this.coordinator?.stop();
    await this.scheduler?.stop();
    clearTimeout(this.changeTimer);
    await Promise.all(this.stopLoops.map((s) => s()));
    await this.publishing;
    this.stopLoops = [];
    if (wasRunning) {
      await this.bus.stopDelivery();
      // Partition feeds stay listed so the final checkpoint acks them.
      await Promise.all([...this.feeds.values()].map((f) => f.stopDelivery()));
      await this.registry?.idle();
      try {
        await this.checkpoint();
      } catch (err) {
        this.log.warn(
          { err: (err as Error).message },
          'final checkpoint failed: unacked telemetry will be applied again from the last checkpoint',
        );
      }
    }
    await this.registry?.idle();
    // Scale-out: checkpointed above with the leases held; the others take over at once.
    await this.coordinator?.leave();
    this.trainer?.dispose();
    await this.bus.close();
    await this.redis?.close();
    this.stateValue = 'stopped';
  }

  /**
   * Test hook: drop every connection without a checkpoint, as `kill -9` would. What was applied
   * after the last checkpoint is delivered again to the next engine.
   */
  async abandon(): Promise<void> {
    this.stateValue = 'stopping';
    await this.coordinator?.stop();
    await this.scheduler?.stop();
    clearTimeout(this.changeTimer);
    await Promise.all(this.stopLoops.map((s) => s()));
    await this.bus.stopDelivery();
    await Promise.all([...this.feeds.values()].map((f) => f.stopDelivery()));
    await this.nats?.connection.close();
    this.redis?.redis.disconnect();
    this.stateValue = 'stopped';
  }
}
