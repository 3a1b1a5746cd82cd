/**
 * @module sim/bench-eviction
 * `prescient bench eviction --trace FILE|DIR [--format auto|csv|oracle|text]
 * [--sizes 0.01,0.05,0.1] [--policies all|lru,s3fifo,…,learned,belady] [--unit-size] [--seed N]
 * [--json]`: replays a trace through every policy at every cache size and reports hit ratio,
 * byte hit ratio, requests/s and the share of the LRU → Bélády gap each policy closes,
 * (h − h_LRU) / (h_Bélády − h_LRU). LRU (the floor) and Bélády (the ceiling, which reads the
 * future) are always run so every figure sits between them (STYLE.md).
 *
 * Cache sizes are fractions of the trace's unique keys, or of its unique bytes when the trace is
 * sized (`--unit-size` treats a sized trace as unit size, as the reference table does for
 * cloudphysics-io); capacity = floor(fraction × unique). Every request counts: no warm-up of the
 * caches. Each trace is loaded once into typed arrays (keys interned to ids) and replayed from
 * memory for each policy × size, so requests/s measure the policy, not the parser. Before a
 * trace's timed replays, each policy replays {@link JIT_WARMUP_REQUESTS} requests from the
 * trace's start, untimed, into instances that are then thrown away ({@link warmUpJit}): the
 * requests/s of a trace's first cells then measure compiled code, not V8 compiling it.
 *
 * `--trace DIR` runs every trace in the folder (`*.csv`, `*.txt`, `*.bin`, `*.oracleGeneral`,
 * each optionally `.gz`), sorted by name; files with the same stem (name up to the first dot,
 * e.g. `cloudphysics-io.csv.gz` and `cloudphysics-io.oracleGeneral.bin`) are one trace in two
 * formats, and only the first is run. With --json a file prints one document
 * `{trace, requests, uniqueKeys, uniqueBytes, results: [{policy, cacheSize, capacity, hitRatio,
 * byteHitRatio, requestsPerSec}]}`, a folder prints a JSON array of them.
 *
 * The learned policy registers itself from src/learn/eviction-registration.ts, imported here.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Progress } from '../cli/progress.js';
import { UsageError } from '../errors.js';
import { ABLATION_POLICY_IDS } from '../learn/eviction/ablation.js';
import '../learn/eviction-registration.js';
import '../policy/builtin.js';
import { evictionPolicies } from '../policy/eviction-policy.js';
import {
  capacityFor,
  loadTrace,
  simulateLoaded,
  tracePrefix,
  type LoadedTrace,
  type SimResult,
} from './cache-sim.js';
import { readTrace, type TraceFormat } from './trace-reader.js';

/** One policy at one size. */
export interface EvictionBenchResult {
  readonly policy: string;
  /** The fraction of unique keys (unique bytes for sized traces). */
  readonly cacheSize: number;
  /** Objects, or bytes for sized traces. */
  readonly capacity: number;
  readonly hitRatio: number;
  readonly byteHitRatio: number;
  readonly requestsPerSec: number;
  /**
   * The lowest value, over checkpoints every {@link CHECKPOINT_REQUESTS} requests and the end,
   * of (cumulative hit ratio − LRU's cumulative hit ratio at the same size), in points (×100):
   * how far below LRU the policy ever was. 0 for LRU. Table only (not in --json).
   */
  readonly minVsLruPt: number;
}

/** Requests between the checkpoints of {@link EvictionBenchResult.minVsLruPt}. */
export const CHECKPOINT_REQUESTS = 10_000;

/** One trace: the --json document. */
export interface EvictionBenchReport {
  readonly trace: string;
  readonly requests: number;
  readonly uniqueKeys: number;
  readonly uniqueBytes: number;
  readonly results: EvictionBenchResult[];
}

export interface EvictionBenchOptions {
  /** A trace file or a folder of traces. */
  readonly trace: string;
  readonly format?: TraceFormat;
  /** Fractions of unique keys (bytes); default 0.01, 0.05, 0.1. */
  readonly sizes?: readonly number[];
  /** Policy ids, or undefined for every registered one. LRU and Bélády are always added. */
  readonly policies?: readonly string[];
  /** Treat sized traces as unit size. Default false. */
  readonly unitSize?: boolean;
  /** Seed for sampling policies. Default 1. */
  readonly seed?: number;
  /** No progress bar. */
  readonly quiet?: boolean;
}

export const DEFAULT_SIZES = [0.01, 0.05, 0.1] as const;
const TRACE_FILE = /\.(csv|txt|bin|oraclegeneral)(\.gz)?$/i;

