/**
 * Which sagas `polysaga recover` looks at, read from the audit trail (the
 * `polysaga_saga_runs` view of migration 0004). Read-only.
 */
import type pg from 'pg';
import { asUnreachable } from '../audit/connection.js';
import type { SagaTrailSummary } from '../audit/index.js';

/** Statuses that end a saga's trail (or a round of it, for FAILED). */
export const TERMINAL_EVENT_STATUSES = [
  'SAGA_COMMITTED',
  'SAGA_ROLLED_BACK',
  'SAGA_FAILED',
  'SAGA_RESOLVED',
] as const;

/** Restricts recovery to some sagas (all when empty). */
export interface SagaFilter {
  /** Only these saga ids. */
  sagaIds?: readonly string[];
  /** Only sagas of this name (the definition's `name`). */
  name?: string;
  /** At most this many per query (default 1000). */
  limit?: number;
}

interface Row {
  saga_id: string;
  saga_name: string | null;
  trace_id: string | null;
  started_at: Date;
  last_event_at: Date;
  last_seq: number;
  last_status: string;
  terminal_status: string | null;
  event_count: string;
}

const COLUMNS =
  'saga_id, saga_name, trace_id, started_at, last_event_at, last_seq, last_status, terminal_status, event_count';

function toSummary(r: Row): SagaTrailSummary {
  return {
    sagaId: r.saga_id,
    sagaName: r.saga_name,
    traceId: r.trace_id,
    startedAt: r.started_at,
    lastEventAt: r.last_event_at,
    lastSeq: Number(r.last_seq),
    lastStatus: r.last_status,
    terminalStatus: r.terminal_status,
    eventCount: Number(r.event_count),
  };
}

async function query(
  pool: pg.Pool,
  where: string,
  params: unknown[],
  filter: SagaFilter,
): Promise<SagaTrailSummary[]> {
  const clauses = [where];
  const values = [...params];
  if (filter.sagaIds && filter.sagaIds.length > 0) {
    values.push([...filter.sagaIds]);
    clauses.push(`saga_id = ANY($${values.length}::text[])`);
  }
  if (filter.name) {
    values.push(filter.name);
    clauses.push(`saga_name = $${values.length}`);
  }
  values.push(filter.limit ?? 1000);
  let r: pg.QueryResult<Row>;
  try {
    r = await pool.query<Row>(
      `SELECT ${COLUMNS} FROM polysaga_saga_runs WHERE ${clauses.join(' AND ')} ORDER BY last_event_at LIMIT $${values.length}`,
      values,
    );
  } catch (err) {
    throw asUnreachable(pool, err);
  }
  return r.rows.map(toSummary);
}

/** Sagas whose trail ends in SAGA_FAILED (oldest first). */
export function findFailedTrails(pool: pg.Pool, filter: SagaFilter = {}): Promise<SagaTrailSummary[]> {
  return query(pool, `last_status = 'SAGA_FAILED'`, [], filter);
}

/**
 * Sagas whose trail does not end in a terminal event (COMMITTED, ROLLED_BACK, FAILED,
 * RESOLVED) and whose last event is at least `idleMs` old: running sagas, and orphans once
 * their workflow is confirmed gone. Unlike `findUnfinishedSagas` of src/audit this also finds a
 * saga that ended once and was resumed (a FAILED saga retried, a COMMITTED saga being undone).
 */
export function findOpenTrails(
  pool: pg.Pool,
  idleMs: number,
  filter: SagaFilter = {},
): Promise<SagaTrailSummary[]> {
  return query(
    pool,
    `last_status <> ALL($1::text[]) AND last_event_at <= now() - make_interval(secs => $2::double precision / 1000)`,
    [[...TERMINAL_EVENT_STATUSES], idleMs],
    filter,
  );
}
