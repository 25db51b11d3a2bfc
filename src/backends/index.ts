/**
 * The built-in backends over opened adapters, and the step activities over them.
 *
 * ```ts
 * const adapters = await openAdapters(config, { pool });
 * const registry = createCompensationRegistry(createBuiltinBackends(adapters));
 * registry.register('my_undo', async (input) => ({ outcome: 'undone' }));   // custom compensations
 * const activities = createStepActivities({ catalog: builtinCatalog, backends: createBuiltinBackends(adapters), compensations: registry });
 * ```
 */
import type { Adapters } from './connect.js';
import { createHttpBackend } from './http/runtime.js';
import { createKvBackend } from './kv/runtime.js';
import { createNeo4jBackend } from './neo4j/runtime.js';
import { createPostgresBackend } from './postgres/runtime.js';
import { createS3Backend } from './s3/runtime.js';
import type { Backend } from './types.js';
import { createVectorBackend } from './vector/runtime.js';

export type {
  Backend,
  CompensationHandler,
  OperationContext,
  OperationHandler,
  WriteAheadStore,
} from './types.js';
export {
  createHttpBackend,
  createKvBackend,
  createNeo4jBackend,
  createPostgresBackend,
  createS3Backend,
  createVectorBackend,
};

/** postgres, neo4j, s3, vector, kv and http, in that order. */
export function createBuiltinBackends(adapters: Omit<Adapters, 'close' | 'pool' | 'stepPool'>): Backend[] {
  return [
    createPostgresBackend(adapters.postgres),
    createNeo4jBackend(adapters.neo4j),
    createS3Backend(adapters.s3),
    createVectorBackend(adapters.vector, adapters.idempotency),
    createKvBackend(adapters.kv),
    createHttpBackend(adapters.http),
  ];
}
