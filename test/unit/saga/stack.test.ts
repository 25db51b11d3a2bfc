import { describe, expect, it } from 'vitest';
import { FailureTypes } from '../../../src/saga/contracts.js';
import type { NormalizedStep } from '../../../src/saga/definition.js';
import {
  compensationActivityOptions,
  HTTP_STEP_OPTIONS,
  POSTGRES_STEP_OPTIONS,
  stepActivityOptions,
} from '../../../src/saga/activity-options.js';
import { entryForStep, push, unwindPlan, without } from '../../../src/saga/stack.js';

const step = (id: string, extra: Partial<NormalizedStep> = {}): NormalizedStep => ({
  id,
  backend: 'postgres',
  operation: 'insert',
  payload: { table: 't' },
  compensation: 'relational_delete',
  idempotencyKey: `saga:${id}`,
  kind: 'compensatable',
  ...extra,
});

describe('compensation stack', () => {
  it('an entry carries the step data and result; no entry without a compensation', () => {
    expect(entryForStep(step('a'), { id: 7 })).toEqual({
      stepId: 'a',
      backend: 'postgres',
      compensation: 'relational_delete',
      payload: { table: 't' },
      result: { id: 7 },
      idempotencyKey: 'saga:a',
    });
    expect(entryForStep(step('p', { kind: 'pivot', compensation: null }), {})).toBeNull();
  });

  it('unwinds newest first, one at a time, or all at once in parallel', () => {
    let stack = push([], entryForStep(step('a'), {})!);
    stack = push(stack, entryForStep(step('b'), {})!);
    stack = push(stack, entryForStep(step('c'), {})!);
    expect(unwindPlan(stack, 'sequential').map((b) => b.map((e) => e.stepId))).toEqual([['c'], ['b'], ['a']]);
    expect(unwindPlan(stack, 'parallel').map((b) => b.map((e) => e.stepId))).toEqual([['c', 'b', 'a']]);
    expect(unwindPlan([], 'parallel')).toEqual([]);
    expect(without(stack, ['b']).map((e) => e.stepId)).toEqual(['a', 'c']);
    expect(stack).toHaveLength(3); // push does not mutate
  });
});

describe('activity options', () => {
  it('per-backend defaults, overridable per step', () => {
    const pg = stepActivityOptions(step('a'));
    expect(pg.startToCloseTimeout).toBe(POSTGRES_STEP_OPTIONS.startToCloseTimeout);
    expect(pg.retry!.maximumAttempts).toBe(5);
    expect(stepActivityOptions(step('h', { backend: 'http' })).startToCloseTimeout).toBe(
      HTTP_STEP_OPTIONS.startToCloseTimeout,
    );
    expect(stepActivityOptions(step('x', { backend: 'my-custom' })).startToCloseTimeout).toBe('30s');
    const o = stepActivityOptions(
      step('a', {
        retry: { maximumAttempts: 9, initialInterval: '2s', nonRetryableErrorTypes: ['X'] },
        timeout: '3m',
      }),
    );
    expect(o.startToCloseTimeout).toBe('3m');
    expect(o.retry).toMatchObject({ maximumAttempts: 9, initialInterval: '2s' });
    expect(o.retry!.nonRetryableErrorTypes).toContain('X');
    expect(o.retry!.nonRetryableErrorTypes).toContain(FailureTypes.InvalidPayload);
  });

  it('retriable steps retry without limit; compensations have their own policy', () => {
    expect(stepActivityOptions(step('r', { kind: 'retriable' })).retry!.maximumAttempts).toBeUndefined();
    expect(
      stepActivityOptions(step('a', { retry: { maximumAttempts: 0 } })).retry!.maximumAttempts,
    ).toBeUndefined();
    expect(compensationActivityOptions().retry!.maximumAttempts).toBe(10);
    expect(
      compensationActivityOptions({ compensationAttempts: 2, retryInterval: '10ms' }).retry,
    ).toMatchObject({ maximumAttempts: 2, initialInterval: '10ms' });
  });
});
