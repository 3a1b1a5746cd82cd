import {
  ACCESS_BINS,
  GAP_BINS,
  idleBinCentre,
  RECENCY_TIE_BREAK,
} from '../../src/learn/eviction/victim-table.js';
import { describe, expect, it } from 'vitest';

import { integratedGradients, IG_TOLERANCE } from '../../src/learn/eviction/explain.js';
import { BASE_FEATURES, extractFeatures } from '../../src/learn/eviction/features.js';
import { LearnedPolicy } from '../../src/learn/eviction/learned-policy.js';
import { Rng } from '../../src/learn/eviction/rng.js';
import { mlpForward, sigmoid } from '../../src/learn/eviction/scorer.js';
import { MlpTrainer } from '../../src/learn/eviction/trainer.js';
import { loadTf } from '../../src/learn/tf.js';

import type { CacheRequest } from '../../src/policy/eviction-policy.js';

import { FAST_SETTINGS, syntheticTrace } from './eviction-helpers.js';

describe('learned eviction: fallback, predictor, explanations', () => {
  it('falls back to sampled LRU with reason FALLBACK before the first training, MODEL after', async () => {
    const { tf } = await loadTf();
    const p = new LearnedPolicy({
      capacity: 50,
      unit: 'objects',
      tf,
      // Without the structure duel, whose LRU spells (reason HEURISTIC) have their own test.
      settings: { ...FAST_SETTINGS, decisionLog: 50, duelRate: 0 },
    });
    const trace = syntheticTrace(6_000);
    // Every logged victim is out of the cache right after the request that evicted it (it may
    // come back later: hot keys return quickly and skip probation).
    for (let i = 0; i < 1000; i++) {
      const last = p.decisions.at(-1);
      p.access(trace[i]!);
      const fresh = p.decisions.at(-1);
      if (fresh !== undefined && fresh !== last) expect(p.has(fresh.key)).toBe(false);
    }
    expect(p.currentModel).toBeNull();
    expect(p.decisions.length).toBe(50);
    for (const d of p.decisions) expect(d.reason).toBe('FALLBACK');
    expect(p.explain(trace[999]!.key)?.reason).toBe('FALLBACK');
    for (let i = 1000; i < trace.length; i++) p.access(trace[i]!);
    expect(p.retrains).toBeGreaterThan(0);
    // After training the model decides, unless the regret guard prefers the LRU rule.
    expect(p.decisions.every((d) => d.reason === 'MODEL' || d.reason === 'HEURISTIC')).toBe(true);
    expect(p.modelEvictions).toBeGreaterThan(p.guardEvictions);
    // MODEL decisions are either the agent's main-cache victims or probation exits the
    // admission table (or, before it has enough labels, the popularity predictor) refused.
    const model = p.decisions.filter((d) => d.reason === 'MODEL');
    expect(model.length).toBeGreaterThan(0);
    for (const d of model) expect(d.text).toMatch(/Q\(evict\)|P\(reuse|P\(requested within/);
    p.dispose();
  });

  it('the tabular agent waits for minTableLabels labels before its first model, the network agent for minRows', async () => {
    const { tf } = await loadTf();
    const trace = syntheticTrace(8_000);
    const firstModelAt = (settings: object): { at: number; agent: number; agentMin: number } => {
      const p = new LearnedPolicy({
        capacity: 50,
        unit: 'objects',
        tf,
        settings: { ...FAST_SETTINGS, duelRate: 0, ...settings },
      });
      let at = -1;
      let rows = p.labelledRows;
      for (let i = 0; i < trace.length && at < 0; i++) {
        rows = p.labelledRows;
        p.access(trace[i]!);
        if (p.currentModel !== null) at = i;
      }
      p.dispose();
      // `rows` is what the policy had counted when it trained (the request before the model).
      return { at, agent: rows.agent, agentMin: rows.agentMin };
    };
    const early = firstModelAt({ minTableLabels: 128 });
    const late = firstModelAt({ minTableLabels: 3_000 });
    expect(early.at).toBeGreaterThan(0);
    expect(late.at).toBeGreaterThan(early.at);
    expect(late.agentMin).toBe(3_000);
    expect(late.agent).toBeGreaterThanOrEqual(3_000);
    // The network agent's threshold is minRows; minTableLabels does not apply to it.
    const network = firstModelAt({ agentKind: 'network', minTableLabels: 3_000 });
    expect(network.agentMin).toBe(FAST_SETTINGS.minRows);
    expect(network.at).toBeGreaterThan(0);
    expect(network.at).toBeLessThan(late.at);
  });

  it("the agent's views enter its value and its models once the table has victimViewsMinLabels labels", async () => {
    const { tf } = await loadTf();
    const trace = syntheticTrace(30_000);
    const p = new LearnedPolicy({
      capacity: 50,
      unit: 'objects',
      tf,
      settings: { ...FAST_SETTINGS, minTableLabels: 128, victimViewsMinLabels: 20_000 },
    });
    const seen: { labels: number; views: number }[] = [];
    let version = 0;
    for (const r of trace) {
      const labels = p.labelledRows.agent;
      p.access(r);
      const m = p.currentModel;
      if (m !== null && m.version !== version) {
        version = m.version;
        seen.push({ labels, views: m.victimTable!.views?.length ?? 0 });
      }
    }
    p.dispose();
    const before = seen.filter((s) => s.labels < 20_000);
    const after = seen.filter((s) => s.labels >= 20_000);
    expect(before.length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    expect(before.every((s) => s.views === 0)).toBe(true);
    expect(after.every((s) => s.views === 4)).toBe(true);
  });

  it("the agent's boosted trees enter its value and its models once fitted (boostMinLabels), and refit as labels arrive", async () => {
    const { tf } = await loadTf();
    const trace = syntheticTrace(30_000);
    const settings = { ...FAST_SETTINGS, boostMinLabels: 4_096, boostEvery: 8_192 };
    const p = new LearnedPolicy({ capacity: 50, unit: 'objects', tf, settings });
    const plain = new LearnedPolicy({
      capacity: 50,
      unit: 'objects',
      tf,
      settings: { ...settings, victimBoost: false },
    });
    const seen: { labels: number; trees: object | undefined }[] = [];
    let version = 0;
    let differ = 0;
    for (const r of trace) {
      const labels = p.labelledRows.agent;
      if (p.access(r) !== plain.access(r)) differ++;
      const m = p.currentModel;
      if (m !== null && m.version !== version) {
        version = m.version;
        seen.push({ labels, trees: m.victimTable!.boost });
      }
    }
    p.dispose();
    plain.dispose();
    const before = seen.filter((s) => s.labels < 4_096);
    const after = seen.filter((s) => s.labels >= 4_097);
    expect(before.length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);
    expect(before.every((s) => s.trees === undefined)).toBe(true);
    expect(after.every((s) => s.trees !== undefined)).toBe(true);
    // Refitted: later models carry other trees than the first fit's.
    expect(new Set(after.map((s) => s.trees)).size).toBeGreaterThan(1);
    // The trees change decisions: the two policies' hits part ways.
    expect(differ).toBeGreaterThan(0);
  });

  it('learns that periodic keys return and one-shot keys do not, and beats LRU on that pattern', async () => {
    const { tf } = await loadTf();
    // 60 hot keys every 120 requests: LRU with 80 slots almost never hits them (one-shot keys
    // flush them out); evicting the one-shot keys instead keeps all of them.
    const trace = syntheticTrace(24_000, 11, 60);
    const p = new LearnedPolicy({ capacity: 80, unit: 'objects', tf, settings: FAST_SETTINGS });
    const lru = new Map<string, true>();
    let hits = 0;
    let lruHits = 0;
    const half = trace.length / 2;
    trace.forEach((r, i) => {
      const h = p.access(r);
      const lh = lru.delete(r.key);
      if (!lh && lru.size >= 80) lru.delete(lru.keys().next().value!);
      lru.set(r.key, true);
      if (i >= half) {
        hits += h ? 1 : 0;
        lruHits += lh ? 1 : 0;
      }
    });
    const model = p.currentModel!;
    expect(model).not.toBeNull();
    const clock = { nowTick: trace.length, timeScale: 80, missingGapT: 16 };
    const x = new Float64Array(BASE_FEATURES);
    const pReuse = (key: string): number => {
      const e = p.explain(key)!;
      // The predictor's probability is the sigmoid of the agent's popularity input.
      return sigmoid(e.inputs['popularityLogit']!);
    };
    const hot = Array.from({ length: 60 }, (_, i) => pReuse(`hot-${i}`));
    const meanHot = hot.reduce((a, b) => a + b, 0) / hot.length;
    expect(meanHot).toBeGreaterThan(0.8);
    // A key seen once, idle for a while: predicted not to return.
    const once = {
      lastTick: trace.length - 40,
      firstTick: trace.length - 40,
      accesses: 1,
      gap1: NaN,
      gap2: NaN,
      gap3: NaN,
      gap4: NaN,
      count1: 1,
      count2: 1,
      count3: 1,
      sizeBytes: 1,
      logGap1: NaN,
      logGap2: NaN,
      logGap3: NaN,
      logGap4: NaN,
    };
    extractFeatures(once, clock, x);
    expect(sigmoid(mlpForward(model.predictor, x))).toBeLessThan(0.3);
    expect(hits / half).toBeGreaterThan(0.45);
    expect(hits).toBeGreaterThan(2 * lruHits);
    p.dispose();
  });

  it('admits a probation exit only when it is likelier back than the main cache evicts (admitAboveVictims)', async () => {
    const { tf } = await loadTf();
    // 60 hot keys every 120 requests and a 45-slot main cache: the hot set does not fit, so
    // the main cache's victims are hot keys due back soon. A warm or one-shot key the predictor
    // gives P(reuse) ≥ 0.3 is still a worse bet than those victims: admitting it costs hot hits.
    const trace = syntheticTrace(24_000, 11, 60);
    const run = (admitAboveVictims: boolean) => {
      const p = new LearnedPolicy({
        capacity: 50,
        unit: 'objects',
        tf,
        settings: {
          ...FAST_SETTINGS,
          decisionLog: 100_000,
          duelRate: 0,
          admissionAgent: 'predictor',
          admitAboveVictims,
          // The victims as the rule was measured with: the boosted trees pick better victims
          // among the hot keys (fewer come back), which narrows the gap this test measures
          // (with them: 6,299 hits against 6,077).
          victimBoost: false,
        },
      });
      let hits = 0;
      for (const r of trace) hits += p.access(r) ? 1 : 0;
      const refusals = p.decisions.filter((d) => d.inputs['admissionBar'] !== undefined);
      const out = { hits, learnedPromotions: p.learnedPromotions, refusals };
      p.dispose();
      return out;
    };
    const fixed = run(false);
    const above = run(true);
    expect(fixed.refusals.length).toBeGreaterThan(1000);
    for (const d of fixed.refusals) expect(d.inputs['admissionBar']).toBe(0.3);
    // The bar rises with the victims' P(reuse), and every refusal is under the bar it met.
    const bars = above.refusals.map((d) => d.inputs['admissionBar']!);
    expect(Math.min(...bars)).toBeGreaterThanOrEqual(0.3);
    expect(Math.max(...bars)).toBeGreaterThan(0.5);
    for (const d of above.refusals) {
      expect(d.inputs['pReuse']!).toBeLessThan(d.inputs['admissionBar']!);
      if (d.inputs['admissionBar']! > 0.3) expect(d.text).toContain("main cache's victims' mean");
    }
    expect(above.learnedPromotions * 10).toBeLessThan(fixed.learnedPromotions);
    expect(above.hits).toBeGreaterThan(fixed.hits * 1.05);
  });

  it("the admission table admits keys that come back soon after probation and refuses hit keys that do not, against the victims' return rate", async () => {
    const { tf } = await loadTf();
    // Every key is requested twice, 30 requests apart: it leaves the 5-slot probation after about
    // 10 requests without a hit and returns within A = 2 T. Only an admission rule that learns
    // this turns the second requests into hits; S3-FIFO's rule (no learned admission) misses
    // them all (each comes back as a ghost hit, then is never requested again).
    const pairs: { key: string; sizeBytes: number; vtime: number }[] = [];
    for (let n = 0; pairs.length < 20_000; n++) {
      pairs.push({ key: `k${n}`, sizeBytes: 1, vtime: pairs.length });
      if (n >= 15) pairs.push({ key: `k${n - 15}`, sizeBytes: 1, vtime: pairs.length });
    }
    const run = (trace: readonly CacheRequest[], settings: object) => {
      const p = new LearnedPolicy({
        capacity: 50,
        unit: 'objects',
        tf,
        settings: { ...FAST_SETTINGS, decisionLog: 100_000, duelRate: 0, ...settings },
      });
      let hits = 0;
      let late = 0;
      let lateHot = 0;
      trace.forEach((r, i) => {
        const hit = p.access(r);
        hits += hit ? 1 : 0;
        if (i >= trace.length / 2 && hit) {
          late++;
          if (r.key.startsWith('hot-')) lateHot++;
        }
      });
      const refusals = p.decisions.filter((d) => d.inputs['admissionBar'] !== undefined);
      p.dispose();
      return { hits, late, lateHot, refusals, learnedPromotions: p.learnedPromotions };
    };
    const table = run(pairs, { admissionAgent: 'table' });
    const predictor = run(pairs, { admissionAgent: 'predictor' });
    const none = run(pairs, { promoteProbability: 2 });
    expect(none.hits).toBeLessThan(100);
    expect(table.late).toBeGreaterThan(0.49 * (pairs.length / 2));
    // The table counts every probation exit from the first request on, so it is right sooner
    // than the predictor, which learns from sampled resident keys.
    expect(table.hits).toBeGreaterThan(predictor.hits);

    // Keys hit in probation are judged too (admitHitsByTable): 40 hot keys cycle (each back
    // after 120 requests) between keys requested twice in a row and never again. S3-FIFO's rule
    // promotes every such key (it was hit in probation) and the hot keys pay; the table learns
    // that these keys do not come back and refuses them, so every hot request hits.
    const taps: CacheRequest[] = [];
    for (let n = 0; taps.length < 24_000; n++) {
      taps.push({ key: `hot-${n % 40}`, sizeBytes: 1, vtime: taps.length });
      taps.push({ key: `tap-${n}`, sizeBytes: 1, vtime: taps.length });
      taps.push({ key: `tap-${n}`, sizeBytes: 1, vtime: taps.length });
    }
    const judged = run(taps, { admissionAgent: 'table' });
    const promoted = run(taps, { admissionAgent: 'table', admitHitsByTable: false });
    // Every second tap hits, in probation, whatever admission decides. What judging the hit taps
    // protects is the hot keys: they hit but for at most 2 % of their requests (promoting the taps
    // unjudged costs more than 10 % of all late hits, the next check). Not all of them: a hot key
    // is due back after 2.4 T, beyond the victim table's horizon of 1 T, so when a key is promoted
    // the agent may take a hot key as its victim (52 of the 4,000 hot requests of the second half
    // missed once the table was read between idle bins; none before).
    const lateRequests = taps.length / 2;
    expect(judged.late - judged.lateHot).toBe((1 / 3) * lateRequests);
    expect(judged.lateHot).toBeGreaterThanOrEqual(0.98 * (1 / 3) * lateRequests);
    expect(promoted.late).toBeLessThan(0.9 * judged.late);
    const hitRefusals = judged.refusals.filter((d) => d.inputs['probationHits']! > 0);
    expect(hitRefusals.length).toBeGreaterThan(1000);
    expect(hitRefusals.at(-1)!.text).toContain('hit there 1×');

    // Where the main cache's victims are hot keys due back soon (syntheticTrace, with the victim
    // table alone: with its views counted from the first label the agent spares most hot keys
    // and the bar falls to about 0.2; this short trace never reaches the views' default 65,536),
    // the table refuses the one-shot and warm keys: each refusal is explained by the table's
    // P(back within A) under the bar, with exact Shapley attributions over the table's state.
    const hot = run(syntheticTrace(24_000, 11, 60), {
      admissionAgent: 'table',
      victimViews: false,
    });
    const byTable = hot.refusals.filter((d) => d.inputs['pBack'] !== undefined);
    expect(byTable.length).toBeGreaterThan(1000);
    // Before the table has admissionMinLabels labels, the predictor decides.
    expect(hot.refusals[0]!.inputs['pBack']).toBeUndefined();
    expect(hot.refusals[0]!.text).toContain('predicted P(reuse');
    for (const d of byTable) {
      expect(d.reason).toBe('MODEL');
      expect(d.inputs['pBack']!).toBeLessThan(d.inputs['admissionBar']!);
      expect(d.text).toMatch(/P\(requested within 2 T\)/);
      const sum = Object.values(d.attributions).reduce((a, b) => a + b, 0);
      expect(sum).toBeCloseTo(d.score - d.inputs['baselineScore']!, 9);
    }
    // The bar is the measured share of victims back within A: here high (hot keys). It read
    // above 0.5 before the victim table was read between idle bins, 0.39 since: the agent
    // spares more of the hot keys.
    expect(byTable.at(-1)!.inputs['admissionBar']!).toBeGreaterThan(0.3);
  });

  it('integrated gradients are complete: attributions sum to f(x) − f(baseline) within 1 %', async () => {
    const { tf } = await loadTf();
    const trainer = new MlpTrainer(tf, { inputs: 6, loss: 'squared', seed: 5 });
    const rng = new Rng(9);
    const rows = 512;
    const x = new Float64Array(rows * 6).map(() => rng.normal());
    const y = new Float64Array(rows).map(
      (_, r) => Math.sin(x[r * 6]!) * x[r * 6 + 1]! + x[r * 6 + 2]! ** 2,
    );
    const w = trainer.train({ x, y, rows }, 20, 64);
    trainer.dispose();
    for (let t = 0; t < 20; t++) {
      const point = Array.from({ length: 6 }, () => 2 * rng.normal());
      const ig = integratedGradients(w, point);
      const sum = ig.attributions.reduce((a, b) => a + b, 0);
      const delta = mlpForward(w, point) - mlpForward(w, w.mean);
      expect(Math.abs(sum - delta)).toBeLessThanOrEqual(IG_TOLERANCE * Math.abs(delta) + 1e-12);
    }
  });

  it.each(['table', 'network'] as const)(
    'explained eviction scores carry attributions that sum to score − baseline score (%s agent)',
    async (agentKind) => {
      const { tf } = await loadTf();
      // Views from the first label, so the table agent's explanation covers all seven coordinates.
      const settings = { ...FAST_SETTINGS, agentKind, victimViewsMinLabels: 0 };
      const p = new LearnedPolicy({ capacity: 60, unit: 'objects', tf, settings });
      const trace = syntheticTrace(8_000);
      trace.forEach((r) => p.access(r));
      const model = p.currentModel!;
      // The baseline: the network's training mean, or the typical candidate: the table's most
      // populated cell, and each view's most populated cell for that view's coordinate.
      const t = model.victimTable;
      const baseline =
        agentKind === 'network'
          ? mlpForward(model.agent!, model.agent!.mean)
          : t!.logits[t!.baselineCell]! +
            t!.views!.reduce(
              (sum, v) =>
                sum +
                v.logits[
                  t!.baselineCell - (t!.baselineCell % GAP_BINS) + (v.baselineCell % GAP_BINS)
                ]!,
              0,
            ) +
            RECENCY_TIE_BREAK *
              idleBinCentre(Math.floor(t!.baselineCell / (ACCESS_BINS * GAP_BINS)));
      if (agentKind === 'table') expect(t!.views?.length).toBe(4);
      expect(model.agent === undefined).toBe(agentKind === 'table');
      let checked = 0;
      let nonzero = 0;
      for (const r of trace.slice(-200)) {
        if (!p.has(r.key)) continue;
        const d = p.explain(r.key)!;
        expect(d.reason).toBe('MODEL');
        const sum = Object.values(d.attributions).reduce((a, b) => a + b, 0);
        const delta = d.score - baseline;
        expect(Math.abs(sum - delta)).toBeLessThanOrEqual(0.01 * Math.abs(delta) + 1e-12);
        if (Math.abs(delta) > 1e-6) nonzero++;
        checked++;
      }
      expect(checked).toBeGreaterThan(20);
      expect(nonzero).toBeGreaterThan(10);
      // Memory: the tables' counts and values (648 cells × 3 float64 + pending labels each: the
      // admission table, its one-cell bar and, for the tabular agent, the victim table and its
      // four views) and, for the network agent, a second training buffer as large as the
      // predictor's.
      const mem = p.memoryReport();
      const predictorBuffer = 8 * 1024 * (BASE_FEATURES + 1);
      const admission = 3 * 8 * 648 + 3 * 8;
      if (agentKind === 'table') {
        expect(mem.tableBytes).toBeGreaterThanOrEqual(5 * 3 * 8 * 648 + admission);
        expect(mem.bufferBytes).toBe(predictorBuffer);
      } else {
        expect(mem.tableBytes).toBeGreaterThanOrEqual(admission);
        expect(mem.tableBytes).toBeLessThan(3 * 8 * 648 + admission);
        expect(mem.bufferBytes).toBe(2 * predictorBuffer);
      }
      p.dispose();
    },
  );
});
