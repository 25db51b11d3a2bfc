/** `polysaga/worker`: the worker side only (see src/index.ts for the whole package). */
export * from './workers/index.js';
export { CompensationRegistry, type CompensationHandler } from './activities/compensations.js';
export type { Backend, OperationContext, OperationHandler, WriteAheadStore } from './backends/index.js';
export { loadConfig, ConfigError, type Config } from './config/index.js';
export { migrate, type MigrateOptions, type MigrateResult } from './audit/migrate.js';
