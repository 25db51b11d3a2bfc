/** Catalog of the `postgres` backend (pure zod). */
import { z } from 'zod';
import type { BackendCatalog } from '../../saga/catalog.js';
import { POSTGRES_STEP_OPTIONS } from '../../saga/activity-options.js';
import { identifier } from '../schemas.js';
import type { StoreTarget } from '../../saga/guard.js';

/** `table` or `schema.table`, each part a safe identifier. */
export const tableName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/,
    'must be table or schema.table of safe identifiers',
  );

const columns = z.record(identifier, z.json());
const nonEmpty = (o: Record<string, unknown>) => Object.keys(o).length > 0;

export const pgInsertPayload = z.object({
  table: tableName,
  values: columns.refine(nonEmpty, 'values must name at least one column'),
  /** Columns that identify the row (for the compensation). Default ["id"]. */
  keyColumns: z.array(identifier).min(1).default(['id']),
});
export const pgUpsertPayload = pgInsertPayload;
export const pgUpdatePayload = z.object({
  table: tableName,
  /** Column → value that identifies exactly one row. */
  key: columns.refine(nonEmpty, 'key must name at least one column'),
  set: columns.refine(nonEmpty, 'set must name at least one column'),
});
export const pgDeletePayload = z.object({
  table: tableName,
  key: columns.refine(nonEmpty, 'key must name at least one column'),
});

export type PgInsertPayload = z.infer<typeof pgInsertPayload>;
export type PgUpdatePayload = z.infer<typeof pgUpdatePayload>;
export type PgDeletePayload = z.infer<typeof pgDeletePayload>;

/** Every postgres operation names one table, in `table`. */
const tableTarget = (p: { table: string }): StoreTarget[] => [
  { kind: 'table', field: 'table', table: p.table },
];

export const postgresCatalog = {
  name: 'postgres',
  retry: POSTGRES_STEP_OPTIONS,
  operations: {
    insert: {
      payload: pgInsertPayload,
      targets: tableTarget,
      defaultCompensation: 'relational_delete',
      description: 'INSERT one row; result holds the inserted row (after-image).',
    },
    upsert: {
      payload: pgUpsertPayload,
      targets: tableTarget,
      defaultCompensation: 'relational_restore',
      description:
        'INSERT … ON CONFLICT (keyColumns) DO UPDATE; result holds the old row (before-image) or null.',
    },
    update: {
      payload: pgUpdatePayload,
      targets: tableTarget,
      defaultCompensation: 'relational_restore',
      description: 'UPDATE the one row identified by key; result holds the old and new row.',
    },
    delete: {
      payload: pgDeletePayload,
      targets: tableTarget,
      defaultCompensation: 'relational_restore',
      description: 'DELETE the row identified by key; result holds the deleted row (before-image).',
    },
  },
  compensations: {
    relational_delete: {
      description: 'Deletes the row a step inserted, unless it changed since.',
    },
    relational_restore: {
      description:
        'Puts the before-image back (restores, re-inserts or deletes), unless the row changed since.',
    },
  },
} satisfies BackendCatalog;
