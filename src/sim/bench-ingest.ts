/**
 * @module sim/bench-ingest
 * `prescient bench ingest --events N [--batch B] [--keys K] [--json]`: end-to-end ingest through
 * a real NATS JetStream server. Starts an engine in this process on a fresh, uniquely named
 * stream, publishes N synthetic access events in messages of B events, and measures
 *   - events/s applied: from the first publish to the last event applied to the features;
 *   - apply latency per message: from the server storing it to the engine applying it
 *     (at saturation this includes queueing: the publisher runs as fast as it can);
 *   - the heap held with K keys tracked (after a forced GC);
 *   - with --rate R: a second, paced run at R events/s over --nodes cache nodes measuring
 *     telemetry → policy latency: from publishing a message to the engine writing the first
 *     `eviction.<node>` document computed after the message was applied (p50 / p99 / max).
 * Payloads are encoded before the clock starts, as Buffers (off the JS heap), so neither the
 * encoding nor the payloads count. With REDIS_URL set, checkpoints go to Redis as in production.
 * The stream, consumer and KV bucket are deleted at the end.
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Redis } from 'ioredis';
import { loadSettings, secretValues } from '../config/settings.js';
import { Engine } from '../engine.js';
import { createLogger } from '../log.js';
import { WindowedPublisher } from '../telemetry/nats-publisher.js';
import { NatsClient } from '../clients/nats-client.js';
import { redisSecurityOptions } from '../clients/redis-client.js';
import { UsageError } from '../errors.js';
import { Progress } from '../cli/progress.js';

export interface IngestBenchOptions {
  readonly events: number;
  readonly batch: number;
  readonly keys: number;
  readonly natsUrl: string;
  readonly redisUrl: string | undefined;
  readonly quiet?: boolean;
  /** PRESCIENT_VICTIM_RANKER of the engine under test (default: the settings' default). */
  readonly ranker?: string;
  /** Paced run: events/s; 0 or absent = no paced run. */
  readonly rate?: number;
  /** Paced run: seconds (default 20). */
  readonly rateSeconds?: number;
  /** Paced run: cache nodes the messages are spread over (default 16). */
  readonly nodes?: number;
  /** PRESCIENT_PUBLISH_INTERVAL_MS of the engine under test (default: the settings' default). */
  readonly publishIntervalMs?: number;
  /** PRESCIENT_PUBLISH_MIN_INTERVAL_MS of the engine under test (default: the settings' default). */
  readonly publishMinIntervalMs?: number;
  /**
   * Environment the NATS and Redis credentials and TLS files are read from (NATS_USER,
   * REDIS_PASSWORD, …); nothing else in it applies, so the run stays isolated. Default: none.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface PolicyLatencyResult {
  readonly eventsPerSec: number;
  readonly seconds: number;
  readonly nodes: number;
  readonly messages: number;
  readonly publishIntervalMs: number;
  readonly publishMinIntervalMs: number;
  /** Telemetry → policy: publish of the message to the first document reflecting it. */
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** The first part of it: publish of the message to its application to the features. */
  readonly applyLatencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

export interface IngestBenchResult {
  readonly events: number;
  readonly batch: number;
  readonly messages: number;
  readonly keys: number;
  readonly checkpoints: 'redis' | 'none';
  readonly ranker: string;
  readonly seconds: number;
  readonly eventsPerSec: number;
  readonly applyLatencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly trackedKeys: number;
  readonly heapUsedBytes: number;
  readonly heapUsedMB: number;
  readonly policyLatency: PolicyLatencyResult | null;
}

