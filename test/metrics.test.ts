import { describe, expect, it } from 'vitest';
import type { ShadowStats } from '../src/learn/learned-eviction-trainer.js';
import { EngineMetrics, type MetricsSource } from '../src/metrics.js';
import { IngestCounters } from '../src/telemetry/ingest.js';
import { FeatureStore } from '../src/features/feature-store.js';
import { BASE_OPTIONS } from './features/helpers.js';

function shadow(node: string, o: Partial<ShadowStats> = {}): ShadowStats {
  return {
    node,
    capacity: 100,
    sampleRate: 1,
    requests: 1000,
    hits: 420,
    lruHits: 380,
    shadowHitRatio: 0.42,
    lruHitRatio: 0.38,
    lruStructure: false,
    structureSwitches: 0,
    evictions: { model: 300, guard: 40, duel: 0, fallback: 60, probation: 180 },
    retrains: 3,
    pendingEvents: 12,
    droppedEvents: 0,
    version: `${node}@3`,
    ...o,
  };
}

function metricsOf(shadows: ShadowStats[]): EngineMetrics {
  const m = new EngineMetrics();
  const counters = new IngestCounters();
  const store = new FeatureStore(BASE_OPTIONS);
  const source: MetricsSource = {
    ingestCounters: () => counters,
    featureStats: () => store.stats(),
    publishStats: () => undefined,
    connections: () => ({}),
    forecasts: () => [],
    evictionShadows: () => shadows,
    checkpoint: () => ({ appliedSeq: 0, checkpointedSeq: 0, duplicates: 0, failures: 0 }),
  };
  m.bind(source);
  return m;
}

describe('eviction shadow metrics', () => {
  it('exposes each node shadow’s counters, hits by cache, evictions by decider and the duel state', async () => {
    const shadows = [
      shadow('cache-1'),
      shadow('cache-2', {
        requests: 50,
        hits: 5,
        lruHits: 9,
        lruStructure: true,
        structureSwitches: 1,
        evictions: { model: 0, guard: 0, duel: 7, fallback: 2, probation: 0 },
        droppedEvents: 500,
      }),
    ];
    const text = await metricsOf(shadows).registry.metrics();
    const value = (name: string, labels: string) => {
      const line = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text);
      expect(line, `${name}{${labels}}`).not.toBeNull();
      return Number(line![1]);
    };
    expect(value('prescient_eviction_shadow_requests_total', 'node="cache-1"')).toBe(1000);
    expect(value('prescient_eviction_shadow_hits_total', 'node="cache-1",cache="learned"')).toBe(
      420,
    );
    expect(value('prescient_eviction_shadow_hits_total', 'node="cache-1",cache="lru"')).toBe(380);
    expect(value('prescient_eviction_shadow_hits_total', 'node="cache-2",cache="lru"')).toBe(9);
    expect(
      value('prescient_eviction_shadow_evictions_total', 'node="cache-1",decider="guard"'),
    ).toBe(40);
    expect(
      value('prescient_eviction_shadow_evictions_total', 'node="cache-2",decider="duel"'),
    ).toBe(7);
    expect(value('prescient_eviction_shadow_lru_structure', 'node="cache-1"')).toBe(0);
    expect(value('prescient_eviction_shadow_lru_structure', 'node="cache-2"')).toBe(1);
    expect(value('prescient_eviction_shadow_structure_switches_total', 'node="cache-2"')).toBe(1);
    expect(value('prescient_eviction_shadow_retrains_total', 'node="cache-1"')).toBe(3);
    expect(value('prescient_eviction_shadow_pending_events', 'node="cache-1"')).toBe(12);
    expect(value('prescient_eviction_shadow_dropped_events_total', 'node="cache-2"')).toBe(500);
    expect(text).toMatch(/^# TYPE prescient_eviction_shadow_hits_total counter$/m);
    expect(text).toMatch(/^# TYPE prescient_eviction_shadow_lru_structure gauge$/m);
  });

  it('drops a node that no longer has a shadow (its partition moved) at the next scrape', async () => {
    const shadows = [shadow('cache-1'), shadow('cache-2')];
    const m = metricsOf(shadows);
    expect(await m.registry.metrics()).toContain('node="cache-2"');
    shadows.pop();
    const text = await m.registry.metrics();
    expect(text).toContain('node="cache-1"');
    expect(text).not.toContain('node="cache-2"');
  });
});
