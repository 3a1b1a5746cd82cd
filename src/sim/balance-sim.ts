/**
 * @module sim/balance-sim
 * A seeded discrete-event simulation of clients → one balancer → backends, to compare balancing
 * algorithms on the same workload. Each backend is a FIFO queue in front of k parallel workers.
 * Requests arrive as a Poisson process whose rate follows the scenario's per-step curve.
 *
 * Common random numbers. Every request gets, at arrival, an intrinsic size (an Exp(1) draw) and
 * an error draw (uniform), from dedicated seeded streams ({@link generateWorkload}). Served on
 * backend b from time t it takes size × b's mean service time at t (its speed, × a slow-down or
 * warm-up factor); if b fails requests at t with a probability above the request's error draw,
 * it answers a 5xx in the fixed error latency instead. So every algorithm sees the same arrivals
 * and the same request sizes, and two algorithms differ only by where they send them.
 *
 * Algorithms:
 * - `round-robin`; `least-connections` (fewest outstanding, random tie-break);
 * - `p2c-least-request` (two random picks, fewer outstanding; Mitzenmacher 2001, Envoy
 *   LEAST_REQUEST);
 * - `peak-ewma-p2c` (two random picks, lower peak-EWMA RTT × (outstanding + 1), the balancer's
 *   own per-backend peak-EWMA with a 10 s decay as Linkerd / Finagle);
 * - `prescient-wrr` / `prescient-wp2c`: weights from a {@link Weigher} (default `predictive`)
 *   computed every publish interval from the features of the engine's real FeatureStore, fed with
 *   every simulated response (latency, status, outstanding count), applied by the SDK's own
 *   picking code (client/pickers.ts: smooth weighted round robin, restarted on each new set of
 *   weights as the SDK rebuilds its picker; weighted P2C, two distinct picks drawn ∝ weight, the
 *   lower (outstanding + 1) / weight wins). A backend the weights do not name yet gets the mean
 *   weight, as a new HAProxy server gets the default weight;
 * - `oracle`: READS THE FUTURE, like Bélády in the eviction bench. It knows each request's size
 *   and error draw and the exact state of every queue (the remaining service of the requests in
 *   service, the sizes of the queued ones), computes when the request would complete on each
 *   backend (FIFO, first free worker: {@link fifoCompletionMs}) and sends it where that is
 *   earliest, a backend where it would fail being a last resort. A ceiling reported beside the
 *   others, never a baseline; greedy per request, so not a proven optimum of p99 (holding a fast
 *   backend free for a later large request could in principle do better).
 * {@link latencyLowerBoundMs} is a bound no dispatcher can beat on the same workload.
 *
 * Pure: no I/O, no wall clock.
 */
import type { Weigher, WeighContext } from '../balance/weigher.js';
import { FeatureStore } from '../features/feature-store.js';
import type { FeatureStoreOptions } from '../features/types.js';
import type { LatencyEvent } from '../telemetry/events.js';
import { smoothWeightedPick, weightedP2CPick } from '../client/pickers.js';
import { mulberry32 as seededRandom } from '../random.js';

export const ALGORITHMS = [
  'round-robin',
  'least-connections',
  'p2c-least-request',
  'peak-ewma-p2c',
  'prescient-wrr',
  'prescient-wp2c',
  'oracle',
] as const;
export type SimAlgorithm = (typeof ALGORITHMS)[number];
/** The four classic balancers Prescient is compared with (not the oracle: it reads the future). */
export const BASELINES: readonly SimAlgorithm[] = ALGORITHMS.slice(0, 4);

export interface SimBackend {
  readonly name: string;
  /** Parallel workers. */
  readonly workers: number;
  /** Mean service time (ms) when healthy. */
  readonly meanServiceMs: number;
  /** The backend takes traffic from this time (ms); default 0. */
  readonly joinAtMs?: number;
  /** Service times × `factor` from `fromMs` to `toMs`. */
  readonly slowdown?: { readonly fromMs: number; readonly toMs: number; readonly factor: number };
  /** After joining, service times × a factor falling linearly from `factor` to 1 over `warmMs`. */
  readonly cold?: { readonly factor: number; readonly warmMs: number };
  /** From `fromMs`, each request fails with `probability`, answered in `latencyMs` with a 5xx. */
  readonly errors?: {
    readonly fromMs: number;
    readonly probability: number;
    readonly latencyMs: number;
  };
}

