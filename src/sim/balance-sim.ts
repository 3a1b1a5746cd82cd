/**
 * @module sim/balance-sim
 * A seeded discrete-event simulation of clients → one balancer → backends, to compare balancing
 * algorithms on the same workload. Each backend is a FIFO queue in front of k parallel workers;
 * a request's service time is exponential with the backend's mean (its speed, possibly changed
 * over time by a fault), or a fixed short time when the backend answers with an error. Requests
 * arrive as a Poisson process whose rate follows the scenario's per-step curve.
 *
 * Algorithms:
 * - `round-robin`; `least-connections` (fewest outstanding, random tie-break);
 * - `p2c-least-request` (two random picks, fewer outstanding; Mitzenmacher 2001, Envoy
 *   LEAST_REQUEST);
 * - `peak-ewma-p2c` (two random picks, lower peak-EWMA RTT × (outstanding + 1), the balancer's
 *   own per-backend peak-EWMA with a 10 s decay as Linkerd / Finagle);
 * - `prescient-wrr` / `prescient-wp2c`: weights from a {@link Weigher} (default `predictive`)
 *   computed every publish interval from the features of the engine's real FeatureStore, fed with
 *   every simulated response (latency, status, outstanding count); applied by smooth weighted
 *   round robin (NGINX) or by weighted power of two choices (two picks drawn ∝ weight with replacement,
 *   the one with fewer outstanding requests wins). Scoring the picks by (outstanding + 1) /
 *   weight as well counts the weight twice; it measured worse on bursts (p99 631 vs 353 ms on
 *   `bursty`), so the picks are compared on load alone. A backend the weights do not name yet
 *   gets the mean weight, as a new HAProxy server gets the default weight.
 *
 * The workload (arrival times) and the service-time draws come from separate seeded streams,
 * so every algorithm sees the same arrivals. Pure: no I/O, no wall clock.
 */
import type { Weigher, WeighContext } from '../balance/weigher.js';
import { FeatureStore } from '../features/feature-store.js';
import type { FeatureStoreOptions } from '../features/types.js';
import type { LatencyEvent } from '../telemetry/events.js';
import { mulberry32 as seededRandom } from '../random.js';

