/**
 * @module log
 * The engine's structured logger (pino, which fastify uses too, so API and engine logs share
 * one format). Secrets never go in log fields; `redact` is a second guard.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config/settings.js';

export type Logger = PinoLogger;

export function createLogger(level: LogLevel, name = 'prescient'): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['req.headers.authorization', '*.password', '*.token'], censor: '[redacted]' },
  });
}

/** A server URL fit for a log line: user, password or token in it are replaced. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, '//[redacted]@');
}
