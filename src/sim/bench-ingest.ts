/**
 * @module sim/bench-ingest
 * `prescient bench ingest --events N [--batch B] [--keys K] [--json]`: end-to-end ingest through
 * a real NATS JetStream server. Starts an engine in this process on a fresh, uniquely named
 * stream, publishes N synthetic access events in messages of B events, and measures
 *   - events/s applied: from the first publish to the last event applied to the features;
 *   - apply latency per message: from the server storing it to the engine applying it
 *     (at saturation this includes queueing: the publisher runs as fast as it can);
 *   - the heap held with K keys tracked (after a forced GC).
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
import { loadSettings } from '../config/settings.js';
import { Engine } from '../engine.js';
import { createLogger } from '../log.js';
import { WindowedPublisher } from '../telemetry/nats-publisher.js';
import { NatsClient } from '../clients/nats-client.js';
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
  const settings = loadSettings(
    {},
    {
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
      publishIntervalMs: 1000,
      ...(o.ranker === undefined ? {} : { victimRanker: o.ranker }),
    },
  );
  const log = createLogger(settings.logLevel);
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

  const client = new NatsClient({ url: o.natsUrl, name: 'prescient-bench-publisher', log });
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
    const redis = new Redis(o.redisUrl, { lazyConnect: true });
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
  };
}

const HELP = `usage: prescient bench ingest --events N [--batch B] [--keys K] [--json]

  --events N   events to publish (default 1000000)
  --batch B    events per message (default 1000)
  --keys K     distinct keys (default: min(N, 1000000))
  --ranker R   victim ranker of the engine: learned (default; replays telemetry into
               per-node shadow caches) or lru
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
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const int = (flag: string, v: string, max = 1e9) => {
    if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max)
      throw new UsageError(`${flag} must be a whole number from 1 to ${max}`);
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
    quiet: values.json,
    ...(values.ranker === undefined ? {} : { ranker: values.ranker }),
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
    const w = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`);
  }
  return 0;
}
