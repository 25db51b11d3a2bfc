/**
 * sagaWorkflow: the generic saga workflow. Interprets a validated saga definition.
 *
 * Steps: SAGA_STARTED → for each definition step in order: STEP_PENDING, executeStep,
 * STEP_SUCCESS (compensation pushed) → SAGA_COMMITTED. On a step failure, an abort or a
 * cancellation before the pivot: unwind the compensation stack → SAGA_ROLLED_BACK, or
 * SAGA_FAILED and wait for an operator. With `input.undo`: unwind a committed saga's stack.
 *
 * The workflow type name `sagaWorkflow` is stored in histories: never rename it.
 */
import type { SagaResult, SagaWorkflowInput } from '../saga/status.js';
import { SagaEngine } from './saga-engine.js';

/** Runs the saga of `input.definition` (validated and normalized by the client). */
export async function sagaWorkflow(input: SagaWorkflowInput): Promise<SagaResult> {
  const engine = new SagaEngine(input);
  return engine.run(async (saga) => {
    for (const step of input.definition.steps) await saga.step(step);
  });
}
