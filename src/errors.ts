/**
 * @module errors
 * The one error catalog. Every error Prescient raises or returns carries a stable `code`
 * (`PRESCIENT_E_…`) that callers, dashboards and tests match on; messages are for humans and
 * say what to change. Modelled on fastify's `lib/errors.js`.
 */

export const ERROR_CODES = {
  /** Configuration from the environment is invalid; the message names the variable. */
  CONFIG: 'PRESCIENT_E_CONFIG',
  /** A request body, query or parameter failed validation. */
  BAD_REQUEST: 'PRESCIENT_E_BAD_REQUEST',
  /** A request body is not valid JSON. */
  BAD_JSON: 'PRESCIENT_E_BAD_JSON',
  /** A request body is larger than the configured limit. */
  BODY_TOO_LARGE: 'PRESCIENT_E_BODY_TOO_LARGE',
  /** A request has a content type the route does not accept. */
  UNSUPPORTED_MEDIA_TYPE: 'PRESCIENT_E_UNSUPPORTED_MEDIA_TYPE',
  /** No route matches the method and path. */
  ROUTE_NOT_FOUND: 'PRESCIENT_E_ROUTE_NOT_FOUND',
  /** The route exists but the target (pool, node, document) is unknown. */
  NOT_FOUND: 'PRESCIENT_E_NOT_FOUND',
  /** Every event of a POST /v1/telemetry batch was rejected; details list why. */
  TELEMETRY_REJECTED: 'PRESCIENT_E_TELEMETRY_REJECTED',
  /** A dependency (NATS, Redis) is not connected, so the request cannot be served now. */
  UNAVAILABLE: 'PRESCIENT_E_UNAVAILABLE',
  /** Scale-out: a write refused because this replica no longer holds the partition's lease. */
  FENCED: 'PRESCIENT_E_FENCED',
  /** A trace file could not be read; the message names the line or byte offset. */
  TRACE_FORMAT: 'PRESCIENT_E_TRACE_FORMAT',
  /** A time series file (`timestamp,value` CSV) could not be read; the message names the line. */
  SERIES_FORMAT: 'PRESCIENT_E_SERIES_FORMAT',
  /** A snapshot could not be decoded (wrong magic, version or truncated). */
  SNAPSHOT_FORMAT: 'PRESCIENT_E_SNAPSHOT_FORMAT',
  /** A saved model is corrupt (bad shapes, weights.bin disagreeing with model.json) or scores NaN. */
  MODEL_INVALID: 'PRESCIENT_E_MODEL_INVALID',
  /** No bearer token, or one that matches no configured token (401). */
  UNAUTHORIZED: 'PRESCIENT_E_UNAUTHORIZED',
  /** The token's role may not call this route (403). */
  FORBIDDEN: 'PRESCIENT_E_FORBIDDEN',
  /** Too many writes from one token; retry after the Retry-After header's seconds (429). */
  RATE_LIMITED: 'PRESCIENT_E_RATE_LIMITED',
  /** An override request is invalid; details name the field. Nothing was written (400). */
  OVERRIDE_INVALID: 'PRESCIENT_E_OVERRIDE_INVALID',
  /** The request conflicts with the current state (e.g. rollback with no previous champion, a token name taken) (409). */
  CONFLICT: 'PRESCIENT_E_CONFLICT',
  /** A command-line invocation is invalid; the message shows the usage. */
  USAGE: 'PRESCIENT_E_USAGE',
  /** A bug: something that should not happen. Reported as 500. */
  INTERNAL: 'PRESCIENT_E_INTERNAL',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** Base class: `code` is stable, `statusCode` is the HTTP status an API would answer with. */
export class PrescientError extends Error {
  override readonly name: string = 'PrescientError';
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: unknown;

  constructor(
    code: ErrorCode,
    message: string,
    options: { statusCode?: number; cause?: unknown; details?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.statusCode = options.statusCode ?? 500;
    this.details = options.details;
  }
}

export class ConfigError extends PrescientError {
  override readonly name = 'ConfigError';
  constructor(message: string, details?: unknown) {
    super(ERROR_CODES.CONFIG, message, { statusCode: 500, details });
  }
}

export class NotFoundError extends PrescientError {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super(ERROR_CODES.NOT_FOUND, message, { statusCode: 404 });
  }
}

export class TraceFormatError extends PrescientError {
  override readonly name = 'TraceFormatError';
  constructor(message: string, details?: { line?: number; offset?: number; file?: string }) {
    super(ERROR_CODES.TRACE_FORMAT, message, { statusCode: 400, details });
  }
}

export class SeriesFormatError extends PrescientError {
  override readonly name = 'SeriesFormatError';
  constructor(message: string, details?: { line?: number; file?: string }) {
    super(ERROR_CODES.SERIES_FORMAT, message, { statusCode: 400, details });
  }
}

export class SnapshotFormatError extends PrescientError {
  override readonly name = 'SnapshotFormatError';
  constructor(message: string) {
    super(ERROR_CODES.SNAPSHOT_FORMAT, message, { statusCode: 500 });
  }
}

export class UsageError extends PrescientError {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super(ERROR_CODES.USAGE, message, { statusCode: 400 });
  }
}

export class ModelInvalidError extends PrescientError {
  override readonly name = 'ModelInvalidError';
  constructor(message: string, details?: Record<string, unknown>) {
    // 422: the request was well formed, but the model it names cannot be served.
    super(ERROR_CODES.MODEL_INVALID, message, { statusCode: 422, ...(details ? { details } : {}) });
  }
}

/** 401, 403, 409 and 429 of the API. */
export class AuthError extends PrescientError {
  override readonly name = 'AuthError';
  constructor(
    code: typeof ERROR_CODES.UNAUTHORIZED | typeof ERROR_CODES.FORBIDDEN,
    message: string,
  ) {
    super(code, message, { statusCode: code === ERROR_CODES.UNAUTHORIZED ? 401 : 403 });
  }
}

export class ConflictError extends PrescientError {
  override readonly name = 'ConflictError';
  constructor(message: string, details?: Record<string, unknown>) {
    super(ERROR_CODES.CONFLICT, message, { statusCode: 409, ...(details ? { details } : {}) });
  }
}

export class RateLimitedError extends PrescientError {
  override readonly name = 'RateLimitedError';
  constructor(
    message: string,
    readonly retryAfterSec: number,
  ) {
    super(ERROR_CODES.RATE_LIMITED, message, { statusCode: 429, details: { retryAfterSec } });
  }
}

export function isPrescientError(err: unknown): err is PrescientError {
  return err instanceof PrescientError;
}