/** The trace files a --trace argument names (a file, or the traces in a folder). */
export function traceFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const name of readdirSync(path).sort()) {
    if (!TRACE_FILE.test(name)) continue;
    const stem = name.split('.')[0] ?? name;
    if (seen.has(stem)) continue;
    seen.add(stem);
    out.push(join(path, name));
  }
  if (out.length === 0) throw new UsageError(`--trace ${path}: the folder holds no trace files`);
  return out;
}

/**
 * Policy ids to run, in report order: LRU first, Bélády last, the rest as given. The default is
 * every registered policy but the learned policy's ablation ceilings (they read the future and
 * run only when named).
 */
export function policyOrder(requested: readonly string[] | undefined): string[] {
  const ids = requested ?? evictionPolicies.ids().filter((id) => !ABLATION_POLICY_IDS.includes(id));
  for (const id of ids) evictionPolicies.create(id, { capacity: 1, unit: 'objects' }); // unknown → error
  const middle = ids.filter((id) => id !== 'lru' && id !== 'belady');
  return ['lru', ...new Set(middle), 'belady'];
}

/** Runs one loaded trace; `name` labels it. */
export function benchLoadedTrace(
  name: string,
  trace: LoadedTrace,
  o: Omit<EvictionBenchOptions, 'trace' | 'format'> = {},
): EvictionBenchReport {
  const sizes = o.sizes ?? DEFAULT_SIZES;
  const policies = policyOrder(o.policies);
  const unitSize = o.unitSize === true || !trace.sized;
  const unit = unitSize ? 'objects' : 'bytes';
  const total = trace.requests * sizes.length * policies.length;
  const progress =
    o.quiet === true || total < 2_000_000 ? undefined : new Progress(`replay ${name}`, total);
  let done = 0;
  const results: EvictionBenchResult[] = [];
  // LRU's cumulative hits at each checkpoint, per size (LRU runs first).
  const lruHits = new Map<number, number[]>();
  for (const policy of policies) {
    for (const cacheSize of sizes) {
      const capacity = capacityFor(trace, cacheSize, unit);
      const base = done;
      const { r, checkpoints } = replayCell(trace, policy, capacity, unitSize, o.seed, (n) =>
        progress?.update(base + n),
      );
      done += trace.requests;
      if (policy === 'lru') lruHits.set(cacheSize, checkpoints);
      results.push({
        policy,
        cacheSize,
        capacity,
        hitRatio: round(r.hitRatio),
        byteHitRatio: round(r.byteHitRatio),
        requestsPerSec: r.requestsPerSec,
        minVsLruPt: minVsLru(checkpoints, lruHits.get(cacheSize), trace.requests),
      });
    }
  }
  progress?.finish(done);
  return {
    trace: name,
    requests: trace.requests,
    uniqueKeys: trace.uniqueKeys,
    uniqueBytes: unitSize ? trace.uniqueKeys : trace.uniqueBytes,
    results,
  };
}

/**
 * Requests each policy replays untimed before a trace's timed replays: V8's warm-up, as a JMH
 * benchmark has one. V8 compiles a hot loop in tiers, and LRU reaches its optimised code only
 * after some 300,000–400,000 requests: five full replays of cloudphysics-io at 1 % in one
 * process read 2.2, 4.2, 4.1, 21.3 and 25.1 M requests/s (2026-12-07). Without a warm-up the
 * first cells of a run measured the compiler, not the policy.
 */
export const JIT_WARMUP_REQUESTS = 500_000;
/** The warm-up replays at most this many of the trace's first requests per round. */
const WARMUP_PREFIX = 100_000;
/** …and at most this many rounds (a tiny trace). */
const WARMUP_MAX_ROUNDS = 10;

/**
 * V8's warm-up: in rounds, every policy in the bench's order replays the first `prefixRequests`
 * requests of `trace` into a fresh instance at the first size, untimed, and the instance is
 * discarded, until each has replayed `requests` (at most {@link WARMUP_MAX_ROUNDS} rounds).
 * Changes no result: every timed replay starts from a fresh policy (checked by
 * test/sim/cache-sim.test.ts).
 */
export function warmUpJit(
  trace: LoadedTrace,
  o: Omit<EvictionBenchOptions, 'trace' | 'format'> = {},
  requests = JIT_WARMUP_REQUESTS,
  prefixRequests = WARMUP_PREFIX,
): void {
  const prefix = tracePrefix(trace, prefixRequests);
  const n = prefix.requests;
  if (n === 0) return;
  const unitSize = o.unitSize === true || !trace.sized;
  const unit = unitSize ? 'objects' : 'bytes';
  const capacity = Math.max(1, capacityFor(trace, (o.sizes ?? DEFAULT_SIZES)[0]!, unit));
  const rounds = Math.min(WARMUP_MAX_ROUNDS, Math.ceil(requests / n));
  // policyOrder builds an instance of each policy to check its id: once, not per round.
  const policies = policyOrder(o.policies);
  // Round-major, so the simulator's call into `policy.access` sees the policies in the order the
  // timed replays will.
  for (let round = 0; round < rounds; round++) {
    for (const policy of policies) {
      replayCell(prefix, policy, capacity, unitSize, o.seed, undefined);
    }
  }
}

