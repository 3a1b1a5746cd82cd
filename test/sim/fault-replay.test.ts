/** The fault replay (sim/fault-replay.ts) and its readers, on tiny hand-made series. */
import { describe, expect, it } from 'vitest';
import { PredictiveWeigher } from '../../src/balance/predictive-weigher.js';
import { loadSettings } from '../../src/config/settings.js';
import type { WeightDecision } from '../../src/decisions.js';
import { ERROR_CODES, isPrescientError } from '../../src/errors.js';
import { mulberry32 } from '../../src/random.js';
import { readFaultList, readP50OverP90, readPodMetrics } from '../../src/sim/bench-faults.js';
import {
  buildFaultCases,
  causeOf,
  DIVERT_SHARE,
  FAULT_STORE_OPTIONS,
  fillPercentiles,
  identicalReplicaControl,
  LATENCY_CAUSES,
  latencyQuantileMs,
  replayFaultCase,
  scoreFaultCase,
  summariseFaults,
  type FaultCase,
  type MinutePercentiles,
  type PodMetrics,
  WARMUP_SEC,
} from '../../src/sim/fault-replay.js';

const RATIO = 0.3;
const opts = { seed: 3, p50OverP90: RATIO, weigher: () => new PredictiveWeigher() };
const flat = (p90Ms: number): MinutePercentiles => ({
  p90Ms,
  p95Ms: 1.5 * p90Ms,
  p99Ms: 3 * p90Ms,
});

/** Three replicas over 11 minutes at P90 `p90Ms`; `faulty` overrides replica 0's minutes. */
function pool(faulty: Record<number, MinutePercentiles> = {}, p90Ms = 100): FaultCase {
  const rows = Array.from({ length: 11 }, () => flat(p90Ms));
  return {
    injection: { pod: 'svc-a-b', type: 'cpu_contention', injectedAtMs: 0 },
    replicas: [rows.map((m, k) => faulty[k] ?? m), rows, rows],
    injectionMinute: 3,
  };
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isPrescientError(err)) return err.code;
    throw err;
  }
  throw new Error('did not throw');
}

describe('latencyQuantileMs', () => {
  const m = { p90Ms: 40, p95Ms: 70, p99Ms: 400 };

  it('passes through the median assumption and the given percentiles', () => {
    expect(latencyQuantileMs(m, 0.5, RATIO)).toBeCloseTo(12, 9);
    expect(latencyQuantileMs(m, 0.9, RATIO)).toBeCloseTo(40, 9);
    expect(latencyQuantileMs(m, 0.95, RATIO)).toBeCloseTo(70, 9);
    expect(latencyQuantileMs(m, 0.99, RATIO)).toBeCloseTo(400, 9);
    // Log-linear between them: halfway from P95 to P99 is the geometric mean.
    expect(latencyQuantileMs(m, 0.97, RATIO)).toBeCloseTo(Math.sqrt(70 * 400), 6);
    // Above P99 the last segment goes on, up to P99 × (P99 / P95)^¼ at q = 1.
    expect(latencyQuantileMs(m, 1, RATIO)).toBeCloseTo(400 * (400 / 70) ** 0.25, 6);
  });

  it('reproduces the percentiles on many draws', () => {
    const rng = mulberry32(11);
    const draws = Float64Array.from({ length: 200_000 }, () =>
      latencyQuantileMs(m, rng(), RATIO),
    ).sort();
    const q = (p: number) => draws[Math.ceil(p * draws.length) - 1]!;
    expect(q(0.5)).toBeGreaterThan(12 * 0.97);
    expect(q(0.5)).toBeLessThan(12 * 1.03);
    for (const [p, v] of [
      [0.9, 40],
      [0.95, 70],
      [0.99, 400],
    ] as const) {
      expect(q(p)).toBeGreaterThan(v * 0.97);
      expect(q(p)).toBeLessThan(v * 1.03);
    }
  });
});