export const ALGORITHMS = [
  'round-robin',
  'least-connections',
  'p2c-least-request',
  'peak-ewma-p2c',
  'prescient-wrr',
  'prescient-wp2c',
] as const;
export type SimAlgorithm = (typeof ALGORITHMS)[number];
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

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Total service capacity (requests/s) of the backends when healthy. */
export function capacityPerSec(backends: readonly SimBackend[]): number {
  return backends.reduce((a, b) => a + (b.workers * 1000) / b.meanServiceMs, 0);
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
  const arrivalRng = seededRandom(options.seed);
  const serviceRng = seededRandom(options.seed ^ 0x5bd1e995);
  const choiceRng = seededRandom(options.seed ^ 0x27d4eb2f);
  const publishMs = options.publishIntervalMs ?? 1000;
  const divertFraction = options.divertFraction ?? 0.5;

  // Per-backend state.
  const busy = new Int32Array(n);
  const outstanding = new Int32Array(n);
  const queues: number[][] = backends.map(() => []);
  const qHead = new Int32Array(n);
  const assigned = new Float64Array(n);
  const peak = new Float64Array(n);
  const peakAt = new Float64Array(n);
  const peakSeen = new Uint8Array(n);
  const swrrCurrent = new Float64Array(n);
  let weights: Float64Array | undefined;
  const binMs = 1000;
  const bins = Math.ceil(scenario.durationMs / binMs);
  const binCounts = backends.map(() => new Float64Array(bins));
  const binJoined = new Float64Array(bins);

  // Per-request state (indexed by request id).
  const reqT0: number[] = [];
  const reqB: number[] = [];
  const reqErr: number[] = [];
  const latencies: number[] = [];
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

  const serviceMs = (b: number, t: number): number => {
    const be = backends[b]!;
    let mean = be.meanServiceMs;
    if (be.slowdown && t >= be.slowdown.fromMs && t < be.slowdown.toMs) mean *= be.slowdown.factor;
    if (be.cold) {
      const age = t - (be.joinAtMs ?? 0);
      if (age < be.cold.warmMs)
        mean *= be.cold.factor + (1 - be.cold.factor) * (age / be.cold.warmMs);
    }
    return -Math.log(1 - serviceRng()) * mean;
  };

  const heap = new EventHeap();
  const start = (b: number, id: number, t: number) => {
    busy[b]!++;
    const be = backends[b]!;
    let d: number;
    if (be.errors && t >= be.errors.fromMs && serviceRng() < be.errors.probability) {
      reqErr[id] = 1;
      d = be.errors.latencyMs;
    } else {
      d = serviceMs(b, t);
    }
    heap.push(t + d, COMPLETE, id);
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

  let rr = 0;
  const weightOf = (b: number): number => {
    if (weights === undefined) return 1;
    const w = weights[b]!;
    return Number.isNaN(w) ? meanWeight() : w;
  };
  const meanWeight = (): number => {
    let s = 0;
    let c = 0;
    for (let b = 0; b < n; b++) {
      const w = weights![b]!;
      if (!Number.isNaN(w)) {
        s += w;
        c++;
      }
    }
    return c > 0 ? s / c : 1;
  };

  const choose = (t: number): number => {
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
      case 'least-connections': {
        let best = -1;
        let ties = 0;
        for (let b = 0; b < n; b++) {
          if (!joined(b, t)) continue;
          if (best < 0 || outstanding[b]! < outstanding[best]!) {
            best = b;
            ties = 1;
          } else if (outstanding[b] === outstanding[best] && choiceRng() * ++ties < 1) best = b;
        }
        return best;
      }
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
      case 'prescient-wrr': {
        let total = 0;
        let best = -1;
        for (let b = 0; b < n; b++) {
          if (!joined(b, t)) continue;
          const w = weightOf(b);
          swrrCurrent[b]! += w;
          total += w;
          if (best < 0 || swrrCurrent[b]! > swrrCurrent[best]!) best = b;
        }
        swrrCurrent[best]! -= total;
        return best;
      }
      case 'prescient-wp2c': {
        const live: number[] = [];
        let total = 0;
        for (let b = 0; b < n; b++) {
          if (!joined(b, t)) continue;
          live.push(b);
          total += weightOf(b);
        }
        if (live.length === 1) return live[0]!;
        // With replacement: with two backends, distinct picks would ignore the weights.
        const draw = (): number => {
          let r = choiceRng() * total;
          let last = live[0]!;
          for (const b of live) {
            last = b;
            r -= weightOf(b);
            if (r < 0) return b;
          }
          return last;
        };
        const a = draw();
        const c = draw();
        return outstanding[c]! < outstanding[a]! ? c : a;
      }
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
    for (let b = 0; b < n; b++) weights[b] = byName.get(backends[b]!.name) ?? NaN;
    previous = byName;
  };

  // Arrivals: piecewise-constant-rate Poisson process (memoryless: redraw at step edges).
  const nextArrival = (t: number): number => {
    let now = t;
    while (now < scenario.durationMs) {
      const rate = rateAt(now) / 1000;
      const edge = (Math.floor(now / scenario.stepMs) + 1) * scenario.stepMs;
      if (rate <= 0) {
        now = edge;
        continue;
      }
      const gap = -Math.log(1 - arrivalRng()) / rate;
      if (now + gap < edge || Math.floor(now / scenario.stepMs) >= scenario.ratesPerSec.length - 1)
        return now + gap;
      now = edge;
    }
    return Infinity;
  };

  const first = nextArrival(0);
  if (first < scenario.durationMs) heap.push(first, ARRIVAL, 0);
  if (prescient) heap.push(publishMs, PUBLISH, 0);
  const ev = [0, 0, 0];
  while (heap.size > 0) {
    heap.pop(ev);
    const t = ev[0]!;
    const kind = ev[1]!;
    if (kind === ARRIVAL) {
      const id = reqT0.length;
      const b = choose(t);
      reqT0.push(t);
      reqB.push(b);
      reqErr.push(0);
      outstanding[b]!++;
      assigned[b]!++;
      const bin = Math.min(bins - 1, Math.floor(t / binMs));
      binCounts[b]![bin]!++;
      if (busy[b]! < backends[b]!.workers) start(b, id, t);
      else queues[b]!.push(id);
      const next = nextArrival(t);
      if (next < scenario.durationMs) heap.push(next, ARRIVAL, 0);
    } else if (kind === COMPLETE) {
      const id = ev[2]!;
      const b = reqB[id]!;
      busy[b]!--;
      outstanding[b]!--;
      const latency = t - reqT0[id]!;
      latencies.push(latency);
      const err = reqErr[id] === 1;
      if (err) errors++;
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
  const total = reqT0.length;
  const requestShare: Record<string, number> = {};
  backends.forEach((be, b) => (requestShare[be.name] = total > 0 ? assigned[b]! / total : 0));
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    algorithm,
    requests: total,
    p50Ms: r3(quantile(sorted, 0.5)),
    p99Ms: r3(quantile(sorted, 0.99)),
    p999Ms: r3(quantile(sorted, 0.999)),
    errorRate: total > 0 ? Math.round((errors / total) * 1e6) / 1e6 : 0,
    divertSec,
    requestShare,
  };
}
