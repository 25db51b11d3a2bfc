/** Catalog of the `kv` (Redis) backend (pure zod). */
import { z } from 'zod';
import type { BackendCatalog } from '../../saga/catalog.js';
import { KV_STEP_OPTIONS } from '../../saga/activity-options.js';
import type { StoreTarget } from '../../saga/guard.js';

const key = z.string().min(1).max(1024);
export const kvSetPayload = z.object({
  key,
  value: z.string(),
  /** Optional expiry in seconds. */
  ttlSeconds: z.number().int().positive().optional(),
});
export const kvDeletePayload = z.object({ key });
export type KvSetPayload = z.infer<typeof kvSetPayload>;
export type KvDeletePayload = z.infer<typeof kvDeletePayload>;

const keyTarget = (p: { key: string }): StoreTarget[] => [{ kind: 'key', field: 'key', key: p.key }];

export const kvCatalog = {
  name: 'kv',
  retry: KV_STEP_OPTIONS,
  operations: {
    set: {
      payload: kvSetPayload,
      targets: keyTarget,
      defaultCompensation: 'kv_restore',
      description: 'SET a string key (optional expiry); result holds the old value and ttl (before-image).',
    },
    delete: {
      payload: kvDeletePayload,
      targets: keyTarget,
      defaultCompensation: 'kv_restore',
      description: 'DEL a key; result holds the old value and ttl (before-image).',
    },
  },
  compensations: {
    kv_delete: { description: 'Deletes the key a step set, unless its value changed since.' },
    kv_restore: {
      description: 'Puts the old value and ttl back (or deletes a new key), unless it changed since.',
    },
  },
} satisfies BackendCatalog;
