/**
 * The built-in backends (each defined with `defineBackend`, src/backends/define.ts) and the
 * step activities over them.
 *
 * ```ts
 * const adapters = await openAdapters(config, { pool });
 * const registry = createCompensationRegistry(createBuiltinBackends(adapters));
 * registry.register('my_undo', async (input) => ({ outcome: 'undone' }));   // custom compensations
 * const activities = createStepActivities({ catalog: builtinCatalog, backends: createBuiltinBackends(adapters), compensations: registry });
 * ```
 */
import type { Adapters } from './connect.js';
import { toBackend, type BackendDefinition, type BackendHandlers } from './define.js';
import { createHttpBackend, httpBackend } from './http/runtime.js';
import { createKvBackend, kvBackend } from './kv/runtime.js';
import { createNeo4jBackend, neo4jBackend } from './neo4j/runtime.js';
import { createPostgresBackend, postgresBackend } from './postgres/runtime.js';
import { createS3Backend, s3Backend } from './s3/runtime.js';
import type { Backend } from './types.js';
import { createVectorBackend, vectorBackend } from './vector/runtime.js';

export type {
  Backend,
  CompensationHandler,
  OperationContext,
  OperationHandler,
  WriteAheadStore,
} from './types.js';
export {
  connectBackend,
  defineBackend,
  toBackend,
  type BackendDefinition,
  type BackendDefinitionInput,
  type BackendHandlers,
  type ConnectContext,
  type BackendSnapshot,
} from './define.js';
export { op } from './types.js';
export {
  createHttpBackend,
  createKvBackend,
  createNeo4jBackend,
  createPostgresBackend,
  createS3Backend,
  createVectorBackend,
};

/** The built-in backend definitions: postgres, neo4j, s3, vector, kv and http, in that order. */
export const builtinBackends = [
  postgresBackend,
  neo4jBackend,
  s3Backend,
  vectorBackend,
  kvBackend,
  httpBackend,
] as const satisfies readonly BackendDefinition<BackendHandlers>[];

/** The built-in backends connected over the worker's clients, in the order of {@link builtinBackends}. */
export function createBuiltinBackends(adapters: Omit<Adapters, 'close'>): Backend[] {
  return builtinBackends.map((d) => toBackend(d, d.connect({ adapters })));
}
