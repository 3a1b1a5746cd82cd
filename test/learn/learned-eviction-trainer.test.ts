import { describe, expect, it } from 'vitest';
import { LearnedEvictionTrainer } from '../../src/learn/learned-eviction-trainer.js';
import type { TrainedEvictionModel } from '../../src/learn/model-files.js';
import { loadTf } from '../../src/learn/tf.js';
import type { AccessEvent } from '../../src/telemetry/events.js';
import { FAST_SETTINGS, syntheticTrace } from './eviction-helpers.js';

/** The synthetic trace as access telemetry: one request every 10 ms, in batches of 100. */
function batches(n: number): AccessEvent[][] {
  const out: AccessEvent[][] = [];
  syntheticTrace(n).forEach((r, i) => {
    if (i % 100 === 0) out.push([]);
    out[out.length - 1]!.push({ ts: 1_000_000 + 10 * i, key: r.key, hit: false, op: 'get' });
  });
  return out;
}

describe('LearnedEvictionTrainer', () => {
  it('trains a node model from replayed telemetry and hands it out as a registry candidate', async () => {
    const { tf } = await loadTf();
    const trainer = new LearnedEvictionTrainer({
      tf,
      shadowCapacity: 60,
      policySettings: FAST_SETTINGS,
    });
    expect(trainer.current('n')).toBeUndefined();
    expect(trainer.latest('n')).toBeUndefined();
    for (const b of batches(12_000)) trainer.enqueue('n', b);
    expect(trainer.pendingEvents).toBe(12_000);
    expect(trainer.drain(60_000)).toEqual({ replayed: 12_000, retrained: ['n'] });
    expect(trainer.pendingEvents).toBe(0);
    const current = trainer.current('n');
    expect(current).toBeDefined();
    expect(current!.version).toMatch(/^n@[1-9]\d*$/);
    // T = 60 requests × 10 ms between requests.
    expect(current!.timeScaleMs).toBeCloseTo(600, 6);
    const last: TrainedEvictionModel = trainer.latest('n')!;
    expect(last.version).toBe(current!.version);
    expect(last.model).toBe(current!.model);
    expect(trainer.latest('n', (retrains) => `n@${retrains + 100}`)!.version).toBe(
      `n@${current!.model.version + 100}`,
    );
    expect(last.metadata.trainingWindow).toEqual({
      firstRequestMs: 1_000_000,
      lastRequestMs: 1_000_000 + 10 * 11_999,
    });
    expect(last.metadata.metrics.requests).toBe(12_000);
    expect(last.metadata.metrics.shadowHitRatio).toBeGreaterThan(0);
    expect(last.metadata.metrics.lruHitRatio).toBeGreaterThan(0);
    const [stats] = trainer.stats();
    expect(stats).toMatchObject({ node: 'n', capacity: 60, requests: 12_000, droppedEvents: 0 });
    // The counters /metrics exposes: hits behind the ratios, evictions by what decided them.
    expect(stats!.hits / stats!.requests).toBe(stats!.shadowHitRatio);
    expect(stats!.lruHits / stats!.requests).toBe(stats!.lruHitRatio);
    const policy = trainer.policy('n')!;
    const byDecider = Object.values(stats!.evictions).reduce((a, b) => a + b, 0);
    expect(byDecider).toBe(policy.evictions);
    expect(stats!.evictions.model).toBeGreaterThan(0);
    expect(stats!.evictions.fallback).toBeGreaterThan(0);
    expect(stats!.lruStructure).toBe(policy.extraStats().lruStructure);
    trainer.dispose();
  });

  it('retrains on demand, and says why it cannot before enough labels', async () => {
    const { tf } = await loadTf();
    const trainer = new LearnedEvictionTrainer({
      tf,
      shadowCapacity: 60,
      policySettings: { ...FAST_SETTINGS, retrainMinRequests: 1_000_000 },
    });
    expect(trainer.retrainNow('n')).toMatchObject({ ok: false, reason: expect.any(String) });
    const all = batches(6000);
    trainer.enqueue('n', all[0]!);
    const early = trainer.retrainNow('n');
    expect(early.ok).toBe(false);
    expect(!early.ok && early.reason).toMatch(/too little data/);
    // Buffered (applied, not yet replayed) events count: retrainNow replays them first.
    for (const b of all.slice(1)) trainer.enqueue('n', b);
    const first = trainer.retrainNow('n');
    expect(first.ok).toBe(true);
    expect(trainer.pendingEvents).toBe(0);
    const v1 = first.ok ? first.model : undefined;
    expect(v1?.version).toMatch(/^n@[1-9]\d*$/);
    expect(v1?.metadata.metrics.requests).toBe(6000);
    // Nothing new since: the same model again, not another retrain.
    const again = trainer.retrainNow('n');
    expect(again.ok && again.model.version).toBe(v1?.version);
    for (const b of batches(7000).slice(60)) trainer.enqueue('n', b);
    const second = trainer.retrainNow('n');
    expect(second.ok && second.model.model.version).toBe(v1!.model.version + 1);
    trainer.dispose();
  });

  it('keeps the last replayed requests, oldest first, in a bounded ring', async () => {
    const { tf } = await loadTf();
    const trainer = new LearnedEvictionTrainer({ tf, shadowCapacity: 20, evalRequests: 100 });
    const events = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ ts: from + i, key: `k${from + i}`, hit: false }));
    trainer.enqueue('n', events(0, 70));
    expect(trainer.recentRequests('n')).toEqual([]);
    trainer.drain(1000);
    expect(trainer.recentRequests('n')).toEqual(events(0, 70).map((e) => e.key));
    trainer.enqueue('n', events(70, 80));
    trainer.drain(1000);
    expect(trainer.recentRequests('n')).toEqual(events(50, 100).map((e) => e.key));
    expect(trainer.capacity('n')).toBe(20);
    expect(trainer.nodeNames()).toEqual(['n']);
    trainer.dispose();
  });

  it('keeps tf.memory().numTensors flat across retrains and frees it all on dispose', async () => {
    const { tf } = await loadTf();
    const before = tf.memory().numTensors;
    const trainer = new LearnedEvictionTrainer({
      tf,
      shadowCapacity: 60,
      policySettings: FAST_SETTINGS,
    });
    const counts: number[] = [];
    let seen = '';
    for (const b of batches(20_000)) {
      trainer.enqueue('n', b);
      trainer.drain(60_000);
      const v = trainer.current('n')?.version ?? '';
      if (v !== seen) {
        seen = v;
        counts.push(tf.memory().numTensors);
      }
    }
    expect(counts.length).toBeGreaterThanOrEqual(4);
    expect(new Set(counts.slice(1)).size).toBe(1);
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('drops and counts batches beyond its buffer instead of growing, and respects the time budget', async () => {
    const { tf } = await loadTf();
    const trainer = new LearnedEvictionTrainer({ tf, shadowCapacity: 60, maxPendingEvents: 250 });
    for (const b of batches(1000)) trainer.enqueue('n', b);
    expect(trainer.pendingEvents).toBe(200);
    expect(trainer.stats()[0]!.droppedEvents).toBe(800);
    expect(trainer.drain(0).replayed).toBe(0);
    expect(trainer.drain(1000).replayed).toBe(200);
    trainer.dispose();
  });

  it('sizes the shadow like the node when no capacity is configured', async () => {
    const { tf } = await loadTf();
    const trainer = new LearnedEvictionTrainer({ tf, shadowCapacity: 0, residentKeys: () => 500 });
    trainer.enqueue('n', batches(100)[0]!);
    trainer.drain(1000);
    expect(trainer.stats()[0]!.capacity).toBe(500);
    trainer.dispose();
  });
});

describe('LearnedEvictionTrainer on a node larger than its shadow', () => {
  it('replays a stable spatial sample of the keys, with the capacity scaled alike', async () => {
    const { tf } = await loadTf();
    const trainer = new LearnedEvictionTrainer({
      tf,
      shadowCapacity: 4000,
      maxShadowKeys: 1000,
      maxPendingEvents: 1_000_000,
    });
    const events = (from: number) =>
      Array.from({ length: 10_000 }, (_, i) => ({ ts: from + i, key: `k${i}`, hit: false }));
    trainer.enqueue('n', events(0));
    trainer.drain(60_000);
    trainer.enqueue('n', events(10_000));
    const { replayed } = trainer.drain(60_000);
    const [s] = trainer.stats();
    expect(s).toMatchObject({ capacity: 1000, sampleRate: 0.25 });
    // About a quarter of the keys, and the same keys both times.
    expect(replayed).toBeGreaterThan(2000);
    expect(replayed).toBeLessThan(3000);
    expect(s!.requests).toBe(2 * replayed);
    trainer.dispose();
  });
});
