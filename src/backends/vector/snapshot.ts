/**
 * What `polysaga verify` reads of the vector store: the current state of one target, as JSON
 * (`null` when absent), compared before and after a saga (docs/verify.md).
 */
import type { Json } from '../../saga/contracts.js';
import type { StoredPoint, VectorEngine } from './adapter.js';

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
