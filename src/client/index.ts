/** The polysaga client API. */
export {
  SagaClient,
  sagaRunResult,
  SAGA_WORKFLOW_TYPE,
  IDENTITY_LOCK_WORKFLOW_TYPE,
  type SagaClientOptions,
  type StartedSaga,
  type StartedRetry,
  type ListSagasFilter,
  type SagaSummary,
  type TerminatedSaga,
} from './saga-client.js';
export {
  SagaNotFoundError,
  IdentityLockedError,
  InvalidDefinitionError,
  SagaAlreadyExistsError,
  SagaStateError,
  SagaStuckError,
  formatIssue,
  type ValidationIssue,
} from './errors.js';
export type { SagaStatus, SagaResult, StepStatus, SagaFailure, StuckInfo } from '../saga/status.js';
export { detectStuck, stuckHint } from './stuck.js';
export { SAGA_ROLLED_BACK_FAILURE_TYPE, sagaResultFromFailure } from '../saga/outcome.js';
export type { SagaDefinition, NormalizedDefinition } from '../saga/definition.js';
export { createDataConverter, type DataConverterOptions } from '../blobs/codec.js';
export {
  connectTemporalClient,
  temporalConnectionOptions,
  type ConnectedTemporalClient,
  type ConnectTemporalClientOptions,
} from './connect.js';
export { uploadBodyFiles, hasBodyFiles, type BodyFileUploads, type UploadedBodyFile } from './body-files.js';
export type { StoreGuard, StoreAllowlists } from '../saga/guard.js';
// Scopes of PROJECT_PREFIX and ENV (docs/configuration.md, "Scopes").
export {
  scopeOf,
  scopedSagaId,
  unscopedSagaId,
  belongsToScope,
  defaultTaskQueue,
  ScopeError,
} from '../saga/scope.js';
// The pure halves of backends: a client that validates against your own backends passes
// `catalog: catalogOf([...builtinCatalogs, myCatalog])` (docs/backends.md).
export { builtinCatalogs } from '../backends/catalog.js';
export { catalogOf, type BackendCatalog, type Catalog } from '../saga/catalog.js';
