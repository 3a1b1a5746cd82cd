/**
 * @module metrics
 * Prometheus metrics (prom-client). Counters on the hot path are plain numbers in the
 * components; they are read here when /metrics is scraped, so ingest pays nothing per event.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IngestCounters } from './telemetry/ingest.js';
import type { FeatureStats } from './features/types.js';
import type { PublishStats } from './publish/policy-publisher.js';
import type { ConnectionState } from './telemetry/bus.js';
import type { ForecastView } from './forecast/service.js';
import { SHADOW_DECIDERS, type ShadowStats } from './learn/learned-eviction-trainer.js';

/** What the metrics read at scrape time. */
export interface MetricsSource {
  ingestCounters(): IngestCounters;
  featureStats(): FeatureStats;
  publishStats(): PublishStats | undefined;
  connections(): Record<string, ConnectionState>;
  forecasts(): readonly ForecastView[];
  /** The learned eviction policy's per-node shadow caches (empty with ranker `lru`). */
  evictionShadows(): readonly ShadowStats[];
  checkpoint(): {
    appliedSeq: number;
    checkpointedSeq: number;
    duplicates: number;
    failures: number;
  };
}

export class EngineMetrics {
  readonly registry = new Registry();
  /** Time from the server storing a telemetry message to the engine applying it. */
  readonly applyLatency: Histogram;
  readonly checkpointSeconds: Histogram;
  /** API error answers by status and code (counted by api/app.ts as they are sent). */
  readonly httpErrors: Counter<'status' | 'code'>;
  private source: MetricsSource | undefined;

