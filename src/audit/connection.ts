/**
 * PostgreSQL connection of the audit trail: a pool from {@link Config} (host already resolved
 * with the `SAGA_REL_HOST` override) and a clear error when no server answers.
 */
import pg from 'pg';
import { createPgPool } from '../backends/postgres/adapter.js';
import type { Config } from '../config/index.js';

function describeCause(cause: unknown): string {
  // node reports a refused localhost connection as an AggregateError (IPv6 and IPv4) without a message.
  const inner: unknown = cause instanceof AggregateError && cause.errors.length > 0 ? cause.errors[0] : cause;
  const codeOf = (e: unknown) => {
    const c = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
    return typeof c === 'string' ? c : undefined;
  };
  const code = codeOf(cause) ?? codeOf(inner);
  const message = inner instanceof Error ? inner.message : typeof inner === 'string' ? inner : '';
  if (!message) return code ?? 'connection failed';
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}

/** No PostgreSQL could be reached; the message names host:port and the variables to check. */
export class AuditDatabaseUnreachableError extends Error {
  override name = 'AuditDatabaseUnreachableError';
  constructor(
    readonly host: string,
    readonly port: number,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot reach PostgreSQL at ${host}:${port} (${describeCause(options?.cause)}); ` +
        'check POSTGRES_HOST (or SAGA_REL_HOST), POSTGRES_PORT and that the server runs ' +
        '(local stack: bash scripts/stack/stack.sh up postgres)',
      options,
    );
  }
}

const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P03', // cannot_connect_now (starting up / shutting down)
  '3D000', // database does not exist
  '28P01', // password authentication failed
  '28000', // invalid authorization
]);

/**
 * Creates a pg pool for the audit table from the configuration (the same pool settings as the
 * relational backend's, {@link createPgPool}). The caller ends it.
 */
export function createAuditPool(postgres: Config['postgres'], extra: pg.PoolConfig = {}): pg.Pool {
  return createPgPool(postgres, extra);
}

/** host and port a pool connects to (for error messages). */
export function poolTarget(pool: pg.Pool): { host: string; port: number } {
  const o = pool.options as pg.PoolConfig;
  return {
    host: String(o.host ?? process.env.PGHOST ?? 'localhost'),
    port: Number(o.port ?? process.env.PGPORT ?? 5432),
  };
}

/**
 * Checks a client out of the pool; a failure to connect becomes an
 * {@link AuditDatabaseUnreachableError} naming host:port.
 */
export async function connectClient(pool: pg.Pool): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    throw asUnreachable(pool, err);
  }
}

/** Wraps connection-level errors (refused, DNS, timeout, auth) as {@link AuditDatabaseUnreachableError}. */
export function asUnreachable(pool: pg.Pool, err: unknown): unknown {
  if (err instanceof AuditDatabaseUnreachableError) return err;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const message = err instanceof Error ? err.message : '';
  const isConnect =
    (typeof code === 'string' && CONNECT_ERROR_CODES.has(code)) ||
    /timeout expired|Connection terminated|connect ECONNREFUSED/i.test(message) ||
    (err instanceof AggregateError &&
      err.errors.some((e: unknown) => CONNECT_ERROR_CODES.has(String((e as { code?: unknown }).code))));
  if (!isConnect) return err;
  const { host, port } = poolTarget(pool);
  return new AuditDatabaseUnreachableError(host, port, { cause: err });
}

/** Double-quotes an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
