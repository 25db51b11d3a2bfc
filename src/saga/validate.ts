/**
 * Definition validation against an operation catalog: everything is checked before a saga
 * starts, and every error names the step and the field.
 *
 * Rules (docs/definitions.md): known backend and operation (valid ones listed), payload
 * passes the operation's zod schema, unique step ids, compensatable steps have a compensation
 * (explicit or the operation's default), registered compensation names only, compensatable
 * steps before the pivot, at most one pivot, retriable steps retry without limit.
 */
import type { Catalog } from './catalog/types.js';
import type { CompensationRef, JsonObject, StepKind } from './contracts.js';
import {
  defaultIdempotencyKey,
  sagaDefinitionSchema,
  type NormalizedDefinition,
  type NormalizedStep,
  type SagaDefinition,
} from './definition.js';
import { InvalidDefinitionError, type ValidationIssue } from './errors.js';

/** Options of {@link validateDefinition}. */
export interface ValidateOptions {
  /** Generates a saga id when the definition has none (default: `<name>-<random>`). */
  generateId?: () => string;
  /** Generates a trace id when the definition has none (default: the saga id). */
  generateTraceId?: () => string;
}

export type ValidationResult =
  { ok: true; definition: NormalizedDefinition } | { ok: false; issues: ValidationIssue[] };

function pathToField(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(root)' : out;
}

// Validation runs in clients and the CLI, never in workflow code.
function randomSuffix(): string {
  return globalThis.crypto.randomUUID().slice(0, 8);
}

/**
 * Validates a definition (parsed JSON) against `catalog` and returns it normalized, or every
 * issue found. Does not throw for invalid input.
 */
export function validateDefinition(
  input: unknown,
  catalog: Catalog,
  options: ValidateOptions = {},
): ValidationResult {
  const parsed = sagaDefinitionSchema.safeParse(input);
  const rawSteps: unknown[] =
    typeof input === 'object' && input !== null && Array.isArray((input as { steps?: unknown }).steps)
      ? (input as { steps: unknown[] }).steps
      : [];
  const stepIdAt = (i: number): string | undefined => {
    const s = rawSteps[i];
    const id = typeof s === 'object' && s !== null ? (s as { id?: unknown }).id : undefined;
    return typeof id === 'string' ? id : undefined;
  };
  if (!parsed.success) {
    const issues = parsed.error.issues.map((iss): ValidationIssue => {
      const [head, index, ...rest] = iss.path;
      if (head === 'steps' && typeof index === 'number') {
        const stepId = stepIdAt(index);
        return {
          ...(stepId !== undefined ? { stepId } : {}),
          stepIndex: index,
          field: pathToField(rest),
          message: iss.message,
        };
      }
      return { field: pathToField(iss.path), message: iss.message };
    });
    return { ok: false, issues };
  }
  return checkSemantics(parsed.data, catalog, options);
}

