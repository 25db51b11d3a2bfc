/**
 * What `polysaga verify` reads of the vector store: the current state of one target, as JSON
 * (`null` when absent), compared before and after a saga (docs/verify.md).
 */
import type { Json, JsonObject } from '../../saga/contracts.js';
import type { StoredPoint, VectorEngine } from './adapter.js';
import type { BackendSnapshot } from '../define.js';
import { canonicalJson } from '../json.js';

function pointJson(p: StoredPoint): Json {
  return { id: p.id, vector: p.vector, metadata: p.metadata, document: p.document };
}

const sorted = (pts: StoredPoint[]): Json =>
  pts.length === 0 ? null : [...pts].sort((a, b) => a.id.localeCompare(b.id)).map(pointJson);

/** The points of `collection` with these ids. */
export async function readPoints(engine: VectorEngine, collection: string, ids: string[]): Promise<Json> {
  return sorted(await engine.get(collection, ids));
}

/** The points of `collection` whose metadata match `filter`. */
export async function readFiltered(
  engine: VectorEngine,
  collection: string,
  filter: Record<string, string | number | boolean>,
): Promise<Json> {
  return sorted(await engine.find(collection, filter));
}

/** Points verify reads: by id, or by a metadata filter. */
export type VectorTarget =
  | { kind: 'vector-points'; collection: string; ids: string[] }
  | { kind: 'vector-filter'; collection: string; filter: JsonObject };

/** The points a vector step touches. */
export function vectorTargets(operation: string, p: Record<string, unknown>): VectorTarget[] {
  const collection = String(p.collection);
  if (operation === 'upsert') {
    return [{ kind: 'vector-points', collection, ids: (p.points as { id: string }[]).map((x) => x.id) }];
  }
  if (Array.isArray(p.ids)) return [{ kind: 'vector-points', collection, ids: p.ids as string[] }];
  return [{ kind: 'vector-filter', collection, filter: p.filter as JsonObject }];
}

/** What `polysaga verify` checks of the vector store: the points a step touches. */
export const vectorSnapshot: BackendSnapshot<VectorTarget> = {
  targets: (operation, p) => vectorTargets(operation, p),
  describe: (t) =>
    t.kind === 'vector-points'
      ? `vector ${t.collection} ids ${canonicalJson(t.ids)}`
      : `vector ${t.collection} filter ${canonicalJson(t.filter)}`,
  connect: ({ adapters }) => ({
    read: (t) =>
      t.kind === 'vector-points'
        ? readPoints(adapters.vector, t.collection, t.ids)
        : readFiltered(adapters.vector, t.collection, t.filter as Record<string, string | number | boolean>),
  }),
};
