/**
 * `kv` backend (Redis): set (optional expiry) and delete of string keys.
 *
 * Idempotency: result stored atomically with the write under `<prefix>:idem:<key>`.
 * Compensations: `kv_restore` (old value and ttl back, or delete a new key) and
 * `kv_delete` (delete the key the step set); both refuse to overwrite a changed value.
 */
import type { KvDeletePayload, KvSetPayload } from './catalog.js';
import type { KvChange, RedisAdapter } from './adapter.js';
import { op, type Backend } from '../types.js';
import { defineBackend } from '../define.js';
import { kvSnapshot } from './snapshot.js';
import { kvCatalog } from './catalog.js';

export function createKvBackend(adapter: RedisAdapter): Backend {
  return {
    name: 'kv',
    operations: {
      set: op<KvSetPayload>((p, ctx) => adapter.set(ctx.idempotencyKey, p)),
      delete: op<KvDeletePayload>((p, ctx) => adapter.delete(ctx.idempotencyKey, p)),
    },
    compensations: {
      kv_restore: async (input) => ({ outcome: await adapter.restore(input.result as KvChange) }),
      kv_delete: async (input) => ({ outcome: await adapter.deleteWritten(input.result as KvChange) }),
    },
  };
}

/** The `kv` backend: its catalog and handlers over the worker's kv client. */
export const kvBackend = defineBackend({
  ...kvCatalog,
  snapshot: kvSnapshot,
  connect: ({ adapters }) => createKvBackend(adapters.kv),
});
