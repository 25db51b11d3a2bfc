/**
 * Typed saga steps with the application's own code (`saga.step({ id, action, rollback, input })`)
 * run as steps of the backend `app`: the workflow turns them into catalog steps (operation = the
 * action, payload = the input, compensation = `app.<rollback>`), in order, with the write-ahead
 * rows, the idempotency key, the stack (newest first) and the step's retry policy of any step.
 * Fake activities (no I/O); test/integration/actions runs the same on a real worker.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SagaClient } from '../../src/client/index.js';
import type { SagaResult } from '../../src/saga/status.js';
import { checkEventSequence } from '../../src/saga/states.js';
import type { ActionStepsInput } from './action-sagas.js';
import { startFakeSagaHarness, type FakeSagaHarness } from './env.js';
import type { Behavior, Fakes } from './fakes.js';

const TASK_QUEUE = `polysaga-actions-test-${randomUUID()}`;
let sagas: SagaClient;
let fakes: Fakes;
let harness: FakeSagaHarness;

beforeAll(async () => {
  harness = await startFakeSagaHarness(TASK_QUEUE);
  ({ sagas, fakes } = harness);
});

afterAll(async () => {
  await harness?.close();
});

async function run(behavior: Behavior, extra: Partial<ActionStepsInput> = {}) {
  const sagaId = `actions-${randomUUID().slice(0, 8)}`;
  fakes.set(sagaId, behavior);
  const started = await sagas.startTypedSaga('actionStepsSaga', {
    sagaId,
    name: 'action-steps',
    args: [{ orderId: 'o-1', account: 'acc-1', amount: 25, ...extra } satisfies ActionStepsInput],
  });
  const result: SagaResult = await started.result();
  const events = fakes.eventsOf(sagaId);
  expect(checkEventSequence(events).ok).toBe(true);
  return { sagaId, result, events };
}

describe('typed saga steps with the application’s own actions', () => {
  it('run as steps of the backend app, in order, with their input, key and rollback on the stack', async () => {
    const { sagaId, result, events } = await run({});
    expect(result.status.state).toBe('COMMITTED');
    expect(fakes.callsOf(sagaId)).toEqual(['+reserve', '+ship', '+confirm']);
    const calls = fakes.calls.filter((c) => c.sagaId === sagaId);
    expect(calls.map((c) => [c.payload, c.idempotencyKey])).toEqual([
      [{ account: 'acc-1', amount: 25 }, `${sagaId}:reserve`],
      [{ orderId: 'o-1', reservationId: 'undefined' }, `${sagaId}:ship`],
      [{ orderId: 'o-1' }, `${sagaId}:confirm`],
    ]);
    // Write-ahead rows name the action; each is followed by its outcome row.
    const pending = events.filter((e) => e.status === 'STEP_PENDING').map((e) => e.payload);
    expect(pending).toEqual([
      {
        backend: 'app',
        operation: 'reserveCredit',
        kind: 'compensatable',
        idempotencyKey: `${sagaId}:reserve`,
      },
      {
        backend: 'app',
        operation: 'createShipment',
        kind: 'compensatable',
        idempotencyKey: `${sagaId}:ship`,
      },
      {
        backend: 'app',
        operation: 'sendConfirmation',
        kind: 'compensatable',
        idempotencyKey: `${sagaId}:confirm`,
      },
    ]);
    expect(events.map((e) => `${e.status}:${e.stepId ?? ''}`)).toEqual([
      'SAGA_STARTED:',
      'STEP_PENDING:reserve',
      'STEP_SUCCESS:reserve',
      'STEP_PENDING:ship',
      'STEP_SUCCESS:ship',
      'STEP_PENDING:confirm',
      'STEP_SUCCESS:confirm',
      'SAGA_COMMITTED:',
    ]);
    // The status lists the planned steps as app steps; the step without a rollback is not on the stack.
    expect(result.status.steps.map((s) => [s.id, s.backend, s.operation, s.state, s.attempts])).toEqual([
      ['reserve', 'app', 'reserveCredit', 'SUCCEEDED', 1],
      ['ship', 'app', 'createShipment', 'SUCCEEDED', 1],
      ['confirm', 'app', 'sendConfirmation', 'SUCCEEDED', 1],
    ]);
    expect(
      result.status.compensationStack.map((e) => [e.stepId, e.backend, e.compensation, e.payload]),
    ).toEqual([
      ['reserve', 'app', 'app.releaseCredit', { account: 'acc-1', amount: 25 }],
      ['ship', 'app', 'app.cancelShipment', { orderId: 'o-1', reservationId: 'undefined' }],
    ]);
  });

  it('a later failure runs the rollbacks newest first, and a step without rollback is not undone', async () => {
    const { sagaId, result, events } = await run({ failSteps: ['extra'] }, { extraAction: 'audit' });
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(fakes.callsOf(sagaId)).toEqual(['+reserve', '+ship', '+confirm', '+extra', '-ship', '-reserve']);
    expect(
      events
        .filter((e) => e.status === 'COMPENSATION_STARTED')
        .map((e) => [e.stepId, e.payload?.compensation]),
    ).toEqual([
      ['ship', 'app.cancelShipment'],
      ['reserve', 'app.releaseCredit'],
    ]);
    expect(events.filter((e) => e.status === 'COMPENSATION_SUCCESS').map((e) => e.stepId)).toEqual([
      'ship',
      'reserve',
    ]);
    const extra = events.find((e) => e.status === 'STEP_PENDING' && e.stepId === 'extra');
    expect(extra?.payload).toMatchObject({ backend: 'app', operation: 'audit' });
    expect(result.status.steps.find((s) => s.id === 'confirm')?.state).toBe('SUCCEEDED');
  });

  it('a cancelled saga runs the rollbacks newest first; the running step without rollback is not undone', async () => {
    const sagaId = `actions-cancel-${randomUUID().slice(0, 8)}`;
    fakes.set(sagaId, { blockSteps: ['confirm'] });
    const started = await sagas.startTypedSaga('actionStepsSaga', {
      sagaId,
      name: 'action-steps',
      args: [{ orderId: 'o-2', account: 'acc-2', amount: 5 } satisfies ActionStepsInput],
    });
    await fakes.whenStarted(sagaId, 'confirm');
    await harness.env.client.workflow.getHandle(sagaId).cancel();
    let aborted = false;
    for (let i = 0; i < 100 && !aborted; i++) {
      aborted = (await sagas.getStatus(sagaId)).abortRequested;
      if (!aborted) await new Promise((r) => setTimeout(r, 50));
    }
    fakes.release(sagaId, 'confirm');
    const result = await started.result();
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(result.status.error).toContain('workflow cancelled');
    expect(fakes.callsOf(sagaId)).toEqual(['+reserve', '+ship', '+confirm', '-ship', '-reserve']);
    expect(
      fakes
        .eventsOf(sagaId)
        .filter((e) => e.status === 'COMPENSATION_STARTED')
        .map((e) => e.payload?.compensation),
    ).toEqual(['app.cancelShipment', 'app.releaseCredit']);
  });

  it("the step's own retry policy applies: 4 attempts, not the default 5", async () => {
    const healed = await run({ flakySteps: { ship: 3 } });
    expect(healed.result.status.state).toBe('COMMITTED');
    const success = healed.events.find((e) => e.status === 'STEP_SUCCESS' && e.stepId === 'ship');
    expect(success?.attempt).toBe(4);
    expect(healed.events.filter((e) => e.status === 'STEP_PENDING' && e.stepId === 'ship')).toHaveLength(1);

    const failed = await run({ flakySteps: { ship: 4 } });
    expect(failed.result.status.state).toBe('ROLLED_BACK');
    const fail = failed.events.find((e) => e.status === 'STEP_FAIL' && e.stepId === 'ship');
    expect(fail?.attempt).toBe(4);
    expect(fail?.error).toContain('transient failure 4 of ship');
    expect(fakes.callsOf(failed.sagaId)).toEqual([
      '+reserve',
      '+ship',
      '+ship',
      '+ship',
      '+ship',
      '-reserve',
    ]);
  });
});
