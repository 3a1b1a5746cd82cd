/**
 * @module sim/bench-faults
 * `prescient bench faults [--seed S] [--json]`: did the predictive weigher move traffic away from
 * a replica with a real injected fault, how fast, and did its explanation name latency? The
 * replay and scoring are sim/fault-replay.ts (pure; its header describes the construction); this
 * module reads the data, at bench time, from ../shared/data/lb/nezha-onlineboutique (Nezha,
 * FSE'23, OnlineBoutique 2022-08-23, MIT):
 * - rca_data/2022-08-23/2022-08-23-fault_list.json: 32 labelled injections, 12:00–16:59 UTC;
 * - construct_data/2022-08-23/metric/<pod>_metric.csv: per-minute PodServerLatencyP90/P95/P99(s)
 *   of each injected pod, 11:59–23:59 UTC (PodSuccessRate(%) is read only to report that it is 0
 *   everywhere, hence unusable);
 * - construct_data/2022-08-23/metric/front_service.csv: the frontend service's P50 and P90, whose
 *   median ratio stands in for every pod's unknown median (P50 = ratio × P90).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { weighers } from '../balance/weigher.js';
import '../balance/builtin.js';
import { parseSeedJsonArgs, sharedDataDir } from '../cli/bench-args.js';
import { Progress } from '../cli/progress.js';
import { formatTable } from '../cli/table.js';
import { TraceFormatError } from '../errors.js';
import {
  buildFaultCases,
  CONTROL_P90_MS,
  evaluateFaults,
  identicalReplicaControl,
  PEAK_WINDOW_MIN,
  RATE_PER_SEC,
  summariseFaults,
  VISIBLE_RATIO,
  type ControlResult,
  type FaultCase,
  type FaultInjection,
  type FaultResult,
  type FaultSummary,
  type PodMetrics,
} from './fault-replay.js';

const DAY = '2022-08-23';
const FAULT_LIST = `rca_data/${DAY}/${DAY}-fault_list.json`;
const METRICS = `construct_data/${DAY}/metric`;

/** A pod's metric file: the percentiles the replay uses, and its success-rate column. */
export interface PodMetricsFile extends PodMetrics {
  readonly successRatePct: readonly number[];
}

/** Splits a header-first CSV without quoted fields; `columns` must all be present. */
function readColumns(text: string, file: string, columns: readonly string[]): string[][] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').split(',');
  const idx = columns.map((c) => {
    const i = header.indexOf(c);
    if (i < 0) throw new TraceFormatError(`${file}: no "${c}" column`, { file, line: 1 });
    return i;
  });
  return lines.slice(1).map((l, k) => {
    const f = l.split(',');
    if (f.length !== header.length)
      throw new TraceFormatError(`${file}: ${f.length} fields, header has ${header.length}`, {
        file,
        line: k + 2,
      });
    return idx.map((i) => f[i]!);
  });
}

/** One pod's `<pod>_metric.csv`: seconds → ms; a NaN field stays NaN (no requests that minute). */
export function readPodMetrics(text: string, file: string): PodMetricsFile {
  const rows = readColumns(text, file, [
    'TimeStamp',
    'PodName',
    'PodServerLatencyP90(s)',
    'PodServerLatencyP95(s)',
    'PodServerLatencyP99(s)',
    'PodSuccessRate(%)',
  ]);
  if (rows.length === 0) throw new TraceFormatError(`${file}: no rows`, { file });
  const col = (c: number, scale = 1) => rows.map((r) => Number(r[c]) * scale);
  const minuteEndMs = col(0, 1000);
  minuteEndMs.forEach((t, k) => {
    if (!Number.isFinite(t) || (k > 0 && t <= minuteEndMs[k - 1]!))
      throw new TraceFormatError(`${file}: timestamps must be numbers and increase`, {
        file,
        line: k + 2,
      });
  });
  return {
    pod: rows[0]![1]!,
    minuteEndMs,
    p90Ms: col(2, 1000),
    p95Ms: col(3, 1000),
    p99Ms: col(4, 1000),
    successRatePct: col(5),
  };
}

