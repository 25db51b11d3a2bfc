/** Catalog of the `kv` (Redis) backend (pure zod). */
import { z } from 'zod';
import type { BackendSpec } from '../../saga/catalog.js';
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

export const kvBackend: BackendSpec = {
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
};

export const kvCompensations = {
  kv_delete: { backend: 'kv', description: 'Deletes the key a step set, unless its value changed since.' },
  kv_restore: {
    backend: 'kv',
    description: 'Puts the old value and ttl back (or deletes a new key), unless it changed since.',
  },
};
