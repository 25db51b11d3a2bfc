import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findFailedSagas,
  findUnfinishedSagas,
  getSagaTrailSummary,
  migrate,
} from '../../../src/audit/index.js';
import { createTestDatabase, type TestDatabase } from './helpers.js';

let db: TestDatabase;

/** [status, stepId, time "HH:MM:SS(.fff)" on 2026-01-01 UTC] */
type Ev = [string, string | null, string];

async function saga(sagaId: string, sagaName: string, events: Ev[]): Promise<void> {
  for (const [i, [status, stepId, time]] of events.entries()) {
    await db.pool.query<Record<string, unknown>>(
      `INSERT INTO uds3_saga_events (saga_id, run_id, seq, step_id, status, saga_name, created_at)
       VALUES ($1, 'run', $2, $3, $4, $5, $6)`,
      [sagaId, i + 1, stepId, status, sagaName, `2026-01-01T${time}Z`],
    );
  }
}

beforeAll(async () => {
  db = await createTestDatabase('views');
  await migrate(db.pool);
  // ingest, hour 10: two commits, one rollback (2 s), one FAILED with a failed compensation (7 s)
  await saga('i1', 'ingest', [
    ['SAGA_STARTED', null, '10:00:00'],
    ['STEP_PENDING', 'a', '10:00:01'],
    ['STEP_SUCCESS', 'a', '10:00:02'],
    ['SAGA_COMMITTED', null, '10:00:05'],
  ]);
  await saga('i2', 'ingest', [
    ['SAGA_STARTED', null, '10:20:00'],
    ['STEP_SUCCESS', 'a', '10:20:01'],
    ['SAGA_COMMITTED', null, '10:20:02'],
  ]);
  await saga('i3', 'ingest', [
    ['SAGA_STARTED', null, '10:30:00'],
    ['STEP_SUCCESS', 'a', '10:30:01'],
    ['STEP_FAIL', 'b', '10:30:02'],
    ['COMPENSATION_STARTED', 'a', '10:30:03'],
    ['COMPENSATION_SUCCESS', 'a', '10:30:04'],
    ['SAGA_ROLLED_BACK', null, '10:30:05'],
  ]);
  await saga('i4', 'ingest', [
    ['SAGA_STARTED', null, '10:40:00'],
    ['STEP_SUCCESS', 'a', '10:40:01'],
    ['STEP_SUCCESS', 'b', '10:40:01.5'],
    ['STEP_FAIL', 'c', '10:40:02'],
    ['COMPENSATION_STARTED', 'b', '10:40:03'],
    ['COMPENSATION_SUCCESS', 'b', '10:40:04'],
    ['COMPENSATION_STARTED', 'a', '10:40:05'],
    ['COMPENSATION_FAIL', 'a', '10:40:09'],
    ['SAGA_FAILED', null, '10:40:10'],
  ]);
  // ingest, hour 11: a first-step failure with nothing to undo (0.5 s), and a running saga
  await saga('i5', 'ingest', [
    ['SAGA_STARTED', null, '11:10:00'],
    ['STEP_FAIL', 'a', '11:10:01'],
    ['SAGA_ROLLED_BACK', null, '11:10:01.5'],
  ]);
  await saga('i6', 'ingest', [
    ['SAGA_STARTED', null, '11:15:00'],
    ['STEP_PENDING', 'a', '11:15:01'],
  ]);
  // wiki, hour 10: one commit, one abort rolled back (1 s)
  await saga('w1', 'wiki', [
    ['SAGA_STARTED', null, '10:50:00'],
    ['SAGA_COMMITTED', null, '10:50:01'],
  ]);
  await saga('w2', 'wiki', [
    ['SAGA_STARTED', null, '10:55:00'],
    ['STEP_SUCCESS', 'a', '10:55:00.5'],
    ['SAGA_ABORTED', null, '10:55:00.8'],
    ['COMPENSATION_STARTED', 'a', '10:55:01'],
    ['COMPENSATION_SUCCESS', 'a', '10:55:01.5'],
    ['SAGA_ROLLED_BACK', null, '10:55:02'],
  ]);
  // wiki, next day: FAILED, then resolved by an operator (counts as failed)
  await saga('w3', 'wiki', [
    ['SAGA_STARTED', null, '23:59:00'],
    ['STEP_FAIL', 'a', '23:59:01'],
    ['SAGA_FAILED', null, '23:59:03'],
    ['SAGA_RESOLVED', null, '23:59:59'],
  ]);
  await db.pool.query<Record<string, unknown>>(
    `UPDATE uds3_saga_events SET created_at = created_at + interval '1 day' WHERE saga_id = 'w3'`,
  );
});
afterAll(async () => db?.drop());

