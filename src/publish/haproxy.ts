/**
 * @module publish/haproxy
 * Pure pieces of the HAProxy agent (no sockets, no NATS): parsing the runtime API's `show stat`
 * CSV, turning two consecutive readings of a server into latency telemetry, and turning a weights
 * document into `set server <backend>/<server> weight N` commands. The agent that does the I/O is
 * ./haproxy-agent.ts; the mapping is documented in docs/proxies.md.
 *
 * HAProxy's `rtime` is not a per-interval figure: it is a sliding average over the server's last
 * {@link RTIME_WINDOW_SAMPLES} responses (HAProxy's `swrate_add`: each response moves it by
 * `(sample - avg) / N`). Reported as is, a backend that just became ten times slower would show
 * it only after hundreds of responses. The agent therefore inverts the average over an interval:
 * after `n` responses of mean `m`, `avg' = m + (avg - m)·(1 - 1/N)^n`, so
 * `m = (avg' - avg·(1 - 1/N)^n) / (1 - (1 - 1/N)^n)` ({@link intervalLatencyMs}). With few
 * responses the inversion amplifies rtime's 1 ms rounding, so below
 * {@link MIN_INVERSION_RESPONSES} responses the agent reports rtime itself.
 */
import type { WeightsDocument } from './document.js';

/**
 * Responses HAProxy's `rtime` averages over (`TIME_STATS_SAMPLES`, 512 in HAProxy 2.x; the
 * management guide says "the last 1024 requests").
 */
export const RTIME_WINDOW_SAMPLES = 512;
/** Fewer responses than this in an interval and the agent reports `rtime` as is. */
export const MIN_INVERSION_RESPONSES = 16;

/** One row of `show stat` (a frontend, a backend, or one server of a backend). */
export interface StatRow {
  /** `pxname`: the proxy (frontend or backend) name. */
  readonly proxy: string;
  /** `svname`: `FRONTEND`, `BACKEND`, or the server name. */
  readonly name: string;
  /** `type`: 0 frontend, 1 backend, 2 server, 3 listener. */
  readonly type: number;
  /** Every column, by its header name, as text. */
  readonly fields: Readonly<Record<string, string>>;
}

/** What the agent keeps of one server's row. */
export interface ServerStat {
  readonly server: string;
  /** Average response time (ms) over the last {@link RTIME_WINDOW_SAMPLES} responses. */
  readonly rtimeMs: number;
  /** Current sessions (requests in flight on the server). */
  readonly scur: number;
  /** Requests queued for this server. */
  readonly qcur: number;
  /** Cumulative sessions. */
  readonly stot: number;
  /** Cumulative HTTP responses (sum of hrsp_1xx..hrsp_other; stot when HAProxy reports none). */
  readonly responses: number;
  /**
   * The count HAProxy divides rtime's sum by (capped at the window): `req_tot` in HTTP mode,
   * `lbtot` otherwise.
   */
  readonly samples: number;
  /** Cumulative 5xx responses. */
  readonly hrsp5xx: number;
  /** Current effective weight. */
  readonly weight: number;
  /** `status`: UP, DOWN, MAINT, DRAIN, NOLB... */
  readonly status: string;
}

/** Parses `show stat` output: a header line `# pxname,svname,...` then one CSV line per row. */
export function parseShowStat(csv: string): StatRow[] {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const headerLine = lines.find((l) => l.startsWith('#'));
  if (headerLine === undefined) return [];
  const header = headerLine.replace(/^#\s*/, '').split(',');
  const rows: StatRow[] = [];
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    // HAProxy's CSV never quotes: names cannot contain commas.
    const cells = line.split(',');
    const fields: Record<string, string> = {};
    header.forEach((h, i) => {
      if (h !== '') fields[h] = cells[i] ?? '';
    });
    rows.push({
      proxy: fields['pxname'] ?? '',
      name: fields['svname'] ?? '',
      type: Number(fields['type'] ?? -1),
      fields,
    });
  }
  return rows;
}

const num = (s: string | undefined): number => {
  const v = Number(s);
  return s === undefined || s === '' || !Number.isFinite(v) ? 0 : v;
};

/** The server rows of one backend. */
export function serverStats(rows: readonly StatRow[], backend: string): ServerStat[] {
  return rows
    .filter((r) => r.proxy === backend && r.type === 2)
    .map((r) => {
      const f = r.fields;
      const hrsp = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other'];
      const haveHttp = hrsp.some((h) => (f[h] ?? '') !== '');
      return {
        server: r.name,
        rtimeMs: num(f['rtime']),
        scur: num(f['scur']),
        qcur: num(f['qcur']),
        stot: num(f['stot']),
        responses: haveHttp ? hrsp.reduce((a, h) => a + num(f[h]), 0) : num(f['stot']),
        samples: (f['req_tot'] ?? '') !== '' ? num(f['req_tot']) : num(f['lbtot']),
        hrsp5xx: num(f['hrsp_5xx']),
        weight: num(f['weight']),
        status: f['status'] ?? '',
      };
    });
}

/**
 * Mean latency (ms) of the `responses` answered between two readings of HAProxy's sliding
 * average (see the module comment); `rtime` itself when there were too few to invert reliably.
 * HAProxy keeps a sum `S ← S·(1 − 1/N) + sample` and reports `S / min(count, N)`, so the sums
 * are recovered from the reported averages and the cumulative counts before inverting (which
 * also covers a server's first N responses, where `rtime` is a plain mean).
 */
