/**
 * @module sim/fault-replay
 * Replays labelled fault injections on real microservice pods through the engine's feature store
 * and a weigher, and measures whether the weights left the faulty replica, how fast, and whether
 * the explanation named latency. The data are per-minute, per-pod latency percentiles with a list
 * of injections (the Nezha OnlineBoutique set, read by sim/bench-faults.ts); this module is pure.
 *
 * Construction, per injection:
 * - Pool. The injected pod's service becomes a pool of three replicas. Replica 0 (faulty) replays
 *   the injected pod's per-minute P90 / P95 / P99 over a window of {@link WINDOW_BEFORE_MIN}
 *   minutes before the minute holding the injection to {@link WINDOW_AFTER_MIN} minutes from it
 *   (injections on one pod are 8–9 minutes apart: a longer window would replay the neighbouring
 *   faults too). Replicas 1 and 2 (healthy) replay the SAME pod over the same window shifted by
 *   {@link HEALTHY_OFFSETS_MIN} (6 h and 7 h later), which must start after every injection's
 *   window has ended ({@link buildFaultCases} checks it and throws otherwise). So the three
 *   replicas share the service's real latency level and minute-to-minute noise; only replica 0
 *   carries the fault.
 * - Time. A row stamped T describes the minute before T; window minute k is simulated seconds
 *   [60k, 60k + 60). One simulated second is one second (no compression).
 * - Requests. Each replica receives {@link RATE_PER_SEC} requests a second (stratified uniform
 *   arrivals), whatever the weights say: an open-loop replay that scores the weights without
 *   applying them, so every replica, a floored one included, keeps answering. Each latency is
 *   drawn from the arrival minute's distribution ({@link latencyQuantileMs}); the response and its
 *   telemetry event happen at arrival + latency, so a slow replica's evidence arrives late, as it
 *   would at a proxy. Every status is 200: the data's PodSuccessRate column is 0 in every row and
 *   cannot be used.
 * - Engine. The events go through the engine's real FeatureStore with the engine's default
 *   latency window and EWMA time constant ({@link FAULT_STORE_OPTIONS}; not the balancer
 *   simulator's faster SIM_STORE_OPTIONS, which are for its compressed time), and the weigher is
 *   called once a second, the engine's publish interval, with the shares it published last.
 *
 * Scoring ({@link scoreFaultCase}): baseline P99 = median of the faulty replica's P99 over the
 * window's minutes before the injection minute; peak = max over the injection minute and the
 * {@link PEAK_WINDOW_MIN} − 1 after it; visible = peak ≥ {@link VISIBLE_RATIO} × baseline. The
 * fault period runs from the first of those minutes at or above that level (the onset) to the end
 * of the last one (all {@link PEAK_WINDOW_MIN} minutes for an invisible injection). Diverted = the
 * faulty replica's published share fell below half its fair share (1/6) between the onset and one
 * minute after the fault period (late responses); divertSec counts from the onset minute's start.
 * A replica already below 1/6 at the onset (shareAtOnset) counts as diverted in 0 s. The cause is
 * the top factor of its explanation ({@link causeOf}) when its share fell below 1/6 (before the
 * onset if it was already below then); recoveredSec counts from the end of the fault period until
 * its share is back at or above 1/6. False alarms: seconds, after a {@link WARMUP_SEC} warm-up, in
 * which a healthy replica's share was below 1/6.
 *
 * Pure: no I/O, no wall clock; deterministic for a seed.
 */
import type { WeightDecision } from '../decisions.js';
import { TraceFormatError } from '../errors.js';
import { FACTORS, PREDICTIVE_DEFAULTS } from '../balance/predictive-weigher.js';
import type { WeighContext, Weigher } from '../balance/weigher.js';
import { FeatureStore } from '../features/feature-store.js';
import type { FeatureStoreOptions } from '../features/types.js';
import type { LatencyEvent } from '../telemetry/events.js';
import { fnv1a32, mulberry32 } from '../random.js';
import { SIM_STORE_OPTIONS } from './balance-sim.js';

