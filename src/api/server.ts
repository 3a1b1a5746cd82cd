/**
 * @module api/server
 * `prescient serve`: loads settings, starts the engine in the background, listens, prints the
 * mode banner, and shuts down gracefully on SIGINT/SIGTERM (checkpoint, ack, drain).
 */
import { loadSettings, secretValues, type Settings } from '../config/settings.js';
import { Engine } from '../engine.js';
import { createLogger, redactUrl, type Logger } from '../log.js';
import { buildApp, type App } from './app.js';

export interface Server {
  readonly app: App;
  readonly engine: Engine;
  readonly url: string;
  close(): Promise<void>;
}

export function banner(s: Settings): string {
  const lines =
    s.natsUrl === undefined
      ? [
          'EMBEDDED MODE: NATS_URL is not set.',
          '  Telemetry: POST /v1/telemetry only (in-process bus); policies kept in memory.',
          s.redisUrl === undefined
            ? '  State: in memory; nothing survives a restart (set REDIS_URL to checkpoint).'
            : `  State: checkpointed to Redis at ${redactUrl(s.redisUrl)}.`,
          '  For production set NATS_URL (JetStream) and REDIS_URL; see README.',
        ]
      : [
          `NATS MODE: telemetry from JetStream stream ${s.streamName} at ${redactUrl(s.natsUrl)}; policies to KV bucket ${s.kvBucket}.`,
          s.redisUrl === undefined
            ? '  State: in memory; on restart features are rebuilt by re-reading the stream.'
            : `  State: checkpointed to Redis at ${redactUrl(s.redisUrl)}.`,
        ];
  const width = Math.max(...lines.map((l) => l.length));
  const rule = '='.repeat(width);
  return [rule, ...lines, rule].join('\n');
}

export async function startServer(
  settings: Settings = loadSettings(),
  log: Logger = createLogger(settings.logLevel, 'prescient', { secrets: secretValues(settings) }),
): Promise<Server> {
  const engine = new Engine(settings, log, {
    // Printed once, to the terminal only: never to the log, never stored (only hashes are).
    onGeneratedToken: (token) =>
      process.stderr.write(
        `\nNo API token is configured, so this run generated an admin token (printed once, not stored):\n\n  ${token}\n\n` +
          'Use it as "Authorization: Bearer <token>". To keep tokens across restarts, set\n' +
          'PRESCIENT_API_TOKENS=name:role:<sha256 of the token> (see docs/operations.md).\n\n',
      ),
  });
  const app = await buildApp({
    engine,
    logger: log,
    telemetryBodyLimitBytes: settings.httpBodyLimitBytes,
  });
  // Start in the background: /healthz answers at once, /readyz says 503 until NATS/Redis are up.
  engine.start().catch(() => undefined);
  const url = await app.listen({ host: settings.host, port: settings.port });
  process.stderr.write(
    `${banner(settings)}\nPrescient listening on ${url}  (API docs ${url}/docs)\n`,
  );
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close();
      await engine.stop();
    })());
  return { app, engine, url, close };
}

/** Installs SIGINT/SIGTERM handlers that close the server once, then exit. */
export function closeOnSignals(server: Server, log: Logger): void {
  const onSignal = (signal: string) => {
    log.info({ signal }, 'shutting down: checkpointing and draining');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}
