/**
 * Driver error → activity failure.
 *
 * Transient errors (connection refused or reset, timeouts, serialization failures, deadlocks,
 * 5xx, Neo4j retriable errors) are rethrown unchanged so that Temporal retries them with the
 * step's retry policy. Permanent errors become `ApplicationFailure.nonRetryable(message, type)`
 * with a stable type string from {@link FailureTypes}.
 *
 * Classification is by duck typing on the error shapes of pg, neo4j-driver, the AWS SDK,
 * node-redis, the Qdrant/Chroma clients and fetch, so this module imports no driver.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureTypes, type FailureType } from '../saga/contracts.js';

/** A permanent error raised on purpose by an adapter (conflict, not found, invalid payload …). */
export class PermanentError extends Error {
  override name = 'PermanentError';
  constructor(
    message: string,
    readonly type: FailureType,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The data changed since our write: a compensation refuses to overwrite someone else's change. */
export class ConflictError extends PermanentError {
  override name = 'ConflictError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, FailureTypes.Conflict, options);
  }
}

export type ErrorClass = { kind: 'transient' } | { kind: 'permanent'; type: FailureType };

const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function prop(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

/**
 * PostgreSQL SQLSTATE → class. Class 08 (connection), 40001 (serialization), 40P01 (deadlock),
 * 53 (insufficient resources), 57P01-03 (shutdown), 55P03 (lock not available) are transient;
 * 23 (integrity constraints) → ConstraintViolation; 42P01/42703 (unknown table/column) →
 * NotFound; 22/42 (bad data, syntax, privileges) → InvalidPayload.
 */
export function classifyPgCode(code: string): ErrorClass {
  if (code.startsWith('08') || code.startsWith('53') || code === '40001' || code === '40P01')
    return { kind: 'transient' };
  if (code === '57P01' || code === '57P02' || code === '57P03' || code === '55P03' || code === '57014') {
    return { kind: 'transient' };
  }
  if (code.startsWith('23')) return { kind: 'permanent', type: FailureTypes.ConstraintViolation };
  if (code === '42P01' || code === '42703' || code === '3F000')
    return { kind: 'permanent', type: FailureTypes.NotFound };
  if (code.startsWith('22') || code.startsWith('42'))
    return { kind: 'permanent', type: FailureTypes.InvalidPayload };
  return { kind: 'permanent', type: FailureTypes.Permanent };
}

/** Neo4j status code (`Neo.ClientError.Schema.ConstraintValidationFailed` …) → class. */
export function classifyNeo4jCode(code: string, retriable?: boolean): ErrorClass {
  if (retriable === true) return { kind: 'transient' };
  if (code === 'ServiceUnavailable' || code === 'SessionExpired') return { kind: 'transient' };
  if (code.startsWith('Neo.TransientError.')) return { kind: 'transient' };
  if (code === 'Neo.ClientError.Schema.ConstraintValidationFailed') {
    return { kind: 'permanent', type: FailureTypes.ConstraintViolation };
  }
  if (code.startsWith('Neo.ClientError.Statement.'))
    return { kind: 'permanent', type: FailureTypes.InvalidPayload };
  if (code.startsWith('Neo.ClientError.')) return { kind: 'permanent', type: FailureTypes.ClientError };
  if (code.startsWith('Neo.DatabaseError.')) return { kind: 'transient' };
  return { kind: 'permanent', type: FailureTypes.Permanent };
}

/** HTTP status (S3, Qdrant, Chroma, HTTP services) → class. */
export function classifyHttpStatus(status: number): ErrorClass {
  if (status >= 500 || status === 429 || status === 408) return { kind: 'transient' };
  if (status === 404) return { kind: 'permanent', type: FailureTypes.NotFound };
  if (status === 409 || status === 412) return { kind: 'permanent', type: FailureTypes.Conflict };
  if (status >= 400) return { kind: 'permanent', type: FailureTypes.ClientError };
  return { kind: 'permanent', type: FailureTypes.Permanent };
}

/** Classifies any error raised by an adapter or driver. Unknown errors are transient (retry). */
export function classifyError(err: unknown): ErrorClass {
  if (err instanceof PermanentError) return { kind: 'permanent', type: err.type };
  if (err instanceof ApplicationFailure) {
    return err.nonRetryable
      ? { kind: 'permanent', type: (err.type as FailureType | undefined) ?? FailureTypes.Permanent }
      : { kind: 'transient' };
  }
  const code = prop(err, 'code');
  const name = prop(err, 'name');
  // A PermanentError of another copy of polysaga (a plugin importing the source while the CLI
  // runs dist/, or its own installed copy): recognised by name and its polysaga type.
  const ownType = prop(err, 'type');
  if (
    (name === 'PermanentError' || name === 'ConflictError') &&
    typeof ownType === 'string' &&
    ownType.startsWith('polysaga.')
  )
    return { kind: 'permanent', type: ownType as FailureType };
  // Node / undici network errors, also when wrapped as `cause` by fetch.
  if (typeof code === 'string' && TRANSIENT_NODE_CODES.has(code)) return { kind: 'transient' };
  const cause = prop(err, 'cause');
  const causeCode = prop(cause, 'code');
  if (typeof causeCode === 'string' && TRANSIENT_NODE_CODES.has(causeCode)) return { kind: 'transient' };
  if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'transient' };
  // pg: DatabaseError with a 5-character SQLSTATE.
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && prop(err, 'severity') !== undefined) {
    return classifyPgCode(code);
  }
  // neo4j-driver: Neo4jError with `code` (and `retriable` in driver 5+).
  if (
    typeof code === 'string' &&
    (code.startsWith('Neo.') || code === 'ServiceUnavailable' || code === 'SessionExpired')
  ) {
    const retriable = prop(err, 'retriable');
    return classifyNeo4jCode(code, typeof retriable === 'boolean' ? retriable : undefined);
  }
  // AWS SDK v3: $metadata.httpStatusCode, $fault.
  const meta = prop(err, '$metadata');
  const awsStatus = prop(meta, 'httpStatusCode');
  if (typeof awsStatus === 'number') return classifyHttpStatus(awsStatus);
  if (prop(err, '$fault') === 'server') return { kind: 'transient' };
  if (prop(err, '$fault') === 'client') return { kind: 'permanent', type: FailureTypes.ClientError };
  // HTTP clients (Qdrant ApiError has `status`; our HttpStatusError too).
  const status = prop(err, 'status') ?? prop(err, 'statusCode');
  if (typeof status === 'number' && status >= 400) return classifyHttpStatus(status);
  // node-redis: ReplyError (server said no: WRONGTYPE, syntax…) is permanent; socket errors transient.
  const ctor = typeof err === 'object' && err !== null ? err.constructor?.name : undefined;
  if (
    name === 'ErrorReply' ||
    name === 'ReplyError' ||
    ctor === 'SimpleError' ||
    ctor === 'BlobError' ||
    ctor === 'ErrorReply'
  ) {
    const m = prop(err, 'message');
    const msg = typeof m === 'string' ? m : '';
    if (/^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN)/.test(msg)) return { kind: 'transient' };
    return { kind: 'permanent', type: FailureTypes.ClientError };
  }
  if (
    name === 'ClientClosedError' ||
    name === 'SocketClosedUnexpectedlyError' ||
    name === 'ConnectionTimeoutError'
  ) {
    return { kind: 'transient' };
  }
  // zod
  if (name === 'ZodError') return { kind: 'permanent', type: FailureTypes.InvalidPayload };
  return { kind: 'transient' };
}

/**
 * Returns what an activity should throw for `err`: the error itself when transient (Temporal
 * retries), otherwise a non-retryable ApplicationFailure whose type is a stable string.
 */
export function toActivityError(err: unknown, context?: string): unknown {
  if (err instanceof ApplicationFailure) return err;
  const c = classifyError(err);
  if (c.kind === 'transient') return err;
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.create({
    message: context ? `${context}: ${message}` : message,
    type: c.type,
    nonRetryable: true,
    ...(err instanceof Error ? { cause: err } : {}),
  });
}
