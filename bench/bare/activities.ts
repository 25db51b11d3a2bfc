/**
 * Activities of the bare Temporal saga (bench only): each does one write with the `pg` or
 * `redis` client directly, as the activities of Temporal's saga sample call their services.
 * A duplicate key is a permanent failure (non-retryable), everything else is retried.
 */
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import type { RedisClientType } from 'redis';

/** Failure type of a duplicate row. */
export const DUPLICATE_ROW = 'DuplicateRow';

/** What the bare activities write to. */
export interface BareActivityDeps {
  pool: pg.Pool;
  redis: Pick<RedisClientType, 'set' | 'del'>;
  /** The bench table: `(id text PRIMARY KEY, saga text, v int)`. */
  table: string;
}

/** Builds the four activities: a write and its undo per store. */
export function createBareActivities({ pool, redis, table }: BareActivityDeps) {
  return {
    /** INSERT one row; a duplicate id fails for good. Undo: {@link deleteRow}. */
    async insertRow(row: { id: string; saga: string; v: number }): Promise<void> {
      try {
        await pool.query(`INSERT INTO ${table} (id, saga, v) VALUES ($1, $2, $3)`, [row.id, row.saga, row.v]);
      } catch (err) {
        if ((err as { code?: string }).code === '23505')
          throw ApplicationFailure.nonRetryable(`duplicate row ${row.id}`, DUPLICATE_ROW);
        throw err;
      }
    },
    /** DELETE the row (no-op when it is gone). */
    async deleteRow(row: { id: string }): Promise<void> {
      await pool.query(`DELETE FROM ${table} WHERE id = $1`, [row.id]);
    },
    /** SET one key. Undo: {@link deleteKey}. */
    async setKey(kv: { key: string; value: string }): Promise<void> {
      await redis.set(kv.key, kv.value);
    },
    /** DEL the key. */
    async deleteKey(kv: { key: string }): Promise<void> {
      await redis.del(kv.key);
    },
  };
}

export type BareActivities = ReturnType<typeof createBareActivities>;
