/**
 * The saga definition format (docs/definitions.md): zod schema, TypeScript types and
 * the normalized form that the workflow receives.
 *
 * Pure: zod only, no I/O. The JSON Schema in `schema/saga-definition.schema.json` is generated
 * from {@link sagaDefinitionSchema} by `scripts/generate-definition-schema.ts`.
 */
import type { RetryPolicy } from '@temporalio/common';
import { z } from 'zod';
import { STEP_KINDS } from './contracts.js';
import type { CompensationRef, JsonObject, StepKind } from './contracts.js';

/** The backends every polysaga worker knows; custom backends are registered in the catalog. */
export const BUILTIN_BACKENDS = ['postgres', 'neo4j', 's3', 'vector', 'kv', 'http'] as const;
export type BuiltinBackend = (typeof BUILTIN_BACKENDS)[number];

/** Compensation modes of a definition. */
export const COMPENSATION_MODES = ['sequential', 'parallel'] as const;
export type CompensationMode = (typeof COMPENSATION_MODES)[number];

/**
 * How a saga's steps run. `standard`: each step and compensation is a Temporal activity (any
 * worker may run it; survives a worker crash mid-step by retrying on another worker). `fast`:
 * local activities in the worker that runs the saga (no task-queue round trip per step; a
 * crash mid-step retries the step when the workflow resumes). Same audit rows, states and
 * compensation stack either way.
 */
export const EXECUTION_MODES = ['standard', 'fast'] as const;
export type ExecutionMode = (typeof EXECUTION_MODES)[number];

/** A duration such as `500ms`, `30s`, `2m` or `1h`. */
export const DURATION_PATTERN = /^\d+(ms|s|m|h)$/;
const duration = z.string().regex(DURATION_PATTERN, 'must be a duration such as 500ms, 30s, 2m or 1h');

const jsonObject = z.record(z.string(), z.unknown()).describe('a JSON object');

/** Retry override of one step; fields map to Temporal's RetryPolicy. `maximumAttempts: 0` means unlimited. */
export const retryOverrideSchema = z
  .object({
    maximumAttempts: z.number().int().min(0).optional(),
    initialInterval: duration.optional().describe('above zero'),
    backoffCoefficient: z.number().min(1).optional(),
    maximumInterval: duration.optional().describe('above zero and not below initialInterval'),
    nonRetryableErrorTypes: z.array(z.string().min(1)).optional(),
  })
  .strict();
export type RetryOverride = z.infer<typeof retryOverrideSchema>;

/** An inline compensation: an operation of the step's backend (or of `backend`) and its payload. */
export const inlineCompensationSchema = z
  .object({
    backend: z.string().min(1).optional(),
    operation: z.string().min(1),
    payload: jsonObject,
  })
  .strict();

/** Characters allowed in saga ids (they become Temporal workflow ids). */
export const SAGA_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,199}$/;
/** Characters allowed in step ids. */
export const STEP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** One step of a saga definition, as written by a user. */
export const sagaStepSchema = z
  .object({
    id: z
      .string()
      .regex(STEP_ID_PATTERN, 'must be 1-100 letters, digits, _ . or -, starting with a letter or digit'),
    backend: z.string().min(1),
    operation: z.string().min(1),
    payload: jsonObject,
    compensation: z
      .union([z.string().min(1), inlineCompensationSchema, z.null()])
      .optional()
      .describe('a registered compensation name, an inline {operation, payload}, or null'),
    idempotencyKey: z.string().min(1).max(500).optional().describe('default "<sagaId>:<step id>"'),
    kind: z.enum(STEP_KINDS).optional().describe('default "compensatable"'),
    retry: retryOverrideSchema.optional(),
    timeout: duration
      .optional()
      .describe('start-to-close timeout of one attempt; at least 1s (configurable minimum)'),
  })
  .strict();

/** A saga definition, as written by a user (JSON). */
export const sagaDefinitionSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'must be 1-100 letters, digits, _ . or -'),
    sagaId: z.string().regex(SAGA_ID_PATTERN, 'must be 1-200 letters, digits or _ . : @ / -').optional(),
    traceId: z.string().min(1).max(200).optional(),
    identityKey: z.string().min(1).max(200).optional(),
    compensation: z
      .object({ mode: z.enum(COMPENSATION_MODES) })
      .strict()
      .optional(),
    execution: z
      .enum(EXECUTION_MODES)
      .optional()
      .describe('"standard" (default): one activity per step; "fast": local activities'),
    steps: z.array(sagaStepSchema).min(1, 'a saga needs at least one step'),
  })
  .strict();

export type SagaStepDefinition = z.infer<typeof sagaStepSchema>;
export type SagaDefinition = z.infer<typeof sagaDefinitionSchema>;

/** A step after validation: every default applied, the compensation resolved. */
export interface NormalizedStep {
  id: string;
  backend: string;
  operation: string;
  payload: JsonObject;
  /** `null`: the step is not undone (pivot and retriable steps). */
  compensation: CompensationRef;
  idempotencyKey: string;
  kind: StepKind;
  retry?: RetryOverride;
  timeout?: string;
  /**
   * Default activity options of a backend defined with `defineBackend` (its `retry` option),
   * resolved by the client from its catalog; `retry` and `timeout` above still override them.
   * Absent for the built-in backends, whose defaults the workflow knows.
   */
  defaults?: { startToCloseTimeout?: string | number; retry?: RetryPolicy };
}

/** A definition after validation: what the saga workflow receives. Plain JSON. */
export interface NormalizedDefinition {
  name: string;
  sagaId: string;
  traceId: string;
  identityKey: string | null;
  compensation: { mode: CompensationMode };
  /** Absent in histories of sagas started before fast mode existed: `standard`. */
  execution?: ExecutionMode;
  steps: NormalizedStep[];
}

// Kept in the zod-free contracts module so that workflow code can use it without bundling zod.
export { defaultIdempotencyKey } from './contracts.js';
