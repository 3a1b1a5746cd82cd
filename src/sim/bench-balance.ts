/**
 * @module sim/bench-balance
 * `prescient bench balance [--scenario NAME|all] [--seed S] [--json]`: the balancer simulator
 * (sim/balance-sim.ts) on the scenario suite, every algorithm on the same seeded workload.
 * Backend speeds and the bursty arrival curve come from ../shared/data/lb (read here, at bench
 * time):
 * - speeds: per-VM PostgreSQL read-only TPS of 11 819 short-lived Azure B8ms VMs in eastus
 *   (azure-vm-noise-2024, CC BY 4.0; Freischuetz et al., EuroSys 2025), as multipliers of the
 *   median VM: a seeded draw of 8 (the distribution is bimodal, a quarter of VMs ≈ 0.53×);
 * - bursts: the first hour of the Alibaba v2021 per-minute call rate of service 6d9c26b9
 *   (via netarch/slate-sim), one minute compressed to one second.
 * Every backend has 4 workers and a 20 ms mean service time at speed 1 (200 req/s).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { weighers } from '../balance/weigher.js';
import '../balance/builtin.js';
import { sharedDataDir } from '../cli/bench-args.js';
import { Progress } from '../cli/progress.js';
import { formatTable } from '../cli/table.js';
import { UsageError } from '../errors.js';
import {
  ALGORITHMS,
  BASELINES,
  capacityPerSec,
  generateWorkload,
  latencyLowerBoundMs,
  seededRandom,
  simulate,
  type SimAlgorithm,
  type SimBackend,
  type SimResult,
  type SimScenario,
} from './balance-sim.js';

const WORKERS = 4;
const SERVICE_MS = 20;
const BACKENDS = 8;
const DURATION_MS = 60_000;

export const SCENARIO_NAMES = [
  'heterogeneous',
  'bursty',
  'slow-backend',
  'fast-errors',
  'cold-join',
  'load-50',
  'load-80',
  'load-95',
] as const;

const AZURE_TPS =
  'azure-vm-noise-2024/test_suite=PostgreSQL/test_name=Scaling_Factor:_25_-_Clients:_25_-_Mode:_Read_Only/vm_lifespan=short/vm_region=eastus/vm_sku=B8ms/unit=TPS.csv';
const ALIBABA_RATE = 'alibaba-v2021-via-slate-sim/ms_call_rate_6d9c26b9_per_minute.txt';

/** Per-VM speed multipliers (value / median) from the Azure VM noise CSV. */
export function readAzureSpeeds(csvText: string): number[] {
  const lines = csvText.trim().split('\n');
  const header = lines[0]!.split(',');
  const col = header.indexOf('value');
  if (col < 0) throw new Error('azure-vm-noise CSV has no "value" column');
  const values = lines
    .slice(1)
    .map((l) => Number(l.split(',')[col]))
    .filter((v) => Number.isFinite(v) && v > 0);
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  return values.map((v) => v / median);
}

/** Per-minute call rates (line 1 is the service hash). */
export function readCallRates(text: string): number[] {
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map(Number)
    .filter((v) => Number.isFinite(v) && v >= 0);
}

function backends(speeds: readonly number[]): SimBackend[] {
  return speeds.map((s, i) => ({
    name: `b${i}`,
    workers: WORKERS,
    meanServiceMs: SERVICE_MS / s,
  }));
}

const flat = (rate: number) => [rate];

