/**
 * Column mapping of the audit table: which column holds which event field.
 *
 * polysaga's own table (migrations/0001) maps one to one. Event tables created by other tools
 * may differ: another primary-key name, or only a JSON `data` column. {@link detectEventTableMapping} inspects the catalog and returns a
 * mapping for such tables; explicit overrides win over what it detects.
 */
import type pg from 'pg';
import { quoteIdent } from './connection.js';

/** The fields of one event, as the writer and reader name them. */
export const EVENT_FIELDS = [
  'sagaId',
  'runId',
  'seq',
  'stepId',
  'status',
  'sagaName',
  'payload',
  'error',
  'traceId',
  'attempt',
  'durationMs',
  'createdAt',
] as const;
export type EventField = (typeof EVENT_FIELDS)[number];

/** Column names tried, in order, for each field when detecting. */
export const COLUMN_ALIASES: Readonly<Record<EventField, readonly string[]>> = {
  sagaId: ['saga_id', 'saga_uuid', 'sagaid', 'saga'],
  runId: ['run_id', 'workflow_run_id'],
  seq: ['seq', 'sequence', 'seq_no', 'event_seq'],
  stepId: ['step_id', 'step'],
  status: ['status', 'state', 'event_status'],
  sagaName: ['saga_name', 'saga_type', 'name'],
  payload: ['payload', 'event_payload', 'details', 'data'],
  error: ['error', 'error_message', 'err'],
  traceId: ['trace_id', 'traceid'],
  attempt: ['attempt', 'attempts'],
  durationMs: ['duration_ms', 'duration'],
  createdAt: ['created_at', 'ts', 'timestamp', 'event_time'],
};

/** Names tried for the single JSON column of a JSON-only table. */
export const DATA_COLUMN_ALIASES: readonly string[] = ['data', 'event', 'event_data', 'payload', 'body'];

/** A primary key the writer must fill itself (no default): deterministic text or a random uuid. */
export interface GeneratedKey {
  column: string;
  type: string;
  strategy: 'saga-seq-text' | 'uuid';
}

interface MappingBase {
  /** Qualified, quoted table name as PostgreSQL prints it (`regclass::text`). */
  table: string;
  /** SQL type of every column (format_type), for explicit parameter casts. */
  columnTypes: Record<string, string>;
  /** Primary-key column read back as the event id, if any (e.g. `id` or `event_id`). */
  idColumn?: string;
  generatedKey?: GeneratedKey;
}

/** Each field in its own column (polysaga's table, or one with other names / fewer columns). */
export interface ColumnsMapping extends MappingBase {
  kind: 'columns';
  columns: Partial<Record<EventField, string>>;
  /** A unique index on exactly (saga column, seq column): ON CONFLICT can be used. */
  uniqueSagaSeq: boolean;
  /** Fields without a column, kept in the payload under {@link EXTRA_FIELDS_KEY}. */
  extras: EventField[];
}

/** Only a JSON column: the whole event is stored as one JSON object. */
export interface JsonMapping extends MappingBase {
  kind: 'json';
  dataColumn: string;
  /** A timestamp column with a default, read back as createdAt. */
  createdAtColumn?: string;
}

export type EventTableMapping = ColumnsMapping | JsonMapping;

/** Explicit mapping choices; anything left out is detected. */
export interface MappingOverrides {
  kind?: 'columns' | 'json';
  columns?: Partial<Record<EventField, string>>;
  dataColumn?: string;
  idColumn?: string;
}

/** Key inside the payload holding event fields the table has no column for. */
export const EXTRA_FIELDS_KEY = '_polysaga';

/** The table is missing or cannot hold events; the message says what to do. */
export class EventTableMappingError extends Error {
  override name = 'EventTableMappingError';
}

interface ColumnInfo {
  name: string;
  type: string;
  notNull: boolean;
  hasDefault: boolean;
}

const JSON_TYPES = new Set(['jsonb', 'json', 'text']);

/**
 * Inspects `table` (resolved through the search_path) and returns how events map onto it.
 * Read-only. Throws {@link EventTableMappingError} when the table is missing or has no place
 * for the saga id and status (columns) nor a JSON column (json).
 */
