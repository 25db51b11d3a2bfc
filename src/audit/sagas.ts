/**
 * Saga-level queries over the audit trail, for `polysaga recover` and `polysaga list`-like
 * views: which sagas ended FAILED and which have no terminal event. Read-only; they use the
 * `polysaga_saga_runs` view of migration 0004.
 */
import type pg from 'pg';
import { EVENT_STATUSES, type EventStatus } from '../saga/contracts.js';
import { checkEventSequence, type EventSequenceCheck } from '../saga/states.js';
import { SCOPE_MARKER, scopePrefix } from '../saga/scope.js';
import { asUnreachable } from './connection.js';
import { readEvents, type AuditEvent, type EventStoreOptions } from './event-store.js';

/** One saga as its audit trail summarises it. */
export interface SagaTrailSummary {
  sagaId: string;
  sagaName: string | null;
  traceId: string | null;
  startedAt: Date;
  lastEventAt: Date;
  lastSeq: number;
  lastStatus: string;
  /** Latest of SAGA_COMMITTED / SAGA_ROLLED_BACK / SAGA_FAILED / SAGA_RESOLVED, or null. */
  terminalStatus: string | null;
  eventCount: number;
}

/** Statuses that end a saga's trail (or, for SAGA_FAILED, a round of it). */
export const TERMINAL_EVENT_STATUSES = [
  'SAGA_COMMITTED',
  'SAGA_ROLLED_BACK',
  'SAGA_FAILED',
  'SAGA_RESOLVED',
] as const;

/** Restricts a saga query to some sagas (all when empty). */
export interface SagaFilter {
  /** Only these saga ids. */
  sagaIds?: readonly string[];
  /** Only sagas of this name (the definition's `name`). */
  name?: string;
  /** At most this many (default 1000). */
  limit?: number;
  /**
   * Only the sagas of this scope (src/saga/scope.ts): saga ids starting with `@<scope>/`, or for
   * `''` the ids that do not start with `@`. Unset: every saga.
   */
  scope?: string;
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

const toSummary = (r: Row): SagaTrailSummary => ({
  sagaId: r.saga_id,
  sagaName: r.saga_name,
  traceId: r.trace_id,
  startedAt: r.started_at,
  lastEventAt: r.last_event_at,
  lastSeq: Number(r.last_seq),
  lastStatus: r.last_status,
  terminalStatus: r.terminal_status,
  eventCount: Number(r.event_count),
});

const COLUMNS =
  'saga_id, saga_name, trace_id, started_at, last_event_at, last_seq, last_status, terminal_status, event_count';

/** Runs `SELECT … FROM polysaga_saga_runs WHERE <where>` with the filter, oldest last event first. */
async function querySagaRuns(
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
  if (filter.scope !== undefined) {
    if (filter.scope === '') clauses.push(`left(saga_id, 1) <> '${SCOPE_MARKER}'`);
    else {
      values.push(scopePrefix(filter.scope));
      clauses.push(`starts_with(saga_id, $${values.length})`);
    }
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

/** Sagas whose latest event is SAGA_FAILED: they need a person (or `polysaga recover`). */
export function findFailedSagas(pool: pg.Pool, filter: SagaFilter = {}): Promise<SagaTrailSummary[]> {
  return querySagaRuns(pool, `last_status = 'SAGA_FAILED'`, [], filter);
}

/**
 * Sagas whose latest event is not terminal (no terminal event yet, or activity after one: a
 * FAILED saga being retried, the undo of a committed saga) and older than `idleMs` (default 0):
 * running sagas, and the candidates for orphan recovery once their workflow is confirmed gone.
 */
export function findUnfinishedSagas(
  pool: pg.Pool,
  options: SagaFilter & { idleMs?: number } = {},
): Promise<SagaTrailSummary[]> {
  return querySagaRuns(
    pool,
    `last_status <> ALL($1::text[]) AND last_event_at <= now() - make_interval(secs => $2::double precision / 1000)`,
    [[...TERMINAL_EVENT_STATUSES], options.idleMs ?? 0],
    options,
  );
}

/** The summary of one saga, or null when it has no events. */
export async function getSagaTrailSummary(pool: pg.Pool, sagaId: string): Promise<SagaTrailSummary | null> {
  const r = await pool.query<Row>(`SELECT ${COLUMNS} FROM polysaga_saga_runs WHERE saga_id = $1`, [sagaId]);
  return r.rows[0] ? toSummary(r.rows[0]) : null;
}

/**
 * Reads one saga's trail and checks it against the saga state machine
 * ({@link checkEventSequence} of src/saga/states). Read-only. For tests, `polysaga events`
 * and operators: `ok: false` lists each offending event.
 */
export async function verifyTrail(
  pool: pg.Pool,
  sagaId: string,
  options: Omit<EventStoreOptions, 'pool' | 'sensitiveFields'> = {},
): Promise<EventSequenceCheck & { events: AuditEvent[] }> {
  const events = await readEvents(pool, sagaId, options);
  const unknown = events.filter((e) => !(EVENT_STATUSES as readonly string[]).includes(e.status));
  if (unknown.length > 0) {
    return {
      ok: false,
      state: 'PENDING',
      errors: unknown.map((e) => `seq ${e.seq}: unknown status ${e.status}`),
      events,
    };
  }
  return { ...checkEventSequence(events as (AuditEvent & { status: EventStatus })[]), events };
}
