/** `polysaga/worker`: the worker side only (see src/index.ts for the whole package). */
export * from './workers/index.js';
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
// The application's own actions as typed saga steps (the backend `app`).
export {
  defineActions,
  actionsCatalog,
  APP_BACKEND,
  type ActionsDefinition,
  type Action,
  type ActionContext,
  type ActionMap,
  type Rollback,
  type RollbackContext,
} from './backends/app/index.js';
export { catalogOf, type BackendCatalog } from './saga/catalog.js';
export { loadConfig, ConfigError, type Config } from './config/index.js';
export { migrate, type MigrateOptions, type MigrateResult } from './audit/migrate.js';
// Plugins (docs/backends.md, "Write your own backend"): also `polysaga/plugin` alone; `polysaga`
// re-exports these with the rest of this file.
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
