/**
 * `polysaga/plugin`: what a plugin module imports (no worker, no Temporal client), and the
 * loader the worker, the CLI and the client use. See docs/backends.md, "Write your own backend".
 */
export { definePlugin, isPlugin, type Plugin, type PluginCompensation, type PluginInput } from './define.js';
export {
  registerCompensation,
  getCompensation,
  registeredCompensations,
  unregisterCompensation,
  type RegisterCompensationOptions,
  type RegisteredCompensation,
  type RegisteredCompensationHandler,
} from './registry.js';
export {
  loadPlugins,
  pluginPathList,
  PluginError,
  type LoadedPlugin,
  type LoadPluginsOptions,
} from './load.js';
export { catalogWithPlugins, withRegisteredCompensations, type PluginBackends } from './catalog.js';
export {
  defineBackend,
  type BackendDefinition,
  type BackendDefinitionInput,
  type BackendHandlers,
  type BackendSnapshot,
  type ConnectContext,
  type SnapshotReader,
  type SnapshotTarget,
} from '../backends/define.js';
export {
  op,
  type CompensationHandler,
  type OperationContext,
  type OperationHandler,
} from '../backends/types.js';
export { PermanentError, ConflictError } from '../backends/errors.js';
export {
  FailureTypes,
  type CompensateStepInput,
  type CompensateStepResult,
  type Json,
  type JsonObject,
} from '../saga/contracts.js';
export type { BackendCatalog, OperationSpec } from '../saga/catalog.js';
