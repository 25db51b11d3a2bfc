/**
 * The `${sagaId}` placeholder of saga definitions: payload ids that follow the saga id, so that
 * one definition file runs again under another id (`polysaga start def.json --saga-id doc-43`)
 * without writing the same rows, nodes and keys as the first run.
 *
 * Replaced once, when the definition is validated (by the client before the saga starts, by
 * `polysaga validate`), in every string of each step's `payload`, `compensation` (inline
 * compensation payloads too) and `idempotencyKey`, and in `traceId` and `identityKey`. History,
 * audit trail and idempotency keys therefore see the substituted values. Only the exact text
 * `${sagaId}` is replaced; it does not clash with the `{{result.…}}` / `{{payload.…}}`
 * placeholders of compensations, which the worker fills later.
 */
import { SAGA_ID_PATTERN } from './definition.js';

export const SAGA_ID_PLACEHOLDER = '${sagaId}';

type Json = unknown;

function hasPlaceholder(v: Json): boolean {
  if (typeof v === 'string') return v.includes(SAGA_ID_PLACEHOLDER);
  if (Array.isArray(v)) return v.some(hasPlaceholder);
  if (typeof v === 'object' && v !== null) return Object.values(v).some(hasPlaceholder);
  return false;
}

function fill(v: Json, sagaId: string): Json {
  if (typeof v === 'string') return v.replaceAll(SAGA_ID_PLACEHOLDER, sagaId);
  if (Array.isArray(v)) return v.map((x) => fill(x, sagaId));
  if (typeof v === 'object' && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, sagaId)]));
  return v;
}

const STEP_FIELDS = ['payload', 'compensation', 'idempotencyKey'] as const;
const TOP_FIELDS = ['traceId', 'identityKey'] as const;

/**
 * Returns `input` with `${sagaId}` replaced by its saga id, or `input` itself when it has no
 * placeholder (or is not an object with steps, or its `sagaId` is invalid: validation reports
 * that). A definition without `sagaId` gets one from `generateId` so that the placeholders and
 * the saga agree. Call after the hostile-input checks (depth and cycles are bounded).
 */
export function fillSagaIdPlaceholders(input: unknown, generateId: () => string): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const def = input as Record<string, unknown>;
  const steps = Array.isArray(def.steps) ? (def.steps as unknown[]) : [];
  const used =
    TOP_FIELDS.some((f) => hasPlaceholder(def[f])) ||
    steps.some(
      (s) =>
        typeof s === 'object' &&
        s !== null &&
        STEP_FIELDS.some((f) => hasPlaceholder((s as Record<string, unknown>)[f])),
    );
  if (!used) return input;
  if (def.sagaId !== undefined && (typeof def.sagaId !== 'string' || !SAGA_ID_PATTERN.test(def.sagaId)))
    return input;
  const sagaId = typeof def.sagaId === 'string' ? def.sagaId : generateId();
  const out: Record<string, unknown> = { ...def, sagaId };
  for (const f of TOP_FIELDS) if (def[f] !== undefined) out[f] = fill(def[f], sagaId);
  out.steps = steps.map((s) => {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return s;
    const step = { ...(s as Record<string, unknown>) };
    for (const f of STEP_FIELDS) if (step[f] !== undefined) step[f] = fill(step[f], sagaId);
    return step;
  });
  return out;
}
