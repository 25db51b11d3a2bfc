/**
 * Workflow tests of the saga engine on a real Temporal dev server with fake activities:
 * happy path, failure at each position, parallel compensation, failing compensation →
 * FAILED → operator retry / resolve, abort before and after the pivot, cancellation,
 * the identity-key race, and compensateSaga of a committed saga.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityLockedError, SagaClient, SagaStateError } from '../../src/client/index.js';
import { checkEventSequence } from '../../src/saga/states.js';
import { lockWorkflowId } from '../../src/saga/identity.js';
import { SAGA_ROLLED_BACK_FAILURE_TYPE, sagaResultFromFailure } from '../../src/saga/outcome.js';
import { startFakeSagaHarness, type FakeSagaHarness } from './env.js';
import { testCatalog } from './catalog.js';
import { testDefinition } from './definitions.js';
import type { SagaDefinition } from '../../src/saga/definition.js';
import type { Fakes } from './fakes.js';

const TASK_QUEUE = `polysaga-wf-test-${randomUUID()}`;

const def = testDefinition;

let env: TestWorkflowEnvironment;
let sagas: SagaClient;
let fakes: Fakes;
let harness: FakeSagaHarness;

beforeAll(async () => {
  harness = await startFakeSagaHarness(TASK_QUEUE, testCatalog);
  ({ env, sagas, fakes } = harness);
});

afterAll(async () => {
  await harness?.close();
});

const id = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

function expectValidEvents(sagaId: string, state: string) {
  const events = fakes.eventsOf(sagaId);
  const check = checkEventSequence(events);
  expect(check.errors).toEqual([]);
  expect(check.state).toBe(state);
  return events.map((e) => (e.stepId ? `${e.status}:${e.stepId}` : e.status));
}

async function waitFor<T>(fn: () => Promise<T>, until: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (until(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('sagaWorkflow', () => {
  it('commits a saga whose steps all succeed', async () => {
    const sagaId = id('happy');
    const result = await sagas.executeSaga(def(sagaId, { traceId: 'trace-1' }));
    expect(result.status.state).toBe('COMMITTED');
    expect(result.status.completedSteps).toBe(4);
    expect(result.status.totalSteps).toBe(4);
    expect(result.status.steps.map((s) => s.state)).toEqual([
      'SUCCEEDED',
      'SUCCEEDED',
      'SUCCEEDED',
      'SUCCEEDED',
    ]);
    expect(result.status.compensationStack.map((e) => e.stepId)).toEqual(['s1', 's2', 's3', 's4']);
    expect(result.status.compensationStack[0]!.compensation).toBe('postgres_undo');
    expect(result.status.compensationStack[0]!.result).toEqual({ id: 's1-result', operation: 'write' });
    expect(fakes.callsOf(sagaId)).toEqual(['+s1', '+s2', '+s3', '+s4']);
    expect(fakes.calls.filter((c) => c.sagaId === sagaId).map((c) => c.idempotencyKey)).toEqual(
      [1, 2, 3, 4].map((i) => `${sagaId}:s${i}`),
    );
    expect(expectValidEvents(sagaId, 'COMMITTED')).toEqual([
      'SAGA_STARTED',
      ...['s1', 's2', 's3', 's4'].flatMap((s) => [`STEP_PENDING:${s}`, `STEP_SUCCESS:${s}`]),
      'SAGA_COMMITTED',
    ]);
    expect(fakes.eventsOf(sagaId).every((e) => e.traceId === 'trace-1' && e.sagaName === 'test-saga')).toBe(
      true,
    );
    const status = await sagas.getStatus(sagaId);
    expect(status.state).toBe('COMMITTED');
    const listed = await waitFor(
      () => sagas.listSagas({ traceId: 'trace-1' }),
      (l) => l.some((s) => s.sagaId === sagaId && s.state === 'COMMITTED'),
    );
    expect(listed.find((s) => s.sagaId === sagaId)).toMatchObject({
      name: 'test-saga',
      state: 'COMMITTED',
      workflowType: 'sagaWorkflow',
    });
  });

  for (const k of [0, 1, 2, 3]) {
    it(`failure at step position ${k + 1} compensates the ${k} earlier steps newest first`, async () => {
      const sagaId = id(`fail-at-${k + 1}`);
      const failing = `s${k + 1}`;
      fakes.set(sagaId, { failSteps: [failing] });
      const result = await sagas.executeSaga(def(sagaId));
      expect(result.status.state).toBe('ROLLED_BACK');
      expect(result.status.failedAt).toBe(failing);
      expect(result.status.error).toContain('injected failure');
      const forward = Array.from({ length: k + 1 }, (_, i) => `+s${i + 1}`);
      const undo = Array.from({ length: k }, (_, i) => `-s${k - i}`);
      expect(fakes.callsOf(sagaId)).toEqual([...forward, ...undo]);
      expect(result.status.compensationStack).toEqual([]);
      const events = expectValidEvents(sagaId, 'ROLLED_BACK');
      expect(events).toContain(`STEP_FAIL:${failing}`);
      expect(events.filter((e) => e.startsWith('COMPENSATION_SUCCESS'))).toEqual(
        undo.map((u) => `COMPENSATION_SUCCESS:${u.slice(1)}`),
      );
      expect(events.at(-1)).toBe('SAGA_ROLLED_BACK');
    });
  }

  it('a rolled-back saga fails its workflow as polysaga.SagaRolledBack; the client still reads ROLLED_BACK', async () => {
    const sagaId = id('rolled-back-red');
    fakes.set(sagaId, { failSteps: ['s2'] });
    const result = await sagas.executeSaga(def(sagaId, { traceId: `trace-${sagaId}` }));
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(result.status.failedAt).toBe('s2');
    // Temporal (and its Web UI) sees a failed workflow with a stable, non-retryable failure type.
    const handle = env.client.workflow.getHandle(sagaId);
    expect((await handle.describe()).status.name).toBe('FAILED');
    const err = await handle.result().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(SAGA_ROLLED_BACK_FAILURE_TYPE);
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
    expect((cause as ApplicationFailure).message).toMatch(
      /rolled back after step s2 failed: .*injected failure/,
    );
    expect(sagaResultFromFailure(err)?.status.state).toBe('ROLLED_BACK');
    // Every reader of the client maps it back: status, wait helper, list, and a refused compensate.
    expect((await sagas.getStatus(sagaId)).state).toBe('ROLLED_BACK');
    expect((await sagas.getStatus(sagaId)).failures).toEqual(result.status.failures);
    expect((await sagas.waitForResult(sagaId)).status.state).toBe('ROLLED_BACK');
    const listed = await waitFor(
      () => sagas.listSagas({ traceId: `trace-${sagaId}` }),
      (l) => l.some((s) => s.sagaId === sagaId && s.executionStatus === 'FAILED'),
    );
    expect(listed.find((s) => s.sagaId === sagaId)?.state).toBe('ROLLED_BACK');
    await expect(sagas.compensateSaga(sagaId)).rejects.toMatchObject({
      state: 'ROLLED_BACK',
      message: expect.stringContaining('only a COMMITTED saga can be compensated') as unknown,
    });
    await expect(sagas.abortSaga(sagaId)).rejects.toMatchObject({ state: 'ROLLED_BACK' });
  });

  it('compensates in parallel when the definition asks', async () => {
    const sagaId = id('parallel');
    // Each compensation waits until all three have started: only a parallel unwind finishes.
    fakes.set(sagaId, { failSteps: ['s4'], barrierCompensations: ['s1', 's2', 's3'] });
    const result = await sagas.executeSaga(def(sagaId, { compensation: { mode: 'parallel' } }));
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(fakes.callsOf(sagaId, 'compensate').sort()).toEqual(['-s1', '-s2', '-s3']);
    const events = expectValidEvents(sagaId, 'ROLLED_BACK');
    // All three started before the first finished.
    const firstDone = events.findIndex((e) => e.startsWith('COMPENSATION_SUCCESS'));
    expect(events.slice(0, firstDone).filter((e) => e.startsWith('COMPENSATION_STARTED'))).toHaveLength(3);
  });

  it('a failing compensation leaves the saga FAILED; the others still run; operator retry rolls back', async () => {
    const sagaId = id('comp-fail');
    fakes.set(sagaId, { failSteps: ['s4'], failCompensations: ['s2'] });
    const started = await sagas.createSaga(def(sagaId));
    const failed = await waitFor(
      () => sagas.getStatus(sagaId),
      (s) => s.state === 'FAILED',
    );
    expect(failed.failedAt).toBe('s4');
    expect(failed.compensationStack.map((e) => e.stepId)).toEqual(['s2']);
    expect(failed.failures.map((f) => `${f.phase}:${f.stepId}`)).toEqual(['step:s4', 'compensation:s2']);
    expect(failed.steps.map((s) => s.state)).toEqual([
      'COMPENSATED',
      'COMPENSATION_FAILED',
      'COMPENSATED',
      'FAILED',
    ]);
    expect(failed.error).toContain('s2');
    // s1 was compensated although s2 failed before it.
    expect(fakes.callsOf(sagaId, 'compensate')).toEqual(['-s3', '-s2', '-s2', '-s1']);
    const sa = await waitFor(
      () => sagas.listSagas({ state: 'FAILED', name: 'test-saga' }),
      (l) => l.some((s) => s.sagaId === sagaId),
    );
    expect(sa.find((s) => s.sagaId === sagaId)?.executionStatus).toBe('RUNNING');
    // The Web UI's "current details" (workflow metadata query) name the failed compensation and its cause.
    const meta = await env.client.workflow
      .getHandle(sagaId)
      .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(meta.currentDetails).toMatch(/^\*\*FAILED\*\*/);
    expect(meta.currentDetails).toMatch(/step `s2` \(\w+\.write\), compensation `[^`]+`: .*injected/);
    expect(meta.currentDetails).toContain(`polysaga retry ${sagaId}`);
    const described = await env.client.workflow.getHandle(sagaId).describe();
    expect(await described.staticSummary()).toBe('saga test-saga: 4 steps (postgres, neo4j, vector, s3)');
    expect(await described.staticDetails()).toMatch(/^1\. `s1`: postgres\.write, undo `[^`]+`$/m);

    // abort means nothing for a saga that already unwound: refused, naming the state and the commands.
    const refused = await sagas.abortSaga(sagaId).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(SagaStateError);
    expect(refused).toMatchObject({ state: 'FAILED' });
    expect((refused as Error).message).toMatch(/is FAILED.*polysaga retry .*polysaga resolve /);
    expect((await sagas.getStatus(sagaId)).state).toBe('FAILED');

    // Still failing: a retry round ends FAILED again.
    const again = await sagas.retryCompensation(sagaId);
    expect(again.state).toBe('FAILED');
    // The error text of the failed round replaces the previous one; it never nests it.
    expect(again.error).toBe(failed.error);
    expect(again.error?.match(/compensation failed for/g)).toHaveLength(1);
    fakes.heal(sagaId);
    const retry = await sagas.startRetry(sagaId);
    expect(retry).toMatchObject({ phase: 'compensation', stepIds: ['s2'] });
    expect(retry.before.state).toBe('FAILED');
    expect(['COMPENSATING', 'ROLLED_BACK']).toContain(retry.status.state);
    const after = await retry.result();
    expect(after.state).toBe('ROLLED_BACK');
    expect(after.compensationStack).toEqual([]);
    expect((await started.result()).status.state).toBe('ROLLED_BACK');
    const events = expectValidEvents(sagaId, 'ROLLED_BACK');
    expect(events.filter((e) => e === 'SAGA_RETRIED')).toHaveLength(2);
    expect(events.filter((e) => e === 'SAGA_FAILED')).toHaveLength(2);
    await expect(sagas.retryCompensation(sagaId)).rejects.toMatchObject({
      name: 'SagaStateError',
      state: 'ROLLED_BACK',
      message: expect.not.stringContaining('COMPLETED') as unknown,
    });
    await expect(sagas.abortSaga(sagaId)).rejects.toMatchObject({
      state: 'ROLLED_BACK',
      message: expect.stringMatching(/is ROLLED_BACK: it has ended/) as unknown,
    });
  });

  it('an operator resolves a FAILED saga', async () => {
    const sagaId = id('resolve');
    fakes.set(sagaId, { failSteps: ['s3'], failCompensations: ['s1'] });
    const started = await sagas.createSaga(def(sagaId));
    await waitFor(
      () => sagas.getStatus(sagaId),
      (s) => s.state === 'FAILED',
    );
    await expect(sagas.resolveSaga(sagaId, '')).rejects.toBeInstanceOf(SagaStateError);
    const resolved = await sagas.resolveSaga(sagaId, 'row deleted by hand', 'ops@example.com');
    expect(resolved.state).toBe('RESOLVED');
    expect(resolved.resolution).toEqual({ reason: 'row deleted by hand', by: 'ops@example.com' });
    expect((await started.result()).status.state).toBe('RESOLVED');
    const events = expectValidEvents(sagaId, 'RESOLVED');
    expect(events.at(-1)).toBe('SAGA_RESOLVED');
    expect(fakes.eventsOf(sagaId).at(-1)?.payload).toMatchObject({ reason: 'row deleted by hand' });
  });

  it('abort before the pivot compensates (including the step that was running)', async () => {
    const sagaId = id('abort-before');
    fakes.set(sagaId, { blockSteps: ['s2'] });
    const started = await sagas.createSaga(def(sagaId, {}, 3));
    await fakes.whenStarted(sagaId, 's2');
    await sagas.abortSaga(sagaId, 'user cancelled upload');
    await waitFor(
      () => sagas.getStatus(sagaId),
      (s) => s.abortRequested,
    );
    fakes.release(sagaId, 's2');
    const result = await started.result();
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(result.status.error).toContain('user cancelled upload');
    expect(fakes.callsOf(sagaId)).toEqual(['+s1', '+s2', '-s2', '-s1']);
    const events = expectValidEvents(sagaId, 'ROLLED_BACK');
    expect(events).toContain('SAGA_ABORTED');
    expect(events).not.toContain('STEP_PENDING:s3');
    await expect(sagas.abortSaga(sagaId)).rejects.toBeInstanceOf(SagaStateError);
  });

  it.each(['standard', 'fast'] as const)(
    'abort cancels a step that is retrying and unwinds at once; the cancelled step is not undone (%s)',
    async (execution) => {
      const sagaId = id(`abort-retrying-${execution}`);
      // s2 fails transiently for ever, 2 s apart: its retry policy would never end by itself.
      fakes.set(sagaId, { flakySteps: { s2: 1_000_000 } });
      const d = def(sagaId, { execution }, 3);
      d.steps[1]!.retry = {
        maximumAttempts: 0,
        initialInterval: '2s',
        maximumInterval: '2s',
        backoffCoefficient: 1,
      };
      const started = await sagas.createSaga(d);
      await waitFor(
        () => Promise.resolve(fakes.callsOf(sagaId)),
        (calls) => calls.filter((c) => c === '+s2').length >= 2,
      );
      const t0 = Date.now();
      const accepted = await sagas.abortSaga(sagaId, 'backend down, giving up');
      expect(accepted).toMatchObject({ state: 'EXECUTING', abortRequested: true });
      const result = await started.result();
      // Fast mode: the local activity's backoff runs inside the workflow task, so the abort is seen
      // at the task's next heartbeat (a few seconds), then the step is cancelled at once.
      expect(Date.now() - t0).toBeLessThan(execution === 'fast' ? 15_000 : 5_000);
      expect(result.status.state).toBe('ROLLED_BACK');
      expect(result.status.steps[1]).toMatchObject({ id: 's2', state: 'FAILED' });
      expect(result.status.steps[1]!.error).toContain('cancelled by abort');
      const calls = fakes.callsOf(sagaId);
      expect(calls.filter((c) => c.startsWith('-'))).toEqual(['-s1']);
      expect(calls).not.toContain('+s3');
      const events = expectValidEvents(sagaId, 'ROLLED_BACK');
      expect(events.slice(-6)).toEqual([
        'STEP_PENDING:s2',
        'STEP_FAIL:s2',
        'SAGA_ABORTED',
        'COMPENSATION_STARTED:s1',
        'COMPENSATION_SUCCESS:s1',
        'SAGA_ROLLED_BACK',
      ]);
    },
  );

  it('abort after the pivot completes forward', async () => {
    const sagaId = id('abort-after');
    fakes.set(sagaId, { blockSteps: ['r1'] });
    const d: SagaDefinition = {
      name: 'test-saga',
      sagaId,
      steps: [
        { id: 'c1', backend: 'postgres', operation: 'write', payload: {} },
        { id: 'p', backend: 'http', operation: 'notify', payload: {}, kind: 'pivot' },
        { id: 'r1', backend: 's3', operation: 'notify', payload: {}, kind: 'retriable' },
        { id: 'r2', backend: 'vector', operation: 'notify', payload: {}, kind: 'retriable' },
      ],
    };
    const started = await sagas.createSaga(d);
    await fakes.whenStarted(sagaId, 'r1');
    await sagas.abortSaga(sagaId);
    fakes.release(sagaId, 'r1');
    const result = await started.result();
    expect(result.status.state).toBe('COMMITTED');
    expect(result.status.abortRequested).toBe(true);
    expect(fakes.callsOf(sagaId)).toEqual(['+c1', '+p', '+r1', '+r2']);
    const events = expectValidEvents(sagaId, 'COMMITTED');
    expect(events).toContain('SAGA_ABORTED');
    // Only the compensatable step before the pivot is on the stack.
    expect(result.status.compensationStack.map((e) => e.stepId)).toEqual(['c1']);
  });

  it('workflow cancellation compensates like an abort', async () => {
    const sagaId = id('cancel');
    fakes.set(sagaId, { blockSteps: ['s3'] });
    const started = await sagas.createSaga(def(sagaId));
    await fakes.whenStarted(sagaId, 's3');
    await env.client.workflow.getHandle(sagaId).cancel();
    await waitFor(
      () => sagas.getStatus(sagaId),
      (s) => s.abortRequested,
    );
    fakes.release(sagaId, 's3');
    const result = await started.result();
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(fakes.callsOf(sagaId)).toEqual(['+s1', '+s2', '+s3', '-s3', '-s2', '-s1']);
    expectValidEvents(sagaId, 'ROLLED_BACK');
  });

  it('compensateSaga undoes a committed saga from its recorded stack', async () => {
    const sagaId = id('undo');
    const committed = await sagas.executeSaga(def(sagaId));
    expect(committed.status.state).toBe('COMMITTED');
    const undo = await sagas.compensateSaga(sagaId);
    const result = await undo.result();
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(fakes.callsOf(sagaId)).toEqual(['+s1', '+s2', '+s3', '+s4', '-s4', '-s3', '-s2', '-s1']);
    // Compensations get the forward results recorded in the committed run.
    const events = expectValidEvents(sagaId, 'ROLLED_BACK');
    expect(events.slice(-2)).toEqual(['COMPENSATION_SUCCESS:s1', 'SAGA_ROLLED_BACK']);
    expect((await sagas.getStatus(sagaId)).state).toBe('ROLLED_BACK');
    await expect(sagas.compensateSaga(sagaId)).rejects.toBeInstanceOf(SagaStateError);
    // Listed once, in the state after the undo; no longer among the COMMITTED ones.
    const traceId = committed.status.traceId;
    const listed = await waitFor(
      () => sagas.listSagas({ traceId }),
      (l) => l.some((s) => s.sagaId === sagaId && s.state === 'ROLLED_BACK'),
    );
    expect(listed.filter((s) => s.sagaId === sagaId)).toHaveLength(1);
    expect(listed.find((s) => s.sagaId === sagaId)?.runId).toBe(undo.runId);
    expect((await sagas.listSagas({ traceId, state: 'COMMITTED' })).map((s) => s.sagaId)).not.toContain(
      sagaId,
    );
    expect((await sagas.listSagas({ traceId, state: 'ROLLED_BACK' })).map((s) => s.sagaId)).toEqual([sagaId]);
  });

  it('sagas of a client with an origin (verify, bench) are tagged and left out of default lists', async () => {
    const sagaId = id('origin');
    const verifyClient = new SagaClient({
      client: env.client,
      taskQueue: TASK_QUEUE,
      catalog: testCatalog,
      origin: 'verify',
    });
    const traceId = `trace-${sagaId}`;
    expect((await verifyClient.executeSaga(def(sagaId, { traceId }))).status.state).toBe('COMMITTED');
    // The SAGA_STARTED audit row carries it (the SQL metrics views of migration 0007 leave it out).
    expect(fakes.eventsOf(sagaId)[0]).toMatchObject({
      status: 'SAGA_STARTED',
      payload: { origin: 'verify' },
    });
    const all = await waitFor(
      () => sagas.listSagas({ traceId, all: true }),
      (l) => l.some((s) => s.sagaId === sagaId),
    );
    expect(all.find((s) => s.sagaId === sagaId)).toMatchObject({ origin: 'verify', state: 'COMMITTED' });
    expect(await sagas.listSagas({ traceId })).toEqual([]);
    // An untagged saga has no origin.
    const plain = id('no-origin');
    await sagas.executeSaga(def(plain, { traceId: `trace-${plain}` }));
    const listed = await waitFor(
      () => sagas.listSagas({ traceId: `trace-${plain}` }),
      (l) => l.length === 1,
    );
    expect(listed[0]).toMatchObject({ sagaId: plain, origin: null });
    expect(fakes.eventsOf(plain)[0]!.payload).not.toHaveProperty('origin');
  });

  it('a step after the pivot that fails permanently leaves the saga FAILED; operator retry completes it', async () => {
    const sagaId = id('retriable-fail');
    fakes.set(sagaId, { failSteps: ['r1'] });
    const started = await sagas.createSaga({
      name: 'test-saga',
      sagaId,
      steps: [
        { id: 'c1', backend: 'postgres', operation: 'write', payload: {} },
        { id: 'p', backend: 'http', operation: 'notify', payload: {}, kind: 'pivot' },
        { id: 'r1', backend: 's3', operation: 'notify', payload: {}, kind: 'retriable' },
      ],
    });
    const failed = await waitFor(
      () => sagas.getStatus(sagaId),
      (s) => s.state === 'FAILED',
    );
    expect(failed.failedAt).toBe('r1');
    fakes.heal(sagaId);
    await sagas.retryCompensation(sagaId);
    const result = await started.result();
    expect(result.status.state).toBe('COMMITTED');
    expect(fakes.callsOf(sagaId)).toEqual(['+c1', '+p', '+r1', '+r1']);
    expectValidEvents(sagaId, 'COMMITTED');
  });
});

