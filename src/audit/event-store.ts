/**
 * Writer and reader of the audit trail (`uds3_saga_events`, or a differing table through a
 * {@link EventTableMapping}).
 *
 * Exactly once per transition: (saga_id, seq) identifies an event. On polysaga's table the
 * insert is `ON CONFLICT (saga_id, seq) DO NOTHING`; on tables without that unique index the
 * writer takes a transaction-scoped advisory lock on (table, saga id, seq) and inserts only if
 * no row with that pair exists. Either way a retried write is a no-op and keeps the first row.
 */
import type pg from 'pg';
import type { Json, JsonObject, SagaEventInput } from '../saga/contracts.js';
import { asUnreachable, connectClient, quoteIdent } from './connection.js';
import {
  castParam,
  detectEventTableMapping,
  EXTRA_FIELDS_KEY,
  type ColumnsMapping,
  type EventField,
  type EventTableMapping,
  type JsonMapping,
  type MappingOverrides,
} from './mapping.js';
import { redact, SecretMasker } from './redact.js';

/** Default audit table name. */
export const EVENTS_TABLE = 'uds3_saga_events';

/** One stored event, read back. */
export interface AuditEvent {
  /** The table's key (bigserial id, event_id, …) as text; null if the table has none. */
  id: string | null;
  sagaId: string;
  runId: string | null;
  seq: number;
  stepId: string | null;
  status: string;
  sagaName: string | null;
  payload: JsonObject;
  error: string | null;
  traceId: string | null;
  attempt: number | null;
  durationMs: number | null;
  createdAt: Date | null;
}

export interface EventStoreOptions {
  pool: pg.Pool;
  /** Table name, optionally schema-qualified; default `uds3_saga_events`. */
  table?: string;
  /** A complete mapping, or overrides merged over the detected one; default: detect. */
  mapping?: EventTableMapping | MappingOverrides;
  /** Payload keys to replace by "[REDACTED]" (case-insensitive, nested); usually config.sensitiveFields. */
  sensitiveFields?: readonly string[];
  /** Configured secret values, written as `***` in the payload and error columns (docs/security.md). */
  secrets?: SecretMasker;
}

export interface EventStore {
  /**
   * Writes one event; `{ inserted: false }` when an event with the same (sagaId, seq) is
   * already stored (a retry): the stored row is left as it is.
   */
  write(event: SagaEventInput): Promise<{ inserted: boolean }>;
  /** The events of one saga, ordered by seq. */
  read(sagaId: string): Promise<AuditEvent[]>;
  /** The mapping in use (detected on first use, then cached). */
  mapping(): Promise<EventTableMapping>;
}

function isFullMapping(m: EventTableMapping | MappingOverrides | undefined): m is EventTableMapping {
  return m !== undefined && 'table' in m && 'columnTypes' in m;
}

/** The value of each field of an event (payload already redacted). */
function fieldValues(
  event: SagaEventInput,
  payload: JsonObject,
): Record<Exclude<EventField, 'createdAt'>, Json> {
  return {
    sagaId: event.sagaId,
    runId: event.runId,
    seq: event.seq,
    stepId: event.stepId,
    status: event.status,
    sagaName: event.sagaName,
    payload,
    error: event.error ?? null,
    traceId: event.traceId,
    attempt: event.attempt ?? null,
    durationMs: event.durationMs === undefined ? null : Math.round(event.durationMs),
  };
}

interface Statement {
  text: string;
  values: unknown[];
  /** The statement itself is idempotent (ON CONFLICT); otherwise the lock + NOT EXISTS path is used. */
  onConflict: boolean;
  lockKey: string;
}

function jsonText(mapping: EventTableMapping, column: string): string {
  // `col::jsonb` works for jsonb, json and text columns alike.
  const type = mapping.columnTypes[column];
  return type === 'jsonb' ? quoteIdent(column) : `${quoteIdent(column)}::jsonb`;
}

