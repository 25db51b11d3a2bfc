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
export { catalogOf, type BackendCatalog } from './saga/catalog.js';
export { loadConfig, ConfigError, type Config } from './config/index.js';
export { migrate, type MigrateOptions, type MigrateResult } from './audit/migrate.js';
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