/** Minutes of the window before the minute holding the injection (warm-up and baseline). */
export const WINDOW_BEFORE_MIN = 3;
/** Minutes of the window from the minute holding the injection (fault and recovery). */
export const WINDOW_AFTER_MIN = 8;
/** Where the healthy replicas' windows start, in minutes after the faulty one's (6 h, 7 h). */
export const HEALTHY_OFFSETS_MIN: readonly number[] = [360, 420];
/**
 * Requests per second each replica receives. The pods' own per-minute workload is as low as
 * 0.27 req/s (paymentservice, emailservice): too few responses to estimate anything per second.
 */
export const RATE_PER_SEC = 20;
/** Minutes from the injection minute in which the peak P99 is taken. */
export const PEAK_WINDOW_MIN = 5;
/** An injection is visible when its peak P99 is at least this × its baseline P99. */
export const VISIBLE_RATIO = 5;
/** Seconds at the start of the window not counted as false alarms (features filling up). */
export const WARMUP_SEC = 60;
/** Diverted: a share below half the fair share of the three replicas (1/6). */
export const DIVERT_SHARE = 0.5 / (1 + HEALTHY_OFFSETS_MIN.length);
/** The summary counts a diverted replica as recovered when it is back within this (s). */
export const RECOVER_WITHIN_SEC = 120;
/** A diversion still counts this long after the fault period (responses arrive late), s. */
const LATE_SEC = 60;

/**
 * The engine's defaults (config/settings.ts) for what backend features depend on: a 10 s
 * percentile window and a 2 s EWMA time constant (a test checks they match). The rest, which
 * only key and series features use, as in the balancer simulator.
 */
export const FAULT_STORE_OPTIONS: FeatureStoreOptions = {
  ...SIM_STORE_OPTIONS,
  latencyWindowSec: 10,
  ewmaTauMs: 2000,
};

/** One pod's per-minute server-side latency percentiles, as read from its metric file. */
export interface PodMetrics {
  readonly pod: string;
  /** End (epoch ms) of the minute each row describes: the row's timestamp. */
  readonly minuteEndMs: readonly number[];
  /** Percentiles per row (ms); NaN or ≤ 0 where the row has none (no requests that minute). */
  readonly p90Ms: readonly number[];
  readonly p95Ms: readonly number[];
  readonly p99Ms: readonly number[];
}

export interface FaultInjection {
  readonly pod: string;
  /** cpu_contention, cpu_consumed, network_delay, return, exception. */
  readonly type: string;
  readonly injectedAtMs: number;
}

export interface MinutePercentiles {
  readonly p90Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
}

export interface FaultCase {
  readonly injection: FaultInjection;
  /** [faulty, healthy, healthy]: per-minute percentiles over the window, one entry a minute. */
  readonly replicas: readonly (readonly MinutePercentiles[])[];
  /** Minute of the window holding the injection. */
  readonly injectionMinute: number;
}

/**
 * A pod's rows as usable percentiles: a row without all three (NaN or ≤ 0: no requests that
 * minute) repeats the previous usable row (the first usable one for leading rows), and each
 * percentile is raised to the one below it where the data are not monotone.
 */
export function fillPercentiles(m: PodMetrics): MinutePercentiles[] {
  const ok = (i: number) =>
    [m.p90Ms[i]!, m.p95Ms[i]!, m.p99Ms[i]!].every((v) => Number.isFinite(v) && v > 0);
  const first = m.minuteEndMs.findIndex((_, i) => ok(i));
  if (first < 0) throw new TraceFormatError(`pod ${m.pod} has no row with latency percentiles`);
  const out: MinutePercentiles[] = [];
  let last = first;
  for (let i = 0; i < m.minuteEndMs.length; i++) {
    if (ok(i)) last = i;
    const src = i < first ? first : last;
    const p90Ms = m.p90Ms[src]!;
    const p95Ms = Math.max(p90Ms, m.p95Ms[src]!);
    out.push({ p90Ms, p95Ms, p99Ms: Math.max(p95Ms, m.p99Ms[src]!) });
  }
  return out;
}

/**
 * One case per injection (see the module header for the windows). Throws
 * {@link TraceFormatError} when a pod has no metrics, an injection lies outside its pod's rows,
 * or a healthy window would not fit in the data after every injection's window.
 */