/** The fault list `{hour: [{inject_timestamp, inject_pod, inject_type, …}]}`, oldest first. */
export function readFaultList(text: string, file: string): FaultInjection[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TraceFormatError(`${file}: not JSON (${(err as Error).message})`, { file });
  }
  if (typeof doc !== 'object' || doc === null)
    throw new TraceFormatError(`${file}: not an object`, { file });
  const out: FaultInjection[] = [];
  for (const list of Object.values(doc)) {
    if (!Array.isArray(list))
      throw new TraceFormatError(`${file}: an hour is not a list`, { file });
    for (const e of list as Record<string, unknown>[]) {
      const ts = Number(e['inject_timestamp']);
      const pod = e['inject_pod'];
      const type = e['inject_type'];
      if (!Number.isFinite(ts) || typeof pod !== 'string' || typeof type !== 'string')
        throw new TraceFormatError(
          `${file}: an injection needs inject_timestamp, inject_pod and inject_type`,
          { file },
        );
      out.push({ pod, type, injectedAtMs: ts * 1000 });
    }
  }
  return out.sort((a, b) => a.injectedAtMs - b.injectedAtMs);
}

/** Median of LatencyP50 / LatencyP90 over the rows of front_service.csv where both are > 0. */
export function readP50OverP90(text: string, file: string): number {
  const ratios = readColumns(text, file, ['LatencyP50(s)', 'LatencyP90(s)'])
    .map(([p50, p90]) => Number(p50) / Number(p90))
    .filter((r) => Number.isFinite(r) && r > 0 && r <= 1)
    .sort((a, b) => a - b);
  if (ratios.length === 0) throw new TraceFormatError(`${file}: no usable P50 / P90`, { file });
  return ratios[ratios.length >> 1]!;
}

export interface FaultData {
  readonly cases: FaultCase[];
  readonly p50OverP90: number;
  /** Rows of the injected pods' metric files, and how many have PodSuccessRate(%) = 0. */
  readonly rows: number;
  readonly zeroSuccessRows: number;
}

/** Reads the Nezha folder `dir` (../shared/data/lb/nezha-onlineboutique) into replay cases. */
export function loadFaultData(dir: string): FaultData {
  const injections = readFaultList(readFileSync(join(dir, FAULT_LIST), 'utf8'), FAULT_LIST);
  const pods = new Map<string, PodMetricsFile>();
  for (const pod of new Set(injections.map((j) => j.pod))) {
    const file = `${METRICS}/${pod}_metric.csv`;
    pods.set(pod, readPodMetrics(readFileSync(join(dir, file), 'utf8'), file));
  }
  const front = `${METRICS}/front_service.csv`;
  const all = [...pods.values()].flatMap((p) => p.successRatePct);
  return {
    cases: buildFaultCases(pods, injections),
    p50OverP90: readP50OverP90(readFileSync(join(dir, front), 'utf8'), front),
    rows: all.length,
    zeroSuccessRows: all.filter((v) => v === 0).length,
  };
}

/** The bench on loaded data with the registered predictive weigher and its defaults. */
export function benchFaults(data: FaultData, seed: number, onCase?: () => void): FaultResult[] {
  return evaluateFaults(
    data.cases,
    {
      seed,
      p50OverP90: data.p50OverP90,
      weigher: () => weighers.create('predictive', undefined),
    },
    onCase,
  );
}

/** `frontend-579b9bff58-t2dbm` → `frontend` (the deployment: the pod name minus two hashes). */
const serviceOf = (pod: string) => pod.split('-').slice(0, -2).join('-') || pod;
const utc = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

/** The identical-replica controls ({@link identicalReplicaControl}) with the bench's weigher. */
export function benchControls(data: FaultData, seed: number): ControlResult[] {
  return CONTROL_P90_MS.map((p90Ms) =>
    identicalReplicaControl(p90Ms, {
      seed,
      p50OverP90: data.p50OverP90,
      weigher: () => weighers.create('predictive', undefined),
    }),
  );
}

export function faultsJson(
  results: readonly FaultResult[],
  summary: FaultSummary,
  controls: readonly ControlResult[] = [],
): string {
  return JSON.stringify({
    injections: results.map((r) => ({
      pod: r.pod,
      type: r.type,
      injectedAt: utc(r.injectedAtMs),
      baselineP99Ms: r.baselineP99Ms,
      peakP99Ms: r.peakP99Ms,
      visible: r.visible,
      divertSec: r.divertSec,
      shareAtOnset: r.shareAtOnset,
      minShare: r.minShare,
      cause: r.cause,
      recoveredSec: r.recoveredSec,
      falseAlarmSec: r.falseAlarmSec,
    })),
    summary,
    controls,
  });
}

