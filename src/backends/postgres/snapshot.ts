/**
 * What `polysaga verify` reads of the postgres store: the current state of one target, as JSON
 * (`null` when absent), compared before and after a saga (docs/verify.md).
 */
import type pg from 'pg';
import type { BackendSnapshot } from '../define.js';
import { canonicalJson } from '../json.js';
import type { Json, JsonObject } from '../../saga/contracts.js';
import { sortStable } from '../json.js';
import { quoteIdent, quoteTable } from './adapter.js';

/** The rows of `table` whose columns equal `key`. */
export async function pgRow(pool: pg.Pool, table: string, key: JsonObject): Promise<Json> {
  const cols = Object.keys(key);
  const where = cols.map((c, i) => `t.${quoteIdent(c)} IS NOT DISTINCT FROM $${i + 1}`).join(' AND ');
  const params = cols.map((c) => {
    const v = key[c];
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? JSON.stringify(v) : v;
  });
  try {
    const r = await pool.query<{ row: JsonObject }>(
      `SELECT to_jsonb(t) AS row FROM ${quoteTable(table)} AS t WHERE ${where}`,
      params,
    );
    const rows = sortStable(r.rows.map((x) => x.row));
    return rows.length === 0 ? null : rows;
  } catch (err) {
    // A missing table holds no row. If the saga writes to it, its step fails and the run reports
    // that (create the table first, e.g. with --setup <file.sql>).
    if ((err as { code?: string }).code === '42P01') return null;
    throw err;
  }
}

/** A row verify reads: by the key columns of the step's payload. */
export interface PgRowTarget {
  kind: 'pg-row';
  table: string;
  key: JsonObject;
}

/** The row a postgres step touches (payload parsed by the catalog schema, defaults applied). */
export function postgresTargets(operation: string, p: Record<string, unknown>): PgRowTarget[] {
  const table = String(p.table);
  if (operation === 'insert' || operation === 'upsert') {
    const values = p.values as JsonObject;
    const cols = (p.keyColumns as string[] | undefined) ?? ['id'];
    return [{ kind: 'pg-row', table, key: Object.fromEntries(cols.map((c) => [c, values[c] ?? null])) }];
  }
  return [{ kind: 'pg-row', table, key: p.key as JsonObject }];
}

/** What `polysaga verify` checks of the postgres store: the rows a step touches. */
export const postgresSnapshot: BackendSnapshot<PgRowTarget> = {
  targets: (operation, p) => postgresTargets(operation, p),
  describe: (t) => `postgres ${t.table} ${canonicalJson(t.key)}`,
  connect: ({ adapters }) => ({ read: (t) => pgRow(adapters.pool, t.table, t.key) }),
};