describe('replayFaultCase and scoreFaultCase', () => {
  it('moves traffic off a replica whose P99 jumps 20×, says latency, and brings it back', () => {
    const fc = pool({ 3: flat(2000), 4: flat(2000) });
    const r = scoreFaultCase(fc, replayFaultCase(fc, opts));
    expect(r.baselineP99Ms).toBe(300);
    expect(r.peakP99Ms).toBe(6000);
    expect(r.visible).toBe(true);
    expect(r.shareAtOnset).toBeGreaterThan(0.25);
    expect(r.divertSec).not.toBeNull();
    expect(r.divertSec!).toBeLessThanOrEqual(5);
    expect(r.minShare).toBeLessThanOrEqual(0.011);
    expect(LATENCY_CAUSES).toContain(r.cause);
    expect(r.recoveredSec).not.toBeNull();
    expect(r.recoveredSec!).toBeLessThanOrEqual(120);
    expect(r.falseAlarmSec).toBe(0);
  });

  it('never takes a flat pool below half its fair share after the warm-up', () => {
    const fc = pool();
    const trace = replayFaultCase(fc, opts);
    // The first decisions, on a second or two of responses, are noisy: hence the warm-up.
    for (const shares of trace.shares)
      for (let t = WARMUP_SEC; t < shares.length; t++)
        expect(shares[t]!).toBeGreaterThanOrEqual(DIVERT_SHARE);
    const r = scoreFaultCase(fc, trace);
    expect(r.visible).toBe(false);
    expect(r.divertSec).toBeNull();
    expect(r.cause).toBeNull();
    expect(r.falseAlarmSec).toBe(0);
  });

  it('does not starve identical replicas answering in milliseconds (the noise band)', () => {
    // Far below capacity the split is winner-take-all; without the band it follows p99 noise.
    const fast = identicalReplicaControl(5, opts);
    expect(fast.scoredSec).toBe(11 * 60 - WARMUP_SEC + 1);
    expect(fast.starvedSec).toBeLessThan(0.02 * fast.scoredSec);
    const noBand = { ...opts, weigher: () => new PredictiveWeigher({ latencyNoiseZ: 0 }) };
    expect(identicalReplicaControl(5, noBand).starvedSec).toBeGreaterThan(0.5 * fast.scoredSec);
  });

  it('still moves traffic off a millisecond replica whose P99 jumps 20×', () => {
    const fc = pool({ 3: flat(100), 4: flat(100) }, 5);
    const r = scoreFaultCase(fc, replayFaultCase(fc, opts));
    expect(r.visible).toBe(true);
    expect(r.divertSec).not.toBeNull();
    expect(r.divertSec!).toBeLessThanOrEqual(5);
    expect(LATENCY_CAUSES).toContain(r.cause);
  });

  it('is deterministic for a seed', () => {
    const fc = pool({ 3: flat(2000) });
    const a = replayFaultCase(fc, opts);
    expect(replayFaultCase(fc, opts)).toEqual(a);
    const b = replayFaultCase(fc, { ...opts, seed: 4 });
    expect(Array.from(b.shares[1]!)).not.toEqual(Array.from(a.shares[1]!));
  });

  it('summarises: divert times only from a fair share, invisible ones apart', () => {
    const fc = pool({ 3: flat(2000), 4: flat(2000) });
    const hit = scoreFaultCase(fc, replayFaultCase(fc, opts));
    const calm = scoreFaultCase(pool(), replayFaultCase(pool(), opts));
    const s = summariseFaults([hit, calm]);
    expect(s).toMatchObject({
      injections: 2,
      visible: 1,
      divertedVisible: 1,
      medianDivertSec: hit.divertSec,
      maxDivertSec: hit.divertSec,
      alreadyBelowAtOnset: 0,
      explainedAsLatency: 1,
      recovered: 1,
      falseAlarmSec: 0,
      invisible: 1,
      divertedInvisible: 0,
    });
    expect(s.scoredSec).toBe(hit.scoredSec + calm.scoredSec);
  });
});

describe('causeOf', () => {
  const decision = (attributions: Record<string, number>, errorRate = 0): WeightDecision => ({
    backend: 'x',
    weight: 0.01,
    reason: 'MODEL',
    text: '',
    attributions,
    inputs: { errorRate },
  });

  it('names the largest explained factor, an ejection by its rule', () => {
    expect(causeOf(decision({ equalSplit: -9, latency: -2, override: 1 }))).toBe('latency');
    expect(causeOf(decision({ latency: 0.5, override: -1 }))).toBe('override');
    expect(causeOf(decision({ latency: 0, ejection: -3.5 }))).toBe('ejection-latency');
    expect(causeOf(decision({ latency: 0, ejection: -3.5 }, 0.6))).toBe('ejection-errors');
    expect(causeOf(decision({}))).toBeUndefined();
  });
});

describe('store options', () => {
  it("are the engine's defaults for the backend features", () => {
    const s = loadSettings({});
    expect(FAULT_STORE_OPTIONS.latencyWindowSec).toBe(s.latencyWindowSec);
    expect(FAULT_STORE_OPTIONS.ewmaTauMs).toBe(s.ewmaTauMs);
  });
});

