import { describe, expect, it } from 'vitest';
import {
  CompensationStackError,
  rebuildCompensationStack,
  stepSuccessPayload,
  type StackEvent,
} from '../../../src/audit/compensation-stack.js';
import type { CompensationEntry } from '../../../src/saga/contracts.js';

const entry = (stepId: string, backend = 'postgres'): CompensationEntry => ({
  stepId,
  backend,
  compensation: 'relational_delete',
  payload: { table: 'documents', values: { id: stepId } },
  result: { id: stepId },
  idempotencyKey: `saga-1:${stepId}`,
});

const ok = (seq: number, e: CompensationEntry | null): StackEvent => ({
  seq,
  status: 'STEP_SUCCESS',
  stepId: e?.stepId ?? `step-${seq}`,
  payload: stepSuccessPayload(e, { result: {} }),
});

describe('rebuildCompensationStack', () => {
  it('collects STEP_SUCCESS entries in push order and skips steps without compensation', () => {
    const events: StackEvent[] = [
      { seq: 1, status: 'SAGA_STARTED', stepId: null },
      { seq: 2, status: 'STEP_PENDING', stepId: 'row' },
      ok(3, entry('row')),
      ok(4, null),
      ok(5, entry('node', 'neo4j')),
      { seq: 6, status: 'STEP_PENDING', stepId: 'chunks' },
    ];
    expect(rebuildCompensationStack(events)).toEqual([entry('row'), entry('node', 'neo4j')]);
  });

  it('removes entries whose compensation succeeded and keeps failed ones', () => {
    const events: StackEvent[] = [
      ok(1, entry('a')),
      ok(2, entry('b')),
      ok(3, entry('c')),
      { seq: 4, status: 'STEP_FAIL', stepId: 'd' },
      { seq: 5, status: 'COMPENSATION_STARTED', stepId: 'c' },
      { seq: 6, status: 'COMPENSATION_SUCCESS', stepId: 'c' },
      { seq: 7, status: 'COMPENSATION_STARTED', stepId: 'b' },
      { seq: 8, status: 'COMPENSATION_FAIL', stepId: 'b' },
      { seq: 9, status: 'SAGA_FAILED', stepId: null },
    ];
    expect(rebuildCompensationStack(events).map((e) => e.stepId)).toEqual(['a', 'b']);
  });

  it('sorts by seq and does not duplicate a step written twice', () => {
    const events = [ok(3, entry('b')), ok(1, entry('a')), ok(2, entry('a'))];
    expect(rebuildCompensationStack(events).map((e) => e.stepId)).toEqual(['a', 'b']);
  });

  it('keeps inline compensations', () => {
    const inline: CompensationEntry = {
      ...entry('obj', 's3'),
      compensation: { operation: 'deleteObject', payload: { key: 'k' }, backend: 's3' },
    };
    expect(rebuildCompensationStack([ok(1, inline)])).toEqual([inline]);
  });

  it('refuses a malformed entry, naming the event', () => {
    const bad: StackEvent = {
      seq: 4,
      status: 'STEP_SUCCESS',
      stepId: 'x',
      payload: { compensationEntry: { stepId: 'x' } },
    };
    expect(() => rebuildCompensationStack([bad])).toThrow(CompensationStackError);
    expect(() => rebuildCompensationStack([bad])).toThrow(/seq 4 \(STEP_SUCCESS of x\)/);
  });
});

describe('stepSuccessPayload', () => {
  it('puts the entry under compensationEntry next to the extra fields, as plain JSON', () => {
    const e = entry('row');
    const p = stepSuccessPayload(e, { result: { id: 1 } });
    expect(p).toEqual({ result: { id: 1 }, compensationEntry: e });
    expect(p.compensationEntry).not.toBe(e);
    expect(stepSuccessPayload(null)).toEqual({ compensationEntry: null });
  });
});
