/**
 * @module api/errors
 * One error shape for every route: `{ "error": { "code", "message", "details"? } }` with a stable
 * code. Client mistakes are 4xx; 5xx is reserved for the engine's own faults and unavailability.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, isPrescientError, type ErrorCode } from '../errors.js';

/** fastify's own error codes for bad requests → ours. */
const FASTIFY_CODES: Record<string, { status: number; code: ErrorCode }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: ERROR_CODES.BODY_TOO_LARGE },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: ERROR_CODES.UNSUPPORTED_MEDIA_TYPE },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: ERROR_CODES.BAD_REQUEST },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: ERROR_CODES.BAD_JSON },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: ERROR_CODES.BAD_JSON },
};

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Told of every error answer; app.ts counts them in `prescient_http_errors_total{status,code}`. */
export type ErrorListener = (status: number, code: string) => void;

/** The error and not-found handlers, telling `onError` of every error answer they send. */
export function errorHandlers(onError: ErrorListener = () => undefined) {
  function sendError(
    reply: FastifyReply,
    status: number,
    code: string,
    message: string,
    details?: unknown,
  ): FastifyReply {
    onError(status, code);
    return reply.status(status).send(errorBody(code, message, details));
  }

  function errorHandler(
    err: FastifyError,
    request: FastifyRequest,
    reply: FastifyReply,
  ): FastifyReply {
    if (err.validation) {
      return sendError(
        reply,
        400,
        ERROR_CODES.BAD_REQUEST,
        `${err.validationContext ?? 'request'} ${err.message.replace(/^(body|querystring|params|headers)\s*/, '')}`,
        err.validation,
      );
    }
    if (isPrescientError(err)) {
      if (err.statusCode >= 500) request.log.error({ err }, 'request failed');
      return sendError(reply, err.statusCode, err.code, err.message, err.details);
    }
    const mapped = err.code === undefined ? undefined : FASTIFY_CODES[err.code];
    if (mapped) return sendError(reply, mapped.status, mapped.code, err.message);
    // Anything else fastify flags as a client error (e.g. JSON with __proto__, bad encoding, a
    // malformed URL or an over-long path parameter from `frameworkErrors`).
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return sendError(
        reply,
        err.statusCode,
        err instanceof SyntaxError ? ERROR_CODES.BAD_JSON : ERROR_CODES.BAD_REQUEST,
        err.message,
      );
    }
    request.log.error({ err }, 'unexpected error');
    return sendError(reply, 500, ERROR_CODES.INTERNAL, 'internal error; see the engine log');
  }

  function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    return sendError(
      reply,
      404,
      ERROR_CODES.ROUTE_NOT_FOUND,
      `no route ${request.method} ${request.url.split('?')[0] ?? ''}; see /openapi.json`,
    );
  }

  return { errorHandler, notFoundHandler };
}

/** The handlers without a listener. */
export const { errorHandler, notFoundHandler } = errorHandlers();
