/**
 * Errors raised by pure saga code (validation), and {@link describeError}. Client-side errors
 * live in `src/client/errors.ts`.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';

/** One problem found in a definition, naming the step (when there is one) and the field. */
export interface ValidationIssue {
  /** Step id, when the problem is inside a step and the step has an id. */
  stepId?: string;
  /** Index of the step in `steps`, when the problem is inside a step. */
  stepIndex?: number;
  /** Field path relative to the step (e.g. `payload.table`) or to the definition (e.g. `name`). */
  field: string;
  message: string;
}

/** Control characters (line breaks included) shown escaped, so that an issue stays one line. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** Formats one issue as `step "row" (steps[0]) field "payload.table": message`, on one line. */
export function formatIssue(issue: ValidationIssue): string {
  return oneLine(formatIssueText(issue));
}

function formatIssueText(issue: ValidationIssue): string {
  if (issue.stepIndex !== undefined) {
    const step =
      issue.stepId !== undefined
        ? `step "${issue.stepId}" (steps[${issue.stepIndex}])`
        : `steps[${issue.stepIndex}]`;
    return `${step} field "${issue.field}": ${issue.message}`;
  }
  return `field "${issue.field}": ${issue.message}`;
}

/** A saga definition failed validation. `issues` lists every problem found. */
export class InvalidDefinitionError extends Error {
  override name = 'InvalidDefinitionError';
  constructor(
    readonly issues: ValidationIssue[],
    options?: { cause?: unknown },
  ) {
    super(`invalid saga definition: ${issues.map(formatIssue).join('; ')}`, options);
  }
  /** The step named by the first issue, if any. */
  get stepId(): string | undefined {
    return this.issues[0]?.stepId;
  }
  /** The field named by the first issue. */
  get field(): string | undefined {
    return this.issues[0]?.field;
  }
}

/**
 * One line for a failure: an activity failure's cause, with the failure type when there is one
 * (`polysaga.Conflict: row 7 of t changed since …`).
 */
export function describeError(err: unknown): string {
  let e: unknown = err;
  if (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return e.type ? `${e.type}: ${e.message}` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
