/**
 * PostgreSQL adapter (pg): the relational backend's reads and writes, and the idempotency
 * table `polysaga_idempotency` that makes every operation run at most once per key.
 *
 * Identifiers are validated against a safe pattern and double-quoted; values are always
 * parameters. Rows travel as `to_jsonb(row)` so before-images are plain JSON.
 */
import pg from 'pg';
import type { Config } from '../../config/index.js';
import type { JsonObject } from '../../saga/contracts.js';
import { ConflictError, PermanentError } from '../errors.js';
import { FailureTypes } from '../../saga/contracts.js';
import { jsonEqual } from '../json.js';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

/** Creates a pool from the `postgres` section of the configuration. */
export function createPgPool(cfg: Config['postgres'], overrides: pg.PoolConfig = {}): pg.Pool {
  const pool = new pg.Pool({
    host: cfg.host,
    port: cfg.port,
    user: cfg.user,
    password: cfg.password,
    database: cfg.database,
    max: cfg.poolMax,
    connectionTimeoutMillis: 10_000,
    ...overrides,
  });
  // An idle client losing its connection must not crash the worker; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Quotes one identifier after checking it against the safe pattern. */
export function quoteIdent(name: string): string {
  if (!IDENT.test(name))
    throw new PermanentError(`unsafe identifier: ${JSON.stringify(name)}`, FailureTypes.InvalidPayload);
  return `"${name}"`;
}

/** Quotes `table` or `schema.table`. */
export function quoteTable(name: string): string {
  const parts = name.split('.');
  if (parts.length > 2)
    throw new PermanentError(`unsafe table name: ${JSON.stringify(name)}`, FailureTypes.InvalidPayload);
  return parts.map(quoteIdent).join('.');
}

/** Runs `fn` in a transaction on one pooled client. */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Whether `table` exists (and is visible on the search path). */
export async function tableExists(c: Pick<pg.Pool, 'query'>, table: string): Promise<boolean> {
  const r = await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
  return r.rows[0]?.t != null;
}

export const IDEMPOTENCY_TABLE = 'polysaga_idempotency';
const IDEMPOTENCY_DDL = `
CREATE TABLE IF NOT EXISTS ${IDEMPOTENCY_TABLE} (
  key         text PRIMARY KEY,
  backend     text NOT NULL,
  operation   text NOT NULL,
  status      text NOT NULL CHECK (status IN ('pending', 'done')),
  prepared    jsonb,
  result      jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
)`;

/** What a caller gets back from a claim: either a fresh claim or the stored record. */
export type Claim =
  | { state: 'new' }
  | { state: 'pending'; prepared: JsonObject | null }
  | { state: 'done'; result: JsonObject };

/**
 * The idempotency table. Two ways to use it:
 * - inside a PostgreSQL transaction ({@link claimInTransaction}/{@link completeInTransaction}):
 *   the record commits with the effect, so the effect happens exactly once;
 * - write-ahead for other backends ({@link runOnce}): the before-image is stored *before*
 *   the effect, so a retry after a crash re-applies the (naturally idempotent) effect with
 *   the original before-image instead of capturing its own write as "before".
 */
export class PgIdempotencyStore {
  private ready: Promise<void> | undefined;
  constructor(readonly pool: pg.Pool) {}

  /**
   * Creates the table if missing (idempotent; serialised with an advisory lock). A table that
   * exists is left alone without any DDL, so a role without CREATE on the schema (the
   * least-privilege roles of docs/security.md) can use it.
   */
  ensureSchema(): Promise<void> {
    this.ready ??= inTransaction(this.pool, async (c) => {
      if (await tableExists(c, IDEMPOTENCY_TABLE)) return;
      await c.query(`SELECT pg_advisory_xact_lock(hashtext('${IDEMPOTENCY_TABLE}'))`);
      await c.query(IDEMPOTENCY_DDL);
    }).catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async claimInTransaction(
    c: pg.PoolClient,
    key: string,
    backend: string,
    operation: string,
  ): Promise<Claim> {
    const ins = await c.query(
      `INSERT INTO ${IDEMPOTENCY_TABLE} (key, backend, operation, status) VALUES ($1, $2, $3, 'pending')
       ON CONFLICT (key) DO NOTHING RETURNING key`,
      [key, backend, operation],
    );
    if (ins.rowCount === 1) return { state: 'new' };
    return this.read(c, key, backend, operation);
  }

  async completeInTransaction(c: Pick<pg.Pool, 'query'>, key: string, result: JsonObject): Promise<void> {
    await c.query(
      `UPDATE ${IDEMPOTENCY_TABLE} SET status = 'done', result = $2::jsonb, updated_at = now() WHERE key = $1`,
      [key, JSON.stringify(result)],
    );
  }

  private async read(
    c: Pick<pg.Pool, 'query'>,
    key: string,
    backend: string,
    operation: string,
  ): Promise<Claim> {
    const r = await c.query<{
      backend: string;
      operation: string;
      status: string;
      prepared: JsonObject | null;
      result: JsonObject | null;
    }>(`SELECT backend, operation, status, prepared, result FROM ${IDEMPOTENCY_TABLE} WHERE key = $1`, [key]);
    const row = r.rows[0];
    if (!row) return { state: 'new' };
    if (row.backend !== backend || row.operation !== operation) {
      throw new ConflictError(
        `idempotency key ${JSON.stringify(key)} was already used for ${row.backend}.${row.operation}, not ${backend}.${operation}`,
      );
    }
    if (row.status === 'done') return { state: 'done', result: row.result ?? {} };
    return { state: 'pending', prepared: row.prepared };
  }

  /**
   * Write-ahead execution for backends without transactions shared with this table.
   * `prepare` captures the before-image (run once per key); `run` applies the effect and must be
   * naturally idempotent (put by key, upsert by id, delete); its result is stored and replayed.
   */
  async runOnce(
    key: string,
    backend: string,
    operation: string,
    prepare: () => Promise<JsonObject>,
    run: (prepared: JsonObject) => Promise<JsonObject>,
  ): Promise<JsonObject> {
    await this.ensureSchema();
    let claim = await this.read(this.pool, key, backend, operation);
    if (claim.state === 'done') return claim.result;
    let prepared: JsonObject;
    if (claim.state === 'pending' && claim.prepared) {
      prepared = claim.prepared;
    } else {
      const fresh = await prepare();
      const ins = await this.pool.query(
        `INSERT INTO ${IDEMPOTENCY_TABLE} (key, backend, operation, status, prepared) VALUES ($1, $2, $3, 'pending', $4::jsonb)
         ON CONFLICT (key) DO NOTHING RETURNING key`,
        [key, backend, operation, JSON.stringify(fresh)],
      );
      if (ins.rowCount === 1) {
        prepared = fresh;
      } else {
        claim = await this.read(this.pool, key, backend, operation);
        if (claim.state === 'done') return claim.result;
        prepared = (claim.state === 'pending' ? claim.prepared : null) ?? fresh;
      }
    }
    const result = await run(prepared);
    await this.completeInTransaction(this.pool, key, result);
    return result;
  }
}

type Row = JsonObject;

/** The result of every relational operation: enough to restore the row without the payload. */
export interface RowChange extends JsonObject {
  table: string;
  /** Key of the row before the operation (null if there was none). */
  beforeKey: JsonObject | null;
  /** Key of the row after the operation (null if it was deleted). */
  afterKey: JsonObject | null;
  before: Row | null;
  after: Row | null;
}

function pick(row: Row, columns: string[]): JsonObject {
  const out: JsonObject = {};
  for (const c of columns) {
    const v = row[c];
    if (v === undefined)
      throw new PermanentError(`key column ${c} missing from the row`, FailureTypes.InvalidPayload);
    out[c] = v;
  }
  return out;
}

function where(key: JsonObject, offset = 0): { sql: string; params: unknown[] } {
  const cols = Object.keys(key);
  return {
    sql: cols.map((c, i) => `t.${quoteIdent(c)} IS NOT DISTINCT FROM $${offset + i + 1}`).join(' AND '),
    params: cols.map((c) => param(key[c])),
  };
}

/**
 * `SELECT r."a", r."b" FROM jsonb_populate_record(NULL::table, $n::jsonb) AS r`: values travel as
 * one JSON parameter and PostgreSQL converts each to its column's type (jsonb stays jsonb, JSON
 * arrays become arrays, ISO strings timestamps), so no value is ever spliced into SQL.
 */
function fromJson(table: string, cols: string[], n: number): string {
  return `SELECT ${cols.map((col) => `r.${quoteIdent(col)}`).join(', ')} FROM jsonb_populate_record(NULL::${quoteTable(table)}, $${n}::jsonb) AS r`;
}

// Key values: pg sends JS arrays as PostgreSQL arrays, objects as JSON.
function param(v: unknown): unknown {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? JSON.stringify(v) : v;
}

/**
 * Relational operations with before-images. Every forward operation runs in one transaction
 * together with its idempotency record, so a retry with the same key returns the stored
 * result without touching the table again.
 */
export class PostgresAdapter {
  readonly idempotency: PgIdempotencyStore;
  constructor(readonly pool: pg.Pool) {
    this.idempotency = new PgIdempotencyStore(pool);
  }

  private async once(
    key: string,
    operation: string,
    fn: (c: pg.PoolClient) => Promise<RowChange>,
  ): Promise<JsonObject> {
    await this.idempotency.ensureSchema();
    return inTransaction(this.pool, async (c) => {
      const claim = await this.idempotency.claimInTransaction(c, key, 'postgres', operation);
      if (claim.state === 'done') return claim.result;
      const result = await fn(c);
      await this.idempotency.completeInTransaction(c, key, result);
      return result;
    });
  }

  private async lockRows(c: pg.PoolClient, table: string, key: JsonObject): Promise<Row[]> {
    const w = where(key);
    const r = await c.query<{ row: Row }>(
      `SELECT to_jsonb(t) AS row FROM ${quoteTable(table)} AS t WHERE ${w.sql} FOR UPDATE`,
      w.params,
    );
    return r.rows.map((x) => x.row);
  }

  private async lockOne(c: pg.PoolClient, table: string, key: JsonObject): Promise<Row | null> {
    const rows = await this.lockRows(c, table, key);
    if (rows.length > 1) {
      throw new PermanentError(
        `key ${JSON.stringify(key)} matches ${rows.length} rows of ${table}`,
        FailureTypes.InvalidPayload,
      );
    }
    return rows[0] ?? null;
  }

  /** INSERT one row. Compensation: relational_delete. */
  insert(
    idemKey: string,
    p: { table: string; values: JsonObject; keyColumns: string[] },
  ): Promise<JsonObject> {
    return this.once(idemKey, 'insert', async (c) => {
      const cols = Object.keys(p.values);
      const r = await c.query<{ row: Row }>(
        `INSERT INTO ${quoteTable(p.table)} AS t (${cols.map(quoteIdent).join(', ')})
         ${fromJson(p.table, cols, 1)} RETURNING to_jsonb(t) AS row`,
        [JSON.stringify(p.values)],
      );
      const after = r.rows[0]!.row;
      const key = pick(after, p.keyColumns);
      return { table: p.table, beforeKey: key, afterKey: key, before: null, after };
    });
  }

  /** INSERT … ON CONFLICT (keyColumns) DO UPDATE. Compensation: relational_restore. */
  upsert(
    idemKey: string,
    p: { table: string; values: JsonObject; keyColumns: string[] },
  ): Promise<JsonObject> {
    return this.once(idemKey, 'upsert', async (c) => {
      const key = pick(p.values, p.keyColumns);
      const before = await this.lockOne(c, p.table, key);
      const cols = Object.keys(p.values);
      const nonKey = cols.filter((col) => !p.keyColumns.includes(col));
      const setCols = nonKey.length > 0 ? nonKey : p.keyColumns;
      const r = await c.query<{ row: Row }>(
        `INSERT INTO ${quoteTable(p.table)} AS t (${cols.map(quoteIdent).join(', ')})
         ${fromJson(p.table, cols, 1)}
         ON CONFLICT (${p.keyColumns.map(quoteIdent).join(', ')})
         DO UPDATE SET ${setCols.map((col) => `${quoteIdent(col)} = EXCLUDED.${quoteIdent(col)}`).join(', ')}
         RETURNING to_jsonb(t) AS row`,
        [JSON.stringify(p.values)],
      );
      const after = r.rows[0]!.row;
      return { table: p.table, beforeKey: key, afterKey: pick(after, p.keyColumns), before, after };
    });
  }

  /** UPDATE the one row identified by key. Compensation: relational_restore. */
  update(idemKey: string, p: { table: string; key: JsonObject; set: JsonObject }): Promise<JsonObject> {
    return this.once(idemKey, 'update', async (c) => {
      const before = await this.lockOne(c, p.table, p.key);
      if (!before)
        throw new PermanentError(
          `no row of ${p.table} with key ${JSON.stringify(p.key)}`,
          FailureTypes.NotFound,
        );
      const cols = Object.keys(p.set);
      const w = where(p.key, 1);
      const r = await c.query<{ row: Row }>(
        `UPDATE ${quoteTable(p.table)} AS t SET (${cols.map(quoteIdent).join(', ')}) = (${fromJson(p.table, cols, 1)})
         WHERE ${w.sql} RETURNING to_jsonb(t) AS row`,
        [JSON.stringify(p.set), ...w.params],
      );
      const after = r.rows[0]!.row;
      const keyCols = Object.keys(p.key);
      return { table: p.table, beforeKey: p.key, afterKey: pick(after, keyCols), before, after };
    });
  }

  /** DELETE the row identified by key (absent row: success, nothing to restore). Compensation: relational_restore. */
  delete(idemKey: string, p: { table: string; key: JsonObject }): Promise<JsonObject> {
    return this.once(idemKey, 'delete', async (c) => {
      const before = await this.lockOne(c, p.table, p.key);
      if (before) {
        const w = where(p.key);
        await c.query(`DELETE FROM ${quoteTable(p.table)} AS t WHERE ${w.sql}`, w.params);
      }
      return { table: p.table, beforeKey: p.key, afterKey: null, before, after: null };
    });
  }

  /**
   * Puts the before-image back. Idempotent: if the row already equals the before-image the
   * outcome is `absent`. If the row is neither our after-image nor the before-image, someone
   * else changed it: {@link ConflictError}.
   */
  restore(change: RowChange): Promise<'undone' | 'absent'> {
    return inTransaction(this.pool, async (c) => {
      const { table, before, after } = change;
      const current = change.afterKey ? await this.lockOne(c, table, change.afterKey) : null;
      if (after !== null && current !== null && jsonEqual(current, after)) {
        if (before === null) {
          const w = where(change.afterKey!);
          await c.query(`DELETE FROM ${quoteTable(table)} AS t WHERE ${w.sql}`, w.params);
        } else {
          await this.overwrite(c, table, change.afterKey!, before);
        }
        return 'undone';
      }
      const atBefore = change.beforeKey ? await this.lockOne(c, table, change.beforeKey) : null;
      if (before === null) {
        if (atBefore === null && current === null) return 'absent';
        throw new ConflictError(
          `${table} ${JSON.stringify(change.afterKey)} changed since the step wrote it; not deleting`,
        );
      }
      if (atBefore !== null && jsonEqual(atBefore, before)) return 'absent';
      if (after === null && atBefore === null) {
        await this.insertRow(c, table, before);
        return 'undone';
      }
      throw new ConflictError(
        `${table} ${JSON.stringify(change.beforeKey)} changed since the step wrote it; not overwriting`,
      );
    });
  }

  /** Deletes the row a step wrote if it still equals the after-image; gone already: `absent`. */
  deleteWritten(change: RowChange): Promise<'undone' | 'absent'> {
    return inTransaction(this.pool, async (c) => {
      if (!change.afterKey || change.after === null) return 'absent';
      const current = await this.lockOne(c, change.table, change.afterKey);
      if (current === null) return 'absent';
      if (!jsonEqual(current, change.after)) {
        throw new ConflictError(
          `${change.table} ${JSON.stringify(change.afterKey)} changed since the step wrote it; not deleting`,
        );
      }
      const w = where(change.afterKey);
      await c.query(`DELETE FROM ${quoteTable(change.table)} AS t WHERE ${w.sql}`, w.params);
      return 'undone';
    });
  }

  private async overwrite(c: pg.PoolClient, table: string, key: JsonObject, row: Row): Promise<void> {
    const cols = Object.keys(row);
    const w = where(key, 1);
    await c.query(
      `UPDATE ${quoteTable(table)} AS t SET (${cols.map(quoteIdent).join(', ')}) =
         (SELECT ${cols.map((col) => `r.${quoteIdent(col)}`).join(', ')} FROM jsonb_populate_record(NULL::${quoteTable(table)}, $1::jsonb) AS r)
       WHERE ${w.sql}`,
      [JSON.stringify(row), ...w.params],
    );
  }

  private async insertRow(c: pg.PoolClient, table: string, row: Row): Promise<void> {
    const cols = Object.keys(row);
    await c.query(
      `INSERT INTO ${quoteTable(table)} (${cols.map(quoteIdent).join(', ')})
       SELECT ${cols.map((col) => `r.${quoteIdent(col)}`).join(', ')} FROM jsonb_populate_record(NULL::${quoteTable(table)}, $1::jsonb) AS r`,
      [JSON.stringify(row)],
    );
  }
}
