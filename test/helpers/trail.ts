/**
 * Checks stored audit trails (rows of `uds3_saga_events`) the way the fault tests need:
 * - seqs run 1, 2, 3, … with no gap and no repeat;
 * - every status is a known event and each transition is legal in the state it occurs in
 *   (`checkEventSequence` of src/saga/states.ts, the table of docs/states.md);
 * - no transition is recorded twice: the same (status, step) pair appears at most once per
 *   round (an operator retry, SAGA_RETRIED, starts a new round in which the failed step or
 *   compensations run again).
 */
import type pg from 'pg';
import { EVENTS_TABLE } from '../../src/audit/event-store.js';
import { EVENT_STATUSES, type EventStatus } from '../../src/saga/contracts.js';
import { checkEventSequence } from '../../src/saga/states.js';

export interface TrailRow {
  seq: number;
  status: string;
  stepId: string | null;
}

/** Every problem of one saga's trail (empty when it is valid). `rows` may come in any order. */
export function trailProblems(input: readonly TrailRow[]): string[] {
  const rows = [...input].sort((a, b) => a.seq - b.seq);
  const problems: string[] = [];
  if (rows.length === 0) return ['no audit rows'];
  rows.forEach((r, i) => {
    if (r.seq !== i + 1) problems.push(`seq ${r.seq} is row ${i + 1}: seqs must run 1, 2, 3, … without gaps`);
  });
  const unknown = rows.filter((r) => !(EVENT_STATUSES as readonly string[]).includes(r.status));
  for (const r of unknown) problems.push(`seq ${r.seq}: unknown status ${r.status}`);
  if (unknown.length === 0)
    problems.push(...checkEventSequence(rows as (TrailRow & { status: EventStatus })[]).errors);
  const seen = new Set<string>();
  for (const r of rows) {
    if (r.status === 'SAGA_RETRIED') seen.clear();
    const key = `${r.status}${r.stepId ? `:${r.stepId}` : ''}`;
    if (seen.has(key)) problems.push(`seq ${r.seq}: duplicate transition ${key}`);
    seen.add(key);
  }
  return problems;
}

/** A trail as `STATUS:step` lines, in seq order. */
export function trailLines(rows: readonly TrailRow[]): string[] {
  return [...rows].sort((a, b) => a.seq - b.seq).map((r) => `${r.status}${r.stepId ? `:${r.stepId}` : ''}`);
}

/** The trails of these sagas, read in one query (sagas without rows map to []). */
export async function readTrails(
  pool: pg.Pool,
  sagaIds: readonly string[],
): Promise<Map<string, TrailRow[]>> {
  const r = await pool.query<{ saga_id: string; seq: number; status: string; step_id: string | null }>(
    `SELECT saga_id, seq, status, step_id FROM ${EVENTS_TABLE} WHERE saga_id = ANY($1::text[]) ORDER BY saga_id, seq`,
    [sagaIds],
  );
  const out = new Map<string, TrailRow[]>(sagaIds.map((id) => [id, []]));
  for (const row of r.rows)
    out.get(row.saga_id)?.push({ seq: Number(row.seq), status: row.status, stepId: row.step_id });
  return out;
}

/**
 * Reads and checks the trails of `sagaIds`: returns the problems as `sagaId: problem` lines
 * (empty when every trail is valid) and the trails.
 */
export async function checkTrails(
  pool: pg.Pool,
  sagaIds: readonly string[],
): Promise<{ problems: string[]; trails: Map<string, TrailRow[]> }> {
  const trails = await readTrails(pool, sagaIds);
  const problems: string[] = [];
  for (const [id, rows] of trails) for (const p of trailProblems(rows)) problems.push(`${id}: ${p}`);
  return { problems, trails };
}