/**
 * One replay of the bench: a fresh `policy` at `capacity`, its hits at every checkpoint. The timed
 * cells and the warm-up both replay through here, so V8 compiles the simulator loop for the very
 * callbacks the timed cells pass (a callback made elsewhere deoptimised the loop at the first
 * timed cell).
 */
function replayCell(
  trace: LoadedTrace,
  policy: string,
  capacity: number,
  unitSize: boolean,
  seed: number | undefined,
  onProgress: ((done: number) => void) | undefined,
): { r: SimResult; checkpoints: number[] } {
  const unit = unitSize ? 'objects' : 'bytes';
  const p = evictionPolicies.create(policy, { capacity, unit, seed: seed ?? 1 });
  const checkpoints: number[] = [];
  const r = simulateLoaded(trace, p, {
    unitSize,
    checkpointEvery: CHECKPOINT_REQUESTS,
    onCheckpoint: (_requests, hits) => checkpoints.push(hits),
    onProgress: (n) => onProgress?.(n),
  });
  return { r, checkpoints };
}

/** Loads and runs every trace `o.trace` names. */
export async function benchEviction(o: EvictionBenchOptions): Promise<EvictionBenchReport[]> {
  const reports: EvictionBenchReport[] = [];
  policyOrder(o.policies); // fail on an unknown id before reading anything
  for (const file of traceFiles(o.trace)) {
    const name = basename(file).split('.')[0] ?? file;
    const loading = o.quiet === true ? undefined : new Progress(`load ${name}`, undefined);
    const trace = await loadTrace(readTrace(file, { format: o.format ?? 'auto' }), {
      ...(loading ? { onProgress: (n: number) => loading.update(n) } : {}),
    });
    loading?.finish(trace.requests);
    warmUpJit(trace, o);
    reports.push(benchLoadedTrace(name, trace, o));
  }
  return reports;
}

/**
 * min over checkpoints k of (hits[k] − lru[k]) / requests[k], in points; checkpoint k is after
 * min((k + 1) × {@link CHECKPOINT_REQUESTS}, total) requests. NaN without LRU's checkpoints.
 */
export function minVsLru(
  hits: readonly number[],
  lru: readonly number[] | undefined,
  total: number,
): number {
  if (lru === undefined || lru.length !== hits.length) return Number.NaN;
  let min = 0;
  for (let k = 0; k < hits.length; k++) {
    const n = Math.min((k + 1) * CHECKPOINT_REQUESTS, total);
    min = Math.min(min, ((hits[k]! - lru[k]!) / n) * 100);
  }
  return Math.round(min * 100) / 100;
}

/** Share of the LRU → Bélády gap closed: (h − h_LRU) / (h_Bélády − h_LRU); NaN if no gap. */
export function gapClosed(h: number, lru: number, belady: number): number {
  return belady - lru > 0 ? (h - lru) / (belady - lru) : Number.NaN;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** The human table: one row per trace × size × policy. */
export function formatTable(reports: readonly EvictionBenchReport[]): string {
  const header = [
    'trace',
    'size',
    'capacity',
    'policy',
    'hit ratio',
    'byte hit',
    'gap closed',
    'min vs LRU',
    'req/s',
  ];
  const rows: string[][] = [];
  for (const rep of reports) {
    const sized = rep.uniqueBytes !== rep.uniqueKeys;
    for (const size of new Set(rep.results.map((r) => r.cacheSize))) {
      const at = rep.results.filter((r) => r.cacheSize === size);
      const lru = at.find((r) => r.policy === 'lru')?.hitRatio ?? Number.NaN;
      const opt = at.find((r) => r.policy === 'belady')?.hitRatio ?? Number.NaN;
      for (const r of at) {
        const gap = gapClosed(r.hitRatio, lru, opt);
        rows.push([
          rep.trace,
          `${+(size * 100).toFixed(3)} %`,
          r.capacity.toLocaleString('en'),
          readsFuture(r.policy) ? `${r.policy} (future)` : r.policy,
          r.hitRatio.toFixed(4),
          sized ? r.byteHitRatio.toFixed(4) : '',
          Number.isNaN(gap) ? '-' : `${(gap * 100).toFixed(1)} %`,
          r.policy === 'lru' || Number.isNaN(r.minVsLruPt) ? '' : `${r.minVsLruPt.toFixed(2)} pt`,
          r.requestsPerSec.toLocaleString('en'),
        ]);
      }
    }
  }
  const right = new Set([1, 2, 4, 5, 6, 7, 8]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: readonly string[]) =>
    r.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  const lines = [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)];
  const notes = reports
    .map(
      (r) =>
        `${r.trace}: ${r.requests.toLocaleString('en')} requests, ${r.uniqueKeys.toLocaleString('en')} unique keys` +
        (r.uniqueBytes !== r.uniqueKeys
          ? `, ${r.uniqueBytes.toLocaleString('en')} unique bytes (sizes are fractions of these)`
          : ''),
    )
    .join('\n');
  return (
    `${lines.join('\n')}\n\n${notes}\n` +
    `belady reads the future: it is the ceiling, not a deployable policy` +
    (reports.some((r) => r.results.some((x) => ABLATION_POLICY_IDS.includes(x.policy)))
      ? `; so do ${ABLATION_POLICY_IDS.join(', ')}: the learned policy with its victim ` +
        `choice or its admission replaced by the right answer (1t / 4t: victims that know ` +
        `which candidates are requested within 1 T / 4 T)`
      : '') +
    `. Every request counts (no cache warm-up); req/s are timed after an untimed JIT warm-up ` +
    `(each policy replays the trace's first ${WARMUP_PREFIX.toLocaleString('en')} requests ` +
    `into instances then thrown away, until about ${JIT_WARMUP_REQUESTS.toLocaleString('en')}, ` +
    `at most ${WARMUP_MAX_ROUNDS} times). min vs LRU: the lowest (cumulative hit ratio − ` +
    `LRU's), checked every ` +
    `${CHECKPOINT_REQUESTS.toLocaleString('en')} requests, in points.\n`
  );
}

