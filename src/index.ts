/**
 * The `polysaga` package: everything an application needs to start sagas and run a worker.
 *
 *   import { SagaClient, createSagaWorker, loadConfig } from 'polysaga';
 *
 * `polysaga/client` holds only the client side (no worker, no native Temporal core) and
 * `polysaga/worker` only the worker side; this entry point re-exports both.
 */
export * from './client/index.js';
// The worker side as `polysaga/worker` exports it.
export * from './worker.js';
export type { Catalog, BackendSpec, OperationSpec, CompensationSpec } from './saga/catalog.js';
export { builtinCatalog } from './backends/catalog.js';
export {
  redactConfig,
  storeGuard,
  CONFIG_VARIABLES,
  SECRET_VARIABLES,
  type HttpServiceConfig,
} from './config/index.js';
export {
  sagaDefinitionSchema,
  type SagaStepDefinition,
  type NormalizedStep,
  type CompensationMode,
  type ExecutionMode,
  type RetryOverride,
} from './saga/definition.js';
export {
  SAGA_STATES,
  FailureTypes,
  type SagaState,
  type StepKind,
  type Json,
  type JsonObject,
  type CompensationRef,
  type SagaActivities,
} from './saga/contracts.js';
export { assertValidDefinition } from './saga/validate.js';
export { createAuditPool } from './audit/connection.js';