function buildColumnsInsert(m: ColumnsMapping, event: SagaEventInput, payload: JsonObject): Statement {
  const values = fieldValues(event, payload);
  const extras: JsonObject = {};
  for (const f of m.extras) if (f !== 'payload') extras[f] = values[f as Exclude<EventField, 'createdAt'>];
  const cols: string[] = [];
  const exprs: string[] = [];
  const params: unknown[] = [];
  const add = (column: string, value: unknown) => {
    params.push(value);
    cols.push(quoteIdent(column));
    exprs.push(castParam(m, column, params.length));
  };
  for (const [field, column] of Object.entries(m.columns) as [EventField, string][]) {
    if (field === 'createdAt') continue;
    let v: unknown = values[field];
    if (field === 'payload')
      v = JSON.stringify(m.extras.length > 0 ? { ...payload, [EXTRA_FIELDS_KEY]: extras } : payload);
    add(column, v);
  }
  if (m.columns.createdAt && m.generatedKey?.column !== m.columns.createdAt) {
    cols.push(quoteIdent(m.columns.createdAt));
    exprs.push('now()');
  }
  if (m.generatedKey) {
    if (m.generatedKey.strategy === 'uuid') {
      cols.push(quoteIdent(m.generatedKey.column));
      exprs.push('gen_random_uuid()');
    } else add(m.generatedKey.column, `${event.sagaId}:${event.seq}`);
  }
  const insert = `INSERT INTO ${m.table} (${cols.join(', ')})`;
  const sagaCol = m.columns.sagaId as string;
  if (m.uniqueSagaSeq && m.columns.seq) {
    return {
      text: `${insert} VALUES (${exprs.join(', ')}) ON CONFLICT (${quoteIdent(sagaCol)}, ${quoteIdent(m.columns.seq)}) DO NOTHING`,
      values: params,
      onConflict: true,
      lockKey: '',
    };
  }
  params.push(event.sagaId, event.seq);
  const a = params.length - 1;
  const b = params.length;
  const seqExpr = m.columns.seq
    ? quoteIdent(m.columns.seq)
    : m.columns.payload
      ? `(${jsonText(m, m.columns.payload)} -> '${EXTRA_FIELDS_KEY}' ->> 'seq')::int`
      : null;
  if (seqExpr === null) {
    throw new Error(
      `${m.table}: neither a seq column nor a payload column; a retried write could not be recognised`,
    );
  }
  return {
    text:
      `${insert} SELECT ${exprs.join(', ')} WHERE NOT EXISTS (SELECT 1 FROM ${m.table} ` +
      `WHERE ${quoteIdent(sagaCol)}::text = $${a}::text AND ${seqExpr} = $${b}::int)` +
      (m.generatedKey?.strategy === 'saga-seq-text' ? ' ON CONFLICT DO NOTHING' : ''),
    values: params,
    onConflict: false,
    lockKey: `${m.table}|${event.sagaId}|${event.seq}`,
  };
}

function buildJsonInsert(m: JsonMapping, event: SagaEventInput, payload: JsonObject): Statement {
  const data: JsonObject = { ...fieldValues(event, payload), createdAt: new Date().toISOString() };
  const cols = [quoteIdent(m.dataColumn)];
  const exprs = [castParam(m, m.dataColumn, 1)];
  const params: unknown[] = [JSON.stringify(data)];
  if (m.generatedKey) {
    cols.push(quoteIdent(m.generatedKey.column));
    if (m.generatedKey.strategy === 'uuid') exprs.push('gen_random_uuid()');
    else {
      params.push(`${event.sagaId}:${event.seq}`);
      exprs.push(castParam(m, m.generatedKey.column, params.length));
    }
  }
  params.push(event.sagaId, event.seq);
  const a = params.length - 1;
  const b = params.length;
  const d = jsonText(m, m.dataColumn);
  return {
    text:
      `INSERT INTO ${m.table} (${cols.join(', ')}) SELECT ${exprs.join(', ')} WHERE NOT EXISTS ` +
      `(SELECT 1 FROM ${m.table} WHERE ${d} ->> 'sagaId' = $${a}::text AND (${d} ->> 'seq')::int = $${b}::int)` +
      (m.generatedKey?.strategy === 'saga-seq-text' ? ' ON CONFLICT DO NOTHING' : ''),
    values: params,
    onConflict: false,
    lockKey: `${m.table}|${event.sagaId}|${event.seq}`,
  };
}

function parseJson(v: unknown): JsonObject {
  if (v === null || v === undefined) return {};
  if (typeof v === 'string') {
    try {
      const parsed: unknown = JSON.parse(v);
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as JsonObject)
        : { value: parsed as Json };
    } catch {
      return { value: v };
    }
  }
  return typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : { value: v as Json };
}

const str = (v: unknown): string | null =>
  v === null || v === undefined
    ? null
    : typeof v === 'string'
      ? v
      : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint'
        ? String(v)
        : JSON.stringify(v);
const num = (v: unknown): number | null => (v === null || v === undefined || v === '' ? null : Number(v));
const date = (v: unknown): Date | null =>
  v === null || v === undefined
    ? null
    : v instanceof Date
      ? v
      : typeof v === 'string' || typeof v === 'number'
        ? Number.isNaN(new Date(v).getTime())
          ? null
          : new Date(v)
        : null;

