/**
 * Workflow tests of the one-activity-per-step shape (fake activities, real dev server): each
 * step and compensation is one activity that writes its own audit rows, saga-level rows ride
 * with the next activity or a local activity; fast mode runs the same activities locally; an
 * audit outage delays a saga but never fails it; a step that times out without writing its
 * outcome gets its rows from the workflow.
 */
import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SagaClient } from '../../src/client/index.js';
import { checkEventSequence } from '../../src/saga/states.js';
import { startFakeSagaHarness, type FakeSagaHarness } from './env.js';
import { testCatalog } from './catalog.js';
import { testDefinition } from './definitions.js';
import type { Fakes } from './fakes.js';

const def = testDefinition;

let env: TestWorkflowEnvironment;
let sagas: SagaClient;
let fakes: Fakes;
let harness: FakeSagaHarness;

beforeAll(async () => {
  harness = await startFakeSagaHarness(`polysaga-wf-transitions-${randomUUID()}`, testCatalog);
  ({ env, sagas, fakes } = harness);
});

afterAll(async () => {
  await harness?.close();
});

const id = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

function validEvents(sagaId: string, state: string): string[] {
  const events = fakes.eventsOf(sagaId);
  const check = checkEventSequence(events);
  expect(check.errors).toEqual([]);
  expect(check.state).toBe(state);
  return events.map((e) => (e.stepId ? `${e.status}:${e.stepId}` : e.status));
}

async function historyTypes(sagaId: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(sagaId).fetchHistory();
  return (history.events ?? []).map((e) => temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? '?');
}

const count = (types: string[], needle: string) => types.filter((t) => t.includes(needle)).length;

describe('one activity per step', () => {
  it('a committed saga runs one activity per step and writes every transition once', async () => {
    const sagaId = id('lean');
    const result = await sagas.executeSaga(def(sagaId));
    expect(result.status.state).toBe('COMMITTED');
    expect(validEvents(sagaId, 'COMMITTED')).toEqual([
      'SAGA_STARTED',
      'STEP_PENDING:s1',
      'STEP_SUCCESS:s1',
      'STEP_PENDING:s2',
      'STEP_SUCCESS:s2',
      'STEP_PENDING:s3',
      'STEP_SUCCESS:s3',
      'STEP_PENDING:s4',
      'STEP_SUCCESS:s4',
      'SAGA_COMMITTED',
    ]);
    const types = await historyTypes(sagaId);
    // 4 activities (no recordEvent activity); the terminal row is one local-activity marker.
    expect(count(types, 'ACTIVITY_TASK_SCHEDULED')).toBe(4);
    // Bare Temporal (4 activities) makes 29 events; the budget is 1.3x that.
    expect(types.length).toBeLessThanOrEqual(37);
    // The stack entry rides in STEP_SUCCESS (recover rebuilds the stack from it).
    const success = fakes.eventsOf(sagaId).find((e) => e.status === 'STEP_SUCCESS' && e.stepId === 's2');
    expect(success?.payload).toHaveProperty('compensationEntry.stepId', 's2');
  });

  it('a rolled-back saga runs one activity per compensation, within the history budget', async () => {
    const sagaId = id('lean-rb');
    fakes.set(sagaId, { failSteps: ['s4'] });
    const result = await sagas.executeSaga(def(sagaId));
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(validEvents(sagaId, 'ROLLED_BACK').slice(-9, -1)).toEqual([
      'STEP_PENDING:s4',
      'STEP_FAIL:s4',
      'COMPENSATION_STARTED:s3',
      'COMPENSATION_SUCCESS:s3',
      'COMPENSATION_STARTED:s2',
      'COMPENSATION_SUCCESS:s2',
      'COMPENSATION_STARTED:s1',
      'COMPENSATION_SUCCESS:s1',
    ]);
    expect(fakes.eventsOf(sagaId).at(-1)?.status).toBe('SAGA_ROLLED_BACK');
    const types = await historyTypes(sagaId);
    expect(count(types, 'ACTIVITY_TASK_SCHEDULED')).toBe(7);
    // Bare Temporal (4 steps, 3 undos) makes 47 events.
    expect(types.length).toBeLessThanOrEqual(Math.floor(47 * 1.3));
  });

  it('records the attempt that succeeded after transient failures', async () => {
    const sagaId = id('attempts');
    fakes.set(sagaId, { flakySteps: { s1: 2 } });
    const result = await sagas.executeSaga(def(sagaId, {}, 1));
    expect(result.status.state).toBe('COMMITTED');
    const rows = fakes.eventsOf(sagaId).filter((e) => e.stepId === 's1');
    expect(rows.map((e) => [e.status, e.attempt])).toEqual([
      ['STEP_PENDING', 1],
      ['STEP_SUCCESS', 3],
    ]);
    expect(rows[1]?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('an audit outage delays the saga; it commits with every transition written once', async () => {
    const sagaId = id('audit-outage');
    fakes.set(sagaId, { auditOutages: 3 });
    const result = await sagas.executeSaga(def(sagaId, {}, 2));
    expect(result.status.state).toBe('COMMITTED');
    expect(validEvents(sagaId, 'COMMITTED')).toHaveLength(6);
    // The step ran again after each outage, with the same idempotency key.
    const keys = new Set(fakes.calls.filter((c) => c.sagaId === sagaId).map((c) => c.idempotencyKey));
    expect(keys).toEqual(new Set([`${sagaId}:s1`, `${sagaId}:s2`]));
  });

  it('a step that times out without writing its outcome gets STEP_FAIL from the workflow', async () => {
    const sagaId = id('timeout');
    fakes.set(sagaId, { blockSteps: ['s2'] });
    const d = def(sagaId, {}, 2);
    d.steps[1]!.timeout = '1s';
    d.steps[1]!.retry = { maximumAttempts: 1 };
    const result = await sagas.executeSaga(d);
    fakes.release(sagaId, 's2');
    expect(result.status.state).toBe('ROLLED_BACK');
    const events = validEvents(sagaId, 'ROLLED_BACK');
    expect(events).toContain('STEP_FAIL:s2');
    const fail = fakes.eventsOf(sagaId).find((e) => e.status === 'STEP_FAIL');
    expect(fail?.error).toMatch(/timed? ?out|timeout/i);
  });
});

describe('fast mode (execution: "fast")', () => {
  it('commits with the same audit rows and no activity task on the task queue', async () => {
    const sagaId = id('fast');
    const result = await sagas.executeSaga(def(sagaId, { execution: 'fast' }));
    expect(result.status.state).toBe('COMMITTED');
    expect(validEvents(sagaId, 'COMMITTED')).toHaveLength(10);
    const types = await historyTypes(sagaId);
    expect(count(types, 'ACTIVITY_TASK_SCHEDULED')).toBe(0);
    expect(count(types, 'MARKER_RECORDED')).toBeGreaterThanOrEqual(5);
  });

  it('rolls back newest first, like the standard mode', async () => {
    const sagaId = id('fast-rb');
    fakes.set(sagaId, { failSteps: ['s3'] });
    const result = await sagas.executeSaga(def(sagaId, { execution: 'fast' }));
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(fakes.callsOf(sagaId)).toEqual(['+s1', '+s2', '+s3', '-s2', '-s1']);
    validEvents(sagaId, 'ROLLED_BACK');
  });
});
