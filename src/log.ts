/**
 * @module log
 * The engine's structured logger (pino, which fastify uses too, so API and engine logs share
 * one format). Secrets never go in log fields; two guards stand behind that rule: `redact`
 * censors the fields where a credential could sit (authorization headers, passwords, tokens),
 * and every line is scrubbed of the secret values the caller names (the settings' passwords and
 * tokens, see `secretValues` in config/settings.ts) as written, JSON-escaped and in base64.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config/settings.js';

export type Logger = PinoLogger;

export interface LoggerOptions {
  /** Where lines go (default: stdout). Tests pass a buffer to read them back. */
  readonly destination?: DestinationStream;
  /** Values replaced by `[redacted]` wherever they appear in a line. */
  readonly secrets?: readonly string[];
}

/** Fields censored wherever they appear at the top or one level down (pino paths). */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  '*.authorization',
  'password',
  '*.password',
  'pass',
  '*.pass',
  '*.token',
  'auth_token',
  '*.auth_token',
  'seed',
  '*.seed',
];

export function createLogger(
  level: LogLevel,
  name = 'prescient',
  options: LoggerOptions = {},
): Logger {
  const needles = [
    ...new Set(
      (options.secrets ?? [])
        .filter((s) => s.length >= 4)
        .flatMap((s) => [s, JSON.stringify(s).slice(1, -1), Buffer.from(s).toString('base64')]),
    ),
  ];
  const pinoOptions = {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(needles.length === 0
      ? {}
      : { hooks: { streamWrite: (line: string) => scrub(line, needles) } }),
  };
  return options.destination ? pino(pinoOptions, options.destination) : pino(pinoOptions);
}

function scrub(line: string, needles: readonly string[]): string {
  let out = line;
  for (const n of needles) if (out.includes(n)) out = out.split(n).join('[redacted]');
  return out;
}

/**
 * A server URL fit for a log line: user, password or token in it are replaced. Everything from
 * `//` to the last `@` before the path goes, so a password holding `@` does not leak its tail.
 */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/]*@/g, '//[redacted]@');
}
