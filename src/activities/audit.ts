/**
 * The audit activity: `recordEvent` mirrors one saga transition into `uds3_saga_events`.
 *
 * Idempotency key: (sagaId, seq), allocated deterministically by the workflow. The insert is
 * `ON CONFLICT (saga_id, seq) DO NOTHING` (or the locked NOT EXISTS insert on differing
 * tables), so a retried activity, or a replay after the worker was killed, leaves exactly one
 * row per transition. No compensation: the audit trail is append-only.
 *
 * Errors: an invalid event is a non-retryable `polysaga.InvalidPayload`; everything else
 * (connection lost, table not migrated yet) is rethrown so that Temporal retries it.
 */
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { createEventStore } from '../audit/event-store.js';
import type { EventTableMapping, MappingOverrides } from '../audit/mapping.js';
import { SecretMasker } from '../audit/redact.js';
import { maskableSecrets, type Config } from '../config/index.js';
import { EVENT_STATUSES, FailureTypes, type SagaActivities, type SagaEventInput } from '../saga/contracts.js';

export interface AuditActivityDeps {
  pool: pg.Pool;
  /** `sensitiveFields` and, when the whole configuration is given, its secret values to mask. */
  config: Pick<Config, 'sensitiveFields'> | Config;
  /** Table name (default `uds3_saga_events`). */
  table?: string;
  /** Column mapping for a differing table (default: detected). */
  mapping?: EventTableMapping | MappingOverrides;
}

function validate(input: SagaEventInput): string | null {
  if (typeof input.sagaId !== 'string' || input.sagaId === '') return 'sagaId must be a non-empty string';
  if (!Number.isInteger(input.seq) || input.seq < 0)
    return `seq must be a non-negative integer, got ${String(input.seq)}`;
  if (!(EVENT_STATUSES as readonly string[]).includes(input.status))
    return `unknown event status ${String(input.status)}`;
  if (
    input.payload !== undefined &&
    (typeof input.payload !== 'object' || input.payload === null || Array.isArray(input.payload))
  ) {
    return 'payload must be a JSON object';
  }
  return null;
}

/**
 * Creates the audit activities over a pg pool (the worker owns and closes the pool).
 * Payload fields named in `config.sensitiveFields` are written as "[REDACTED]", configured secret
 * values as `***` (payload and error columns). Returns only
 * functions, so the object can be spread into the worker's activities.
 */
export function createAuditActivities(deps: AuditActivityDeps): Pick<SagaActivities, 'recordEvent'> {
  const store = createEventStore({
    pool: deps.pool,
    sensitiveFields: deps.config.sensitiveFields,
    ...('postgres' in deps.config ? { secrets: new SecretMasker(maskableSecrets(deps.config).values) } : {}),
    ...(deps.table ? { table: deps.table } : {}),
    ...(deps.mapping ? { mapping: deps.mapping } : {}),
  });
  return {
    async recordEvent(input: SagaEventInput): Promise<void> {
      const problem = validate(input);
      if (problem) {
        throw ApplicationFailure.nonRetryable(
          `recordEvent ${input.sagaId}#${input.seq}: ${problem}`,
          FailureTypes.InvalidPayload,
        );
      }
      await store.write(input);
    },
  };
}