/** The suite, from the shared data under `dataDir` (../shared/data/lb). */
export function buildScenarios(dataDir: string, seed: number): SimScenario[] {
  const speedsAll = readAzureSpeeds(readFileSync(join(dataDir, AZURE_TPS), 'utf8'));
  const rng = seededRandom(seed ^ 0x9e3779b9);
  const speeds = Array.from(
    { length: BACKENDS },
    () => speedsAll[Math.floor(rng() * speedsAll.length)]!,
  );
  const rates = readCallRates(readFileSync(join(dataDir, ALIBABA_RATE), 'utf8')).slice(0, 60);
  const hetero = backends(speeds);
  const homo = backends(Array.from({ length: BACKENDS }, () => 1));
  const hetCap = capacityPerSec(hetero);
  const homCap = capacityPerSec(homo);
  const meanRate = rates.reduce((a, b) => a + b, 0) / rates.length;
  const speedText = speeds.map((s) => s.toFixed(2)).join(' ');
  const fault = { fromMs: 20_000, toMs: 50_000 };
  return [
    {
      name: 'heterogeneous',
      description: `Azure B8ms speeds ×[${speedText}], Poisson at 80 % of capacity`,
      durationMs: DURATION_MS,
      backends: hetero,
      ratesPerSec: flat(0.8 * hetCap),
      stepMs: DURATION_MS,
    },
    {
      name: 'bursty',
      description: `Alibaba 6d9c26b9 per-minute rate, 1 min → 1 s, mean 40 % of capacity (peak ${(((0.4 * Math.max(...rates)) / meanRate) * 100).toFixed(0)} %), Azure speeds`,
      durationMs: DURATION_MS,
      backends: hetero,
      ratesPerSec: rates.map((r) => (r / meanRate) * 0.4 * hetCap),
      stepMs: 1000,
    },
    {
      name: 'slow-backend',
      description: 'b0 10× slower from 20 s to 50 s, equal speeds, 70 % load',
      durationMs: 70_000,
      backends: homo.map((b, i) => (i === 0 ? { ...b, slowdown: { ...fault, factor: 10 } } : b)),
      ratesPerSec: flat(0.7 * homCap),
      stepMs: 70_000,
      degraded: { backend: 'b0', ...fault },
    },
    {
      name: 'fast-errors',
      description: 'b0 answers half its requests with a 5xx in 1 ms from 10 s, 70 % load',
      durationMs: DURATION_MS,
      backends: homo.map((b, i) =>
        i === 0 ? { ...b, errors: { fromMs: 10_000, probability: 0.5, latencyMs: 1 } } : b,
      ),
      ratesPerSec: flat(0.7 * homCap),
      stepMs: DURATION_MS,
      degraded: { backend: 'b0', fromMs: 10_000, toMs: DURATION_MS },
    },
    {
      name: 'cold-join',
      description:
        'b7 joins at 20 s, 5× slower warming to normal over 20 s; 70 % of 8-backend capacity',
      durationMs: DURATION_MS,
      backends: homo.map((b, i) =>
        i === BACKENDS - 1 ? { ...b, joinAtMs: 20_000, cold: { factor: 5, warmMs: 20_000 } } : b,
      ),
      ratesPerSec: flat(0.7 * homCap),
      stepMs: DURATION_MS,
      degraded: { backend: `b${BACKENDS - 1}`, fromMs: 20_000, toMs: 40_000 },
    },
    ...[50, 80, 95].map((pct) => ({
      name: `load-${pct}`,
      description: `Azure speeds, Poisson at ${pct} % of capacity`,
      durationMs: DURATION_MS,
      backends: hetero,
      ratesPerSec: flat((pct / 100) * hetCap),
      stepMs: DURATION_MS,
    })),
  ];
}

export interface BalanceBenchScenario {
  readonly name: string;
  readonly description: string;
  readonly results: SimResult[];
  /**
   * No dispatcher's p99 on this workload can be lower (sim/balance-sim.ts
   * `latencyLowerBoundMs`: each request served at once on the backend fastest for it).
   */
  readonly p99LowerBoundMs: number;
}

export interface BalanceBenchSummary {
  /**
   * Mean over scenarios of p99(prescient-wp2c) / min over baselines of p99: the target. NaN when
   * prescient-wp2c did not run (no figure rather than a 0 that would read as met).
   */
  readonly meanP99RatioToBestBaseline: number;
  /** Scenarios where prescient-wp2c's p99 is above round robin's. */
  readonly worseThanRoundRobin: string[];
  /**
   * The same mean for the clairvoyant `oracle` (the ceiling: what knowing every request's size
   * reaches); undefined when the oracle did not run.
   */
  readonly oracleMeanP99RatioToBestBaseline: number | undefined;
  /** The same mean for the per-scenario lower bound (no dispatcher goes below it). */
  readonly lowerBoundMeanP99RatioToBestBaseline: number;
}

export function benchBalance(
  scenarios: readonly SimScenario[],
  seed: number,
  algorithms: readonly SimAlgorithm[] = ALGORITHMS,
  onRun?: () => void,
): BalanceBenchScenario[] {
  return scenarios.map((s) => ({
    name: s.name,
    description: s.description,
    results: algorithms.map((a) => {
      const r = simulate(s, a, { seed, weigher: () => weighers.create('predictive', undefined) });
      onRun?.();
      return r;
    }),
    p99LowerBoundMs: latencyLowerBoundMs(s, generateWorkload(s, seed)),
  }));
}

/** Mean over scenarios of p99(`p99Of(scenario)`) / the best baseline's p99; NaN without any. */
function meanRatioToBestBaseline(
  out: readonly BalanceBenchScenario[],
  p99Of: (s: BalanceBenchScenario) => number | undefined,
): number {
  const ratios: number[] = [];
  for (const s of out) {
    const p = p99Of(s);
    const base = s.results.filter((r) => BASELINES.includes(r.algorithm));
    if (p === undefined || base.length === 0) continue;
    ratios.push(p / Math.min(...base.map((r) => r.p99Ms)));
  }
  return ratios.length === 0 ? NaN : ratios.reduce((a, b) => a + b, 0) / ratios.length;
}

