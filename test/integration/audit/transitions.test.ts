/**
 * The transition activities (`runStep`, `runCompensation`) against the real audit table: the
 * write-ahead row is in PostgreSQL before the effect runs, a retried activity leaves one row
 * per transition, a final failure is recorded by the activity itself, and an unreachable audit
 * table is a non-retryable `polysaga.AuditUnavailable` (the workflow runs the activity again).
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditActivities } from '../../../src/activities/audit.js';
import { withTransitions } from '../../../src/activities/transitions.js';
import { createAuditPool } from '../../../src/audit/connection.js';
import { migrate } from '../../../src/audit/index.js';
import {
  FailureTypes,
  type CompensateStepInput,
  type ExecuteStepInput,
  type RunStepInput,
  type SagaEventInput,
} from '../../../src/saga/contracts.js';
import { createTestDatabase, type TestDatabase } from './helpers.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('transitions');
  await migrate(db.pool);
});
afterAll(async () => db?.drop());

const event = (sagaId: string, seq: number, status: SagaEventInput['status'], stepId: string | null) => ({
  sagaId,
  runId: 'run-1',
  seq,
  stepId,
  status,
  sagaName: 'transitions-test',
  traceId: 'trace-t',
});

function stepInput(sagaId: string, maximumAttempts?: number): RunStepInput {
  return {
    sagaId,
    sagaName: 'transitions-test',
    traceId: 'trace-t',
    step: {
      id: 'row',
      backend: 'postgres',
      operation: 'insert',
      payload: { table: 'documents', values: { id: 'd1' } },
      compensation: 'relational_delete',
      idempotencyKey: `${sagaId}:row`,
      kind: 'compensatable',
    },
    audit: {
      before: [{ ...event(sagaId, 1, 'SAGA_STARTED', null), payload: { name: 'transitions-test' } }],
      start: { ...event(sagaId, 2, 'STEP_PENDING', 'row'), payload: { backend: 'postgres' } },
      outcomeSeq: 3,
      ...(maximumAttempts !== undefined ? { maximumAttempts } : {}),
    },
  };
}

async function rows(sagaId: string) {
  const r = await db.pool.query<{
    seq: number;
    status: string;
    attempt: number | null;
    error: string | null;
  }>('SELECT seq, status, attempt, error FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq', [sagaId]);
  return r.rows;
}

/** Activities whose effect records what the audit table held when it ran. */
function activities(effect: (input: ExecuteStepInput) => Promise<void>) {
  const { recordEvent } = createAuditActivities({ pool: db.pool, config: db.config });
  return withTransitions({
    recordEvent,
    async executeStep(input) {
      await effect(input);
      return { result: { id: 'd1' } };
    },
    compensateStep: (_input: CompensateStepInput) => Promise.resolve({ outcome: 'undone' as const }),
  });
}

describe('runStep on the real audit table', () => {
  it('the write-ahead row is stored before the effect; a retry writes nothing twice', async () => {
    const sagaId = `t-ok-${Date.now()}`;
    const seenAtEffect: string[][] = [];
    const acts = activities(async () => {
      seenAtEffect.push((await rows(sagaId)).map((r) => r.status));
    });
    const out = await acts.runStep(stepInput(sagaId));
    expect(out.result).toEqual({ id: 'd1' });
    await acts.runStep(stepInput(sagaId)); // a retry after a lost completion
    expect(seenAtEffect[0]).toEqual(['SAGA_STARTED', 'STEP_PENDING']);
    expect((await rows(sagaId)).map((r) => `${r.seq}:${r.status}`)).toEqual([
      '1:SAGA_STARTED',
      '2:STEP_PENDING',
      '3:STEP_SUCCESS',
    ]);
    const success = await db.pool.query<{ payload: { compensationEntry: { stepId: string } } }>(
      `SELECT payload FROM uds3_saga_events WHERE saga_id = $1 AND seq = 3`,
      [sagaId],
    );
    expect(success.rows[0]?.payload.compensationEntry.stepId).toBe('row');
  });

  it('a retryable failure before the last attempt writes no outcome; a permanent one writes STEP_FAIL', async () => {
    const sagaId = `t-fail-${Date.now()}`;
    let calls = 0;
    const acts = activities(() => {
      calls += 1;
      if (calls === 1) return Promise.reject(new Error('connection reset'));
      return Promise.reject(
        ApplicationFailure.nonRetryable('duplicate key', FailureTypes.ConstraintViolation),
      );
    });
    const first = await acts.runStep(stepInput(sagaId, 5)).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(Error);
    expect(first).not.toBeInstanceOf(ApplicationFailure); // Temporal retries it
    expect((await rows(sagaId)).map((r) => r.status)).toEqual(['SAGA_STARTED', 'STEP_PENDING']);
    const second = await acts.runStep(stepInput(sagaId, 5)).catch((e: unknown) => e);
    expect(second).toBeInstanceOf(ApplicationFailure);
    expect((second as ApplicationFailure).details).toEqual([{ polysagaAudit: 'recorded' }]);
    const r = await rows(sagaId);
    expect(r.map((x) => x.status)).toEqual(['SAGA_STARTED', 'STEP_PENDING', 'STEP_FAIL']);
    expect(r[2]?.error).toBe(`${FailureTypes.ConstraintViolation}: duplicate key`);
  });

  it('an unreachable audit table fails with AuditUnavailable before the effect runs', async () => {
    const pool = createAuditPool({ ...db.config.postgres, host: '127.0.0.1', port: 1 });
    try {
      let effects = 0;
      const { recordEvent } = createAuditActivities({ pool, config: db.config });
      const acts = withTransitions({
        recordEvent,
        executeStep: () => {
          effects += 1;
          return Promise.resolve({ result: {} });
        },
        compensateStep: () => Promise.resolve({ outcome: 'undone' as const }),
      });
      const err = await acts.runStep(stepInput(`t-down-${Date.now()}`)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect((err as ApplicationFailure).type).toBe(FailureTypes.AuditUnavailable);
      expect((err as ApplicationFailure).nonRetryable).toBe(true);
      expect(effects).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('runCompensation writes COMPENSATION_STARTED and its outcome around the undo', async () => {
    const sagaId = `t-comp-${Date.now()}`;
    const acts = activities(() => Promise.resolve());
    const out = await acts.runCompensation({
      stepId: 'row',
      backend: 'postgres',
      compensation: 'relational_delete',
      payload: {},
      result: {},
      idempotencyKey: `${sagaId}:row`,
      sagaId,
      sagaName: 'transitions-test',
      traceId: 'trace-t',
      audit: {
        before: [{ ...event(sagaId, 7, 'SAGA_ABORTED', null), payload: { reason: 'test' } }],
        start: {
          ...event(sagaId, 8, 'COMPENSATION_STARTED', 'row'),
          payload: { compensation: 'relational_delete' },
        },
        outcomeSeq: 9,
      },
    });
    expect(out.outcome).toBe('undone');
    const r = await rows(sagaId);
    expect(r.map((x) => `${x.seq}:${x.status}`)).toEqual([
      '7:SAGA_ABORTED',
      '8:COMPENSATION_STARTED',
      '9:COMPENSATION_SUCCESS',
    ]);
    expect(r[2]?.attempt).toBe(1);
  });
});