export async function detectEventTableMapping(
  db: pg.Pool | pg.PoolClient,
  table = 'uds3_saga_events',
  overrides: MappingOverrides = {},
): Promise<EventTableMapping> {
  const rel = await db.query<{ oid: number | null; name: string | null }>(
    'SELECT to_regclass($1)::oid AS oid, to_regclass($1)::text AS name',
    [table],
  );
  const oid = rel.rows[0]?.oid;
  const name = rel.rows[0]?.name;
  if (!oid || !name) {
    throw new EventTableMappingError(`audit table ${table} does not exist; run \`polysaga migrate\` first`);
  }
  const cols = (
    await db.query<ColumnInfo>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
              (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS "hasDefault"
         FROM pg_attribute a
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [oid],
    )
  ).rows;
  const byName = new Map(cols.map((c) => [c.name, c]));
  const uniques = (
    await db.query<{ cols: string[]; primary: boolean }>(
      `SELECT array_agg(a.attname::text ORDER BY k.ord) AS cols, i.indisprimary AS primary
         FROM pg_index i
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
        GROUP BY i.indexrelid, i.indisprimary`,
      [oid],
    )
  ).rows;
  const pk = uniques.find((u) => u.primary)?.cols;
  const columnTypes = Object.fromEntries(cols.map((c) => [c.name, c.type]));
  const find = (aliases: readonly string[], exclude: Set<string> = new Set()) =>
    aliases.find((a) => byName.has(a) && !exclude.has(a));

  const explicit = overrides.columns ?? {};
  for (const [field, col] of Object.entries(explicit)) {
    if (col !== undefined && !byName.has(col))
      throw new EventTableMappingError(`${name}: mapped column ${col} (${field}) does not exist`);
  }
  const sagaCol = explicit.sagaId ?? find(COLUMN_ALIASES.sagaId);
  const kind = overrides.kind ?? (sagaCol ? 'columns' : 'json');
  const idColumn = overrides.idColumn ?? (pk?.length === 1 ? pk[0] : undefined);

  const used = new Set<string>();
  const base = { table: name, columnTypes, ...(idColumn ? { idColumn } : {}) };

  let mapping: EventTableMapping;
  if (kind === 'columns') {
    const columns: Partial<Record<EventField, string>> = {};
    for (const field of EVENT_FIELDS) {
      const exclude = new Set([...used, ...(idColumn ? [idColumn] : [])]);
      const col = explicit[field] ?? find(COLUMN_ALIASES[field], exclude);
      if (col) {
        columns[field] = col;
        used.add(col);
      }
    }
    if (!columns.sagaId || !columns.status) {
      throw new EventTableMappingError(
        `${name}: no column for the saga id or the status (tried ${COLUMN_ALIASES.sagaId.join(', ')} / ${COLUMN_ALIASES.status.join(', ')}); ` +
          'pass an explicit column mapping',
      );
    }
    if (columns.payload && !JSON_TYPES.has(columnTypes[columns.payload] ?? '')) {
      throw new EventTableMappingError(
        `${name}: payload column ${columns.payload} must be jsonb, json or text`,
      );
    }
    const uniqueSagaSeq =
      columns.seq !== undefined &&
      uniques.some(
        (u) =>
          u.cols.length === 2 &&
          u.cols.includes(columns.sagaId as string) &&
          u.cols.includes(columns.seq as string),
      );
    const extras = EVENT_FIELDS.filter(
      (f) => f !== 'createdAt' && f !== 'payload' && columns[f] === undefined,
    );
    mapping = { kind: 'columns', ...base, columns, uniqueSagaSeq, extras };
  } else {
    const dataColumn = overrides.dataColumn ?? find(DATA_COLUMN_ALIASES);
    if (!dataColumn || !JSON_TYPES.has(columnTypes[dataColumn] ?? '')) {
      throw new EventTableMappingError(
        `${name}: neither a saga id column (${COLUMN_ALIASES.sagaId.join(', ')}) nor a JSON column (${DATA_COLUMN_ALIASES.join(', ')}) found`,
      );
    }
    used.add(dataColumn);
    const createdAtColumn = find(COLUMN_ALIASES.createdAt);
    if (createdAtColumn && byName.get(createdAtColumn)?.hasDefault) used.add(createdAtColumn);
    mapping = {
      kind: 'json',
      ...base,
      dataColumn,
      ...(createdAtColumn && byName.get(createdAtColumn)?.hasDefault ? { createdAtColumn } : {}),
    };
  }

  // Mandatory columns we do not fill: a key without default gets a generated value, anything
  // else makes the table unusable (say which column).
  const missing = cols.filter((c) => c.notNull && !c.hasDefault && !used.has(c.name));
  for (const c of missing) {
    if (pk?.length === 1 && pk[0] === c.name && /^(text|character varying|uuid)/.test(c.type)) {
      mapping.generatedKey = {
        column: c.name,
        type: c.type,
        strategy: c.type === 'uuid' ? 'uuid' : 'saga-seq-text',
      };
    } else {
      throw new EventTableMappingError(
        `${name}: column ${c.name} is NOT NULL without a default and not mapped to an event field`,
      );
    }
  }
  return mapping;
}

/** `"col"::type` helper for explicit parameter casts. */
export function castParam(mapping: EventTableMapping, column: string, index: number): string {
  const type = mapping.columnTypes[column];
  return type ? `$${index}::${type}` : `$${index}`;
}

export { quoteIdent };