export interface SimScenario {
  readonly name: string;
  readonly description: string;
  readonly durationMs: number;
  readonly backends: readonly SimBackend[];
  /** Offered load: requests/s per step of `stepMs` (the last value holds to the end). */
  readonly ratesPerSec: readonly number[];
  readonly stepMs: number;
  /** The backend that degrades and when (for divertSec); absent when nothing degrades. */
  readonly degraded?: { readonly backend: string; readonly fromMs: number; readonly toMs: number };
}

export interface SimOptions {
  readonly seed: number;
  /** Weigher for the prescient algorithms (a fresh instance per run). */
  readonly weigher?: () => Weigher;
  /** How often the weights are recomputed (ms). Default 1000. */
  readonly publishIntervalMs?: number;
  /** Give the weigher the offered rate of the next interval as its forecast. Default false. */
  readonly oracleForecast?: boolean;
  /** Feature-store options; defaults tuned to the simulated time scale (see SIM_STORE_OPTIONS). */
  readonly store?: FeatureStoreOptions;
  /** Divert threshold: the degraded backend's request share below this × its fair share. 0.5. */
  readonly divertFraction?: number;
}

export interface SimResult {
  readonly algorithm: SimAlgorithm;
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  /**
   * p99 of the successful responses only. The p50/p99/p99.9 above count every response, a fast
   * 5xx included, so an algorithm that keeps sending to a backend failing fast gains from its
   * failures there; this one does not (the SRE book's "track error latency separately").
   */
  readonly p99OkMs: number;
  readonly errorRate: number;
  /** Seconds from the fault until the degraded backend's share fell below the threshold. */
  readonly divertSec: number | null;
  /** Fraction of requests each backend received, by name. */
  readonly requestShare: Record<string, number>;
}

/**
 * The engine defaults are for real time (EWMA τ 10 s, percentiles over 60 s); a simulated
 * minute needs faster features: τ 1 s and a 10 s percentile window.
 */
export const SIM_STORE_OPTIONS: FeatureStoreOptions = {
  maxTrackedKeys: 16,
  decayHalfLivesSec: [60],
  latencyWindowSec: 10,
  ewmaTauMs: 1000,
  seriesStepSec: 1,
  seriesHistorySteps: 120,
  maxSeries: 1000,
  seed: 1,
};

/** Epoch of simulated time 0 in the telemetry (any fixed value: features use event time). */
const EPOCH_MS = 1_700_000_000_000;
const POOL = 'sim';
/** Peak-EWMA decay of the peak-ewma-p2c balancer (Linkerd / Finagle default 10 s). */
const PEAK_EWMA_TAU_MS = 10_000;

export { seededRandom };

/** Binary min-heap of events ordered by time, then insertion order (deterministic ties). */
class EventHeap {
  private readonly t: number[] = [];
  private readonly seq: number[] = [];
  private readonly kind: number[] = [];
  private readonly data: number[] = [];
  private next = 0;

  get size(): number {
    return this.t.length;
  }

  push(time: number, kind: number, data: number): void {
    const { t, seq } = this;
    let i = t.length;
    t.push(time);
    seq.push(this.next++);
    this.kind.push(kind);
    this.data.push(data);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p]! < t[i]! || (t[p] === t[i] && seq[p]! < seq[i]!)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Pops into `out` = [time, kind, data]. */
  pop(out: number[]): void {
    const { t, seq } = this;
    out[0] = t[0]!;
    out[1] = this.kind[0]!;
    out[2] = this.data[0]!;
    const last = t.length - 1;
    this.swap(0, last);
    t.pop();
    seq.pop();
    this.kind.pop();
    this.data.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < t.length && (t[l]! < t[m]! || (t[l] === t[m] && seq[l]! < seq[m]!))) m = l;
      if (r < t.length && (t[r]! < t[m]! || (t[r] === t[m] && seq[r]! < seq[m]!))) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    for (const a of [this.t, this.seq, this.kind, this.data]) {
      const x = a[i]!;
      a[i] = a[j]!;
      a[j] = x;
    }
  }
}

const ARRIVAL = 0;
const COMPLETE = 1;
const PUBLISH = 2;

function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Total service capacity (requests/s) of the backends when healthy. */
export function capacityPerSec(backends: readonly SimBackend[]): number {
  return backends.reduce((a, b) => a + (b.workers * 1000) / b.meanServiceMs, 0);
}

/**
 * What every algorithm sees of a run, drawn before any of them runs: the arrival times and, per
 * request, its intrinsic size and its error draw (common random numbers). Service on backend b
 * started at time t takes `size × meanServiceAtMs(b, t)`, unless b fails requests at t with a
 * probability above the request's `errorDraw`: then it answers a 5xx in `errors.latencyMs`.
 */