const num = (v: unknown) => (v === null ? null : Number(v));

function figures(row: Record<string, unknown> | undefined) {
  if (!row) return undefined;
  return {
    finished: num(row.finished),
    committed: num(row.committed),
    rolled_back: num(row.rolled_back),
    failed: num(row.failed),
    success_rate: num(row.success_rate),
    rollbacks: num(row.rollbacks),
    rollback_rate: num(row.rollback_rate),
    avg_rollback_latency_ms: num(row.avg_rollback_latency_ms),
    p95_rollback_latency_ms: num(row.p95_rollback_latency_ms),
    max_rollback_latency_ms: num(row.max_rollback_latency_ms),
    partial_rollback_failures: num(row.partial_rollback_failures),
    compensation_failures: num(row.compensation_failures),
  };
}

describe('monitoring views', () => {
  it('polysaga_saga_outcomes: outcome, rollback latency and partial failure per saga', async () => {
    const r = await db.pool.query<Record<string, unknown>>(
      `SELECT saga_id, saga_name, outcome, rollback_triggered, rollback_latency_ms::float8 AS latency, partial_rollback_failure
         FROM polysaga_saga_outcomes ORDER BY saga_id`,
    );
    expect(r.rows).toEqual([
      {
        saga_id: 'i1',
        saga_name: 'ingest',
        outcome: 'committed',
        rollback_triggered: false,
        latency: null,
        partial_rollback_failure: false,
      },
      {
        saga_id: 'i2',
        saga_name: 'ingest',
        outcome: 'committed',
        rollback_triggered: false,
        latency: null,
        partial_rollback_failure: false,
      },
      {
        saga_id: 'i3',
        saga_name: 'ingest',
        outcome: 'rolled_back',
        rollback_triggered: true,
        latency: 2000,
        partial_rollback_failure: false,
      },
      {
        saga_id: 'i4',
        saga_name: 'ingest',
        outcome: 'failed',
        rollback_triggered: true,
        latency: 7000,
        partial_rollback_failure: true,
      },
      {
        saga_id: 'i5',
        saga_name: 'ingest',
        outcome: 'rolled_back',
        rollback_triggered: true,
        latency: 500,
        partial_rollback_failure: false,
      },
      {
        saga_id: 'i6',
        saga_name: 'ingest',
        outcome: null,
        rollback_triggered: false,
        latency: null,
        partial_rollback_failure: false,
      },
      {
        saga_id: 'w1',
        saga_name: 'wiki',
        outcome: 'committed',
        rollback_triggered: false,
        latency: null,
        partial_rollback_failure: false,
      },
      {
        saga_id: 'w2',
        saga_name: 'wiki',
        outcome: 'rolled_back',
        rollback_triggered: true,
        latency: 1000,
        partial_rollback_failure: false,
      },
      {
        saga_id: 'w3',
        saga_name: 'wiki',
        outcome: 'failed',
        rollback_triggered: true,
        latency: 2000,
        partial_rollback_failure: false,
      },
    ]);
  });

  it('polysaga_saga_metrics_hourly: the four figures per saga name and hour', async () => {
    const r = await db.pool.query<Record<string, unknown>>(
      `SELECT to_char(bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24') AS hour, * FROM polysaga_saga_metrics_hourly ORDER BY saga_name, bucket_start`,
    );
    expect(r.rows.map((x: Record<string, unknown>) => [x.saga_name, x.hour])).toEqual([
      ['ingest', '2026-01-01 10'],
      ['ingest', '2026-01-01 11'],
      ['wiki', '2026-01-01 10'],
      ['wiki', '2026-01-02 23'],
    ]);
    expect(figures(r.rows[0])).toEqual({
      finished: 4,
      committed: 2,
      rolled_back: 1,
      failed: 1,
      success_rate: 0.5,
      rollbacks: 2,
      rollback_rate: 0.5,
      avg_rollback_latency_ms: 4500,
      p95_rollback_latency_ms: 6750,
      max_rollback_latency_ms: 7000,
      partial_rollback_failures: 1,
      compensation_failures: 1,
    });
    expect(figures(r.rows[1])).toEqual({
      finished: 1,
      committed: 0,
      rolled_back: 1,
      failed: 0,
      success_rate: 0,
      rollbacks: 1,
      rollback_rate: 1,
      avg_rollback_latency_ms: 500,
      p95_rollback_latency_ms: 500,
      max_rollback_latency_ms: 500,
      partial_rollback_failures: 0,
      compensation_failures: 0,
    });
    expect(figures(r.rows[2])).toEqual({
      finished: 2,
      committed: 1,
      rolled_back: 1,
      failed: 0,
      success_rate: 0.5,
      rollbacks: 1,
      rollback_rate: 0.5,
      avg_rollback_latency_ms: 1000,
      p95_rollback_latency_ms: 1000,
      max_rollback_latency_ms: 1000,
      partial_rollback_failures: 0,
      compensation_failures: 0,
    });
  });

  it('polysaga_saga_metrics_daily: per saga name and UTC day', async () => {
    const r = await db.pool.query<Record<string, unknown>>(
      `SELECT to_char(bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, * FROM polysaga_saga_metrics_daily ORDER BY saga_name, bucket_start`,
    );
    expect(r.rows.map((x: Record<string, unknown>) => [x.saga_name, x.day, num(x.finished)])).toEqual([
      ['ingest', '2026-01-01', 5],
      ['wiki', '2026-01-01', 2],
      ['wiki', '2026-01-02', 1],
    ]);
    expect(figures(r.rows[0])).toEqual({
      finished: 5,
      committed: 2,
      rolled_back: 2,
      failed: 1,
      success_rate: 0.4,
      rollbacks: 3,
      rollback_rate: 0.6,
      avg_rollback_latency_ms: 3166.667,
      p95_rollback_latency_ms: 6500,
      max_rollback_latency_ms: 7000,
      partial_rollback_failures: 1,
      compensation_failures: 1,
    });
  });

  it('polysaga_saga_metrics(from, to): one row per saga name for any window', async () => {
    const r = await db.pool.query<Record<string, unknown>>(
      `SELECT * FROM polysaga_saga_metrics('2026-01-01T10:30:00Z', '2026-01-01T11:30:00Z') ORDER BY saga_name`,
    );
    expect(r.rows.map((x: Record<string, unknown>) => x.saga_name)).toEqual(['ingest', 'wiki']);
    expect(figures(r.rows[0])).toMatchObject({
      finished: 3,
      committed: 0,
      rolled_back: 2,
      failed: 1,
      success_rate: 0,
      rollbacks: 3,
      partial_rollback_failures: 1,
    });
    expect(figures(r.rows[1])).toMatchObject({
      finished: 2,
      committed: 1,
      success_rate: 0.5,
      avg_rollback_latency_ms: 1000,
    });
    const none = await db.pool.query(`SELECT * FROM polysaga_saga_metrics(now() - interval '1 hour')`);
    expect(none.rows).toEqual([]);
  });

  it('new events change the figures at once (views, not snapshots)', async () => {
    await saga('i7', 'ingest', [
      ['SAGA_STARTED', null, '11:20:00'],
      ['SAGA_COMMITTED', null, '11:20:01'],
    ]);
    const r = await db.pool.query<Record<string, unknown>>(
      `SELECT * FROM polysaga_saga_metrics_hourly WHERE saga_name = 'ingest' AND bucket_start = '2026-01-01T11:00:00Z'`,
    );
    expect(figures(r.rows[0])).toMatchObject({
      finished: 2,
      committed: 1,
      success_rate: 0.5,
      rollbacks: 1,
      rollback_rate: 0.5,
    });
    await db.pool.query(`DELETE FROM uds3_saga_events WHERE saga_id = 'i7'`);
  });
});