describe('retries and kinds', () => {
  it('transient failures retry with the backend policy; a per-step retry override applies', async () => {
    const sagaId = id('flaky');
    fakes.set(sagaId, { flakySteps: { s1: 2, s2: 2 } });
    const d = def(sagaId, {}, 2);
    d.steps[1]!.retry = { maximumAttempts: 2 };
    const result = await sagas.executeSaga(d);
    // s1 (postgres default: 5 attempts) recovers; s2 (override: 2 attempts) gives up and is rolled back.
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(result.status.failedAt).toBe('s2');
    expect(result.status.error).toContain('transient failure 2 of s2');
    expect(fakes.callsOf(sagaId)).toEqual(['+s1', '+s1', '+s1', '+s2', '+s2', '-s1']);
    expectValidEvents(sagaId, 'ROLLED_BACK');
  });

  it('a failing pivot compensates the steps before it', async () => {
    const sagaId = id('pivot-fail');
    fakes.set(sagaId, { failSteps: ['p'] });
    const result = await sagas.executeSaga({
      name: 'test-saga',
      sagaId,
      steps: [
        { id: 'c1', backend: 'postgres', operation: 'write', payload: {} },
        { id: 'c2', backend: 'neo4j', operation: 'write', payload: {} },
        { id: 'p', backend: 'http', operation: 'notify', payload: {}, kind: 'pivot' },
        { id: 'r1', backend: 's3', operation: 'notify', payload: {}, kind: 'retriable' },
      ],
    });
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(fakes.callsOf(sagaId)).toEqual(['+c1', '+c2', '+p', '-c2', '-c1']);
    expect(result.status.steps.map((s) => s.state)).toEqual([
      'COMPENSATED',
      'COMPENSATED',
      'FAILED',
      'PENDING',
    ]);
    expectValidEvents(sagaId, 'ROLLED_BACK');
  });
});

