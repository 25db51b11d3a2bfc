/**
 * Definition validation against an operation catalog: everything is checked before a saga
 * starts, and every error names the step and the field.
 *
 * Rules (docs/definitions.md): size limits ({@link DefinitionLimits}: serialized bytes, step
 * count, payload bytes per step), known backend and operation (valid ones listed), payload
 * passes the operation's zod schema, unique step ids, compensatable steps have a compensation
 * (explicit or the operation's default), registered compensation names only, compensatable
 * steps before the pivot, at most one pivot, retriable steps retry without limit, a step
 * `timeout` of at least {@link DefinitionLimits.minStepTimeoutMs} (Temporal refuses a zero
 * timeout only when the workflow schedules the step, leaving the saga's workflow task failing
 * for ever), retry intervals above zero and a maximum interval not below the initial one, and
 * no step (or inline compensation) touching polysaga's own objects or an object outside the
 * deployment's allowlists (src/saga/guard.ts, docs/security.md "Guarded stores").
 */
import { BACKEND_STEP_OPTIONS, stepActivityOptions } from './activity-options.js';
import type { Catalog } from './catalog.js';
import type { RetryPolicy } from '@temporalio/common';
import type { CompensationRef, JsonObject, StepKind } from './contracts.js';
import {
  defaultIdempotencyKey,
  sagaDefinitionSchema,
  STEP_ID_PATTERN,
  type NormalizedDefinition,
  type NormalizedStep,
  type SagaDefinition,
  type SagaStepDefinition,
} from './definition.js';
import { InvalidDefinitionError, type ValidationIssue } from './errors.js';
import { checkOperationTargets, resolveStoreGuard, type StoreGuard } from './guard.js';
import { checkValues, droppedFields, showSegment } from './input-hygiene.js';
import { fillSagaIdPlaceholders } from './saga-id-placeholder.js';

/**
 * Limits a definition must stay within; checked before anything starts. Sizes are of the
 * definition as serialized JSON, in UTF-8 bytes. Payloads above the codec threshold travel
 * out of band (claim check), so the byte limits guard the client, the worker's memory and the
 * blob store rather than Temporal history.
 */
export interface DefinitionLimits {
  /** Largest definition, serialized (default 16 MiB; env `POLYSAGA_MAX_DEFINITION_BYTES`). */
  maxDefinitionBytes: number;
  /** Most steps in one definition (default 1000; env `POLYSAGA_MAX_STEPS`). */
  maxSteps: number;
  /**
   * Largest `payload` of one step, serialized; an inline compensation's `payload` counts
   * separately against the same limit (default 4 MiB; env `POLYSAGA_MAX_STEP_PAYLOAD_BYTES`).
   */
  maxStepPayloadBytes: number;
  /** Shortest step `timeout`, in milliseconds (default 1000 = `1s`; env `POLYSAGA_MIN_STEP_TIMEOUT`). */
  minStepTimeoutMs: number;
}

/** The default {@link DefinitionLimits}. */
export const DEFAULT_DEFINITION_LIMITS: Readonly<DefinitionLimits> = Object.freeze({
  maxDefinitionBytes: 16 * 1024 * 1024,
  maxSteps: 1000,
  maxStepPayloadBytes: 4 * 1024 * 1024,
  minStepTimeoutMs: 1000,
});

/** Options of {@link validateDefinition}. */
export interface ValidateOptions {
  /** Generates a saga id when the definition has none (default: `<name>-<random>`). */
  generateId?: () => string;
  /** Generates a trace id when the definition has none (default: the saga id). */
  generateTraceId?: () => string;
  /** Overrides of {@link DEFAULT_DEFINITION_LIMITS}, field by field. */
  limits?: Partial<DefinitionLimits>;
  /**
   * polysaga's own prefixes and the allowlists of the deployment (src/saga/guard.ts). Objects
   * of polysaga (audit table, `polysaga_*` tables, its Redis keys, S3 prefix and Neo4j labels)
   * are refused even without it.
   */
  guard?: Partial<StoreGuard>;
  /** Configured secret values (a SecretMasker): a string holding one is refused (docs/security.md). */
  secrets?: { contains(text: string): boolean };
}

export type ValidationResult =
  { ok: true; definition: NormalizedDefinition } | { ok: false; issues: ValidationIssue[] };

function pathToField(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    const seg = showSegment(typeof p === 'symbol' ? String(p) : p);
    if (seg.bracket) out += seg.text;
    else out += out === '' ? seg.text : `.${seg.text}`;
  }
  return out === '' ? '(root)' : out;
}

/** An issue at a path from the definition's root: inside a step, named by the step's id and index. */
export function issueAtPath(input: unknown, path: (string | number)[], message: string): ValidationIssue {
  const [head, index, ...rest] = path;
  if (head === 'steps' && typeof index === 'number') {
    const steps = (input as { steps?: unknown[] }).steps;
    const step = Array.isArray(steps) ? steps[index] : undefined;
    const id = typeof step === 'object' && step !== null ? (step as { id?: unknown }).id : undefined;
    return {
      ...(typeof id === 'string' && STEP_ID_PATTERN.test(id) ? { stepId: id } : {}),
      stepIndex: index,
      field: pathToField(rest),
      message,
    };
  }
  return { field: pathToField(path), message };
}

