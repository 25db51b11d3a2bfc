/**
 * The audit trail: migrations, event writer/reader over `uds3_saga_events`, redaction,
 * column-mapping detection for differing tables, saga-level queries and the rebuild of a
 * compensation stack from the trail. See docs/audit.md.
 */
export { AuditDatabaseUnreachableError, createAuditPool, connectClient, poolTarget } from './connection.js';
export {
  ALREADY_EXISTS_CODES,
  CONCURRENT_INDEXES_MARKER,
  defaultMigrationsDir,
  loadMigrations,
  migrate,
  migrationStatus,
  splitSqlStatements,
  type MigrateOptions,
  type MigrateResult,
  type Migration,
} from './migrate.js';
export { MASK, MIN_MASKED_SECRET_LENGTH, REDACTED, redact, SecretMasker, secretForms } from './redact.js';
export {
  COLUMN_ALIASES,
  DATA_COLUMN_ALIASES,
  detectEventTableMapping,
  EVENT_FIELDS,
  EventTableMappingError,
  EXTRA_FIELDS_KEY,
  type ColumnsMapping,
  type EventField,
  type EventTableMapping,
  type JsonMapping,
  type MappingOverrides,
} from './mapping.js';
export {
  createEventStore,
  EVENTS_TABLE,
  readEvents,
  type AuditEvent,
  type EventStore,
  type EventStoreOptions,
} from './event-store.js';
export {
  COMPENSATION_ENTRY_KEY,
  CompensationStackError,
  rebuildCompensationStack,
  stepSuccessPayload,
  type StackEvent,
} from './compensation-stack.js';
export {
  findFailedSagas,
  findUnfinishedSagas,
  getSagaTrailSummary,
  TERMINAL_EVENT_STATUSES,
  verifyTrail,
  type SagaFilter,
  type SagaTrailSummary,
} from './sagas.js';
export { applyLeastPrivilegeRoles, LEAST_PRIVILEGE_SQL, type LeastPrivilegeRoles } from './roles.js';
