import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/index.js';
import { stepSuccessPayload } from '../../../src/audit/compensation-stack.js';
import type { CompensationEntry, JsonObject } from '../../../src/saga/contracts.js';
import { backoffDelayMs } from '../../../src/recovery/backoff.js';
import { analyzeTrail, isTerminalStatus } from '../../../src/recovery/trail.js';

let seq = 0;
function ev(status: string, stepId: string | null = null, payload: JsonObject = {}): AuditEvent {
  seq += 1;
  return {
    id: String(seq),
    sagaId: 's1',
    runId: 'run-1',
    seq,
    stepId,
    status,
    sagaName: 'orders',
    payload,
    error: null,
    traceId: 't1',
    attempt: null,
    durationMs: null,
    createdAt: null,
  };
}

const entry = (stepId: string): CompensationEntry => ({
  stepId,
  backend: 'postgres',
  compensation: 'relational_delete',
  payload: { table: 't', values: { id: stepId } },
  result: { row: { id: stepId } },
  idempotencyKey: `s1:${stepId}`,
});

function succeeded(stepId: string, kind = 'compensatable'): AuditEvent[] {
  return [
    ev('STEP_PENDING', stepId, { kind }),
    ev('STEP_SUCCESS', stepId, stepSuccessPayload(entry(stepId))),
  ];
}

describe('analyzeTrail', () => {
  it('rebuilds the stack of an interrupted saga and finds the step whose outcome is unknown', () => {
    seq = 0;
    const a = analyzeTrail('s1', [
      ev('SAGA_STARTED'),
      ...succeeded('a'),
      ...succeeded('b'),
      ev('STEP_PENDING', 'c'),
    ]);
    expect(a.stack?.map((e) => e.stepId)).toEqual(['a', 'b']);
    expect(a.openStep).toBe('c');
    expect(a.pivotPassed).toBe(false);
    expect(a.lastSeq).toBe(6);
    expect(a.state).toBe('EXECUTING');
    expect(a.stackProblem).toBeNull();
  });

  it('drops entries whose compensation already succeeded', () => {
    seq = 0;
    const a = analyzeTrail('s1', [
      ev('SAGA_STARTED'),
      ...succeeded('a'),
      ...succeeded('b'),
      ev('STEP_PENDING', 'c'),
      ev('STEP_FAIL', 'c'),
      ev('COMPENSATION_STARTED', 'b'),
      ev('COMPENSATION_SUCCESS', 'b'),
    ]);
    expect(a.stack?.map((e) => e.stepId)).toEqual(['a']);
    expect(a.state).toBe('COMPENSATING');
    expect(a.openStep).toBeNull();
  });

  it('notices a passed pivot (the saga can no longer be compensated)', () => {
    seq = 0;
    const a = analyzeTrail('s1', [ev('SAGA_STARTED'), ...succeeded('a'), ...succeeded('p', 'pivot')]);
    expect(a.pivotPassed).toBe(true);
  });

  it('refuses to guess when a STEP_SUCCESS carries no compensation entry', () => {
    seq = 0;
    const a = analyzeTrail('s1', [
      ev('SAGA_STARTED'),
      ev('STEP_PENDING', 'a'),
      ev('STEP_SUCCESS', 'a', { result: {} }),
    ]);
    expect(a.stack).toBeNull();
    expect(a.stackProblem).toMatch(/a carries no compensationEntry/);
  });

  it('tells terminal statuses apart', () => {
    expect(isTerminalStatus('SAGA_ROLLED_BACK')).toBe(true);
    expect(isTerminalStatus('SAGA_RETRIED')).toBe(false);
    expect(isTerminalStatus(null)).toBe(false);
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the initial interval and stops at the maximum', () => {
    const b = { initialIntervalMs: 1000, maximumIntervalMs: 5000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelayMs(n, b))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(backoffDelayMs(1000, b)).toBe(5000);
  });
});