export function intervalLatencyMs(
  prev: { readonly rtimeMs: number; readonly count: number },
  cur: { readonly rtimeMs: number; readonly count: number },
  /** Responses (samples added to the sum) between the readings. */
  n: number,
  windowSamples = RTIME_WINDOW_SAMPLES,
): number {
  if (n < MIN_INVERSION_RESPONSES) return cur.rtimeMs;
  const sumBefore = prev.rtimeMs * Math.min(prev.count, windowSamples);
  const sumAfter = cur.rtimeMs * Math.min(cur.count, windowSamples);
  const keep = Math.pow(1 - 1 / windowSamples, n);
  const m = (sumAfter - sumBefore * keep) / (windowSamples * (1 - keep));
  return Math.max(0, m);
}

/** A latency observation as docs/protocol.md defines it. */
export interface LatencyObservation {
  readonly ts: number;
  readonly pool: string;
  readonly backend: string;
  readonly latencyMs: number;
  readonly status: number;
  readonly inflight: number;
}

export interface ObservationOptions {
  readonly pool: string;
  /** Epoch ms of the current reading. */
  readonly nowMs: number;
  /** Epoch ms of the previous reading. */
  readonly prevMs: number;
  /** At most this many events per server per interval (the error rate's resolution). */
  readonly maxEventsPerServer: number;
}

/**
 * Latency telemetry for the interval between two readings: per server that answered in it,
 * `min(responses, maxEventsPerServer)` events spread evenly over the interval (the engine's
 * EWMAs weigh samples by the time between them), each with the interval's mean latency
 * ({@link intervalLatencyMs}), `inflight` = scur + qcur, and status 503 for the fraction of them
 * matching the interval's share of 5xx responses (rounded), 200 for the rest. A server with no
 * response in the interval yields nothing: there is nothing new to say about it.
 */
export function observations(
  prev: readonly ServerStat[],
  cur: readonly ServerStat[],
  o: ObservationOptions,
): LatencyObservation[] {
  const before = new Map(prev.map((s) => [s.server, s]));
  const out: LatencyObservation[] = [];
  for (const s of cur) {
    const p = before.get(s.server);
    if (!p) continue;
    const responses = s.responses - p.responses;
    // A counter that went backwards means HAProxy restarted (or `clear counters`): skip once.
    if (responses <= 0 || s.hrsp5xx < p.hrsp5xx) continue;
    const errors = Math.min(responses, s.hrsp5xx - p.hrsp5xx);
    const latencyMs = intervalLatencyMs(
      { rtimeMs: p.rtimeMs, count: p.samples },
      { rtimeMs: s.rtimeMs, count: s.samples },
      responses,
    );
    const n = Math.max(1, Math.min(responses, o.maxEventsPerServer));
    const bad = Math.round((n * errors) / responses);
    const span = Math.max(0, o.nowMs - o.prevMs);
    for (let i = 0; i < n; i++) {
      out.push({
        ts: Math.round(o.prevMs + (span * (i + 1)) / n),
        pool: o.pool,
        backend: s.server,
        latencyMs,
        status: i < bad ? 503 : 200,
        inflight: s.scur + s.qcur,
      });
    }
  }
  return out;
}

/** One weight to set: the document's `haproxyWeight` for a server of the backend. */
export interface WeightCommand {
  readonly server: string;
  readonly weight: number;
  readonly command: string;
}

export interface WeightPlan {
  readonly commands: readonly WeightCommand[];
  /** Document backends with no server of that name in the HAProxy backend (ignored). */
  readonly unknown: readonly string[];
}

/**
 * `set server <backend>/<server> weight N` for every document entry whose `backend` names a
 * server of the HAProxy backend (N = `haproxyWeight`, 0..256). Servers the document does not
 * mention keep their weight.
 */
export function weightCommands(
  doc: Pick<WeightsDocument, 'entries'>,
  backend: string,
  servers: readonly string[],
): WeightPlan {
  const known = new Set(servers);
  const commands: WeightCommand[] = [];
  const unknown: string[] = [];
  for (const e of doc.entries) {
    if (!known.has(e.backend)) {
      unknown.push(e.backend);
      continue;
    }
    const weight = Math.max(0, Math.min(256, Math.round(e.haproxyWeight)));
    commands.push({
      server: e.backend,
      weight,
      command: `set server ${backend}/${e.backend} weight ${weight}`,
    });
  }
  return { commands, unknown };
}

/** Whether a document is past its TTL at `nowMs` (and must not be applied). */
export function isStale(
  doc: Pick<WeightsDocument, 'generatedAt' | 'ttlMs'>,
  nowMs: number,
): boolean {
  return doc.generatedAt + doc.ttlMs < nowMs;
}

/** Parses `show servers state <backend>` (format 1) into server name → current user weight. */
export function parseServersState(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const headerLine = lines.find((l) => l.startsWith('#'));
  if (!headerLine) return out;
  const header = headerLine.replace(/^#\s*/, '').split(/\s+/);
  const nameAt = header.indexOf('srv_name');
  const weightAt = header.indexOf('srv_uweight');
  if (nameAt < 0 || weightAt < 0) return out;
  for (const l of lines) {
    if (l.startsWith('#') || /^\d+$/.test(l.trim())) continue;
    const cells = l.trim().split(/\s+/);
    const name = cells[nameAt];
    if (name !== undefined) out.set(name, Number(cells[weightAt]));
  }
  return out;
}
