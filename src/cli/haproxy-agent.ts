/**
 * @module cli/haproxy-agent
 * `prescient haproxy-agent --socket PATH --backend NAME --pool POOL`: runs the HAProxy agent
 * (client/haproxy-agent.ts) until SIGINT/SIGTERM, then drains NATS. See docs/proxies.md.
 */
import { parseArgs } from 'node:util';
import { loadSettings, secretValues } from '../config/settings.js';
import { UsageError } from '../errors.js';
import { createLogger } from '../log.js';
import { NatsClient } from '../clients/nats-client.js';
import { HaproxyAgent } from '../client/haproxy-agent.js';
import { isValidSourceName } from '../telemetry/decode.js';
import { POOL_PATTERN } from '../telemetry/events.js';

const HELP = `usage: prescient haproxy-agent --socket PATH --backend NAME --pool POOL [options]

  --socket PATH       HAProxy runtime API socket ("stats socket PATH level admin")
  --backend NAME      HAProxy backend whose servers are weighted (server names = Prescient backend names)
  --pool POOL         Prescient pool (telemetry "pool", KV key weights.<POOL>)
  --proxy ID          this proxy's name: telemetry subject and ack token (default: haproxy)
  --interval MS       "show stat" period in ms (default 1000)
  --max-events N      telemetry events per server per interval at most (default 10)

NATS_URL (default nats://127.0.0.1:4222), PRESCIENT_SUBJECT_PREFIX and PRESCIENT_KV_BUCKET apply.`;

const POOL_RE = new RegExp(POOL_PATTERN);

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer`);
  return n;
}

export async function haproxyAgent(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      socket: { type: 'string' },
      backend: { type: 'string' },
      pool: { type: 'string' },
      proxy: { type: 'string', default: 'haproxy' },
      interval: { type: 'string', default: '1000' },
      'max-events': { type: 'string', default: '10' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (!values.socket || !values.backend || !values.pool)
    throw new UsageError(`--socket, --backend and --pool are required\n\n${HELP}`);
  if (!POOL_RE.test(values.pool))
    throw new UsageError('--pool must be dot-separated words of A-Z a-z 0-9 _ - = /');
  if (!isValidSourceName(values.proxy))
    throw new UsageError('--proxy must be 1-256 characters of A-Z a-z 0-9 _ - = /');
  const intervalMs = positiveInt('--interval', values.interval);
  const maxEvents = positiveInt('--max-events', values['max-events']);

  const settings = loadSettings(process.env, {
    natsUrl: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
  });
  const log = createLogger(settings.logLevel, 'prescient-haproxy-agent', {
    secrets: secretValues(settings),
  });
  const client = new NatsClient({
    url: settings.natsUrl!,
    name: `haproxy-agent-${values.proxy}`,
    log,
    security: settings,
  });
  const nc = await client.connect();
  const agent = new HaproxyAgent({
    nc,
    socketPath: values.socket,
    backend: values.backend,
    pool: values.pool,
    proxy: values.proxy,
    intervalMs,
    maxEventsPerServer: maxEvents,
    subjectPrefix: settings.subjectPrefix,
    kvBucket: settings.kvBucket,
    onError: (err) => log.warn({ err: err.message }, 'haproxy agent: retrying'),
  });
  log.info(
    { socket: values.socket, backend: values.backend, pool: values.pool, proxy: agent.proxy },
    'haproxy agent starting',
  );
  await agent.start();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await agent.stop();
  await client.close();
  log.info(agent.status(), 'haproxy agent stopped');
  return 0;
}