async function readWith(
  db: pg.Pool | pg.PoolClient,
  m: EventTableMapping,
  sagaId: string,
): Promise<AuditEvent[]> {
  if (m.kind === 'json') {
    const d = jsonText(m, m.dataColumn);
    const rows = (
      await db.query<Record<string, unknown>>(
        `SELECT ${quoteIdent(m.dataColumn)} AS data${m.idColumn ? `, ${quoteIdent(m.idColumn)}::text AS id` : ''}` +
          `${m.createdAtColumn ? `, ${quoteIdent(m.createdAtColumn)} AS created_at` : ''} ` +
          `FROM ${m.table} WHERE ${d} ->> 'sagaId' = $1 ORDER BY (${d} ->> 'seq')::int`,
        [sagaId],
      )
    ).rows;
    return rows.map((r) => {
      const data = parseJson(r.data);
      return {
        id: str(r.id),
        sagaId: str(data.sagaId) ?? '',
        runId: str(data.runId),
        seq: Number(data.seq),
        stepId: str(data.stepId),
        status: str(data.status) ?? '',
        sagaName: str(data.sagaName),
        payload: parseJson(data.payload),
        error: str(data.error),
        traceId: str(data.traceId),
        attempt: num(data.attempt),
        durationMs: num(data.durationMs),
        createdAt: date(r.created_at ?? data.createdAt),
      };
    });
  }
  const select = (Object.entries(m.columns) as [EventField, string][]).map(
    ([f, c]) => `${quoteIdent(c)} AS ${quoteIdent(f)}`,
  );
  if (m.idColumn) select.push(`${quoteIdent(m.idColumn)}::text AS "__id"`);
  const sagaCol = quoteIdent(m.columns.sagaId as string);
  const order = m.columns.seq
    ? quoteIdent(m.columns.seq)
    : m.columns.payload
      ? `(${jsonText(m, m.columns.payload)} -> '${EXTRA_FIELDS_KEY}' ->> 'seq')::int`
      : m.idColumn
        ? quoteIdent(m.idColumn)
        : '1';
  const rows = (
    await db.query<Record<string, unknown>>(
      `SELECT ${select.join(', ')} FROM ${m.table} WHERE ${sagaCol}::text = $1 ORDER BY ${order}${m.idColumn ? `, ${quoteIdent(m.idColumn)}` : ''}`,
      [sagaId],
    )
  ).rows;
  return rows.map((r) => {
    const payload = parseJson(r.payload);
    const extra = payload[EXTRA_FIELDS_KEY];
    const x: Record<string, unknown> =
      typeof extra === 'object' && extra !== null && !Array.isArray(extra) ? extra : {};
    if (EXTRA_FIELDS_KEY in payload) delete payload[EXTRA_FIELDS_KEY];
    const get = (f: EventField) => (m.columns[f] ? r[f] : x[f]);
    return {
      id: str(r.__id),
      sagaId: str(r.sagaId) ?? '',
      runId: str(get('runId')),
      seq: Number(get('seq')),
      stepId: str(get('stepId')),
      status: str(r.status) ?? '',
      sagaName: str(get('sagaName')),
      payload,
      error: str(get('error')),
      traceId: str(get('traceId')),
      attempt: num(get('attempt')),
      durationMs: num(get('durationMs')),
      createdAt: date(get('createdAt')),
    };
  });
}

/**
 * Creates the audit trail writer/reader over `pool`. The column mapping is detected on first
 * use (see {@link detectEventTableMapping}) unless a complete mapping is given.
 */
export function createEventStore(options: EventStoreOptions): EventStore {
  const { pool } = options;
  const table = options.table ?? EVENTS_TABLE;
  const sensitive = options.sensitiveFields ?? [];
  const secrets = options.secrets ?? SecretMasker.none;
  let cached: Promise<EventTableMapping> | undefined = isFullMapping(options.mapping)
    ? Promise.resolve(options.mapping)
    : undefined;
  const overrides = isFullMapping(options.mapping) ? undefined : options.mapping;

  const mapping = (): Promise<EventTableMapping> => {
    if (!cached) {
      cached = detectEventTableMapping(pool, table, overrides).catch((err: unknown) => {
        throw asUnreachable(pool, err);
      });
      // A failed detection (table not migrated yet) is retried on the next call.
      cached.catch(() => {
        cached = undefined;
      });
    }
    return cached;
  };

  return {
    mapping,
    async write(input) {
      const m = await mapping();
      const event =
        input.error !== undefined && input.error !== null
          ? { ...input, error: secrets.text(input.error) }
          : input;
      const payload = secrets.json(redact(event.payload ?? {}, sensitive));
      const stmt =
        m.kind === 'json' ? buildJsonInsert(m, event, payload) : buildColumnsInsert(m, event, payload);
      if (stmt.onConflict) {
        try {
          const r = await pool.query(stmt.text, stmt.values);
          return { inserted: (r.rowCount ?? 0) > 0 };
        } catch (err) {
          throw asUnreachable(pool, err);
        }
      }
      const client = await connectClient(pool);
      try {
        await client.query('BEGIN');
        // Serialises writers of the same (table, saga, seq): the second sees the first's row.
        await client.query(`SELECT pg_advisory_xact_lock(hashtext('polysaga:event'), hashtext($1))`, [
          stmt.lockKey,
        ]);
        const r = await client.query(stmt.text, stmt.values);
        await client.query('COMMIT');
        return { inserted: (r.rowCount ?? 0) > 0 };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async read(sagaId) {
      try {
        return await readWith(pool, await mapping(), sagaId);
      } catch (err) {
        throw asUnreachable(pool, err);
      }
    },
  };
}

/**
 * The audit trail of one saga, ordered by seq (for `polysaga events <sagaId>`). Read-only.
 * `options.table` / `options.mapping` select a differing table as for {@link createEventStore}.
 */
export async function readEvents(
  pool: pg.Pool,
  sagaId: string,
  options: Omit<EventStoreOptions, 'pool' | 'sensitiveFields'> = {},
): Promise<AuditEvent[]> {
  return createEventStore({ pool, ...options }).read(sagaId);
}