export function buildFaultCases(
  pods: ReadonlyMap<string, PodMetrics>,
  injections: readonly FaultInjection[],
): FaultCase[] {
  const lastMs = Math.max(...injections.map((j) => j.injectedAtMs));
  // A healthy window must start after every injection's window has ended.
  const quietFromMs = lastMs + (WINDOW_AFTER_MIN + 1) * 60_000;
  const filled = new Map<string, MinutePercentiles[]>();
  return injections.map((inj) => {
    const m = pods.get(inj.pod);
    if (!m) throw new TraceFormatError(`no metrics for injected pod ${inj.pod}`);
    let rows = filled.get(inj.pod);
    if (!rows) filled.set(inj.pod, (rows = fillPercentiles(m)));
    const row = m.minuteEndMs.findIndex((t) => t >= inj.injectedAtMs);
    if (row < 1) throw new TraceFormatError(`injection on ${inj.pod} lies outside its metrics`);
    const start = Math.max(0, row - WINDOW_BEFORE_MIN);
    const end = row + WINDOW_AFTER_MIN;
    const windows = [0, ...HEALTHY_OFFSETS_MIN].map((off, r) => {
      const from = start + off;
      if (end + off > rows.length)
        throw new TraceFormatError(
          `${inj.pod}: window ${r} ends after the data (row ${end + off} of ${rows.length})`,
        );
      if (r > 0 && m.minuteEndMs[from]! - 60_000 < quietFromMs)
        throw new TraceFormatError(
          `${inj.pod}: healthy window ${r} starts before the last injection's window has ended`,
        );
      return rows.slice(from, end + off);
    });
    return { injection: inj, replicas: windows, injectionMinute: row - start };
  });
}

/** Quantile levels of the known points: the median (assumed) and the data's P90, P95, P99. */
const KNOT_Q: readonly number[] = [0.5, 0.9, 0.95, 0.99];

/**
 * The q-quantile (ms) of one minute's latency: log-linear in q between the known points, the
 * median taken as `p50OverP90` × P90 (the data have no median), the outer segments extended below
 * the median and above P99 (so latency is at most P99 × (P99 / P95)^¼ at q = 1).
 */
export function latencyQuantileMs(m: MinutePercentiles, q: number, p50OverP90: number): number {
  return quantileFromLogs(knotLogs(m, p50OverP90), 0, q);
}

function knotLogs(m: MinutePercentiles, p50OverP90: number): number[] {
  return [Math.log(m.p90Ms * p50OverP90), Math.log(m.p90Ms), Math.log(m.p95Ms), Math.log(m.p99Ms)];
}

/** `logs[at..at+3]` are the log-latencies at {@link KNOT_Q}. */
function quantileFromLogs(logs: ArrayLike<number>, at: number, q: number): number {
  const k = q < KNOT_Q[1]! ? 0 : q < KNOT_Q[2]! ? 1 : 2;
  const l0 = logs[at + k]!;
  const slope = (logs[at + k + 1]! - l0) / (KNOT_Q[k + 1]! - KNOT_Q[k]!);
  return Math.exp(l0 + (q - KNOT_Q[k]!) * slope);
}

export interface ReplayOptions {
  readonly seed: number;
  /** A fresh weigher per case. */
  readonly weigher: () => Weigher;
  /** The assumed median over P90 (see {@link latencyQuantileMs}). */
  readonly p50OverP90: number;
  /** Requests per second per replica. Default {@link RATE_PER_SEC}. */
  readonly ratePerSec?: number;
  /** Default {@link FAULT_STORE_OPTIONS}. */
  readonly store?: FeatureStoreOptions;
}

/** What the weigher published, second by second. */
export interface ReplayTrace {
  /** `shares[r][t]`: replica r's share published at second t (1..T); NaN while unnamed. */
  readonly shares: readonly Float64Array[];
  /** `causes[r][t]`: {@link causeOf} replica r's decision at second t (undefined while unnamed). */
  readonly causes: readonly (readonly (string | undefined)[])[];
}

export const REPLICA_NAMES = ['faulty', 'healthy-1', 'healthy-2'] as const;
const POOL = 'fault-replay';
/** Epoch of simulated time 0 in the telemetry (any fixed value: features use event time). */
const EPOCH_MS = 1_700_000_000_000;

interface Pending {
  readonly ts: number;
  readonly replica: number;
  readonly latencyMs: number;
}