export interface SimWorkload {
  /** Arrival times (ms of simulated time), non-decreasing. */
  readonly arrivalMs: readonly number[];
  /** An Exp(1) draw per request: service time in units of the backend's mean. */
  readonly size: readonly number[];
  /** A uniform [0, 1) draw per request, compared with a failing backend's error probability. */
  readonly errorDraw: readonly number[];
}

/**
 * The workload of `scenario` for `seed`: a piecewise-constant-rate Poisson process (memoryless,
 * so redrawn at step edges) from one stream, sizes and error draws from two others.
 */
export function generateWorkload(scenario: SimScenario, seed: number): SimWorkload {
  const arrivalRng = seededRandom(seed);
  const sizeRng = seededRandom(seed ^ 0x5bd1e995);
  const errorRng = seededRandom(seed ^ 0x165667b1);
  const steps = scenario.ratesPerSec.length;
  const rateAt = (t: number) =>
    scenario.ratesPerSec[Math.min(steps - 1, Math.floor(t / scenario.stepMs))] ?? 0;
  const arrivalMs: number[] = [];
  const size: number[] = [];
  const errorDraw: number[] = [];
  let now = 0;
  while (now < scenario.durationMs) {
    const rate = rateAt(now) / 1000;
    const edge = (Math.floor(now / scenario.stepMs) + 1) * scenario.stepMs;
    if (rate <= 0) {
      now = edge;
      continue;
    }
    const gap = -Math.log(1 - arrivalRng()) / rate;
    if (now + gap < edge || Math.floor(now / scenario.stepMs) >= steps - 1) {
      now += gap;
      if (now >= scenario.durationMs) break;
      arrivalMs.push(now);
      size.push(-Math.log(1 - sizeRng()));
      errorDraw.push(errorRng());
    } else now = edge;
  }
  return { arrivalMs, size, errorDraw };
}

/** Mean service time (ms) of a backend for a request started at `t`: slow-down and warm-up. */
export function meanServiceAtMs(be: SimBackend, t: number): number {
  let mean = be.meanServiceMs;
  if (be.slowdown && t >= be.slowdown.fromMs && t < be.slowdown.toMs) mean *= be.slowdown.factor;
  if (be.cold) {
    const age = t - (be.joinAtMs ?? 0);
    if (age < be.cold.warmMs)
      mean *= be.cold.factor + (1 - be.cold.factor) * (age / be.cold.warmMs);
  }
  return mean;
}

/** Whether a backend answers a request with this error draw, started at `t`, with a 5xx. */
function failsAt(be: SimBackend, t: number, errorDraw: number): boolean {
  return be.errors !== undefined && t >= be.errors.fromMs && errorDraw < be.errors.probability;
}

/**
 * When the last of `jobs` FIFO jobs completes on k workers free at `workerFreeMs` (a worker idle
 * now has the current time), each job starting on the first worker free and running
 * `durationAt(job, startMs)`. `workerFreeMs` is overwritten.
 */
export function fifoCompletionMs(
  workerFreeMs: Float64Array | number[],
  workers: number,
  jobs: number,
  durationAt: (job: number, startMs: number) => number,
): number {
  let end = -Infinity;
  for (let j = 0; j < jobs; j++) {
    let m = 0;
    for (let w = 1; w < workers; w++) if (workerFreeMs[w]! < workerFreeMs[m]!) m = w;
    end = workerFreeMs[m]! + durationAt(j, workerFreeMs[m]!);
    workerFreeMs[m] = end;
  }
  return end;
}

/**
 * A lower bound on the `q` latency quantile any dispatcher can reach on this workload: each
 * request's latency is at least its service time with no queueing on the backend where that
 * is shortest (size × the smallest mean service time that backend ever has, or the error
 * latency where the request could fail), and a quantile of values each at least another's is at
 * least that other's quantile (order statistics are monotone). It ignores capacity, so it is
 * reachable only at negligible load.
 */
export function latencyLowerBoundMs(
  scenario: SimScenario,
  workload: SimWorkload,
  q = 0.99,
): number {
  const n = workload.size.length;
  const bounds = new Float64Array(n);
  const fastest = scenario.backends.map(
    (be) => be.meanServiceMs * Math.min(1, be.slowdown?.factor ?? 1, be.cold?.factor ?? 1),
  );
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    scenario.backends.forEach((be, b) => {
      let d = workload.size[i]! * fastest[b]!;
      if (be.errors && workload.errorDraw[i]! < be.errors.probability)
        d = Math.min(d, be.errors.latencyMs);
      best = Math.min(best, d);
    });
    bounds[i] = best;
  }
  return r3(quantile(bounds.sort(), q));
}

