import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditActivities } from '../../../src/activities/audit.js';
import {
  migrate,
  readEvents,
  rebuildCompensationStack,
  stepSuccessPayload,
  verifyTrail,
} from '../../../src/audit/index.js';
import type { CompensationEntry, SagaEventInput } from '../../../src/saga/contracts.js';
import { createTestDatabase, type TestDatabase } from './helpers.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('stack');
  await migrate(db.pool);
});
afterAll(async () => db?.drop());

const entry = (
  stepId: string,
  backend: string,
  compensation: CompensationEntry['compensation'],
): CompensationEntry => ({
  stepId,
  backend,
  compensation,
  payload: { key: `${stepId}-key` },
  result: { createdId: `${stepId}-1` },
  idempotencyKey: `orphan-1:${stepId}`,
});

/** The trail of a saga whose workflow vanished after three steps and one compensation. */
function trail(): SagaEventInput[] {
  const base = { sagaId: 'orphan-1', runId: 'run-a', sagaName: 'document-ingest', traceId: 'tr' };
  const row = entry('row', 'postgres', 'relational_delete');
  const node = entry('node', 'neo4j', 'graph_delete_node');
  const obj = entry('obj', 's3', { operation: 'deleteObject', payload: { bucket: 'b', key: 'k' } });
  const steps: [SagaEventInput['status'], string | null, SagaEventInput['payload']?][] = [
    ['SAGA_STARTED', null],
    ['STEP_PENDING', 'row'],
    ['STEP_SUCCESS', 'row', stepSuccessPayload(row, { result: row.result })],
    ['STEP_PENDING', 'node'],
    ['STEP_SUCCESS', 'node', stepSuccessPayload(node, { result: node.result })],
    ['STEP_PENDING', 'audit-note'],
    ['STEP_SUCCESS', 'audit-note', stepSuccessPayload(null, { result: {} })],
    ['STEP_PENDING', 'obj'],
    ['STEP_SUCCESS', 'obj', stepSuccessPayload(obj, { result: obj.result })],
    ['STEP_PENDING', 'vec'],
    ['STEP_FAIL', 'vec'],
    ['COMPENSATION_STARTED', 'obj'],
    ['COMPENSATION_SUCCESS', 'obj'],
  ];
  return steps.map(([status, stepId, payload], i) => ({
    ...base,
    seq: i + 1,
    status,
    stepId,
    ...(payload ? { payload } : {}),
  }));
}

describe('compensation stack rebuilt from uds3_saga_events', () => {
  it('returns what is still to undo, newest last, straight from the table', async () => {
    const { recordEvent } = createAuditActivities({ pool: db.pool, config: db.config });
    for (const e of trail()) await recordEvent(e);
    const events = await readEvents(db.pool, 'orphan-1');
    expect(events).toHaveLength(13);
    expect(rebuildCompensationStack(events)).toEqual([
      entry('row', 'postgres', 'relational_delete'),
      entry('node', 'neo4j', 'graph_delete_node'),
    ]);
  });

  it('a replay of the whole trail (worker killed, workflow resumed) adds no row', async () => {
    const { recordEvent } = createAuditActivities({ pool: db.pool, config: db.config });
    const before = await db.pool.query(
      'SELECT id, seq, status FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq',
      ['orphan-1'],
    );
    for (const e of trail()) await recordEvent({ ...e, attempt: 2 });
    const after = await db.pool.query(
      'SELECT id, seq, status FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq',
      ['orphan-1'],
    );
    expect(after.rows).toEqual(before.rows);
    const attempts = await db.pool.query('SELECT DISTINCT attempt FROM uds3_saga_events WHERE saga_id = $1', [
      'orphan-1',
    ]);
    expect(attempts.rows).toEqual([{ attempt: null }]);
  });
});