export function faultsTable(results: readonly FaultResult[]): string {
  const dash = (v: number | null) => (v === null ? '-' : v.toFixed(0));
  return formatTable(
    [
      'injected (UTC)',
      'service',
      'type',
      'base p99 ms',
      'peak p99 ms',
      'peak/base',
      'visible',
      'share at onset',
      'divert s',
      'min share',
      'cause',
      'recovered s',
      'false alarm s',
    ],
    results.map((r) => [
      utc(r.injectedAtMs).slice(11, 19),
      serviceOf(r.pod),
      r.type,
      r.baselineP99Ms.toFixed(1),
      r.peakP99Ms.toFixed(1),
      (r.peakP99Ms / r.baselineP99Ms).toFixed(1),
      r.visible ? 'yes' : 'no',
      r.shareAtOnset.toFixed(3),
      dash(r.divertSec),
      r.minShare.toFixed(3),
      r.cause ?? '-',
      dash(r.recoveredSec),
      String(r.falseAlarmSec),
    ]),
    3,
  );
}

export function controlsText(controls: readonly ControlResult[]): string {
  const pct = (c: ControlResult) => `${((100 * c.starvedSec) / c.scoredSec).toFixed(1)} %`;
  return (
    `control, three identical replicas (P95 1.5×, P99 3× P90): one below 1/6 in ` +
    controls.map((c) => `${pct(c)} of the seconds at P90 ${c.p90Ms} ms`).join(', ') +
    '\n'
  );
}

export function faultsSummaryText(s: FaultSummary): string {
  const sec = (v: number | null) => (v === null ? '-' : `${v.toFixed(0)} s`);
  return (
    `diverted ${s.divertedVisible} of the ${s.visible} visible injections (peak p99 ≥ ` +
    `${VISIBLE_RATIO}× baseline within ${PEAK_WINDOW_MIN} min): ` +
    `${s.divertedVisible - s.alreadyBelowAtOnset} from a fair share (median ` +
    `${sec(s.medianDivertSec)}, max ${sec(s.maxDivertSec)} to divert), ${s.alreadyBelowAtOnset} ` +
    `already below 1/6 at the onset; explanation named latency in ${s.explainedAsLatency} of ` +
    `${s.divertedVisible}; back at ≥ 1/6 within ${s.recoverWithinSec} s of the fault in ` +
    `${s.recovered} of ${s.divertedVisible}\n` +
    `false alarms (a healthy replica below 1/6): ${s.falseAlarmSec} of ${s.scoredSec} s ` +
    `(${s.falseAlarmEjectedSec} s with it ejected, the rest the latency split); invisible ` +
    `injections diverted: ${s.divertedInvisible} of ${s.invisible}\n`
  );
}

const HELP = `usage: prescient bench faults [--seed S] [--json]

  --seed S   latency draw seed (default 1)
  --json     print {"injections": [{"pod", "type", "injectedAt", "baselineP99Ms", "peakP99Ms",
             "visible", "divertSec", "minShare", "cause", "recoveredSec", "falseAlarmSec"}],
             "summary": {...}, "controls": [{"p90Ms", "starvedSec", "scoredSec"}]}

Each of the 32 labelled fault injections of the Nezha OnlineBoutique data becomes a pool of three
replicas of the injected pod's service: one replays the pod's per-minute latency percentiles
around the injection, two replay the same pod hours later, fault-free. ${RATE_PER_SEC} requests/s
per replica go through the engine's feature store; the predictive weigher (defaults) publishes
shares every second. "Diverted" = the faulty replica's share below half its fair share (1/6).
A control replays three identical replicas (P90 ${CONTROL_P90_MS.join(' / ')} ms) the same way:
any second one of them is below 1/6 is the weigher reacting to noise alone.

Reads ../shared/data/lb/nezha-onlineboutique (PRESCIENT_SHARED_DATA overrides the shared/data
directory).`;

export async function benchFaultsCommand(argv: string[]): Promise<number> {
  const args = parseSeedJsonArgs(argv, HELP);
  if (args === undefined) return 0;
  const data = loadFaultData(join(sharedDataDir(), 'lb', 'nezha-onlineboutique'));
  const progress = args.json ? undefined : new Progress('bench faults', data.cases.length);
  let done = 0;
  const results = await Promise.resolve(
    benchFaults(data, args.seed, () => progress?.update(++done)),
  );
  progress?.finish(done);
  const summary = summariseFaults(results);
  const controls = benchControls(data, args.seed);
  if (args.json) {
    process.stdout.write(`${faultsJson(results, summary, controls)}\n`);
    return 0;
  }
  process.stdout.write(
    `${faultsTable(results)}\n\n${faultsSummaryText(summary)}${controlsText(controls)}`,
  );
  process.stdout.write(
    `median assumed ${data.p50OverP90.toFixed(3)} × P90 (median P50 / P90 of front_service.csv); ` +
      `PodSuccessRate(%) is 0 in ${data.zeroSuccessRows} of ${data.rows} rows of the injected ` +
      `pods: unusable, so every replayed request succeeds\n`,
  );
  return 0;
}
