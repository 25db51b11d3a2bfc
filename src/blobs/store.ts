/**
 * The blob store: named byte strings in PostgreSQL (`polysaga_blobs`, migration 0006), for data
 * that must never travel through Temporal history: big payloads (the claim-check codec,
 * `./codec.ts`) and before-images (`./before-images.ts`). See docs/blobs.md.
 *
 * A key never changes its bytes: `put` of the same key with the same bytes is a no-op, with
 * other bytes a {@link BlobConflictError}. `get` checks the stored SHA-256.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';

/** The table of the blob store. */
export const BLOBS_TABLE = 'polysaga_blobs';

/** Same DDL as migrations/0006_blobs.sql, run lazily so a database without `migrate` still works. */
const BLOBS_DDL = [
  `CREATE TABLE IF NOT EXISTS ${BLOBS_TABLE} (
  key        text PRIMARY KEY,
  sha256     text        NOT NULL,
  size       bigint      NOT NULL,
  bytes      bytea       NOT NULL,
  saga_id    text,
  step_id    text,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Last put of these bytes (a content-addressed payload can be shared by later sagas).
  last_used_at timestamptz NOT NULL DEFAULT now()
)`,
  `CREATE INDEX IF NOT EXISTS polysaga_blobs_saga_id_idx ON ${BLOBS_TABLE} (saga_id)`,
];

/** Who a blob belongs to (for cleanup and for people reading the table). */
export interface BlobOwner {
  sagaId?: string | undefined;
  stepId?: string | undefined;
}

/** Storage of named byte strings. */
export interface BlobStore {
  /**
   * Stores `bytes` under `key`. Same key, same bytes: no-op (only `last_used_at` moves).
   * Same key, other bytes: {@link BlobConflictError}.
   */
  put(key: string, bytes: Uint8Array, owner?: BlobOwner): Promise<void>;
  /** The bytes under `key`, or null when there is no such blob. @throws BlobCorruptError on a SHA-256 mismatch. */
  get(key: string): Promise<Uint8Array | null>;
  /** Removes the blob; true when there was one. */
  delete(key: string): Promise<boolean>;
}

/** `put` of a key that already holds other bytes. */
export class BlobConflictError extends Error {
  override name = 'BlobConflictError';
  constructor(readonly key: string) {
    super(`blob ${JSON.stringify(key)} already holds other bytes; a blob key never changes its content`);
  }
}

/** The stored bytes do not match their recorded SHA-256. */
export class BlobCorruptError extends Error {
  override name = 'BlobCorruptError';
  constructor(readonly key: string) {
    super(`blob ${JSON.stringify(key)} in ${BLOBS_TABLE} does not match its recorded sha256`);
  }
}

/** Hex SHA-256 of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Keys are printable, at most 1024 characters (they are the table's primary key). */
function checkKey(key: string): void {
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > 1024 ||
    [...key].some((ch) => ch.charCodeAt(0) < 0x20)
  ) {
    throw new Error(`invalid blob key ${JSON.stringify(key)}: 1 to 1024 printable characters`);
  }
}

/** The blob store on a PostgreSQL pool (the worker's pool, or one made by the client). */
export class PgBlobStore implements BlobStore {
  private ready: Promise<void> | undefined;
  /** Not enumerable: loggers that print the worker's options (the data converter) never show it or its password. */
  declare readonly pool: pg.Pool;
  constructor(pool: pg.Pool) {
    Object.defineProperty(this, 'pool', { value: pool, enumerable: false });
  }

  /** Creates the table if missing (idempotent; serialised with an advisory lock). */
  ensureSchema(): Promise<void> {
    this.ready ??= (async () => {
      const c = await this.pool.connect();
      try {
        // An existing table (migration 0006) needs no DDL: roles without CREATE can use it.
        const found = await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [BLOBS_TABLE]);
        if (found.rows[0]?.t != null) return;
        await c.query('BEGIN');
        await c.query(`SELECT pg_advisory_xact_lock(hashtext('${BLOBS_TABLE}'))`);
        for (const sql of BLOBS_DDL) await c.query(sql);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async put(key: string, bytes: Uint8Array, owner: BlobOwner = {}): Promise<void> {
    checkKey(key);
    await this.ensureSchema();
    const sha = sha256Hex(bytes);
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Two tries: a blob deleted between the INSERT and the SELECT is inserted again.
    for (let attempt = 0; attempt < 2; attempt++) {
      const ins = await this.pool.query(
        `INSERT INTO ${BLOBS_TABLE} (key, sha256, size, bytes, saga_id, step_id) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (key) DO NOTHING RETURNING key`,
        [key, sha, bytes.byteLength, data, owner.sagaId ?? null, owner.stepId ?? null],
      );
      if (ins.rowCount === 1) return;
      const r = await this.pool.query<{ sha256: string }>(
        `SELECT sha256 FROM ${BLOBS_TABLE} WHERE key = $1`,
        [key],
      );
      const existing = r.rows[0]?.sha256;
      if (existing === sha) {
        await this.pool.query(`UPDATE ${BLOBS_TABLE} SET last_used_at = now() WHERE key = $1`, [key]);
        return;
      }
      if (existing !== undefined) throw new BlobConflictError(key);
    }
    throw new Error(`blob ${JSON.stringify(key)}: could not be stored (deleted concurrently twice)`);
  }

  async get(key: string): Promise<Uint8Array | null> {
    checkKey(key);
    await this.ensureSchema();
    const r = await this.pool.query<{ sha256: string; bytes: Buffer }>(
      `SELECT sha256, bytes FROM ${BLOBS_TABLE} WHERE key = $1`,
      [key],
    );
    const row = r.rows[0];
    if (!row) return null;
    if (sha256Hex(row.bytes) !== row.sha256) throw new BlobCorruptError(key);
    return new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength);
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    await this.ensureSchema();
    const r = await this.pool.query(`DELETE FROM ${BLOBS_TABLE} WHERE key = $1`, [key]);
    return r.rowCount === 1;
  }
}