describe('stored trails against the state machine (src/saga/states checkEventSequence)', () => {
  const write = async (
    sagaId: string,
    steps: [SagaEventInput['status'], string | null, SagaEventInput['payload']?][],
  ) => {
    const { recordEvent } = createAuditActivities({ pool: db.pool, config: db.config });
    const base = { sagaId, runId: 'run-x', sagaName: 'document-ingest', traceId: 'tr' };
    for (const [i, [status, stepId, payload]] of steps.entries()) {
      await recordEvent({ ...base, seq: i + 1, status, stepId, ...(payload ? { payload } : {}) });
    }
  };
  const row = entry('row', 'postgres', 'relational_delete');

  it('a committed saga and a rolled-back one are valid sequences', async () => {
    await write('sm-commit', [
      ['SAGA_STARTED', null],
      ['STEP_PENDING', 'row'],
      ['STEP_SUCCESS', 'row', stepSuccessPayload(row, { result: row.result })],
      ['SAGA_COMMITTED', null],
    ]);
    await write('sm-rollback', [
      ['SAGA_STARTED', null],
      ['STEP_PENDING', 'row'],
      ['STEP_SUCCESS', 'row', stepSuccessPayload(row, { result: row.result })],
      ['STEP_PENDING', 'node'],
      ['STEP_FAIL', 'node'],
      ['COMPENSATION_STARTED', 'row'],
      ['COMPENSATION_SUCCESS', 'row'],
      ['SAGA_ROLLED_BACK', null],
    ]);
    expect(await verifyTrail(db.pool, 'sm-commit')).toMatchObject({
      ok: true,
      state: 'COMMITTED',
      errors: [],
    });
    const rb = await verifyTrail(db.pool, 'sm-rollback');
    expect(rb).toMatchObject({ ok: true, state: 'ROLLED_BACK', errors: [] });
    expect(rebuildCompensationStack(rb.events)).toEqual([]);
  });

  it('FAILED, retried, then rolled back: valid, and the stack empties only after the retry', async () => {
    await write('sm-retry', [
      ['SAGA_STARTED', null],
      ['STEP_PENDING', 'row'],
      ['STEP_SUCCESS', 'row', stepSuccessPayload(row, { result: row.result })],
      ['STEP_PENDING', 'node'],
      ['STEP_FAIL', 'node'],
      ['COMPENSATION_STARTED', 'row'],
      ['COMPENSATION_FAIL', 'row'],
      ['SAGA_FAILED', null],
    ]);
    const failed = await verifyTrail(db.pool, 'sm-retry');
    expect(failed).toMatchObject({ ok: true, state: 'FAILED' });
    expect(rebuildCompensationStack(failed.events)).toEqual([row]);
    const { recordEvent } = createAuditActivities({ pool: db.pool, config: db.config });
    const base = { sagaId: 'sm-retry', runId: 'run-y', sagaName: 'document-ingest', traceId: 'tr' };
    await recordEvent({ ...base, seq: 9, status: 'SAGA_RETRIED', stepId: null });
    await recordEvent({ ...base, seq: 10, status: 'COMPENSATION_STARTED', stepId: 'row' });
    await recordEvent({ ...base, seq: 11, status: 'COMPENSATION_SUCCESS', stepId: 'row' });
    await recordEvent({ ...base, seq: 12, status: 'SAGA_ROLLED_BACK', stepId: null });
    const done = await verifyTrail(db.pool, 'sm-retry');
    expect(done).toMatchObject({ ok: true, state: 'ROLLED_BACK' });
    expect(rebuildCompensationStack(done.events)).toEqual([]);
  });

  it('reports a broken trail: a success without its write-ahead PENDING, and a gap in seq', async () => {
    await db.pool.query(
      `INSERT INTO uds3_saga_events (saga_id, seq, step_id, status) VALUES
         ('sm-broken', 1, NULL, 'SAGA_STARTED'), ('sm-broken', 2, 'row', 'STEP_SUCCESS'), ('sm-broken', 4, NULL, 'SAGA_COMMITTED')`,
    );
    const r = await verifyTrail(db.pool, 'sm-broken');
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^seq 2: STEP_SUCCESS/),
        expect.stringMatching(/^seq 4: expected seq 3/),
      ]),
    );
  });
});