/** Replays one case (see the module header). */
export function replayFaultCase(fc: FaultCase, options: ReplayOptions): ReplayTrace {
  const rate = options.ratePerSec ?? RATE_PER_SEC;
  const minutes = fc.replicas[0]!.length;
  const T = minutes * 60;
  const n = fc.replicas.length;
  const caseSeed = options.seed ^ fnv1a32(`${fc.injection.pod}@${fc.injection.injectedAtMs}`);
  const rngs = fc.replicas.map((_, r) => mulberry32(caseSeed ^ Math.imul(r + 1, 0x9e3779b9)));
  const logs = fc.replicas.map((rows) =>
    Float64Array.from(rows.flatMap((m) => knotLogs(m, options.p50OverP90))),
  );
  const store = new FeatureStore(options.store ?? FAULT_STORE_OPTIONS);
  const weigher = options.weigher();
  const shares = fc.replicas.map(() => new Float64Array(T + 1).fill(NaN));
  const causes: (string | undefined)[][] = fc.replicas.map(() => [undefined]);
  let pending: Pending[] = [];
  let previous: Map<string, number> | undefined;

  for (let s = 0; s < T; s++) {
    for (let r = 0; r < n; r++) {
      const rng = rngs[r]!;
      for (let j = 0; j < rate; j++) {
        const arrivalMs = (s + (j + rng()) / rate) * 1000;
        const latencyMs = quantileFromLogs(logs[r]!, 4 * Math.floor(arrivalMs / 60_000), rng());
        const ts = arrivalMs + latencyMs;
        if (ts < T * 1000) pending.push({ ts, replica: r, latencyMs });
      }
    }
    const nowMs = (s + 1) * 1000;
    const due = pending.filter((p) => p.ts <= nowMs);
    pending = pending.filter((p) => p.ts > nowMs);
    due.sort((a, b) => a.ts - b.ts || a.replica - b.replica);
    const events: LatencyEvent[] = due.map((p) => ({
      ts: EPOCH_MS + Math.floor(p.ts),
      pool: POOL,
      backend: REPLICA_NAMES[p.replica]!,
      latencyMs: p.latencyMs,
      status: 200,
    }));
    if (events.length > 0) store.applyLatency('fault-replay', events);
    const features = store.poolBackends(POOL);
    if (features.length === 0) {
      causes.forEach((c) => c.push(undefined));
      continue;
    }
    const ctx: WeighContext = {
      pool: POOL,
      nowMs: EPOCH_MS + nowMs,
      ...(previous ? { previous } : {}),
    };
    const decisions = weigher.weigh(features, ctx);
    previous = new Map(decisions.map((d) => [d.backend, d.weight]));
    for (let r = 0; r < n; r++) {
      const d = decisions.find((x) => x.backend === REPLICA_NAMES[r]);
      shares[r]![s + 1] = d?.weight ?? NaN;
      causes[r]!.push(d && causeOf(d));
    }
  }
  return { shares, causes };
}

/**
 * The factor a decision's text names: the largest |attribution| among the predictive weigher's
 * explained factors, first in their order on ties (as the weigher picks it). An ejection is
 * `ejection-latency` when the backend's error rate is below the weigher's default error gap (the
 * error rule could not have fired), else `ejection-errors`. Undefined without attributions.
 */
export function causeOf(d: WeightDecision): string | undefined {
  let top: string | undefined;
  for (const f of FACTORS) {
    const a = d.attributions[f];
    if (a !== undefined && (top === undefined || Math.abs(a) > Math.abs(d.attributions[top]!)))
      top = f;
  }
  if (top !== 'ejection') return top;
  return (d.inputs['errorRate'] ?? 0) < PREDICTIVE_DEFAULTS.ejectErrorGap
    ? 'ejection-latency'
    : 'ejection-errors';
}

/** Causes that name latency. */
export const LATENCY_CAUSES: readonly string[] = ['latency', 'ejection-latency'];