function gcNow(): void {
  const g =
    (globalThis as { gc?: () => void }).gc ??
    (() => {
      v8.setFlagsFromString('--expose-gc');
      return vm.runInNewContext('gc') as () => void;
    })();
  g();
  g();
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export async function benchIngest(o: IngestBenchOptions): Promise<IngestBenchResult> {
  const tag = randomBytes(4).toString('hex');
  const connectionEnv = Object.fromEntries(
    Object.entries(o.env ?? {}).filter(([k]) => /^(NATS|REDIS)_/.test(k)),
  );
  const settings = loadSettings(connectionEnv, {
    natsUrl: o.natsUrl,
    redisUrl: o.redisUrl,
    subjectPrefix: `bench${tag}`,
    streamName: `BENCH_${tag.toUpperCase()}_TELEMETRY`,
    consumerName: `bench-${tag}`,
    kvBucket: `bench-${tag}`,
    redisPrefix: `prescient-bench:${tag}:`,
    // Models the learned ranker trains during the run go to a scratch bucket and directory.
    modelsBucket: `bench-${tag}-models`,
    modelDir: join(tmpdir(), `prescient-bench-${tag}`),
    maxTrackedKeys: Math.max(16, o.keys),
    logLevel: 'warn',
    ...(o.publishIntervalMs === undefined ? {} : { publishIntervalMs: o.publishIntervalMs }),
    ...(o.publishMinIntervalMs === undefined
      ? {}
      : { publishMinIntervalMs: o.publishMinIntervalMs }),
    ...(o.ranker === undefined ? {} : { victimRanker: o.ranker }),
  });
  const log = createLogger(settings.logLevel, 'prescient', { secrets: secretValues(settings) });
  const messages = Math.ceil(o.events / o.batch);
  // Encode every message first; Buffers live outside the JS heap.
  const base = Date.now();
  const payloads: Buffer[] = [];
  for (let m = 0, i = 0; m < messages; m++) {
    const events: object[] = [];
    for (let j = 0; j < o.batch && i < o.events; j++, i++) {
      events.push({
        ts: base + i,
        key: `user:${i % o.keys}:profile`,
        size: 100 + (i % 900),
        hit: i % 3 !== 0,
      });
    }
    payloads.push(Buffer.from(JSON.stringify({ events })));
  }

  const engine = new Engine(settings, log);
  await engine.start();
  const latencies: number[] = [];
  let appliedMessages = 0;
  let lastAppliedAt = 0;
  let allApplied: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allApplied = resolve));
  engine.onApplied = (msg, at) => {
    latencies.push(at - msg.storedAtMs);
    lastAppliedAt = at;
    if (++appliedMessages === messages) allApplied();
  };

  const client = new NatsClient({
    url: o.natsUrl,
    name: 'prescient-bench-publisher',
    log,
    security: settings,
  });
  const nc = await client.connect();
  const publisher = new WindowedPublisher(nc.jetstream(), 32);
  const subject = engine.n.accessSubject('bench-node');
  const progress = o.quiet ? undefined : new Progress('bench ingest', o.events);
  const t0 = Date.now();
  for (let m = 0; m < messages; m++) {
    await publisher.publish(subject, payloads[m]!, `${tag}-${m}`);
    progress?.update(Math.min(o.events, (m + 1) * o.batch));
  }
  await publisher.flush();
  await done;
  const seconds = (lastAppliedAt - t0) / 1000;
  progress?.finish(o.events);
  payloads.length = 0;

  const stats = engine.store.stats();
  gcNow();
  const heapUsedBytes = process.memoryUsage().heapUsed;

  const policyLatency =
    o.rate !== undefined && o.rate > 0
      ? await pacedRun(engine, publisher, {
          tag,
          rate: o.rate,
          seconds: o.rateSeconds ?? 20,
          nodes: o.nodes ?? 16,
          batch: o.batch,
          keys: o.keys,
          publishIntervalMs: settings.publishIntervalMs,
          publishMinIntervalMs: settings.publishMinIntervalMs,
        })
      : null;

  await engine.stop();
  const jsm = await nc.jetstreamManager();
  for (const stream of [
    settings.streamName,
    `${settings.streamName.replace(/_TELEMETRY$/, '')}_DEADLETTER`,
    `KV_${settings.kvBucket}`,
    `OBJ_${settings.modelsBucket}`,
  ]) {
    await jsm.streams.delete(stream).catch(() => false);
  }
  await rm(settings.modelDir, { recursive: true, force: true });
  await client.close();
  if (o.redisUrl !== undefined) {
    const redis = new Redis(o.redisUrl, { lazyConnect: true, ...redisSecurityOptions(settings) });
    await redis.connect();
    const keys = await redis.keys(`${settings.redisPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  }
  latencies.sort((a, b) => a - b);
  return {
    events: o.events,
    batch: o.batch,
    messages,
    keys: o.keys,
    checkpoints: o.redisUrl === undefined ? 'none' : 'redis',
    ranker: settings.victimRanker,
    seconds: Number(seconds.toFixed(3)),
    eventsPerSec: Math.round(o.events / seconds),
    applyLatencyMs: {
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: latencies.at(-1) ?? 0,
    },
    trackedKeys: stats.trackedKeys,
    heapUsedBytes,
    heapUsedMB: Number((heapUsedBytes / 2 ** 20).toFixed(1)),
    policyLatency,
  };
}

/**
 * Publishes `rate` events/s for `seconds`, messages of `batch` events round-robin over `nodes`
 * cache nodes, each at its scheduled time. A message's latency ends when the engine writes the
 * first `eviction.<node>` document generated after the message was applied.
 */
async function pacedRun(
  engine: Engine,
  publisher: WindowedPublisher,
  p: {
    tag: string;
    rate: number;
    seconds: number;
    nodes: number;
    batch: number;
    keys: number;
    publishIntervalMs: number;
    publishMinIntervalMs: number;
  },
): Promise<PolicyLatencyResult> {
  const messages = Math.max(1, Math.round((p.rate * p.seconds) / p.batch));
  const sentAt = new Float64Array(messages);
  const appliedAt = new Float64Array(messages);
  const pending = new Map<string, number[]>();
  const latencies: number[] = [];
  let remaining = messages;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  const prefix = `${p.tag}-paced-`;
  engine.onApplied = (msg, at) => {
    if (msg.msgId === undefined || !msg.msgId.startsWith(prefix)) return;
    const m = Number(msg.msgId.slice(prefix.length));
    appliedAt[m] = at;
    const node = `paced-${m % p.nodes}`;
    const list = pending.get(node) ?? [];
    list.push(m);
    pending.set(node, list);
  };
  engine.onPublished = (doc, at) => {
    if (doc.kind !== 'eviction') return;
    const list = pending.get(doc.target);
    if (!list) return;
    const keep: number[] = [];
    for (const m of list) {
      if (appliedAt[m]! <= doc.generatedAt) latencies.push(at - sentAt[m]!);
      else keep.push(m);
    }
    remaining -= list.length - keep.length;
    pending.set(doc.target, keep);
    if (remaining === 0) allDone();
  };
  const t0 = performance.now() + 50;
  const epoch0 = Date.now();
  const spacingMs = (1000 * p.batch) / p.rate;
  for (let m = 0; m < messages; m++) {
    const due = t0 + m * spacingMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const events: object[] = [];
    for (let j = 0; j < p.batch; j++) {
      const i = m * p.batch + j;
      events.push({
        ts: epoch0 + Math.round(m * spacingMs),
        key: `user:${i % p.keys}:profile`,
        hit: i % 3 !== 0,
      });
    }
    sentAt[m] = Date.now();
    await publisher.publish(
      engine.n.accessSubject(`paced-${m % p.nodes}`),
      Buffer.from(JSON.stringify({ events })),
      `${prefix}${m}`,
    );
  }
  await publisher.flush();
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, 30_000));
  await Promise.race([done, timeout]);
  engine.onApplied = undefined;
  engine.onPublished = undefined;
  if (remaining > 0) {
    throw new Error(
      `paced run: ${remaining} of ${messages} messages never reached a published document`,
    );
  }
  latencies.sort((a, b) => a - b);
  const applied = Array.from(appliedAt, (a, m) => a - sentAt[m]!).sort((a, b) => a - b);
  return {
    eventsPerSec: p.rate,
    seconds: p.seconds,
    nodes: p.nodes,
    messages,
    publishIntervalMs: p.publishIntervalMs,
    publishMinIntervalMs: p.publishMinIntervalMs,
    latencyMs: {
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: latencies.at(-1) ?? 0,
    },
    applyLatencyMs: {
      p50: quantile(applied, 0.5),
      p99: quantile(applied, 0.99),
      max: applied.at(-1) ?? 0,
    },
  };
}

const HELP = `usage: prescient bench ingest --events N [--batch B] [--keys K] [--json]

  --events N   events to publish (default 1000000)
  --batch B    events per message (default 1000)
  --keys K     distinct keys (default: min(N, 1000000))
  --ranker R   victim ranker of the engine: learned (default; replays telemetry into
               per-node shadow caches) or lru
  --rate R     then a paced run at R events/s measuring telemetry → policy latency
               (publish to the first eviction document computed after the message applied)
  --rate-seconds S   length of the paced run (default 20)
  --nodes M    cache nodes of the paced run (default 16)
  --publish-interval-ms I   PRESCIENT_PUBLISH_INTERVAL_MS of the engine (default: its default)
  --publish-min-interval-ms I   PRESCIENT_PUBLISH_MIN_INTERVAL_MS (default: its default; 0 = tick only)
  --json       print one JSON document instead of a table

NATS_URL (default nats://127.0.0.1:4222); REDIS_URL set → checkpoints to Redis as in production.`;

export async function benchIngestCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string', default: '1000000' },
      batch: { type: 'string', default: '1000' },
      keys: { type: 'string' },
      ranker: { type: 'string' },
      rate: { type: 'string' },
      'rate-seconds': { type: 'string' },
      nodes: { type: 'string' },
      'publish-interval-ms': { type: 'string' },
      'publish-min-interval-ms': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const int = (flag: string, v: string, max = 1e9, min = 1) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
      throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
    return Number(v);
  };
  const events = int('--events', values.events);
  const batch = int('--batch', values.batch, 10_000);
  const keys = values.keys === undefined ? Math.min(events, 1_000_000) : int('--keys', values.keys);
  const r = await benchIngest({
    events,
    batch,
    keys,
    natsUrl: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    redisUrl: process.env['REDIS_URL'],
    env: process.env,
    quiet: values.json,
    ...(values.ranker === undefined ? {} : { ranker: values.ranker }),
    ...(values.rate === undefined ? {} : { rate: int('--rate', values.rate, 10_000_000) }),
    ...(values['rate-seconds'] === undefined
      ? {}
      : { rateSeconds: int('--rate-seconds', values['rate-seconds'], 3600) }),
    ...(values.nodes === undefined ? {} : { nodes: int('--nodes', values.nodes, 10_000) }),
    ...(values['publish-interval-ms'] === undefined
      ? {}
      : { publishIntervalMs: int('--publish-interval-ms', values['publish-interval-ms'], 60_000) }),
    ...(values['publish-min-interval-ms'] === undefined
      ? {}
      : {
          publishMinIntervalMs: int(
            '--publish-min-interval-ms',
            values['publish-min-interval-ms'],
            60_000,
            0,
          ),
        }),
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
  } else {
    const rows: [string, string][] = [
      ['events', r.events.toLocaleString('en')],
      ['batch (events/message)', String(r.batch)],
      ['checkpoints', r.checkpoints],
      ['victim ranker', r.ranker],
      ['seconds', r.seconds.toFixed(2)],
      ['events/s applied', r.eventsPerSec.toLocaleString('en')],
      [
        'apply latency p50 / p99 / max (ms)',
        `${r.applyLatencyMs.p50} / ${r.applyLatencyMs.p99} / ${r.applyLatencyMs.max}`,
      ],
      ['tracked keys', r.trackedKeys.toLocaleString('en')],
      ['heap used after GC (MB)', r.heapUsedMB.toFixed(1)],
    ];
    const pl = r.policyLatency;
    if (pl) {
      rows.push(
        [
          'paced run',
          `${pl.eventsPerSec.toLocaleString('en')} events/s for ${pl.seconds} s over ${pl.nodes} nodes`,
        ],
        [
          'publish interval / min interval (ms)',
          `${pl.publishIntervalMs} / ${pl.publishMinIntervalMs}`,
        ],
        [
          'paced: publish → applied p50 / p99 / max (ms)',
          `${pl.applyLatencyMs.p50} / ${pl.applyLatencyMs.p99} / ${pl.applyLatencyMs.max}`,
        ],
        [
          'telemetry → policy p50 / p99 / max (ms)',
          `${pl.latencyMs.p50} / ${pl.latencyMs.p99} / ${pl.latencyMs.max}`,
        ],
      );
    }
    const w = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`);
  }
  return 0;
}