describe('fillPercentiles and buildFaultCases', () => {
  const minute = 60_000;
  const metrics = (rows: number, over: Partial<PodMetrics> = {}): PodMetrics => ({
    pod: 'svc-a-b',
    minuteEndMs: Array.from({ length: rows }, (_, k) => (k + 1) * minute),
    p90Ms: Array.from({ length: rows }, (_, k) => 10 + k),
    p95Ms: Array.from({ length: rows }, (_, k) => 20 + k),
    p99Ms: Array.from({ length: rows }, (_, k) => 30 + k),
    ...over,
  });

  it('repeats the last usable row and makes the percentiles monotone', () => {
    const out = fillPercentiles(
      metrics(4, { p90Ms: [NaN, 10, 11, 12], p95Ms: [NaN, 5, 0, 22], p99Ms: [NaN, 30, 31, 32] }),
    );
    expect(out).toEqual([
      { p90Ms: 10, p95Ms: 10, p99Ms: 30 },
      { p90Ms: 10, p95Ms: 10, p99Ms: 30 },
      { p90Ms: 10, p95Ms: 10, p99Ms: 30 },
      { p90Ms: 12, p95Ms: 22, p99Ms: 32 },
    ]);
    expect(failure(() => fillPercentiles(metrics(2, { p99Ms: [NaN, NaN] })))).toBe(
      ERROR_CODES.TRACE_FORMAT,
    );
  });

  it('replays the healthy replicas from the same pod 6 h and 7 h later', () => {
    const m = metrics(480);
    const inj = { pod: m.pod, type: 'cpu_consumed', injectedAtMs: 10 * minute - 5000 };
    const [fc] = buildFaultCases(new Map([[m.pod, m]]), [inj]);
    expect(fc!.injectionMinute).toBe(3);
    expect(fc!.replicas.map((r) => r.length)).toEqual([11, 11, 11]);
    // Row 9 holds the injection; the window is rows 6..16, shifted by 360 and 420 rows.
    expect(fc!.replicas.map((r) => r[0]!.p90Ms)).toEqual([16, 376, 436]);
    // A pod whose data end too early, or an injection outside the data, is refused.
    expect(failure(() => buildFaultCases(new Map([[m.pod, metrics(400)]]), [inj]))).toBe(
      ERROR_CODES.TRACE_FORMAT,
    );
    expect(
      failure(() => buildFaultCases(new Map([[m.pod, m]]), [{ ...inj, injectedAtMs: 1e12 }])),
    ).toBe(ERROR_CODES.TRACE_FORMAT);
    // A healthy window must start after the last injection's window has ended.
    const late = { ...inj, pod: m.pod, injectedAtMs: 370 * minute };
    expect(failure(() => buildFaultCases(new Map([[m.pod, metrics(900)]]), [inj, late]))).toBe(
      ERROR_CODES.TRACE_FORMAT,
    );
  });
});

describe('the Nezha readers', () => {
  const header =
    'Time,TimeStamp,PodName,PodServerLatencyP90(s),PodServerLatencyP95(s),PodServerLatencyP99(s),PodWorkload(Ops),PodSuccessRate(%)';

  it('reads a pod metric file in ms, NaN kept', () => {
    const m = readPodMetrics(
      `${header}\nt,1661255968,svc-a-b,0.01,0.02,0.5,3,0\nt,1661256028,svc-a-b,NaN,NaN,NaN,0,0\n`,
      'f.csv',
    );
    expect(m.pod).toBe('svc-a-b');
    expect(m.minuteEndMs).toEqual([1661255968000, 1661256028000]);
    expect(m.p90Ms[0]).toBeCloseTo(10, 9);
    expect(m.p99Ms[0]).toBeCloseTo(500, 9);
    expect(m.p95Ms[1]).toBeNaN();
    expect(m.successRatePct).toEqual([0, 0]);
    expect(failure(() => readPodMetrics('Time,PodName\nt,x\n', 'f.csv'))).toBe(
      ERROR_CODES.TRACE_FORMAT,
    );
    expect(
      failure(() => readPodMetrics(`${header}\nt,20,a,1,1,1,1,0\nt,10,a,1,1,1,1,0\n`, 'f.csv')),
    ).toBe(ERROR_CODES.TRACE_FORMAT);
  });

  it('reads the fault list oldest first, and the median P50 / P90', () => {
    const list = readFaultList(
      JSON.stringify({
        '13': [{ inject_timestamp: '200', inject_pod: 'b', inject_type: 'return' }],
        '12': [{ inject_timestamp: '100', inject_pod: 'a', inject_type: 'cpu_consumed' }],
      }),
      'f.json',
    );
    expect(list).toEqual([
      { pod: 'a', type: 'cpu_consumed', injectedAtMs: 100_000 },
      { pod: 'b', type: 'return', injectedAtMs: 200_000 },
    ]);
    expect(failure(() => readFaultList('{"12": [{}]}', 'f.json'))).toBe(ERROR_CODES.TRACE_FORMAT);
    expect(failure(() => readFaultList('nope', 'f.json'))).toBe(ERROR_CODES.TRACE_FORMAT);
    const front = 'LatencyP50(s),LatencyP90(s)\n0.1,0.4\n0.2,0.4\n0.3,1\n0,0\n';
    expect(readP50OverP90(front, 'front.csv')).toBeCloseTo(0.3, 9);
  });
});