const readsFuture = (id: string) => id === 'belady' || ABLATION_POLICY_IDS.includes(id);

/** The --json document: exactly the fields of the documented shape. */
export function jsonReport(r: EvictionBenchReport): object {
  return {
    trace: r.trace,
    requests: r.requests,
    uniqueKeys: r.uniqueKeys,
    uniqueBytes: r.uniqueBytes,
    results: r.results.map((x) => ({
      policy: x.policy,
      cacheSize: x.cacheSize,
      capacity: x.capacity,
      hitRatio: x.hitRatio,
      byteHitRatio: x.byteHitRatio,
      requestsPerSec: x.requestsPerSec,
    })),
  };
}

const HELP = `usage: prescient bench eviction --trace FILE|DIR [options]

  --trace FILE|DIR   a trace, or a folder: every trace in it (one per stem)
  --format F         auto (default), csv, oracle or text
  --sizes LIST       cache sizes as fractions of unique keys (bytes if sized); default 0.01,0.05,0.1
  --policies LIST    all (default) or ids: ${evictionPolicies.ids().join(',')}
                     (lru and belady always run: the floor and the ceiling of the gap closed;
                     ${ABLATION_POLICY_IDS.join(', ')} read the future and
                     run only when named: how much of the gap each learned decision leaves)
  --unit-size        treat a sized trace as unit size
  --seed N           seed of sampling policies (default 1)
  --json             print JSON (one document; an array of them for a folder)`;

export async function benchEvictionCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      trace: { type: 'string' },
      format: { type: 'string', default: 'auto' },
      sizes: { type: 'string', default: DEFAULT_SIZES.join(',') },
      policies: { type: 'string', default: 'all' },
      'unit-size': { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.trace === undefined) throw new UsageError(`--trace is required\n${HELP}`);
  const format = values.format as TraceFormat;
  if (!['auto', 'csv', 'oracle', 'text'].includes(format)) {
    throw new UsageError('--format must be auto, csv, oracle or text');
  }
  const sizes = values.sizes.split(',').map((s) => Number(s.trim()));
  if (sizes.length === 0 || sizes.some((s) => !(s > 0 && s <= 1))) {
    throw new UsageError(
      '--sizes must be fractions in (0, 1], comma-separated, e.g. 0.01,0.05,0.1',
    );
  }
  if (!/^\d+$/.test(values.seed)) throw new UsageError('--seed must be a whole number');
  const policies =
    values.policies === 'all'
      ? undefined
      : values.policies
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
  try {
    statSync(values.trace);
  } catch {
    throw new UsageError(`--trace ${values.trace}: no such file or folder`);
  }
  const reports = await benchEviction({
    trace: values.trace,
    format,
    sizes,
    ...(policies ? { policies } : {}),
    unitSize: values['unit-size'],
    seed: Number(values.seed),
    quiet: values.json && !process.stderr.isTTY,
  });
  if (values.json) {
    const docs = reports.map(jsonReport);
    const single = statSync(values.trace).isDirectory() ? docs : docs[0];
    process.stdout.write(`${JSON.stringify(single)}\n`);
  } else {
    process.stdout.write(formatTable(reports));
  }
  return 0;
}
