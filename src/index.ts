/**
 * The `polysaga` package: everything an application needs to start sagas and run a worker.
 *
 *   import { SagaClient, createSagaWorker, loadConfig } from 'polysaga';
 *
 * `polysaga/client` holds only the client side (no worker, no native Temporal core) and
 * `polysaga/worker` only the worker side; this entry point re-exports both.
 */
export * from './client/index.js';
export {
  createSagaWorker,
  createActivities,
  createBackendResources,
  connectWorker,
  WORKFLOWS_PATH,
  WORKFLOW_BUNDLE_PATH,
  type SagaWorker,
  type SagaWorkerOptions,
  type SagaActivitiesOptions,
  type BackendResources,
  type BackendResourcesOptions,
} from './workers/index.js';
export { CompensationRegistry, type CompensationHandler } from './activities/compensations.js';
export type { Backend, OperationContext, OperationHandler, WriteAheadStore } from './backends/index.js';
export {
  builtinBackends,
  connectBackend,
  defineBackend,
  op,
  toBackend,
  type BackendDefinition,
  type BackendDefinitionInput,
  type BackendHandlers,
  type ConnectContext,
} from './backends/index.js';
export { builtinCatalogs } from './backends/catalog.js';
export { catalogOf, type BackendCatalog } from './saga/catalog.js';
export type { Catalog, BackendSpec, OperationSpec, CompensationSpec } from './saga/catalog.js';
export { builtinCatalog } from './backends/catalog.js';
export {
  loadConfig,
  redactConfig,
  storeGuard,
  ConfigError,
  CONFIG_VARIABLES,
  SECRET_VARIABLES,
  type Config,
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
export { migrate, type MigrateOptions, type MigrateResult } from './audit/migrate.js';
export { createAuditPool } from './audit/connection.js';
// Plugins (docs/backends.md, "Write your own backend"): also `polysaga/plugin` alone.
export {
  definePlugin,
  registerCompensation,
  getCompensation,
  registeredCompensations,
  unregisterCompensation,
  loadPlugins,
  catalogWithPlugins,
  PluginError,
  type Plugin,
  type PluginInput,
  type PluginCompensation,
  type LoadedPlugin,
  type RegisterCompensationOptions,
  type RegisteredCompensation,
  type RegisteredCompensationHandler,
} from './plugins/index.js';
export { PermanentError, ConflictError } from './backends/errors.js';
export type { BackendSnapshot } from './backends/define.js';