/** Milliseconds of a duration matching `DURATION_PATTERN` (`500ms`, `30s`, `2m`, `1h`). */
export function durationToMs(value: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(value);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  const unit = m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 3_600_000;
  return n * unit;
}

/** A duration in the definition format, e.g. `1s`, `1500ms`, `2m`. */
function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A byte count for people: `16 MiB`, `4.5 MiB`, `900 KiB`, `12 bytes`. */
export function formatBytes(n: number): string {
  const units: [number, string][] = [
    [1024 * 1024 * 1024, 'GiB'],
    [1024 * 1024, 'MiB'],
    [1024, 'KiB'],
  ];
  for (const [size, unit] of units) {
    if (n >= size) {
      const v = n / size;
      return `${Number.isInteger(v) ? v : v.toFixed(1)} ${unit}`;
    }
  }
  return `${n} bytes`;
}

/** UTF-8 length of a string, without allocating its encoding. */
function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      // A surrogate pair is one 4-byte code point.
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Serialized JSON size of `value` in UTF-8 bytes (0 when it is undefined). */
export function jsonBytes(value: unknown): number {
  const text = JSON.stringify(value) as string | undefined;
  return text === undefined ? 0 : utf8Bytes(text);
}

/** Resolves the limits in force: the defaults, overridden field by field. */
export function resolveLimits(overrides: Partial<DefinitionLimits> = {}): DefinitionLimits {
  const out = { ...DEFAULT_DEFINITION_LIMITS };
  for (const key of Object.keys(out) as (keyof DefinitionLimits)[]) {
    const v = overrides[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * The limits that can be checked before parsing: whole-definition size and step count. Run
 * first so that an oversized definition is refused with one issue naming the limit.
 */
function checkOverallLimits(input: unknown, limits: DefinitionLimits): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  let bytes: number;
  try {
    bytes = jsonBytes(input);
  } catch (err) {
    return [{ field: '(root)', message: `not serializable as JSON: ${(err as Error).message}` }];
  }
  if (bytes > limits.maxDefinitionBytes) {
    issues.push({
      field: '(root)',
      message: `the definition is ${formatBytes(bytes)} (${bytes} bytes) serialized; the limit is ${formatBytes(limits.maxDefinitionBytes)} (maxDefinitionBytes, POLYSAGA_MAX_DEFINITION_BYTES)`,
    });
  }
  const steps =
    typeof input === 'object' && input !== null ? (input as { steps?: unknown }).steps : undefined;
  if (Array.isArray(steps) && steps.length > limits.maxSteps) {
    issues.push({
      field: 'steps',
      message: `${steps.length} steps; the limit is ${limits.maxSteps} (maxSteps, POLYSAGA_MAX_STEPS)`,
    });
  }
  return issues;
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
  const limits = resolveLimits(options.limits);
  // Hostile input first (depth, cycles, NUL, lone surrogates, unsafe integers): input-hygiene.ts.
  const hostile = checkValues(input, 20, options.secrets);
  if (hostile.length > 0)
    return { ok: false, issues: hostile.map((h) => issueAtPath(input, h.path, h.message)) };
  // `${sagaId}` in payloads, identity and trace keys becomes the saga id (saga-id-placeholder.ts).
  input = fillSagaIdPlaceholders(input, () => {
    const name = (input as { name?: unknown }).name;
    return options.generateId?.() ?? `${typeof name === 'string' ? name : 'saga'}-${randomSuffix()}`;
  });
  const overall = checkOverallLimits(input, limits);
  if (overall.length > 0) return { ok: false, issues: overall };
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
  return checkSemantics(parsed.data, catalog, options, limits);
}

/**
 * Step timeout and retry rules. A zero start-to-close timeout is refused by Temporal when the
 * workflow schedules the step, which fails the saga's workflow task on every attempt; a zero
 * interval silently means "the default", and a maximum interval below the initial one silently
 * caps it: all three are mistakes worth naming before the saga starts. One interval set alone
 * is compared with the other of the backend's defaults: Temporal refuses a retry policy whose
 * maximum interval is below its initial one when the workflow schedules the step.
 */
function checkTiming(
  step: SagaStepDefinition,
  catalog: Catalog,
  limits: DefinitionLimits,
  at: (field: string, message: string) => void,
): void {
  if (step.timeout !== undefined) {
    const ms = durationToMs(step.timeout);
    if (ms < limits.minStepTimeoutMs)
      at(
        'timeout',
        `must be at least ${formatDuration(limits.minStepTimeoutMs)} (minStepTimeoutMs, POLYSAGA_MIN_STEP_TIMEOUT), got ${step.timeout}`,
      );
  }
  const retry = step.retry;
  let intervalsOk = true;
  for (const field of ['initialInterval', 'maximumInterval'] as const) {
    const v = retry?.[field];
    if (v !== undefined && durationToMs(v) <= 0) {
      at(`retry.${field}`, `must be greater than zero, got ${v}`);
      intervalsOk = false;
    }
  }
  if (!intervalsOk || retry === undefined) return;
  if (retry.initialInterval === undefined || retry.maximumInterval === undefined) {
    const own = retry.initialInterval ?? retry.maximumInterval;
    // An unknown backend is reported on its own.
    if (own === undefined || catalog.backends[step.backend] === undefined) return;
    const policy = stepActivityOptions({
      backend: step.backend,
      kind: step.kind ?? 'compensatable',
      ...backendDefaults(catalog, step.backend),
    }).retry;
    const other: unknown =
      retry.initialInterval === undefined ? policy?.initialInterval : policy?.maximumInterval;
    const otherMs = typeof other === 'number' ? other : typeof other === 'string' ? durationToMs(other) : NaN;
    if (Number.isNaN(otherMs)) return;
    const text = typeof other === 'number' ? formatDuration(other) : String(other);
    if (retry.initialInterval !== undefined && durationToMs(retry.initialInterval) > otherMs)
      at(
        'retry.initialInterval',
        `must not be above the maximum interval of backend "${step.backend}" (${text}), got ${retry.initialInterval}; set retry.maximumInterval too`,
      );
    if (retry.maximumInterval !== undefined && durationToMs(retry.maximumInterval) < otherMs)
      at(
        'retry.maximumInterval',
        `must not be below the initial interval of backend "${step.backend}" (${text}), got ${retry.maximumInterval}; set retry.initialInterval too`,
      );
    return;
  }
  // Temporal would silently cap every wait at the maximum: the definition contradicts itself.
  if (durationToMs(retry.maximumInterval) < durationToMs(retry.initialInterval))
    at(
      'retry.maximumInterval',
      `must not be below retry.initialInterval (${retry.initialInterval}), got ${retry.maximumInterval}`,
    );
}

function checkSemantics(
  def: SagaDefinition,
  catalog: Catalog,
  options: ValidateOptions,
  limits: DefinitionLimits,
): ValidationResult {
  const issues: ValidationIssue[] = [];
  const backends = Object.keys(catalog.backends).sort();
  const seen = new Map<string, number>();
  let pivotIndex: number | undefined;
  let firstNonCompensatable: number | undefined;
  const sagaId = def.sagaId ?? options.generateId?.() ?? `${def.name}-${randomSuffix()}`;
  const steps: NormalizedStep[] = [];
  const guard = resolveStoreGuard(options.guard);

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
    checkTiming(step, catalog, limits, at);
    const payloadBytes = jsonBytes(step.payload);
    if (payloadBytes > limits.maxStepPayloadBytes)
      at(
        'payload',
        `is ${formatBytes(payloadBytes)} (${payloadBytes} bytes) serialized; the limit per step is ${formatBytes(limits.maxStepPayloadBytes)} (maxStepPayloadBytes, POLYSAGA_MAX_STEP_PAYLOAD_BYTES)`,
      );
    if (typeof step.compensation === 'object' && step.compensation !== null) {
      const compensationBytes = jsonBytes(step.compensation.payload);
      if (compensationBytes > limits.maxStepPayloadBytes)
        at(
          'compensation.payload',
          `is ${formatBytes(compensationBytes)} (${compensationBytes} bytes) serialized; the limit per step is ${formatBytes(limits.maxStepPayloadBytes)} (maxStepPayloadBytes, POLYSAGA_MAX_STEP_PAYLOAD_BYTES)`,
        );
    }
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
    } else {
      for (const iss of checkOperationTargets(op, payload.data, guard))
        at(`payload.${iss.field}`, iss.message);
      for (const p of droppedFields(step.payload, payload.data))
        at(pathToField(['payload', ...p]), `unknown field of ${step.backend}.${step.operation}`);
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
        else
          for (const iss of checkOperationTargets(cop, cp.data, guard))
            at(`compensation.payload.${iss.field}`, iss.message);
        for (const p of droppedFields(inline.payload, cp.data))
          at(pathToField(['compensation', 'payload', ...p]), `unknown field of ${cb}.${inline.operation}`);
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
      ...backendDefaults(catalog, step.backend),
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

/**
 * The `retry` option of a backend the workflow has no table entry for (one defined with
 * `defineBackend`), carried by each of its steps as `defaults`. Built-in backends: nothing (the
 * workflow knows their defaults, and their steps stay as they always were).
 */
function backendDefaults(catalog: Catalog, backend: string): Pick<NormalizedStep, 'defaults'> {
  const options = catalog.backends[backend]?.retry;
  if (options === undefined || Object.hasOwn(BACKEND_STEP_OPTIONS, backend)) return {};
  const defaults: NonNullable<NormalizedStep['defaults']> = {};
  const timeout = options.startToCloseTimeout as string | number | undefined;
  if (timeout !== undefined) defaults.startToCloseTimeout = timeout;
  if (options.retry !== undefined) defaults.retry = JSON.parse(JSON.stringify(options.retry)) as RetryPolicy;
  return { defaults };
}
