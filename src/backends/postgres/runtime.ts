/**
 * `postgres` backend: insert, update, upsert, delete on tables of the configured database.
 *
 * Idempotency: each operation commits together with its row in `polysaga_idempotency`
 * (keyed by the step's idempotency key), so a retried activity returns the stored result.
 * Compensations: `relational_delete` (insert) and `relational_restore` (before-image back).
 */
import type { JsonObject } from '../../saga/contracts.js';
import type { PgDeletePayload, PgInsertPayload, PgUpdatePayload } from './catalog.js';
import type { PostgresAdapter, RowChange } from './adapter.js';
import { PermanentError } from '../errors.js';
import { FailureTypes } from '../../saga/contracts.js';
import { op, type Backend } from '../types.js';
import { defineBackend } from '../define.js';
import { postgresCatalog } from './catalog.js';
import { postgresSnapshot } from './snapshot.js';

function rowChange(result: JsonObject): RowChange {
  if (typeof result.table !== 'string' || !('before' in result) || !('after' in result)) {
    throw new PermanentError(
      'compensation needs the result of a postgres step (table, before, after)',
      FailureTypes.InvalidPayload,
    );
  }
  return result as RowChange;
}

/** Builds the postgres backend over an adapter (one pool per worker). */
export function createPostgresBackend(adapter: PostgresAdapter): Backend {
  return {
    name: 'postgres',
    operations: {
      insert: op<PgInsertPayload>((p, ctx) => adapter.insert(ctx.idempotencyKey, p)),
      upsert: op<PgInsertPayload>((p, ctx) => adapter.upsert(ctx.idempotencyKey, p)),
      update: op<PgUpdatePayload>((p, ctx) => adapter.update(ctx.idempotencyKey, p)),
      delete: op<PgDeletePayload>((p, ctx) => adapter.delete(ctx.idempotencyKey, p)),
    },
    compensations: {
      relational_delete: async (input) => ({ outcome: await adapter.deleteWritten(rowChange(input.result)) }),
      relational_restore: async (input) => ({ outcome: await adapter.restore(rowChange(input.result)) }),
    },
  };
}

/** The `postgres` backend: its catalog and handlers over the worker's postgres client. */
export const postgresBackend = defineBackend({
  ...postgresCatalog,
  snapshot: postgresSnapshot,
  connect: ({ adapters }) => createPostgresBackend(adapters.postgres),
});