function checkSemantics(def: SagaDefinition, catalog: Catalog, options: ValidateOptions): ValidationResult {
  const issues: ValidationIssue[] = [];
  const backends = Object.keys(catalog.backends).sort();
  const seen = new Map<string, number>();
  let pivotIndex: number | undefined;
  let firstNonCompensatable: number | undefined;
  const sagaId = def.sagaId ?? options.generateId?.() ?? `${def.name}-${randomSuffix()}`;
  const steps: NormalizedStep[] = [];

  def.steps.forEach((step, i) => {
    const at = (field: string, message: string) =>
      issues.push({ stepId: step.id, stepIndex: i, field, message });
    const kind: StepKind = step.kind ?? 'compensatable';

    const prev = seen.get(step.id);
    if (prev !== undefined) at('id', `duplicate step id "${step.id}" (also steps[${prev}])`);
    else seen.set(step.id, i);

    // Saga theory: compensatable steps, then at most one pivot, then retriable steps.
    if (kind === 'pivot') {
      if (pivotIndex !== undefined)
        at('kind', `more than one pivot step (the first is steps[${pivotIndex}])`);
      else if (firstNonCompensatable !== undefined)
        at(
          'kind',
          `a pivot step must come before every retriable step (steps[${firstNonCompensatable}] is retriable)`,
        );
      pivotIndex ??= i;
    }
    if (kind === 'compensatable' && firstNonCompensatable !== undefined) {
      at(
        'kind',
        `a compensatable step cannot follow a pivot or retriable step (steps[${firstNonCompensatable}])`,
      );
    }
    if (kind !== 'compensatable') firstNonCompensatable ??= i;
    if (kind === 'retriable') {
      const max = step.retry?.maximumAttempts;
      if (max !== undefined && max !== 0) {
        at(
          'retry.maximumAttempts',
          `a retriable step must retry until it succeeds (omit it or use 0 = unlimited), got ${max}`,
        );
      }
    }

    const backend = catalog.backends[step.backend];
    if (!backend) {
      at('backend', `unknown backend "${step.backend}"; valid backends: ${backends.join(', ')}`);
      return;
    }
    const operations = Object.keys(backend.operations).sort();
    const op = backend.operations[step.operation];
    if (!op) {
      at(
        'operation',
        `unknown operation "${step.operation}" of backend "${step.backend}"; valid operations: ${operations.join(', ')}`,
      );
      return;
    }
    const payload = op.payload.safeParse(step.payload);
    if (!payload.success) {
      for (const iss of payload.error.issues) at(pathToField(['payload', ...iss.path]), iss.message);
    }

    let compensation: CompensationRef = null;
    if (step.compensation === undefined) {
      if (kind === 'compensatable') {
        if (op.defaultCompensation !== undefined) compensation = op.defaultCompensation;
        else
          at(
            'compensation',
            `a compensatable step needs a compensation (operation "${step.operation}" has no default); registered for ${step.backend}: ${compensationsFor(catalog, step.backend).join(', ') || '(none)'}`,
          );
      }
    } else if (step.compensation === null) {
      if (kind === 'compensatable')
        at(
          'compensation',
          'a compensatable step needs a compensation; mark the step "pivot" or "retriable" if it cannot be undone',
        );
    } else if (kind !== 'compensatable') {
      at('compensation', `a ${kind} step is never compensated; omit its compensation or set it to null`);
    } else if (typeof step.compensation === 'string') {
      const spec = catalog.compensations[step.compensation];
      if (!spec) {
        at(
          'compensation',
          `unknown compensation "${step.compensation}"; registered for ${step.backend}: ${compensationsFor(catalog, step.backend).join(', ') || '(none)'}`,
        );
      } else if (spec.backend !== step.backend) {
        at(
          'compensation',
          `compensation "${step.compensation}" belongs to backend "${spec.backend}", not "${step.backend}"`,
        );
      } else compensation = step.compensation;
    } else {
      const inline = step.compensation;
      const cb = inline.backend ?? step.backend;
      const cbSpec = catalog.backends[cb];
      const cop = cbSpec?.operations[inline.operation];
      if (!cbSpec)
        at('compensation.backend', `unknown backend "${cb}"; valid backends: ${backends.join(', ')}`);
      else if (!cop)
        at(
          'compensation.operation',
          `unknown operation "${inline.operation}" of backend "${cb}"; valid operations: ${Object.keys(cbSpec.operations).sort().join(', ')}`,
        );
      else {
        const cp = cop.payload.safeParse(inline.payload);
        if (!cp.success)
          for (const iss of cp.error.issues)
            at(pathToField(['compensation', 'payload', ...iss.path]), iss.message);
        compensation = {
          ...(inline.backend !== undefined ? { backend: inline.backend } : {}),
          operation: inline.operation,
          payload: inline.payload as JsonObject,
        };
      }
    }

    steps.push({
      id: step.id,
      backend: step.backend,
      operation: step.operation,
      payload: step.payload as JsonObject,
      compensation,
      idempotencyKey: step.idempotencyKey ?? defaultIdempotencyKey(sagaId, step.id),
      kind,
      ...(step.retry !== undefined ? { retry: step.retry } : {}),
      ...(step.timeout !== undefined ? { timeout: step.timeout } : {}),
    });
  });

  if (issues.length > 0) return { ok: false, issues };
  return {
    ok: true,
    definition: {
      name: def.name,
      sagaId,
      traceId: def.traceId ?? options.generateTraceId?.() ?? sagaId,
      identityKey: def.identityKey ?? null,
      compensation: { mode: def.compensation?.mode ?? 'sequential' },
      ...(def.execution === 'fast' ? { execution: 'fast' as const } : {}),
      steps,
    },
  };
}

function compensationsFor(catalog: Catalog, backend: string): string[] {
  return Object.entries(catalog.compensations)
    .filter(([, c]) => c.backend === backend)
    .map(([name]) => name)
    .sort();
}

/**
 * Like {@link validateDefinition} but throws.
 * @throws InvalidDefinitionError listing every issue (step and field named).
 */
export function assertValidDefinition(
  input: unknown,
  catalog: Catalog,
  options: ValidateOptions = {},
): NormalizedDefinition {
  const r = validateDefinition(input, catalog, options);
  if (!r.ok) throw new InvalidDefinitionError(r.issues);
  return r.definition;
}