describe('saga-level queries for recovery', () => {
  it('findFailedSagas: sagas whose last event is SAGA_FAILED', async () => {
    const failed = await findFailedSagas(db.pool);
    expect(failed.map((s) => [s.sagaId, s.sagaName, s.lastStatus, s.terminalStatus, s.eventCount])).toEqual([
      ['i4', 'ingest', 'SAGA_FAILED', 'SAGA_FAILED', 9],
    ]);
  });

  it('findUnfinishedSagas: sagas without a terminal event, idle for long enough', async () => {
    expect((await findUnfinishedSagas(db.pool)).map((s) => s.sagaId)).toEqual(['i6']);
    expect(await findUnfinishedSagas(db.pool, { idleMs: 1000 * 3600 * 24 * 365 * 100 })).toEqual([]);
  });

  it('getSagaTrailSummary: one saga, or null', async () => {
    expect(await getSagaTrailSummary(db.pool, 'w3')).toMatchObject({
      sagaId: 'w3',
      lastStatus: 'SAGA_RESOLVED',
      terminalStatus: 'SAGA_RESOLVED',
      lastSeq: 4,
      startedAt: new Date('2026-01-02T23:59:00Z'),
    });
    expect(await getSagaTrailSummary(db.pool, 'nope')).toBeNull();
  });
});
