/** Unit tests of the driver error → activity failure mapping (src/backends/errors.ts). */
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  classifyError,
  classifyHttpStatus,
  classifyNeo4jCode,
  classifyPgCode,
  ConflictError,
  PermanentError,
  toActivityError,
} from '../../src/backends/errors.js';
import { FailureTypes } from '../../src/saga/contracts.js';

const transient = { kind: 'transient' };
const permanent = (type: string) => ({ kind: 'permanent', type });

/** A pg DatabaseError look-alike. */
function pgError(code: string) {
  return Object.assign(new Error(`pg ${code}`), { code, severity: 'ERROR' });
}

describe('classifyPgCode', () => {
  it.each([
    ['08006', transient],
    ['08001', transient],
    ['40001', transient],
    ['40P01', transient],
    ['53300', transient],
    ['57P01', transient],
    ['55P03', transient],
    ['23505', permanent(FailureTypes.ConstraintViolation)],
    ['23503', permanent(FailureTypes.ConstraintViolation)],
    ['23502', permanent(FailureTypes.ConstraintViolation)],
    ['42P01', permanent(FailureTypes.NotFound)],
    ['42703', permanent(FailureTypes.NotFound)],
    ['22P02', permanent(FailureTypes.InvalidPayload)],
    ['42601', permanent(FailureTypes.InvalidPayload)],
    ['XX000', permanent(FailureTypes.Permanent)],
  ])('%s → %o', (code, expected) => {
    expect(classifyPgCode(code)).toEqual(expected);
    expect(classifyError(pgError(code))).toEqual(expected);
  });
});

describe('classifyNeo4jCode', () => {
  it.each([
    ['Neo.TransientError.Transaction.DeadlockDetected', undefined, transient],
    ['Neo.TransientError.General.DatabaseUnavailable', undefined, transient],
    ['ServiceUnavailable', undefined, transient],
    ['SessionExpired', undefined, transient],
    ['Neo.ClientError.Cluster.NotALeader', true, transient],
    ['Neo.ClientError.Schema.ConstraintValidationFailed', false, permanent(FailureTypes.ConstraintViolation)],
    ['Neo.ClientError.Statement.SyntaxError', false, permanent(FailureTypes.InvalidPayload)],
    ['Neo.ClientError.Statement.TypeError', false, permanent(FailureTypes.InvalidPayload)],
    ['Neo.ClientError.Security.Unauthorized', false, permanent(FailureTypes.ClientError)],
  ] as const)('%s (retriable=%s) → %o', (code, retriable, expected) => {
    expect(classifyNeo4jCode(code, retriable)).toEqual(expected);
    expect(classifyError(Object.assign(new Error(code), { code, retriable }))).toEqual(expected);
  });
});

describe('classifyHttpStatus and HTTP-shaped errors', () => {
  it.each([
    [500, transient],
    [503, transient],
    [429, transient],
    [408, transient],
    [400, permanent(FailureTypes.ClientError)],
    [401, permanent(FailureTypes.ClientError)],
    [403, permanent(FailureTypes.ClientError)],
    [404, permanent(FailureTypes.NotFound)],
    [409, permanent(FailureTypes.Conflict)],
    [412, permanent(FailureTypes.Conflict)],
  ])('%d → %o', (status, expected) => {
    expect(classifyHttpStatus(status)).toEqual(expected);
    // AWS SDK v3 errors carry $metadata.httpStatusCode; Qdrant's ApiError carries status.
    expect(classifyError(Object.assign(new Error('aws'), { $metadata: { httpStatusCode: status } }))).toEqual(
      expected,
    );
    expect(classifyError(Object.assign(new Error('api'), { status }))).toEqual(expected);
  });
});

describe('network, redis and adapter errors', () => {
  it('connection errors and timeouts are transient, also when wrapped as cause (fetch)', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET']) {
      expect(classifyError(Object.assign(new Error(code), { code }))).toEqual(transient);
      expect(
        classifyError(new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) })),
      ).toEqual(transient);
    }
    expect(classifyError(new DOMException('timed out', 'TimeoutError'))).toEqual(transient);
  });

  it('redis: error replies are permanent except LOADING/BUSY/TRYAGAIN; closed sockets transient', () => {
    const reply = (m: string) => Object.assign(new Error(m), { name: 'ErrorReply' });
    expect(classifyError(reply('WRONGTYPE Operation against a key holding the wrong kind of value'))).toEqual(
      permanent(FailureTypes.ClientError),
    );
    expect(classifyError(reply('LOADING Redis is loading the dataset in memory'))).toEqual(transient);
    expect(
      classifyError(Object.assign(new Error('closed'), { name: 'SocketClosedUnexpectedlyError' })),
    ).toEqual(transient);
  });

  it('adapter errors keep their type; unknown errors are transient (retried)', () => {
    expect(classifyError(new ConflictError('changed'))).toEqual(permanent(FailureTypes.Conflict));
    expect(classifyError(new PermanentError('nope', FailureTypes.NotFound))).toEqual(
      permanent(FailureTypes.NotFound),
    );
    expect(classifyError(new Error('something odd'))).toEqual(transient);
  });
});

describe('toActivityError', () => {
  it('rethrows transient errors unchanged', () => {
    const err = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    expect(toActivityError(err)).toBe(err);
  });

  it('wraps permanent errors in a non-retryable ApplicationFailure with the stable type and the cause', () => {
    const err = pgError('23505');
    const f = toActivityError(err, 'postgres.insert');
    expect(f).toBeInstanceOf(ApplicationFailure);
    const af = f as ApplicationFailure;
    expect(af.nonRetryable).toBe(true);
    expect(af.type).toBe('polysaga.ConstraintViolation');
    expect(af.message).toBe('postgres.insert: pg 23505');
    expect(af.cause).toBe(err);
  });

  it('passes ApplicationFailures through', () => {
    const f = ApplicationFailure.nonRetryable('x', FailureTypes.InvalidPayload);
    expect(toActivityError(f)).toBe(f);
  });
});