const p99Of = (s: BalanceBenchScenario, a: SimAlgorithm) =>
  s.results.find((r) => r.algorithm === a)?.p99Ms;

export function summarise(out: readonly BalanceBenchScenario[]): BalanceBenchSummary {
  const worse: string[] = [];
  for (const s of out) {
    const p = p99Of(s, 'prescient-wp2c');
    const rr = p99Of(s, 'round-robin');
    if (p !== undefined && rr !== undefined && p > rr) worse.push(s.name);
  }
  const oracle = meanRatioToBestBaseline(out, (s) => p99Of(s, 'oracle'));
  return {
    meanP99RatioToBestBaseline: meanRatioToBestBaseline(out, (s) => p99Of(s, 'prescient-wp2c')),
    worseThanRoundRobin: worse,
    oracleMeanP99RatioToBestBaseline: Number.isNaN(oracle) ? undefined : oracle,
    lowerBoundMeanP99RatioToBestBaseline: meanRatioToBestBaseline(out, (s) => s.p99LowerBoundMs),
  };
}

const HELP = `usage: prescient bench balance [--scenario NAME|all] [--seed S] [--json]

  --scenario   one of ${SCENARIO_NAMES.join(', ')}, or all (default)
  --seed S     workload and speed draw seed (default 1)
  --json       print {"scenarios": [{"name", "results": [{"algorithm", "p50Ms", "p99Ms",
               "p999Ms", "errorRate", "divertSec"}]}]}

The oracle reads the future (each request's size): a ceiling, not a baseline; the target ratio
is prescient-wp2c's p99 over the best of round-robin, least-connections, p2c-least-request and
peak-ewma-p2c.

Reads ../shared/data/lb (PRESCIENT_SHARED_DATA overrides the shared/data directory).`;

export async function benchBalanceCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', default: 'all' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (!/^\d+$/.test(values.seed)) throw new UsageError('--seed must be a whole number');
  const seed = Number(values.seed);
  const name = values.scenario;
  if (name !== 'all' && !(SCENARIO_NAMES as readonly string[]).includes(name))
    throw new UsageError(`--scenario must be all or one of: ${SCENARIO_NAMES.join(', ')}`);
  const all = buildScenarios(join(sharedDataDir(), 'lb'), seed);
  const chosen = name === 'all' ? all : all.filter((s) => s.name === name);
  const progress = values.json
    ? undefined
    : new Progress('bench balance', chosen.length * ALGORITHMS.length);
  let runs = 0;
  const out = await Promise.resolve(
    benchBalance(chosen, seed, ALGORITHMS, () => progress?.update(++runs)),
  );
  progress?.finish(runs);
  if (values.json) {
    const doc = {
      scenarios: out.map((s) => ({
        name: s.name,
        results: s.results.map((r) => ({
          algorithm: r.algorithm,
          p50Ms: r.p50Ms,
          p99Ms: r.p99Ms,
          p999Ms: r.p999Ms,
          errorRate: r.errorRate,
          divertSec: r.divertSec,
        })),
      })),
    };
    process.stdout.write(`${JSON.stringify(doc)}\n`);
    return 0;
  }
  const head = [
    'scenario',
    'algorithm',
    'p50 ms',
    'p99 ms',
    'p99.9 ms',
    'p99 ok ms',
    'errors %',
    'divert s',
  ];
  const rows = out.flatMap((s) =>
    s.results.map((r) => [
      s.name,
      r.algorithm,
      r.p50Ms.toFixed(1),
      r.p99Ms.toFixed(1),
      r.p999Ms.toFixed(1),
      r.p99OkMs.toFixed(1),
      (r.errorRate * 100).toFixed(2),
      r.divertSec === null ? '-' : r.divertSec.toFixed(0),
    ]),
  );
  process.stdout.write(`${formatTable(head, rows, 2)}\n`);
  const sum = summarise(out);
  process.stdout.write(
    `\nprescient-wp2c p99 / best baseline p99, mean over ${out.length} scenario(s): ` +
      `${sum.meanP99RatioToBestBaseline.toFixed(3)} (target ≤ 0.8); worse than round robin in: ` +
      `${sum.worseThanRoundRobin.length === 0 ? 'none' : sum.worseThanRoundRobin.join(', ')}\n` +
      `oracle (clairvoyant: knows every request's size; a ceiling, not a baseline): ` +
      `${sum.oracleMeanP99RatioToBestBaseline?.toFixed(3) ?? '-'}; lower bound (no queueing, ` +
      `fastest backend for each request): ${sum.lowerBoundMeanP99RatioToBestBaseline.toFixed(3)}\n`,
  );
  for (const s of out)
    process.stdout.write(
      `  ${s.name}: ${s.description}; p99 ≥ ${s.p99LowerBoundMs.toFixed(1)} ms for any dispatcher\n`,
    );
  return 0;
}
