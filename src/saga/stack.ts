/**
 * The compensation stack: data, never closures, so that any worker version can unwind it, a
 * committed saga can be undone later and a status query can show what an unwind would do.
 *
 * Pure functions over arrays (the newest entry is last).
 */
import type { CompensationEntry, JsonObject } from './contracts.js';
import type { CompensationMode, NormalizedStep } from './definition.js';

/** Key of the STEP_SUCCESS payload that holds the step's compensation stack entry. */
export const COMPENSATION_ENTRY_KEY = 'compensationEntry';

/**
 * The STEP_SUCCESS payload of a step: `{ ...extra, compensationEntry }`, so that the stack can
 * be rebuilt from the audit trail (src/audit/compensation-stack.ts) when the workflow is gone.
 */
export function stepSuccessPayload(entry: CompensationEntry | null, extra: JsonObject = {}): JsonObject {
  return {
    ...extra,
    [COMPENSATION_ENTRY_KEY]: entry === null ? null : (JSON.parse(JSON.stringify(entry)) as JsonObject),
  };
}

/** The stack entry for a step that succeeded with `result`, or `null` when the step is not undone. */
export function entryForStep(step: NormalizedStep, result: JsonObject): CompensationEntry | null {
  if (step.compensation === null) return null;
  return {
    stepId: step.id,
    backend: step.backend,
    compensation: step.compensation,
    payload: step.payload,
    result,
    idempotencyKey: step.idempotencyKey,
  };
}

/** A new stack with `entry` on top. */
export function push(stack: readonly CompensationEntry[], entry: CompensationEntry): CompensationEntry[] {
  return [...stack, entry];
}

/**
 * The order in which an unwind runs `stack`, as batches: each batch runs concurrently, batches
 * one after another. Sequential: newest first, one per batch. Parallel: one batch of all.
 */
export function unwindPlan(
  stack: readonly CompensationEntry[],
  mode: CompensationMode,
): CompensationEntry[][] {
  const reversed = [...stack].reverse();
  if (reversed.length === 0) return [];
  return mode === 'parallel' ? [reversed] : reversed.map((e) => [e]);
}

/** The stack without the entries of `stepIds` (compensations that succeeded). */
export function without(stack: readonly CompensationEntry[], stepIds: Iterable<string>): CompensationEntry[] {
  const done = new Set(stepIds);
  return stack.filter((e) => !done.has(e.stepId));
}

/** A compensation's name as the audit rows and the status show it: the registered name, or `backend.operation` of an inline one. */
export function compensationName(entry: CompensationEntry): string {
  return typeof entry.compensation === 'string'
    ? entry.compensation
    : `${entry.compensation.backend ?? entry.backend}.${entry.compensation.operation}`;
}
