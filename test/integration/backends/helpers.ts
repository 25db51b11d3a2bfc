/** Shared helpers of the backend integration tests (real servers from the local stack). */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { expect } from 'vitest';
import type {
  CompensateStepInput,
  CompensationEntry,
  ExecuteStepInput,
  JsonObject,
} from '../../../src/saga/contracts.js';

export function uniq(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

/** An executeStep input with a fresh saga id. */
export function stepInput(
  backend: string,
  operation: string,
  payload: JsonObject,
  idempotencyKey = uniq('key'),
): ExecuteStepInput {
  return {
    sagaId: uniq('saga'),
    sagaName: 'backend-test',
    traceId: uniq('trace'),
    stepId: 'step',
    backend,
    operation,
    payload,
    idempotencyKey,
  };
}

/** The compensateStep input that the workflow would build from a step and its result. */
export function compensationInput(
  step: ExecuteStepInput,
  result: JsonObject,
  compensation: CompensationEntry['compensation'],
): CompensateStepInput {
  return {
    sagaId: step.sagaId,
    sagaName: step.sagaName,
    traceId: step.traceId,
    stepId: step.stepId,
    backend: step.backend,
    compensation,
    payload: step.payload,
    result,
    idempotencyKey: step.idempotencyKey,
  };
}

/** Asserts that `promise` rejects with a non-retryable ApplicationFailure of `type`. */
export async function expectFailure(promise: Promise<unknown>, type: string): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a ${type} failure`).toBeInstanceOf(ApplicationFailure);
  const f = err as ApplicationFailure;
  expect(f.type).toBe(type);
  expect(f.nonRetryable).toBe(true);
  return f;
}
