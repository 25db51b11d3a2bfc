/**
 * Rebuilds a saga's compensation stack from its audit trail, so that `polysaga recover` can
 * unwind a saga whose Temporal workflow is gone. Pure: no I/O.
 *
 * Agreement with the workflow (docs/audit.md): the STEP_SUCCESS event of a compensatable step
 * carries its stack entry in `payload.compensationEntry` (a {@link CompensationEntry}: stepId,
 * backend, compensation, payload, result, idempotencyKey); steps without a compensation carry
 * `compensationEntry: null` or omit it. A COMPENSATION_SUCCESS event of a step removes its
 * entry. COMPENSATION_FAIL leaves it on the stack (it still has to be undone).
 */
import type { CompensationEntry, Json, JsonObject } from '../saga/contracts.js';
import { COMPENSATION_ENTRY_KEY } from '../saga/stack.js';

export { COMPENSATION_ENTRY_KEY, stepSuccessPayload } from '../saga/stack.js';

/** The fields of an event the rebuild looks at (an {@link AuditEvent} has them). */
export interface StackEvent {
  seq: number;
  status: string;
  stepId: string | null;
  payload?: JsonObject | null;
}

/** A STEP_SUCCESS payload holds a malformed compensation entry. */
export class CompensationStackError extends Error {
  override name = 'CompensationStackError';
}

const isObject = (v: Json | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function toEntry(raw: Json, event: StackEvent): CompensationEntry {
  const where = `seq ${event.seq} (STEP_SUCCESS of ${event.stepId ?? '?'})`;
  if (!isObject(raw))
    throw new CompensationStackError(`${where}: ${COMPENSATION_ENTRY_KEY} is not an object`);
  const { stepId, backend, compensation, payload, result, idempotencyKey } = raw;
  if (typeof stepId !== 'string' || typeof backend !== 'string' || typeof idempotencyKey !== 'string') {
    throw new CompensationStackError(
      `${where}: ${COMPENSATION_ENTRY_KEY} needs string stepId, backend and idempotencyKey`,
    );
  }
  let comp: CompensationEntry['compensation'];
  if (typeof compensation === 'string') comp = compensation;
  else if (
    isObject(compensation) &&
    typeof compensation.operation === 'string' &&
    isObject(compensation.payload)
  ) {
    comp = {
      operation: compensation.operation,
      payload: compensation.payload,
      ...(typeof compensation.backend === 'string' ? { backend: compensation.backend } : {}),
    };
  } else throw new CompensationStackError(`${where}: compensation must be a name or {operation, payload}`);
  return {
    stepId,
    backend,
    compensation: comp,
    payload: isObject(payload) ? payload : {},
    result: isObject(result) ? result : {},
    idempotencyKey,
  };
}

/**
 * Returns the compensation entries still to be undone, in push order: the last element is
 * the newest and is undone first. Events may come in any order; they are sorted by seq.
 *
 * @throws CompensationStackError when a STEP_SUCCESS carries a malformed entry.
 */
export function rebuildCompensationStack(events: readonly StackEvent[]): CompensationEntry[] {
  const stack: CompensationEntry[] = [];
  for (const e of [...events].sort((a, b) => a.seq - b.seq)) {
    if (e.status === 'STEP_SUCCESS') {
      const raw = e.payload?.[COMPENSATION_ENTRY_KEY];
      if (raw === undefined || raw === null) continue;
      const entry = toEntry(raw, e);
      // A replayed STEP_SUCCESS for the same step replaces, never duplicates, its entry.
      const i = stack.findIndex((x) => x.stepId === entry.stepId);
      if (i >= 0) stack.splice(i, 1);
      stack.push(entry);
    } else if (e.status === 'COMPENSATION_SUCCESS' && e.stepId !== null) {
      const i = stack.findIndex((x) => x.stepId === e.stepId);
      if (i >= 0) stack.splice(i, 1);
    }
  }
  return stack;
}
