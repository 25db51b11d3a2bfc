/**
 * Typed sagas whose steps are the application's own actions, on the stack's Temporal dev server
 * and PostgreSQL, with a polysaga worker given the actions (`createSagaWorker({ actions })`) and
 * a workflow bundle holding creditSaga:
 * - committing: the actions' rows exist, each step has STEP_PENDING (with its idempotency key,
 *   written before the effect) then STEP_SUCCESS, and the status lists the steps, COMMITTED;
 * - failing on a later step (a CHECK constraint refuses the charge): the first action's rollback
 *   deletes its row, COMPENSATION_STARTED/SUCCESS name `app.releaseCredit`, ROLLED_BACK;
 * - an action that fails twice, then succeeds under the step's retry policy (3 attempts);
 * - unknown names: the step fails at once naming the registered actions, a step whose rollback
 *   the worker lacks fails before its action runs.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditPool, readEvents, type AuditEvent } from '../../../src/audit/index.js';
import { SagaClient, type ConnectedTemporalClient } from '../../../src/client/index.js';
import { loadConfig } from '../../../src/config/index.js';
import type { SagaResult } from '../../../src/saga/status.js';
import type { SagaWorker } from '../../../src/workers/index.js';
import { startInProcessSagas, type InProcessSagas } from '../../helpers/in-process.js';
import { createCreditActions, type CreditTables } from './credit-actions.js';
import type { CreditSagaInput } from './credit-saga.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const taskQueue = `polysaga-actions-${run}`;
const tables: CreditTables = {
  reservations: `app_reservations_${run}`,
  charges: `app_charges_${run}`,
  notices: `app_notices_${run}`,
};

let appPool: pg.Pool;
let env: InProcessSagas;
let worker: SagaWorker;
let connected: ConnectedTemporalClient;
let sagas: SagaClient;

beforeAll(async () => {
  // The application's own pool and tables: polysaga knows nothing of them.
  appPool = createAuditPool(config.postgres);
  await appPool.query(
    `CREATE TABLE ${tables.reservations} (id text PRIMARY KEY, account text NOT NULL, amount int NOT NULL, saga_id text NOT NULL)`,
  );
  await appPool.query(
    `CREATE TABLE ${tables.charges} (id text PRIMARY KEY, account text NOT NULL, amount int NOT NULL CHECK (amount <= 100))`,
  );
  await appPool.query(
    `CREATE TABLE ${tables.notices} (key text NOT NULL, attempt int NOT NULL, account text NOT NULL)`,
  );
  env = await startInProcessSagas({
    config,
    taskQueue,
    worker: {
      actions: createCreditActions(appPool, tables),
      worker: { workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)) },
      metrics: false,
    },
  });
  ({ worker, sagas, connected } = env);
});

afterAll(async () => {
  for (const t of Object.values(tables))
    await appPool?.query(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
  await appPool?.end();
  await env?.close();
});

async function runCredit(
  input: CreditSagaInput,
): Promise<{ sagaId: string; result: SagaResult; events: AuditEvent[] }> {
  const sagaId = `credit-${run}-${randomUUID().slice(0, 8)}`;
  const started = await sagas.startTypedSaga('creditSaga', { sagaId, name: 'credit', args: [input] });
  const result = await started.result();
  const events = await readEvents(worker.resources.pool, sagaId);
  return { sagaId, result, events };
}

const trail = (events: AuditEvent[]) => events.map((e) => `${e.status}:${e.stepId ?? ''}`);

async function rows(table: string, sagaId: string): Promise<string[]> {
  const r = await appPool.query<{ id: string }>(`SELECT id FROM ${table} WHERE id LIKE $1 ORDER BY id`, [
    `${sagaId}:%`,
  ]);
  return r.rows.map((x) => x.id);
}

describe('typed sagas in a scope (ENV / PROJECT_PREFIX)', () => {
  it('identity key and explicit idempotency keys carry the scope; the lock is released', async () => {
    const scoped = new SagaClient({ client: connected.client, taskQueue, scope: 'acme-dev' });
    const identityKey = `account:${run}`;
    const reserveKey = `res-${run}`;
    const start = (client: SagaClient, sagaId: string) =>
      client.startTypedSaga('creditSaga', {
        sagaId,
        name: 'credit',
        identityKey,
        args: [{ account: 'acc-s', amount: 5, identityKey, reserveKey }],
      });
    // The same saga id, identity key and idempotency key in the default scope and in acme-dev,
    // both running at once: neither blocks nor satisfies the other.
    const sagaId = `credit-scope-${run}`;
    const [inScope, unscoped] = await Promise.all([start(scoped, sagaId), start(sagas, sagaId)]);
    expect((await inScope.result()).status.state).toBe('COMMITTED');
    expect((await unscoped.result()).status.state).toBe('COMMITTED');
    const workflowId = scoped.workflowIdOf(sagaId);
    expect(workflowId).toBe(`@acme-dev/${sagaId}`);
    const pending = (await readEvents(worker.resources.pool, workflowId)).find(
      (e) => e.status === 'STEP_PENDING' && e.stepId === 'reserve',
    );
    expect(pending?.payload).toMatchObject({ idempotencyKey: `@acme-dev/${reserveKey}` });
    const reservations = await appPool.query<{ id: string; saga_id: string }>(
      `SELECT id, saga_id FROM ${tables.reservations} WHERE id LIKE $1 ORDER BY id`,
      [`%${reserveKey}`],
    );
    expect(reservations.rows).toEqual([
      { id: `@acme-dev/${reserveKey}`, saga_id: workflowId },
      { id: reserveKey, saga_id: sagaId },
    ]);
    // The typed saga released the scoped lock it was started under: the key is free again.
    const again = await start(scoped, `${sagaId}-again`);
    expect((await again.result()).status.state).toBe('COMMITTED');
  });
});

describe('typed saga steps with the application’s own actions', () => {
  it('commit: the actions wrote their rows, each step is audited write-ahead with its key, COMMITTED', async () => {
    const { sagaId, result, events } = await runCredit({ account: 'acc-1', amount: 40 });
    expect(result.status.state).toBe('COMMITTED');
    expect(await rows(tables.reservations, sagaId)).toEqual([`${sagaId}:reserve`]);
    expect(await rows(tables.charges, sagaId)).toEqual([`${sagaId}:charge`]);
    expect(trail(events)).toEqual([
      'SAGA_STARTED:',
      'STEP_PENDING:reserve',
      'STEP_SUCCESS:reserve',
      'STEP_PENDING:charge',
      'STEP_SUCCESS:charge',
      'SAGA_COMMITTED:',
    ]);
    const pending = events.find((e) => e.status === 'STEP_PENDING' && e.stepId === 'reserve');
    expect(pending?.payload).toEqual({
      backend: 'app',
      operation: 'reserveCredit',
      kind: 'compensatable',
      idempotencyKey: `${sagaId}:reserve`,
    });
    // The STEP_SUCCESS row carries the stack entry (polysaga recover rebuilds the stack from it).
    const success = events.find((e) => e.status === 'STEP_SUCCESS' && e.stepId === 'reserve');
    expect(JSON.stringify(success?.payload)).toContain('app.releaseCredit');
    expect(JSON.stringify(success?.payload)).toContain(`${sagaId}:reserve`);

    const status = await sagas.getStatus(sagaId);
    expect(status.state).toBe('COMMITTED');
    expect(status.steps.map((s) => [s.id, s.backend, s.operation, s.state])).toEqual([
      ['reserve', 'app', 'reserveCredit', 'SUCCEEDED'],
      ['charge', 'app', 'chargeCard', 'SUCCEEDED'],
    ]);
  });

  it('a later step fails: the first action’s rollback removes its row, ROLLED_BACK', async () => {
    const { sagaId, result, events } = await runCredit({ account: 'acc-2', amount: 150 });
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(await rows(tables.reservations, sagaId)).toEqual([]);
    expect(await rows(tables.charges, sagaId)).toEqual([]);
    expect(trail(events)).toEqual([
      'SAGA_STARTED:',
      'STEP_PENDING:reserve',
      'STEP_SUCCESS:reserve',
      'STEP_PENDING:charge',
      'STEP_FAIL:charge',
      'COMPENSATION_STARTED:reserve',
      'COMPENSATION_SUCCESS:reserve',
      'SAGA_ROLLED_BACK:',
    ]);
    const fail = events.find((e) => e.status === 'STEP_FAIL');
    // The CHECK violation is permanent: one attempt, no retry.
    expect(fail?.error).toMatch(/polysaga\.ConstraintViolation: app\.chargeCard: .*check constraint/);
    expect(fail?.attempt).toBe(1);
    const started = events.find((e) => e.status === 'COMPENSATION_STARTED');
    expect(started?.payload).toMatchObject({ compensation: 'app.releaseCredit' });
    const undone = events.find((e) => e.status === 'COMPENSATION_SUCCESS');
    expect(undone?.payload).toEqual({ outcome: 'undone', detail: { released: 1 } });
    const status = await sagas.getStatus(sagaId);
    expect(status.steps.map((s) => [s.id, s.state])).toEqual([
      ['reserve', 'COMPENSATED'],
      ['charge', 'FAILED'],
    ]);
  });

  it('an action failing twice succeeds on its third attempt under the step’s retry policy', async () => {
    const { sagaId, result, events } = await runCredit({ account: 'acc-3', amount: 10, notify: true });
    expect(result.status.state).toBe('COMMITTED');
    const calls = await appPool.query<{ key: string; attempt: number }>(
      `SELECT key, attempt FROM ${tables.notices} WHERE key = $1 ORDER BY attempt`,
      [`${sagaId}:notice`],
    );
    // Same idempotency key on every attempt; the action saw attempts 1, 2, 3.
    expect(calls.rows).toEqual([1, 2, 3].map((attempt) => ({ key: `${sagaId}:notice`, attempt })));
    const notice = events.filter((e) => e.stepId === 'notice');
    expect(notice.map((e) => [e.status, e.attempt])).toEqual([
      ['STEP_PENDING', 1],
      ['STEP_SUCCESS', 3],
    ]);
    const status = await sagas.getStatus(sagaId);
    expect(status.steps.find((s) => s.id === 'notice')).toMatchObject({
      backend: 'app',
      operation: 'sendNotice',
      state: 'SUCCEEDED',
    });
  });

  it('an unknown action fails at once naming the registered actions; the saga rolls back', async () => {
    const { sagaId, result, events } = await runCredit({
      account: 'acc-4',
      amount: 20,
      extra: { action: 'refundEverything' },
    });
    expect(result.status.state).toBe('ROLLED_BACK');
    const fail = events.find((e) => e.status === 'STEP_FAIL');
    expect(fail?.stepId).toBe('extra');
    expect(fail?.attempt).toBe(1);
    expect(fail?.error).toBe(
      'polysaga.UnknownOperation: unknown action "refundEverything"; registered actions: chargeCard, refundCharge, releaseCredit, reserveCredit, sendNotice',
    );
    expect(await rows(tables.reservations, sagaId)).toEqual([]);
    expect(await rows(tables.charges, sagaId)).toEqual([]);
  });

  it('a step whose rollback the worker lacks fails before its action runs', async () => {
    const { sagaId, result, events } = await runCredit({
      account: 'acc-5',
      amount: 30,
      extra: { action: 'reserveCredit', rollback: 'unreserve' },
    });
    expect(result.status.state).toBe('ROLLED_BACK');
    const fail = events.find((e) => e.status === 'STEP_FAIL');
    expect(fail?.error).toBe(
      'polysaga.UnknownCompensation: unknown rollback "unreserve"; registered actions: chargeCard, refundCharge, releaseCredit, reserveCredit, sendNotice',
    );
    // The extra step would have written `<sagaId>:extra`: it did not run, and reserve was undone.
    expect(await rows(tables.reservations, sagaId)).toEqual([]);
    expect(trail(events)).toContain('COMPENSATION_SUCCESS:reserve');
  });
});
