/**
 * The one place where errors become HTTP answers (docs/http-api.md, "Errors"): a LafsError's code
 * picks the status, body-parser failures are mapped to our codes, and anything else is a real
 * server fault (500, logged, with no internals in the body). Client mistakes are never a 500.
 */
import type { ErrorRequestHandler } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LafsError, type ErrorCode } from '../merkle/errors.js';
import { BODY_LIMIT_BYTES } from './config.js';

export const STATUS_OF: Record<ErrorCode, number> = {
  'bad-request': 400,
  'bad-statement': 400,
  'bad-sums': 400,
  'bad-signature': 400,
  'bad-key': 400,
  'bad-leaf': 400,
  'bad-checkpoint': 400,
  'bad-note': 400,
  'bad-tile': 400,
  'bad-bundle': 400,
  'bad-proof': 400,
  'unknown-kind': 400,
  usage: 400,
  'out-of-range': 400,
  'not-found': 404,
  'too-large': 413,
  'rate-limited': 429,
  inconsistent: 500,
  io: 500,
  internal: 500,
  unavailable: 503,
};

/** `{ error, message }` with the code's status; plain node:http, so it serves express's routes and the submission fast path alike. */
export function sendError(res: ServerResponse, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ error: code, message });
  res.statusCode = STATUS_OF[code];
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** body-parser's error types, as the client's mistakes they are. */
function fromBodyParser(err: { type?: unknown; status?: unknown; message?: string }): LafsError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return new LafsError('bad-request', `body is not valid JSON: ${err.message ?? ''}`.trim());
    case 'entity.too.large':
      return new LafsError('too-large', `body is larger than the ${BODY_LIMIT_BYTES}-byte limit`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new LafsError('bad-request', `unsupported body encoding: ${err.message ?? ''}`.trim());
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new LafsError('bad-request', `the request body could not be read: ${err.message ?? ''}`.trim());
  }
  if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) return new LafsError('bad-request', err.message ?? 'bad request');
  return undefined;
}

/** Answers a failed request: a client mistake (or 'unavailable') as itself, anything else as a logged 500. */
export function answerError(log: { error(obj: object, msg: string): void }, err: unknown, req: IncomingMessage, path: string, res: ServerResponse): void {
  const known = err instanceof LafsError ? err : typeof err === 'object' && err !== null ? fromBodyParser(err) : undefined;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (known && STATUS_OF[known.code] < 500) return sendError(res, known.code, known.message);
  if (known?.code === 'unavailable') return sendError(res, 'unavailable', known.message);
  log.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err), method: req.method, path }, 'request failed');
  sendError(res, 'internal', 'internal server error');
}

export function errorHandler(log: { error(obj: object, msg: string): void }): ErrorRequestHandler {
  return (err, req, res, _next) => answerError(log, err, req, req.path, res);
}