describe('identity lock', () => {
  it('20 concurrent starts with one identity key: exactly one runs, the others name the holder', async () => {
    const key = `document:${randomUUID()}`;
    const ids = Array.from({ length: 20 }, (_, i) => id(`race-${i}`));
    for (const s of ids) fakes.set(s, { blockSteps: ['s1'] });
    const outcomes = await Promise.allSettled(
      ids.map((s) => sagas.createSaga(def(s, { identityKey: key }, 2))),
    );
    const winners = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const losers = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(19);
    const holder = winners[0]!.sagaId;
    for (const e of losers) {
      expect(e).toBeInstanceOf(IdentityLockedError);
      expect((e as IdentityLockedError).holderSagaId).toBe(holder);
      expect((e as IdentityLockedError).message).toContain(holder);
    }
    // Only the holder ever ran a step.
    await fakes.whenStarted(holder, 's1');
    expect(fakes.calls.filter((c) => ids.includes(c.sagaId)).map((c) => c.sagaId)).toEqual([holder]);
    fakes.release(holder, 's1');
    expect((await winners[0]!.result()).status.state).toBe('COMMITTED');
    // Released on COMMITTED: the next saga with the key starts (the release signal is async).
    const next = id('race-next');
    const started = await waitFor(
      () => sagas.createSaga(def(next, { identityKey: key }, 1)).catch((e: unknown) => e),
      (v) => !(v instanceof IdentityLockedError),
    );
    expect(started).not.toBeInstanceOf(Error);
    expect((await sagas.waitForResult(next)).status.state).toBe('COMMITTED');
    // The lock workflows are in visibility, but the Web UI view `SagaName IS NOT NULL` leaves
    // them out (docs/web-ui.md), and so does listSagas.
    const lockId = lockWorkflowId(key);
    const visible = async (query: string) => {
      const out: string[] = [];
      for await (const w of env.client.workflow.list({ query })) out.push(`${w.workflowId}|${w.type}`);
      return out;
    };
    await waitFor(
      () => visible(`WorkflowId = ${JSON.stringify(lockId)}`),
      (l) => l.length >= 2,
    );
    expect(await visible(`WorkflowId = ${JSON.stringify(lockId)} AND SagaName IS NOT NULL`)).toEqual([]);
    expect((await visible(`WorkflowId = ${JSON.stringify(lockId)}`))[0]).toBe(
      `${lockId}|identityLockWorkflow`,
    );
    expect((await sagas.listSagas({ identityKey: key })).map((s) => s.workflowType)).toEqual([
      'sagaWorkflow',
      'sagaWorkflow',
    ]);
    const lock = await env.client.workflow.getHandle(lockId).describe();
    expect(await lock.staticSummary()).toBe(`identity lock ${key} held by saga ${next}`);
  });

  it('a lock whose holder saga was terminated is taken over', async () => {
    const key = `document:${randomUUID()}`;
    const first = id('lock-terminated');
    fakes.set(first, { blockSteps: ['s1'] });
    await sagas.createSaga(def(first, { identityKey: key }, 1));
    await fakes.whenStarted(first, 's1');
    await env.client.workflow.getHandle(first).terminate('operator terminated it');
    fakes.release(first, 's1');
    const second = id('lock-after-terminate');
    await sagas.createSaga(def(second, { identityKey: key }, 1));
    expect((await sagas.waitForResult(second)).status.state).toBe('COMMITTED');
    const status = await sagas.getStatus(first);
    expect(status.error).toBe('workflow terminated');
  });

  it('the lock is held while FAILED and released when resolved', async () => {
    const key = `document:${randomUUID()}`;
    const first = id('lock-failed');
    fakes.set(first, { failSteps: ['s2'], failCompensations: ['s1'] });
    await sagas.createSaga(def(first, { identityKey: key }, 2));
    await waitFor(
      () => sagas.getStatus(first),
      (s) => s.state === 'FAILED',
    );
    const blocked = await sagas
      .createSaga(def(id('lock-second'), { identityKey: key }, 1))
      .catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(IdentityLockedError);
    expect((blocked as IdentityLockedError).holderSagaId).toBe(first);
    await sagas.resolveSaga(first, 'fixed by hand');
    const third = id('lock-third');
    await waitFor(
      () => sagas.createSaga(def(third, { identityKey: key }, 1)).catch((e: unknown) => e),
      (v) => !(v instanceof IdentityLockedError),
    );
    expect((await sagas.waitForResult(third)).status.state).toBe('COMMITTED');
  });
});