/** Runs one algorithm on one scenario. */
export function simulate(
  scenario: SimScenario,
  algorithm: SimAlgorithm,
  options: SimOptions,
): SimResult {
  const backends = scenario.backends;
  const n = backends.length;
  const prescient = algorithm === 'prescient-wrr' || algorithm === 'prescient-wp2c';
  if (prescient && options.weigher === undefined)
    throw new Error(`${algorithm} needs options.weigher`);
  const work = generateWorkload(scenario, options.seed);
  const choiceRng = seededRandom(options.seed ^ 0x27d4eb2f);
  const publishMs = options.publishIntervalMs ?? 1000;
  const divertFraction = options.divertFraction ?? 0.5;

  // Per-backend state. `workerEnd[b][w]` is when worker w's request completes, −1 when idle.
  const busy = new Int32Array(n);
  const outstanding = new Int32Array(n);
  const queues: number[][] = backends.map(() => []);
  const qHead = new Int32Array(n);
  const workerEnd = backends.map((be) => new Float64Array(be.workers).fill(-1));
  const assigned = new Float64Array(n);
  const peak = new Float64Array(n);
  const peakAt = new Float64Array(n);
  const peakSeen = new Uint8Array(n);
  const swrrCurrent = new Float64Array(n);
  const pickWeights = new Float64Array(n);
  let weights: Float64Array | undefined;
  let meanWeight = 1;
  const binMs = 1000;
  const bins = Math.ceil(scenario.durationMs / binMs);
  const binCounts = backends.map(() => new Float64Array(bins));
  const binJoined = new Float64Array(bins);

  // Per-request state (indexed by request id = arrival order).
  const reqB: number[] = [];
  const reqWorker: number[] = [];
  const reqErr: number[] = [];
  const latencies: number[] = [];
  const okLatencies: number[] = [];
  let errors = 0;

  const store = prescient ? new FeatureStore(options.store ?? SIM_STORE_OPTIONS) : undefined;
  const weigher = prescient ? options.weigher!() : undefined;
  let pending: LatencyEvent[] = [];
  let previous: Map<string, number> | undefined;

  const joined = (b: number, t: number) => (backends[b]!.joinAtMs ?? 0) <= t;
  const rateAt = (t: number) =>
    scenario.ratesPerSec[
      Math.min(scenario.ratesPerSec.length - 1, Math.floor(t / scenario.stepMs))
    ] ?? 0;

  /** Service time of request `id` on backend `b` if it starts at `t`. */
  const durationMs = (b: number, id: number, t: number): number => {
    const be = backends[b]!;
    return failsAt(be, t, work.errorDraw[id]!)
      ? be.errors!.latencyMs
      : work.size[id]! * meanServiceAtMs(be, t);
  };

  const heap = new EventHeap();
  const start = (b: number, id: number, t: number) => {
    busy[b]!++;
    const ends = workerEnd[b]!;
    const w = ends.indexOf(-1);
    const end = t + durationMs(b, id, t);
    ends[w] = end;
    reqWorker[id] = w;
    if (failsAt(backends[b]!, t, work.errorDraw[id]!)) reqErr[id] = 1;
    heap.push(end, COMPLETE, id);
  };

  const pick2 = (t: number): [number, number] | [number] => {
    const live: number[] = [];
    for (let b = 0; b < n; b++) if (joined(b, t)) live.push(b);
    if (live.length === 1) return [live[0]!];
    const i = Math.floor(choiceRng() * live.length);
    let j = Math.floor(choiceRng() * (live.length - 1));
    if (j >= i) j++;
    return [live[i]!, live[j]!];
  };

  /** The live backend of lowest `cost`, then fewest outstanding, then random among ties. */
  const argmin = (t: number, cost: (b: number) => number): number => {
    let best = -1;
    let bestCost = Infinity;
    let ties = 0;
    for (let b = 0; b < n; b++) {
      if (!joined(b, t)) continue;
      const c = cost(b);
      const order =
        best < 0 ? -1 : c !== bestCost ? c - bestCost : outstanding[b]! - outstanding[best]!;
      if (order < 0) {
        best = b;
        bestCost = c;
        ties = 1;
      } else if (order === 0 && choiceRng() * ++ties < 1) best = b;
    }
    return best;
  };

  // The oracle's scratch: worker free times of the backend being evaluated.
  const free = new Float64Array(Math.max(1, ...backends.map((be) => be.workers)));
  /** When request `id`, arriving at `t`, would complete on `b` (FIFO behind its queue). */
  const completionOn = (b: number, id: number, t: number): number => {
    const be = backends[b]!;
    const ends = workerEnd[b]!;
    for (let w = 0; w < be.workers; w++) free[w] = ends[w]! < 0 ? t : ends[w]!;
    const q = queues[b]!;
    const head = qHead[b]!;
    const jobs = q.length - head + 1;
    return fifoCompletionMs(free, be.workers, jobs, (j, s) =>
      durationMs(b, j < jobs - 1 ? q[head + j]! : id, s),
    );
  };

  /** The weights in force over the live backends (the SDK's view: 0 = not offered). */
  const liveWeights = (t: number): Float64Array => {
    let any = false;
    for (let b = 0; b < n; b++) {
      const w = !joined(b, t) ? 0 : weights === undefined ? 1 : weights[b]!;
      pickWeights[b] = Number.isNaN(w) ? meanWeight : w;
      any ||= pickWeights[b]! > 0;
    }
    // No usable weight: equal weights over the same backends, as the SDK does.
    if (!any) for (let b = 0; b < n; b++) pickWeights[b] = joined(b, t) ? 1 : 0;
    return pickWeights;
  };

  let rr = 0;
  const choose = (t: number, id: number): number => {
    switch (algorithm) {
      case 'round-robin': {
        for (let k = 0; k < n; k++) {
          const b = (rr + k) % n;
          if (joined(b, t)) {
            rr = b + 1;
            return b;
          }
        }
        return 0;
      }
      case 'least-connections':
        return argmin(t, (b) => outstanding[b]!);
      case 'p2c-least-request': {
        const c = pick2(t);
        if (c.length === 1) return c[0];
        return outstanding[c[1]]! < outstanding[c[0]]! ? c[1] : c[0];
      }
      case 'peak-ewma-p2c': {
        const c = pick2(t);
        if (c.length === 1) return c[0];
        const cost = (b: number) => {
          // The estimate moves on responses only; an unseen backend costs the pool's mean RTT.
          const rtt = peakSeen[b] ? peak[b]! : defaultRtt();
          return rtt * (outstanding[b]! + 1);
        };
        return cost(c[1]) < cost(c[0]) ? c[1] : c[0];
      }
      case 'prescient-wrr':
        return smoothWeightedPick(liveWeights(t), swrrCurrent);
      case 'prescient-wp2c':
        return weightedP2CPick(liveWeights(t), (b) => outstanding[b]!, choiceRng);
      case 'oracle':
        // Reads the future: the request's size and every queued request's. A backend where this
        // request would fail is a last resort (a fast 5xx is not a fast answer).
        return argmin(t, (x) => {
          const done = completionOn(x, id, t);
          return failsAt(backends[x]!, t, work.errorDraw[id]!) ? 1e15 + done : done;
        });
    }
  };
  const defaultRtt = (): number => {
    let s = 0;
    let c = 0;
    for (let b = 0; b < n; b++)
      if (peakSeen[b]) {
        s += peak[b]!;
        c++;
      }
    return c > 0 ? s / c : 0;
  };

  const publish = (t: number) => {
    if (!store || !weigher) return;
    if (pending.length > 0) store.applyLatency('sim-balancer', pending);
    pending = [];
    const features = store.poolBackends(POOL);
    if (features.length === 0) return;
    const ctx: WeighContext = {
      pool: POOL,
      nowMs: EPOCH_MS + t,
      ...(previous ? { previous } : {}),
      ...(options.oracleForecast
        ? { forecast: { p50: [rateAt(t + publishMs)], p90: [rateAt(t + publishMs)], spike: false } }
        : {}),
    };
    const decisions = weigher.weigh(features, ctx);
    const byName = new Map(decisions.map((d) => [d.backend, d.weight]));
    weights = new Float64Array(n);
    let s = 0;
    let c = 0;
    for (let b = 0; b < n; b++) {
      const w = byName.get(backends[b]!.name) ?? NaN;
      weights[b] = w;
      if (!Number.isNaN(w)) {
        s += w;
        c++;
      }
    }
    // A backend the weights do not name yet gets the mean weight, as a new HAProxy server
    // gets the default weight.
    meanWeight = c > 0 ? s / c : 1;
    // A new document rebuilds the SDK's picker: smooth WRR starts its cycle again.
    swrrCurrent.fill(0);
    previous = byName;
  };

  const arrivals = work.arrivalMs;
  if (arrivals.length > 0) heap.push(arrivals[0]!, ARRIVAL, 0);
  if (prescient) heap.push(publishMs, PUBLISH, 0);
  const ev = [0, 0, 0];
  while (heap.size > 0) {
    heap.pop(ev);
    const t = ev[0]!;
    const kind = ev[1]!;
    if (kind === ARRIVAL) {
      const id = ev[2]!;
      const b = choose(t, id);
      reqB.push(b);
      reqWorker.push(-1);
      reqErr.push(0);
      outstanding[b]!++;
      assigned[b]!++;
      const bin = Math.min(bins - 1, Math.floor(t / binMs));
      binCounts[b]![bin]!++;
      if (busy[b]! < backends[b]!.workers) start(b, id, t);
      else queues[b]!.push(id);
      if (id + 1 < arrivals.length) heap.push(arrivals[id + 1]!, ARRIVAL, id + 1);
    } else if (kind === COMPLETE) {
      const id = ev[2]!;
      const b = reqB[id]!;
      busy[b]!--;
      outstanding[b]!--;
      workerEnd[b]![reqWorker[id]!] = -1;
      const latency = t - arrivals[id]!;
      latencies.push(latency);
      const err = reqErr[id] === 1;
      if (err) errors++;
      else okLatencies.push(latency);
      // The balancer's own peak-EWMA (Linkerd): jump up at once, decay with elapsed time.
      if (!peakSeen[b] || latency > peak[b]!) peak[b] = latency;
      else {
        const w = Math.exp(-(t - peakAt[b]!) / PEAK_EWMA_TAU_MS);
        peak[b] = peak[b]! * w + latency * (1 - w);
      }
      peakSeen[b] = 1;
      peakAt[b] = t;
      if (store)
        pending.push({
          ts: Math.floor(EPOCH_MS + t),
          pool: POOL,
          backend: backends[b]!.name,
          latencyMs: latency,
          status: err ? 503 : 200,
          inflight: outstanding[b]!,
        });
      const q = queues[b]!;
      if (qHead[b]! < q.length) {
        const nextId = q[qHead[b]!]!;
        qHead[b]!++;
        if (qHead[b]! > 1024 && qHead[b]! * 2 > q.length) {
          q.splice(0, qHead[b]);
          qHead[b] = 0;
        }
        start(b, nextId, t);
      }
    } else {
      publish(t);
      if (t + publishMs < scenario.durationMs) heap.push(t + publishMs, PUBLISH, 0);
    }
  }

  // Fair share of a bin: 1 / backends joined at the bin's start.
  for (let k = 0; k < bins; k++) {
    let c = 0;
    for (let b = 0; b < n; b++) if (joined(b, k * binMs)) c++;
    binJoined[k] = c;
  }
  let divertSec: number | null = null;
  const d = scenario.degraded;
  if (d) {
    const b = backends.findIndex((x) => x.name === d.backend);
    const fromBin = Math.floor(d.fromMs / binMs);
    const toBin = Math.min(bins, Math.ceil(d.toMs / binMs));
    divertSec = (toBin * binMs - d.fromMs) / 1000;
    for (let k = fromBin; k < toBin; k++) {
      let total = 0;
      for (let x = 0; x < n; x++) total += binCounts[x]![k]!;
      if (total === 0) continue;
      const share = binCounts[b]![k]! / total;
      if (share < divertFraction / Math.max(1, binJoined[k]!)) {
        divertSec = Math.max(0, ((k + 1) * binMs - d.fromMs) / 1000);
        break;
      }
    }
  }

  const sorted = Float64Array.from(latencies).sort();
  const total = arrivals.length;
  const requestShare: Record<string, number> = {};
  backends.forEach((be, b) => (requestShare[be.name] = total > 0 ? assigned[b]! / total : 0));
  return {
    algorithm,
    requests: total,
    p50Ms: r3(quantile(sorted, 0.5)),
    p99Ms: r3(quantile(sorted, 0.99)),
    p999Ms: r3(quantile(sorted, 0.999)),
    p99OkMs: r3(quantile(Float64Array.from(okLatencies).sort(), 0.99)),
    errorRate: total > 0 ? Math.round((errors / total) * 1e6) / 1e6 : 0,
    divertSec,
    requestShare,
  };
}