export interface FaultResult {
  readonly pod: string;
  readonly type: string;
  readonly injectedAtMs: number;
  readonly baselineP99Ms: number;
  readonly peakP99Ms: number;
  readonly visible: boolean;
  /** Seconds from the onset minute's start to the faulty share below 1/6; null if never. */
  readonly divertSec: number | null;
  /**
   * The faulty replica's share published at the onset minute's start, before any of its slow
   * responses: below 1/6 means it was already diverted (divertSec 0), by a smaller rise of the
   * same fault or by the latency split among near-equal replicas.
   */
  readonly shareAtOnset: number;
  /** The faulty replica's lowest share from the onset to a minute after the fault period. */
  readonly minShare: number;
  /**
   * {@link causeOf} the faulty replica's decision when its share fell below 1/6 (before the onset
   * when it was already below then); null if never diverted.
   */
  readonly cause: string | null;
  /** Seconds from the end of the fault period to its share back at ≥ 1/6; null if not seen. */
  readonly recoveredSec: number | null;
  /** Seconds after the warm-up in which a healthy replica's share was below 1/6. */
  readonly falseAlarmSec: number;
  /** Those of them in which such a replica was ejected (the others: the latency split). */
  readonly falseAlarmEjectedSec: number;
  /** Seconds scored for false alarms. */
  readonly scoredSec: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** P90s (ms) of the identical-replica controls (see {@link identicalReplicaControl}). */
export const CONTROL_P90_MS: readonly number[] = [5, 10, 50];

export interface ControlResult {
  readonly p90Ms: number;
  /** Seconds after the warm-up in which one of the three identical replicas was below 1/6. */
  readonly starvedSec: number;
  readonly scoredSec: number;
}

/**
 * A control for the false alarms: three IDENTICAL replicas (P90 `p90Ms`, P95 1.5×, P99 3× in
 * every minute of a case's window) through the same replay. Nothing distinguishes them but the
 * latency draws, so a second in which one is below half its fair share is the weigher
 * reacting to noise alone. Scored over the same seconds as a case's false alarms.
 */
export function identicalReplicaControl(p90Ms: number, options: ReplayOptions): ControlResult {
  const m: MinutePercentiles = { p90Ms, p95Ms: 1.5 * p90Ms, p99Ms: 3 * p90Ms };
  const rows = Array.from({ length: WINDOW_BEFORE_MIN + WINDOW_AFTER_MIN }, () => m);
  const fc: FaultCase = {
    injection: { pod: `control-${p90Ms}ms`, type: 'none', injectedAtMs: 0 },
    replicas: REPLICA_NAMES.map(() => rows),
    injectionMinute: WINDOW_BEFORE_MIN,
  };
  const { shares } = replayFaultCase(fc, options);
  const T = rows.length * 60;
  const half = DIVERT_SHARE;
  let starvedSec = 0;
  for (let t = WARMUP_SEC; t <= T; t++) if (shares.some((x) => x[t]! < half)) starvedSec++;
  return { p90Ms, starvedSec, scoredSec: T - WARMUP_SEC + 1 };
}

/** Scores one replayed case (see the module header). */
export function scoreFaultCase(fc: FaultCase, trace: ReplayTrace): FaultResult {
  const rows = fc.replicas[0]!;
  const im = fc.injectionMinute;
  const p99 = rows.map((m) => m.p99Ms);
  const baselineP99Ms = median(p99.slice(0, im));
  const after = p99.slice(im, im + PEAK_WINDOW_MIN);
  const peakP99Ms = Math.max(...after);
  const visible = peakP99Ms >= VISIBLE_RATIO * baselineP99Ms;
  const risen = after.map((p, k) => (p >= VISIBLE_RATIO * baselineP99Ms ? k : -1));
  const onsetMin = visible ? im + risen.find((k) => k >= 0)! : im;
  const endMin = visible ? im + Math.max(...risen) + 1 : im + after.length;
  const half = DIVERT_SHARE;
  const share = trace.shares[0]!;
  const T = share.length - 1;
  const fromSec = Math.max(1, onsetMin * 60);
  const untilSec = Math.min(T, endMin * 60 + LATE_SEC);

  let divertAt = -1;
  let minShare = Infinity;
  for (let t = fromSec; t <= untilSec; t++) {
    const w = share[t]!;
    if (Number.isNaN(w)) continue;
    minShare = Math.min(minShare, w);
    if (divertAt < 0 && w < half) divertAt = t;
  }
  // The moment of diversion: when the share fell below the line (before the onset when it was
  // already below then).
  let fellAt = divertAt;
  while (fellAt > WARMUP_SEC && share[fellAt - 1]! < half) fellAt--;
  let recoveredSec: number | null = null;
  if (divertAt >= 0)
    for (let t = Math.max(divertAt, endMin * 60); t <= T; t++)
      if (share[t]! >= half) {
        recoveredSec = t - endMin * 60;
        break;
      }
  const healthy = trace.shares.map((_, r) => r).slice(1);
  let falseAlarmSec = 0;
  let falseAlarmEjectedSec = 0;
  for (let t = WARMUP_SEC; t <= T; t++) {
    const low = healthy.filter((r) => trace.shares[r]![t]! < half);
    if (low.length > 0) falseAlarmSec++;
    if (low.some((r) => trace.causes[r]![t]?.startsWith('ejection'))) falseAlarmEjectedSec++;
  }
  return {
    pod: fc.injection.pod,
    type: fc.injection.type,
    injectedAtMs: fc.injection.injectedAtMs,
    baselineP99Ms,
    peakP99Ms,
    visible,
    divertSec: divertAt >= 0 ? divertAt - onsetMin * 60 : null,
    shareAtOnset: share[fromSec]!,
    minShare: Number.isFinite(minShare) ? minShare : NaN,
    cause: divertAt >= 0 ? (trace.causes[0]![fellAt] ?? null) : null,
    recoveredSec,
    falseAlarmSec,
    falseAlarmEjectedSec,
    scoredSec: T - WARMUP_SEC + 1,
  };
}

export interface FaultSummary {
  readonly injections: number;
  readonly visible: number;
  /** Visible injections whose faulty replica was diverted. */
  readonly divertedVisible: number;
  /**
   * Median and max divertSec over those that were at or above 1/6 at the onset (the others count
   * 0 s, which is no reaction time); null when none.
   */
  readonly medianDivertSec: number | null;
  readonly maxDivertSec: number | null;
  /** Of the diverted visible ones, how many were already below 1/6 at the onset (0 s). */
  readonly alreadyBelowAtOnset: number;
  /** Of the diverted visible ones, how many explanations named latency. */
  readonly explainedAsLatency: number;
  /** Of the diverted visible ones, how many were back at ≥ 1/6 within {@link RECOVER_WITHIN_SEC}. */
  readonly recovered: number;
  readonly recoverWithinSec: number;
  readonly falseAlarmSec: number;
  /** False-alarm seconds in which a healthy replica was ejected (the rest: the latency split). */
  readonly falseAlarmEjectedSec: number;
  readonly scoredSec: number;
  readonly invisible: number;
  readonly divertedInvisible: number;
}

export function summariseFaults(results: readonly FaultResult[]): FaultSummary {
  const vis = results.filter((r) => r.visible);
  const div = vis.filter((r) => r.divertSec !== null);
  const secs = div.filter((r) => r.shareAtOnset >= DIVERT_SHARE).map((r) => r.divertSec!);
  const inv = results.filter((r) => !r.visible);
  return {
    injections: results.length,
    visible: vis.length,
    divertedVisible: div.length,
    medianDivertSec: secs.length > 0 ? median(secs) : null,
    maxDivertSec: secs.length > 0 ? Math.max(...secs) : null,
    alreadyBelowAtOnset: div.filter((r) => r.shareAtOnset < DIVERT_SHARE).length,
    explainedAsLatency: div.filter((r) => r.cause !== null && LATENCY_CAUSES.includes(r.cause))
      .length,
    recovered: div.filter((r) => r.recoveredSec !== null && r.recoveredSec <= RECOVER_WITHIN_SEC)
      .length,
    recoverWithinSec: RECOVER_WITHIN_SEC,
    falseAlarmSec: results.reduce((a, r) => a + r.falseAlarmSec, 0),
    falseAlarmEjectedSec: results.reduce((a, r) => a + r.falseAlarmEjectedSec, 0),
    scoredSec: results.reduce((a, r) => a + r.scoredSec, 0),
    invisible: inv.length,
    divertedInvisible: inv.filter((r) => r.divertSec !== null).length,
  };
}

/** Builds, replays and scores every case; `onCase` after each (progress). */
export function evaluateFaults(
  cases: readonly FaultCase[],
  options: ReplayOptions,
  onCase?: () => void,
): FaultResult[] {
  return cases.map((fc) => {
    const r = scoreFaultCase(fc, replayFaultCase(fc, options));
    onCase?.();
    return r;
  });
}