  constructor() {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'prescient_process_' });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Counter({
      name: 'prescient_telemetry_events_total',
      help: 'Telemetry events by kind (access|latency|unknown) and outcome (accepted|rejected).',
      labelNames: ['kind', 'outcome'],
      registers: [r],
      collect() {
        const c = self.source?.ingestCounters();
        if (!c) return;
        this.reset();
        for (const kind of ['access', 'latency', 'unknown'] as const) {
          this.inc({ kind, outcome: 'accepted' }, c.accepted[kind]);
          this.inc({ kind, outcome: 'rejected' }, c.rejected[kind]);
        }
      },
    });
    new Counter({
      name: 'prescient_telemetry_rejected_total',
      help: 'Rejected telemetry events by kind and stable rejection code.',
      labelNames: ['kind', 'code'],
      registers: [r],
      collect() {
        const c = self.source?.ingestCounters();
        if (!c) return;
        this.reset();
        for (const e of c.rejectedByCode.values())
          this.inc({ kind: e.kind, code: e.code }, e.count);
      },
    });
    new Counter({
      name: 'prescient_telemetry_messages_total',
      help: 'Telemetry messages handled (each holds one event or a batch).',
      registers: [r],
      collect() {
        const c = self.source?.ingestCounters();
        if (!c) return;
        this.reset();
        this.inc(c.messages);
      },
    });
    new Counter({
      name: 'prescient_telemetry_duplicates_total',
      help: 'Redelivered telemetry messages skipped because their events were already applied.',
      registers: [r],
      collect() {
        const c = self.source?.checkpoint();
        if (!c) return;
        this.reset();
        this.inc(c.duplicates);
      },
    });
    this.applyLatency = new Histogram({
      name: 'prescient_telemetry_apply_latency_seconds',
      help: 'From the bus storing a telemetry message to its events being applied to the features.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [r],
    });
    this.checkpointSeconds = new Histogram({
      name: 'prescient_checkpoint_seconds',
      help: 'Time to encode and save a feature-store checkpoint.',
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [r],
    });
    this.httpErrors = new Counter({
      name: 'prescient_http_errors_total',
      help: 'API error answers by HTTP status and stable error code (PRESCIENT_E_…).',
      labelNames: ['status', 'code'],
      registers: [r],
    });
    const gauge = (
      name: string,
      help: string,
      read: (g: Gauge) => void,
      labelNames: string[] = [],
    ) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [r],
        collect() {
          read(this);
        },
      });
    gauge('prescient_features_tracked_keys', 'Keys tracked in the feature store.', (g) =>
      g.set(self.source?.featureStats().trackedKeys ?? 0),
    );
    gauge('prescient_features_max_tracked_keys', 'Configured maximum of tracked keys.', (g) =>
      g.set(self.source?.featureStats().maxTrackedKeys ?? 0),
    );
    gauge(
      'prescient_features_forgotten_keys',
      'Keys forgotten because the table was full (since start or restore).',
      (g) => g.set(self.source?.featureStats().forgottenKeys ?? 0),
    );
    gauge('prescient_features_series', 'Request-rate series tracked.', (g) =>
      g.set(self.source?.featureStats().series ?? 0),
    );
    gauge('prescient_checkpoint_applied_seq', 'Last telemetry stream sequence applied.', (g) =>
      g.set(self.source?.checkpoint().appliedSeq ?? 0),
    );
    gauge(
      'prescient_checkpoint_saved_seq',
      'Last telemetry stream sequence included in a saved checkpoint (and acked).',
      (g) => g.set(self.source?.checkpoint().checkpointedSeq ?? 0),
    );
    gauge('prescient_checkpoint_failures', 'Checkpoints that failed to save (retried).', (g) =>
      g.set(self.source?.checkpoint().failures ?? 0),
    );
    gauge(
      'prescient_policy_published',
      'Policy documents published, by kind.',
      (g) => {
        const s = self.source?.publishStats();
        g.reset();
        if (s) for (const [kind, n] of Object.entries(s.published)) g.set({ kind }, n);
      },
      ['kind'],
    );
    gauge(
      'prescient_policy_publish_failures',
      'Policy documents that failed to publish (retried next tick).',
      (g) => g.set(self.source?.publishStats()?.failures ?? 0),
    );
    const nextStep = (pick: (v: ForecastView) => number | undefined) => (g: Gauge) => {
      g.reset();
      for (const v of self.source?.forecasts() ?? []) {
        const value = pick(v);
        if (value !== undefined) g.set({ series: v.series }, value);
      }
    };
    gauge(
      'prescient_forecast_p50',
      'Forecast median of the next step, requests/s, per series.',
      nextStep((v) => v.points[0]?.p50),
      ['series'],
    );
    gauge(
      'prescient_forecast_p90',
      'Forecast 90th percentile of the next step, requests/s, per series.',
      nextStep((v) => v.points[0]?.p90),
      ['series'],
    );
    gauge(
      'prescient_forecast_spike',
      '1 when the last complete step fell outside its forecast interval (the spike flag).',
      nextStep((v) => (v.spike?.active ? 1 : 0)),
      ['series'],
    );
    // The learned eviction policy's shadow caches, one series per node (and label): read from the
    // trainer at scrape time. A node whose partition moves away drops out; its counters restart
    // on the replica that takes it, which Prometheus reads as a counter reset.
    type Sample = readonly [labels: Record<string, string>, value: number];
    const perShadow = (
      kind: 'counter' | 'gauge',
      name: string,
      help: string,
      samples: (s: ShadowStats) => Sample[],
      extraLabel?: string,
    ) => {
      const config = {
        name,
        help,
        labelNames: extraLabel === undefined ? ['node'] : ['node', extraLabel],
        registers: [r],
      };
      const fill = (
        metric: Counter | Gauge,
        put: (l: Record<string, string>, v: number) => void,
      ) => {
        metric.reset();
        for (const s of self.source?.evictionShadows() ?? [])
          for (const [l, v] of samples(s)) put(l, v);
      };
      if (kind === 'counter')
        new Counter({
          ...config,
          collect() {
            fill(this, (l, v) => this.inc(l, v));
          },
        });
      else
        new Gauge({
          ...config,
          collect() {
            fill(this, (l, v) => this.set(l, v));
          },
        });
    };
    perShadow(
      'counter',
      'prescient_eviction_shadow_requests_total',
      "Requests replayed by the node's shadow cache (the learned policy's training replay).",
      (s) => [[{ node: s.node }, s.requests]],
    );
    perShadow(
      'counter',
      'prescient_eviction_shadow_hits_total',
      "Hits on the node's replayed requests by cache: learned (the shadow) or lru (plain LRU of the same size).",
      (s) => [
        [{ node: s.node, cache: 'learned' }, s.hits],
        [{ node: s.node, cache: 'lru' }, s.lruHits],
      ],
      'cache',
    );
    perShadow(
      'counter',
      'prescient_eviction_shadow_evictions_total',
      "The shadow's evictions by decider: model, guard (the regret guard chose LRU's victim), duel (sampled LRU's victim in an LRU spell, before the agent's table has its labels), fallback (no model yet), probation (a FIFO exit not admitted).",
      (s) => SHADOW_DECIDERS.map((decider) => [{ node: s.node, decider }, s.evictions[decider]]),
      'decider',
    );
    perShadow(
      'gauge',
      'prescient_eviction_shadow_lru_structure',
      "1 while the shadow's structure duel runs it with LRU's structure, no probation (LRU's miniature is ahead of the learned structure's).",
      (s) => [[{ node: s.node }, s.lruStructure ? 1 : 0]],
    );
    perShadow(
      'counter',
      'prescient_eviction_shadow_structure_switches_total',
      "Times the shadow's structure duel switched between the learned structure and plain LRU.",
      (s) => [[{ node: s.node }, s.structureSwitches]],
    );
    perShadow(
      'counter',
      'prescient_eviction_shadow_retrains_total',
      "Retrains of the node's shadow model (online and scheduled).",
      (s) => [[{ node: s.node }, s.retrains]],
    );
    perShadow(
      'gauge',
      'prescient_eviction_shadow_pending_events',
      'Access events buffered for the shadow, not replayed yet.',
      (s) => [[{ node: s.node }, s.pendingEvents]],
    );
    perShadow(
      'counter',
      'prescient_eviction_shadow_dropped_events_total',
      "Access events dropped because the node's shadow buffer was full (it then learns from a sample of time windows).",
      (s) => [[{ node: s.node }, s.droppedEvents]],
    );
    gauge(
      'prescient_dependency_up',
      'Whether a dependency (nats, redis) is connected: 1 connected, 0 otherwise.',
      (g) => {
        g.reset();
        for (const [dependency, state] of Object.entries(self.source?.connections() ?? {}))
          g.set({ dependency }, state === 'connected' ? 1 : 0);
      },
      ['dependency'],
    );
  }

  bind(source: MetricsSource): void {
    this.source = source;
  }
}
