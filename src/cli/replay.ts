/**
 * @module cli/replay
 * `prescient replay --trace FILE --node N`: publishes a cache trace as access telemetry on
 * `prescient.telemetry.access.<node>` (NATS_URL, default nats://127.0.0.1:4222), in batches with
 * message ids, showing progress. A raw trace does not say what the cache hit; with
 * `--capacity C` an LRU cache of C objects decides `hit`, otherwise every event is a miss.
 */
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { loadSettings, names, secretValues } from '../config/settings.js';
import { UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import { NatsClient } from '../clients/nats-client.js';
import { ensureStreams } from '../telemetry/nats-bus.js';
import { WindowedPublisher } from '../telemetry/nats-publisher.js';
import { isValidSourceName } from '../telemetry/decode.js';
import { readTrace, traceInfo, type TraceFormat } from '../sim/trace-reader.js';
import { Progress } from './progress.js';

const HELP = `usage: prescient replay --trace FILE --node N [options]

  --trace FILE        trace to publish (csv[.gz] with header key or timestamp,key,size; oracleGeneral; text)
  --node N            cache node name (subject prescient.telemetry.access.<N>)
  --format F          auto (default), csv, oracle or text
  --batch B           events per message (default 1000, at most 10000)
  --limit N           publish at most N requests
  --capacity C        decide "hit" with an LRU cache of C objects (default: every event is a miss)
  --rate R            pace at R requests/s and stamp ts accordingly (default: as fast as NATS takes them)
  --quiet             no progress bar

NATS_URL (default nats://127.0.0.1:4222) and the PRESCIENT_* stream settings apply.`;

export async function replay(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      trace: { type: 'string' },
      node: { type: 'string' },
      format: { type: 'string', default: 'auto' },
      batch: { type: 'string', default: '1000' },
      limit: { type: 'string' },
      capacity: { type: 'string' },
      rate: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (!values.trace || !values.node)
    throw new UsageError(`--trace and --node are required\n\n${HELP}`);
  if (!isValidSourceName(values.node))
    throw new UsageError('--node must be 1-256 characters of A-Z a-z 0-9 _ - = /');
  const format = values.format as TraceFormat;
  if (!['auto', 'csv', 'oracle', 'text'].includes(format))
    throw new UsageError('--format must be auto, csv, oracle or text');
  const batch = positiveInt('--batch', values.batch, 10_000);
  const limit = values.limit === undefined ? Infinity : positiveInt('--limit', values.limit);
  const capacity = values.capacity === undefined ? 0 : positiveInt('--capacity', values.capacity);
  const rate = values.rate === undefined ? 0 : positiveInt('--rate', values.rate);

  const settings = loadSettings(process.env, {
    natsUrl: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
  });
  const log = createLogger(settings.logLevel === 'info' ? 'warn' : settings.logLevel, 'prescient', {
    secrets: secretValues(settings),
  });
  const n = names(settings);
  const client = new NatsClient({
    url: settings.natsUrl!,
    name: 'prescient-replay',
    log,
    security: settings,
    maxBackoffMs: 2000,
  });
  const nc = await client.connect();
  try {
    await ensureStreams(await nc.jetstreamManager(), settings, n);
    const publisher = new WindowedPublisher(nc.jetstream());
    const info = await traceInfo(values.trace, { format });
    const subject = n.accessSubject(values.node);
    const runId = randomUUID();
    const progress = values.quiet
      ? undefined
      : new Progress(`replay ${values.node}`, limit === Infinity ? undefined : limit);
    const lru = new Map<string, true>();
    const started = Date.now();
    let sent = 0;
    let msgIndex = 0;
    let pending: object[] = [];
    const flushBatch = async () => {
      if (pending.length === 0) return;
      await publisher.publish(
        subject,
        Buffer.from(JSON.stringify({ events: pending })),
        `${runId}-${msgIndex++}`,
      );
      pending = [];
    };
    outer: for await (const chunk of readTrace(values.trace, { format })) {
      for (const r of chunk) {
        if (sent >= limit) break outer;
        let hit = false;
        if (capacity > 0) {
          hit = lru.delete(r.key);
          lru.set(r.key, true);
          if (lru.size > capacity) lru.delete(lru.keys().next().value!);
        }
        const ts = rate > 0 ? started + Math.floor((sent * 1000) / rate) : Date.now();
        pending.push(
          info.sized ? { ts, key: r.key, size: r.sizeBytes, hit } : { ts, key: r.key, hit },
        );
        sent++;
        if (pending.length >= batch) {
          await flushBatch();
          if (rate > 0) {
            const due = started + (sent * 1000) / rate;
            if (due > Date.now()) await new Promise((res) => setTimeout(res, due - Date.now()));
          }
          progress?.update(sent);
        }
      }
    }
    await flushBatch();
    await publisher.flush();
    progress?.finish(sent);
    const sec = (Date.now() - started) / 1000;
    process.stdout.write(
      `${JSON.stringify({ trace: values.trace, node: values.node, subject, requests: sent, messages: msgIndex, seconds: Number(sec.toFixed(3)), requestsPerSec: Math.round(sent / sec) })}\n`,
    );
    return 0;
  } finally {
    await client.close();
  }
}

export function positiveInt(flag: string, value: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max)
    throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got "${value}"`);
  return Number(value);
}
