/**
 * `vector` backend: upsert points/chunks (explicit embeddings) and delete them by ids or by
 * metadata filter, over any {@link VectorEngine} (Qdrant or Chroma).
 *
 * Idempotency: write-ahead record in `polysaga_idempotency`: the before-image (the points that
 * existed) is stored before the effect; upsert by id and delete by id are naturally idempotent.
 * A delete by filter resolves the filter once, in the before-image, and deletes exactly those ids.
 * Compensations: `vector_delete_chunks` (remove what the step upserted, restoring points it
 * overwrote) and `vector_restore_points` (re-insert deleted points); both compare the current
 * points with the step's after-image and report a conflict instead of overwriting a change.
 */
import type { VectorDeletePayload, VectorUpsertPayload } from './catalog.js';
import type { StoredPoint, VectorEngine } from './adapter.js';
import type { JsonObject } from '../../saga/contracts.js';
import { FailureTypes } from '../../saga/contracts.js';
import { ConflictError, PermanentError } from '../errors.js';
import { jsonEqual } from '../json.js';
import { op, type Backend, type WriteAheadStore } from '../types.js';
import { defineBackend } from '../define.js';
import { vectorSnapshot } from './snapshot.js';
import { vectorCatalog } from './catalog.js';

/** Result of a vector operation: before- and after-image of every point it touched. */
export interface PointsChange extends JsonObject {
  engine: string;
  collection: string;
  ids: string[];
  before: StoredPoint[] & JsonObject[];
  after: StoredPoint[] & JsonObject[];
}

// Engines store float32 (and Qdrant normalises for cosine), so vectors compare with a tolerance.
const EPS = 1e-4;
export function samePoint(a: StoredPoint | undefined, b: StoredPoint | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.id !== b.id || (a.document ?? null) !== (b.document ?? null) || !jsonEqual(a.metadata, b.metadata))
    return false;
  if (a.vector.length !== b.vector.length) return false;
  return a.vector.every((v, i) => Math.abs(v - (b.vector[i] ?? NaN)) <= EPS * Math.max(1, Math.abs(v)));
}

const byId = (points: StoredPoint[]) => new Map(points.map((p) => [p.id, p]));

/**
 * Brings every touched point back to its before-image, if it still equals the after-image.
 * Already as before → `absent`; changed by someone else → {@link ConflictError} (nothing written).
 */
export async function restorePoints(
  engine: VectorEngine,
  change: PointsChange,
): Promise<'undone' | 'absent'> {
  if (typeof change.collection !== 'string' || !Array.isArray(change.ids)) {
    throw new PermanentError(
      'compensation needs the result of a vector step (collection, ids, before, after)',
      FailureTypes.InvalidPayload,
    );
  }
  const before = byId(change.before);
  const after = byId(change.after);
  const current = byId(await engine.get(change.collection, change.ids));
  const toDelete: string[] = [];
  const toRestore: StoredPoint[] = [];
  for (const id of change.ids) {
    const cur = current.get(id);
    if (samePoint(cur, before.get(id))) continue;
    if (!samePoint(cur, after.get(id))) {
      throw new ConflictError(
        `point ${id} of ${change.collection} changed since the step wrote it; not overwriting`,
      );
    }
    const old = before.get(id);
    if (old) toRestore.push(old);
    else toDelete.push(id);
  }
  if (toDelete.length === 0 && toRestore.length === 0) return 'absent';
  await engine.delete(change.collection, toDelete);
  if (toRestore.length > 0) {
    await engine.ensureCollection(change.collection, toRestore[0]!.vector.length);
    await engine.upsert(change.collection, toRestore);
  }
  return 'undone';
}

/** Builds the vector backend over one engine and the write-ahead idempotency store. */
export function createVectorBackend(engine: VectorEngine, idempotency: WriteAheadStore): Backend {
  const asChange = (
    collection: string,
    ids: string[],
    before: StoredPoint[],
    after: StoredPoint[],
  ): PointsChange => ({ engine: engine.name, collection, ids, before, after }) as PointsChange;

  return {
    name: 'vector',
    operations: {
      upsert: op<VectorUpsertPayload>((p, ctx) => {
        const points: StoredPoint[] = p.points.map((x) => ({
          id: x.id,
          vector: x.vector,
          metadata: x.metadata,
          document: x.document ?? null,
        }));
        const ids = [...new Set(points.map((x) => x.id))];
        const dim = points[0]!.vector.length;
        if (points.some((x) => x.vector.length !== dim)) {
          throw new PermanentError(
            'all vectors of one upsert must have the same dimension',
            FailureTypes.InvalidPayload,
          );
        }
        return idempotency.runOnce(
          ctx.idempotencyKey,
          'vector',
          'upsert',
          async () => {
            await engine.ensureCollection(p.collection, dim);
            return { before: (await engine.get(p.collection, ids)) as unknown as JsonObject[] };
          },
          async (prepared) => {
            await engine.upsert(p.collection, points);
            // The after-image is read back: it is what the engine stores (float32, normalised).
            const after = await engine.get(p.collection, ids);
            return asChange(p.collection, ids, prepared.before as unknown as StoredPoint[], after);
          },
        );
      }),
      delete: op<VectorDeletePayload>((p, ctx) =>
        idempotency.runOnce(
          ctx.idempotencyKey,
          'vector',
          'delete',
          async () => {
            const before = p.ids
              ? await engine.get(p.collection, p.ids)
              : await engine.find(p.collection, p.filter!);
            return { before: before as unknown as JsonObject[], ids: p.ids ?? before.map((x) => x.id) };
          },
          async (prepared) => {
            const ids = prepared.ids as string[];
            await engine.delete(p.collection, ids);
            return asChange(p.collection, ids, prepared.before as unknown as StoredPoint[], []);
          },
        ),
      ),
    },
    compensations: {
      vector_delete_chunks: async (input) => ({
        outcome: await restorePoints(engine, input.result as PointsChange),
      }),
      vector_restore_points: async (input) => ({
        outcome: await restorePoints(engine, input.result as PointsChange),
      }),
    },
  };
}

/** The `vector` backend: its catalog and handlers over the worker's vector client. */
export const vectorBackend = defineBackend({
  ...vectorCatalog,
  snapshot: vectorSnapshot,
  connect: ({ adapters }) => createVectorBackend(adapters.vector, adapters.idempotency),
});
