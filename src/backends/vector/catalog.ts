/** Catalog of the `vector` backend (pure zod). Engines: Qdrant and Chroma. */
import { z } from 'zod';
import type { BackendCatalog } from '../../saga/catalog.js';
import { VECTOR_STEP_OPTIONS } from '../../saga/activity-options.js';
import type { StoreTarget } from '../../saga/guard.js';

const collection = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{1,62}$/, 'not a valid collection name');
const pointId = z.string().min(1).max(256);
const metadataValue = z.union([z.string(), z.number(), z.boolean()]);
export const vectorPoint = z.object({
  id: pointId,
  vector: z.array(z.number()).min(1),
  metadata: z.record(z.string(), metadataValue).default({}),
  document: z.string().min(1).optional(),
});
/** Equality filter on metadata: every field must match. */
export const vectorFilter = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), metadataValue)
  .refine((f) => Object.keys(f).length > 0, 'filter must name at least one field');
export const vectorUpsertPayload = z.object({ collection, points: z.array(vectorPoint).min(1).max(1000) });
export const vectorDeletePayload = z
  .object({ collection, ids: z.array(pointId).min(1).optional(), filter: vectorFilter.optional() })
  .refine((p) => (p.ids === undefined) !== (p.filter === undefined), 'give exactly one of ids or filter');

export type VectorPoint = z.infer<typeof vectorPoint>;
export type VectorFilter = z.infer<typeof vectorFilter>;
export type VectorUpsertPayload = z.infer<typeof vectorUpsertPayload>;
export type VectorDeletePayload = z.infer<typeof vectorDeletePayload>;

const collectionTarget = (p: { collection: string }): StoreTarget[] => [
  { kind: 'collection', field: 'collection', collection: p.collection },
];

export const vectorCatalog = {
  name: 'vector',
  retry: VECTOR_STEP_OPTIONS,
  operations: {
    upsert: {
      payload: vectorUpsertPayload,
      targets: collectionTarget,
      defaultCompensation: 'vector_delete_chunks',
      description:
        'Upsert points/chunks with explicit embeddings; result holds the points that existed before (before-image).',
    },
    delete: {
      payload: vectorDeletePayload,
      targets: collectionTarget,
      defaultCompensation: 'vector_restore_points',
      description:
        'Delete points by ids or by metadata filter; result holds the deleted points (before-image).',
    },
  },
  compensations: {
    vector_delete_chunks: {
      description:
        'Deletes the points a step upserted (restoring any that existed before), unless they changed since.',
    },
    vector_restore_points: { description: 'Re-inserts the points a step deleted.' },
  },
} satisfies BackendCatalog;
